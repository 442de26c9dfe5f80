import Foundation
import Logging

/// Development only (`WARDLINE_DEV_CONSOLE=true`): reads `acknowledge ALARM_ID USER` lines on
/// stdin and acknowledges through `WardlineService.acknowledge`, the path the REST API will use.
/// It lets the integration tests acknowledge an alarm before that API exists.
final class DevConsole: @unchecked Sendable {
    private let service: WardlineService
    private let logger: Logger

    init(service: WardlineService, logger: Logger) {
        self.service = service
        self.logger = logger
    }

    func start() {
        logger.warning("development console on stdin: `acknowledge ALARM_ID USER`")
        startDedicatedThread(named: "wardline-devconsole") { [self] in
            while let line = readLine() {
                let words = line.split(separator: " ").map(String.init)
                guard words.count == 3, words[0] == "acknowledge" else {
                    logger.warning("dev console: expected `acknowledge ALARM_ID USER`", metadata: ["line": "\(line)"])
                    continue
                }
                let log = logger
                service.acknowledge(alarmID: words[1], by: words[2]) { result in
                    switch result {
                    case .success: log.notice("dev console: alarm acknowledged", metadata: ["alarm_id": "\(words[1])", "by": "\(words[2])"])
                    case .failure(let e): log.warning("dev console: acknowledgement refused", metadata: ["alarm_id": "\(words[1])", "error": "\(e)"])
                    }
                }
            }
        }
    }
}

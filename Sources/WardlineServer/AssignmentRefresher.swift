import Foundation
import Logging
import Synchronization
import WardlineCore
import WardlineStore

/// Re-reads device → patient assignments from the database every few seconds, on its own thread,
/// so admissions made elsewhere reach the decoder. Keeps the last good copy while the database is down.
final class AssignmentRefresher: @unchecked Sendable {
    private let url: String
    private let registry: DeviceRegistry
    private let intervalMillis: Int64
    private let logger: Logger
    private let stopRequested = Atomic<Bool>(false)

    init(url: String, registry: DeviceRegistry, intervalSeconds: Int, logger: Logger) {
        self.url = url
        self.registry = registry
        self.intervalMillis = Int64(intervalSeconds) * 1000
        self.logger = logger
    }

    func start() {
        startDedicatedThread(named: "wardline-assignments") { [self] in run() }
    }

    func stop() { stopRequested.store(true, ordering: .relaxed) }

    private func run() {
        var db: PostgresConnection?
        var failing = false
        while !stopRequested.load(ordering: .relaxed) {
            var slept: Int64 = 0
            while slept < intervalMillis && !stopRequested.load(ordering: .relaxed) { sleepMicros(100_000); slept += 100 }
            do {
                let conn = try db ?? PostgresConnection(url: url)
                db = conn
                registry.replaceAll(try VitalsStore(db: conn).loadAssignments())
                if failing { logger.notice("device assignments readable again") }
                failing = false
            } catch {
                db = nil
                if !failing { logger.warning("cannot refresh device assignments; keeping the last copy", metadata: ["error": "\(error)"]) }
                failing = true
            }
        }
    }
}

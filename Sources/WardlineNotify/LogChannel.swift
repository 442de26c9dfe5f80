import Logging

/// Writes each notification to Wardline's log: for development, as a record beside a gateway, and
/// as the paging fallback of last resort (an operator watching the log). The log line carries
/// ids, rule and recipients, never a patient's values.
public final class LogChannel: DeliveryChannel {
    public let name: String
    private let logger: Logger

    public init(logger: Logger, name: String = "log") {
        self.logger = logger
        self.name = name
    }

    public func deliver(_ n: ClinicalNotice) throws {
        logger.notice("notification", metadata: ["job_id": "\(n.jobID)", "kind": "\(n.kind)", "channel": "\(name)", "text": "\(n.logLine)"])
    }
}

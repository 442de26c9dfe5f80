import Logging

/// Writes each notification to Wardline's log: for development, and as a record beside a gateway.
public final class LogChannel: DeliveryChannel {
    public let name = "log"
    private let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public func deliver(_ n: ClinicalNotice) throws {
        logger.notice("notification", metadata: ["job_id": "\(n.jobID)", "kind": "\(n.kind)", "text": "\(n.text)"])
    }
}

import Foundation
import WardlineCore

/// One unit of work on the task queue, as JSON (snake_case keys, so a paging gateway or an
/// operator reading the dead-letter queue sees the hospital's words).
///
/// `jobID` is deterministic — from the alarm, its revision and the level — so a job published
/// twice (a relay crash between publish and mark, a redelivered escalation timer) carries the same
/// id, and the gateway can drop the second copy.
public struct TaskJob: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// Page the clinicians of `tier` about `alarm`.
        case page
        /// An escalation timer fired: page `tier` if `alarm` is still active and unacknowledged.
        case escalationCheck = "escalation_check"
        /// Alarm counts per ward over the last 24 hours.
        case wardSummary = "ward_summary"
    }

    public var jobID: String
    public var kind: Kind
    /// Epoch ms when the job was made.
    public var createdAt: Int64
    public var alarm: AlarmBrief?
    /// Who is paged (for `.page`) or will be paged if the check finds the alarm unanswered.
    public var tier: CareTier?
    /// When the summary period ends (for `.wardSummary`), epoch ms.
    public var periodEnd: Int64?

    public init(jobID: String, kind: Kind, createdAt: Int64, alarm: AlarmBrief? = nil, tier: CareTier? = nil,
                periodEnd: Int64? = nil) {
        self.jobID = jobID
        self.kind = kind
        self.createdAt = createdAt
        self.alarm = alarm
        self.tier = tier
        self.periodEnd = periodEnd
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", kind, createdAt = "created_at", alarm, tier, periodEnd = "period_end"
    }

    /// The queue it goes to, by routing key on the notify exchange.
    public var route: TaskRoute {
        switch kind {
        case .page: .page
        case .escalationCheck: .escalation
        case .wardSummary: .report
        }
    }

    /// Broker priority (0–9): pages first, the report last.
    public var priority: UInt8 {
        switch kind {
        case .page: 9
        case .escalationCheck: 8
        case .wardSummary: 1
        }
    }

    public func json() -> [UInt8] { JSONText.encode(self, .sorted) }

    public static func decode(_ bytes: [UInt8]) throws -> TaskJob {
        try JSONDecoder().decode(TaskJob.self, from: Data(bytes))
    }
}

/// What a clinician's pager needs to know about an alarm (no readings history, no settings).
public struct AlarmBrief: Codable, Sendable, Equatable {
    public var alertID: String
    public var patientID: String?
    public var deviceID: String?
    public var ruleID: String
    public var priority: String
    public var message: String
    public var value: Double?
    public var threshold: Double?
    /// Engine clock, epoch ms.
    public var raisedAt: Int64
    /// When it became active at its present priority: an escalation belongs to this episode only.
    public var activeSince: Int64

    public init(alertID: String, patientID: String?, deviceID: String?, ruleID: String, priority: String,
                message: String, value: Double?, threshold: Double?, raisedAt: Int64, activeSince: Int64) {
        self.alertID = alertID
        self.patientID = patientID
        self.deviceID = deviceID
        self.ruleID = ruleID
        self.priority = priority
        self.message = message
        self.value = value
        self.threshold = threshold
        self.raisedAt = raisedAt
        self.activeSince = activeSince
    }

    enum CodingKeys: String, CodingKey {
        case alertID = "alert_id", patientID = "patient_id", deviceID = "device_id", ruleID = "rule_id", priority,
             message, value, threshold, raisedAt = "raised_at", activeSince = "active_since"
    }
}

import Foundation
import WardlineEngine

/// One job to publish, as the alarm store writes it into `task_outbox` in the alarm's transaction.
public struct PlannedTask: Sendable, Equatable {
    public var job: TaskJob
    /// 0: now; otherwise the pause (one of the topology's delays) before it reaches its queue.
    public var delayMillis: Int
}

/// Which jobs an alarm transition makes. A high-priority alarm that becomes active (raised, raised
/// to high, or reactivated) pages the on-call clinician at once and starts the escalation timer.
/// Acknowledgements and resolutions make no job: the timer, when it fires, reads the alarm's state
/// and cancels itself (see `EscalationDecision`).
///
/// The engine's own `.escalationDue` events are not used for paging: the issue asks for the
/// queue's delay, and the timer then lives in the broker — it survives a restart of `serve`, and
/// the worker that pages decides from the database, the one place acknowledgements are recorded.
public struct AlarmTasks: Sendable {
    public var escalationMillis: Int

    public init(escalationMillis: Int) { self.escalationMillis = escalationMillis }

    public func jobs(for alarm: Alarm, _ t: AlarmTransition) -> [PlannedTask] {
        guard alarm.priority == .high, alarm.state == .active,
              [.raised, .priorityRaised, .reactivated].contains(t.kind) else { return [] }
        let brief = AlarmBrief(alertID: alarm.id, patientID: alarm.patientID, deviceID: alarm.deviceID,
                               ruleID: alarm.ruleID, priority: alarm.priority.rawValue, message: alarm.message,
                               value: alarm.value, threshold: alarm.threshold, raisedAt: alarm.raisedAt,
                               activeSince: alarm.activeSince)
        let base = "\(alarm.id)#\(t.revision)"
        return [
            PlannedTask(job: TaskJob(jobID: Self.id("\(base)#page#on_call"), kind: .page, createdAt: t.at, alarm: brief,
                                     tier: .onCall), delayMillis: 0),
            PlannedTask(job: Self.escalationCheck(brief, tier: .chargeNurse, base: base, at: t.at),
                        delayMillis: escalationMillis),
        ]
    }

    /// The timer that pages `tier` if the alarm is still unanswered when it fires.
    public static func escalationCheck(_ alarm: AlarmBrief, tier: CareTier, base: String, at: Int64) -> TaskJob {
        TaskJob(jobID: id("\(base)#check#\(tier.rawValue)"), kind: .escalationCheck, createdAt: at, alarm: alarm, tier: tier)
    }

    /// A UUID-shaped id derived from `text` (stable across processes; not a security hash).
    public static func id(_ text: String) -> String {
        // FNV-1a, 128 bits as two 64-bit lanes with different offsets.
        var a: UInt64 = 0xcbf29ce484222325, b: UInt64 = 0x84222325cbf29ce4
        for byte in text.utf8 {
            a = (a ^ UInt64(byte)) &* 0x100000001b3
            b = (b ^ UInt64(byte)) &* 0x100000001b3 &+ 0x9e3779b97f4a7c15
        }
        let hex = String(format: "%016llx%016llx", a, b)
        let c = Array(hex)
        return "\(String(c[0..<8]))-\(String(c[8..<12]))-\(String(c[12..<16]))-\(String(c[16..<20]))-\(String(c[20..<32]))"
    }
}

/// What an escalation timer does when it fires, from the alarm as the database has it now.
public enum EscalationDecision: Sendable, Equatable {
    /// Still active and unanswered: page this tier (and start the next timer, if there is a tier after it).
    case page(CareTier)
    /// Acknowledged, resolved, or active again in a later episode (which has its own timer).
    case cancelled(reason: String)

    /// `state`, `activeSince`, `acknowledgedBy` are the alarm's current row (nil: no such alarm).
    public static func decide(job: TaskJob, state: String?, activeSince: Int64?, acknowledgedBy: String?) -> EscalationDecision {
        guard let tier = job.tier, let alarm = job.alarm else { return .cancelled(reason: "malformed escalation job") }
        switch state {
        case nil: return .cancelled(reason: "alarm not found")
        case "resolved": return .cancelled(reason: "resolved")
        case "acknowledged": return .cancelled(reason: "acknowledged by \(acknowledgedBy ?? "someone")")
        default:
            // Millisecond rounding in the database: compare within a millisecond.
            if let since = activeSince, abs(since - alarm.activeSince) > 1 {
                return .cancelled(reason: "acknowledged by \(acknowledgedBy ?? "someone") and active again since")
            }
            return .page(tier)
        }
    }
}

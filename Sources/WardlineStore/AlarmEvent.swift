import Foundation
import WardlineCore
import WardlineEngine

/// The hospital platform's `DomainEvent` envelope for one alarm transition
/// (`event_id, event_type, event_version, timestamp, source_service, correlation_id, data`).
/// `event_id` is filled in by the database from (alarm id, revision), so it is the same however
/// often the transition is written or published.
enum AlarmEvent {
    static func type(of t: AlarmTransition) -> String {
        switch t.kind {
        case .raised: "vitals.alert.raised"
        case .acknowledged: "vitals.alert.acknowledged"
        case .resolved: "vitals.alert.resolved"
        case .escalated: "vitals.alert.escalated"
        default: "vitals.alert.updated"
        }
    }

    /// The envelope as JSON text (keys sorted), without its event_id.
    static func json(_ a: Alarm, _ t: AlarmTransition) -> String {
        let transition = Envelope.Transition(kind: t.kind.rawValue, from: t.from?.rawValue, to: t.to.rawValue, at: iso(t.at), by: t.by,
                                             resolution: t.resolution?.rawValue)
        let data = Envelope.Data(alert_id: a.id, rule_id: a.ruleID, category: a.category.rawValue, priority: a.priority.rawValue,
                                 state: a.state.rawValue, latching: a.latching, message: a.message, raised_at: iso(a.raisedAt),
                                 escalation_level: a.escalationLevel, revision: t.revision, transition: transition,
                                 patient_id: a.patientID, device_id: a.deviceID, vital: a.vital?.rawValue,
                                 acknowledged_by: a.acknowledgedBy, value: t.value, threshold: t.threshold,
                                 rule_set: a.ruleSet)
        return JSONText.string(Envelope(event_type: type(of: t), timestamp: iso(t.at), correlation_id: a.id, data: data), .sorted)
    }

    /// What is not known is left out.
    struct Envelope: Encodable {
        struct Transition: Encodable {
            let kind: String
            let from: String?
            let to: String
            let at: String
            let by: String?
            let resolution: String?
        }

        struct Data: Encodable {
            let alert_id: String
            let rule_id: String
            let category: String
            let priority: String
            let state: String
            let latching: Bool
            let message: String
            let raised_at: String
            let escalation_level: Int
            let revision: Int
            let transition: Transition
            let patient_id: String?
            let device_id: String?
            let vital: String?
            let acknowledged_by: String?
            let value: Double?
            let threshold: Double?
            let rule_set: String?
        }

        let event_type: String
        var event_version = 1
        let timestamp: String
        var source_service = "wardline"
        let correlation_id: String
        let data: Data
    }

    static func iso(_ millis: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }
}

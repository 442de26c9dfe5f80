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

    /// The envelope as JSON text, without its event_id.
    static func json(_ a: Alarm, _ t: AlarmTransition) -> String {
        var data: [String: Any] = [
            "alert_id": a.id, "rule_id": a.ruleID, "category": a.category.rawValue, "priority": a.priority.rawValue,
            "state": a.state.rawValue, "latching": a.latching, "message": a.message, "raised_at": iso(a.raisedAt),
            "escalation_level": a.escalationLevel, "revision": t.revision,
            "transition": compact(["kind": t.kind.rawValue, "from": t.from?.rawValue, "to": t.to.rawValue,
                                   "at": iso(t.at), "by": t.by, "resolution": t.resolution?.rawValue]),
        ]
        for (key, value) in [("patient_id", a.patientID), ("device_id", a.deviceID), ("vital", a.vital?.rawValue),
                             ("acknowledged_by", a.acknowledgedBy)] {
            if let value { data[key] = value }
        }
        if let v = t.value { data["value"] = v }
        if let l = t.threshold { data["threshold"] = l }
        let envelope: [String: Any] = [
            "event_type": type(of: t), "event_version": 1, "timestamp": iso(t.at), "source_service": "wardline",
            "correlation_id": a.id, "data": data,
        ]
        let bytes = (try? JSONSerialization.data(withJSONObject: envelope, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func compact(_ d: [String: String?]) -> [String: String] { d.compactMapValues { $0 } }

    static func iso(_ millis: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }
}

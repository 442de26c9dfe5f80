import Foundation
import WardlineCore
import WardlineEngine

/// The hospital platform's `DomainEvent` envelope for one alarm transition
/// (`event_id, event_type, event_version, timestamp, source_service, correlation_id, data`).
/// `event_id` is filled in by the database from (alarm id, revision), so it is the same however
/// often the transition is written or published.
package enum AlarmEvent {
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
    struct Envelope: Codable {
        struct Transition: Codable {
            let kind: String
            let from: String?
            let to: String
            let at: String
            let by: String?
            let resolution: String?
        }

        struct Data: Codable {
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

/// Reads an alarm event back off the alarm-event topic: what a `hub` node shows on its sockets.
///
/// The envelope carries what the platform needs, not the whole alarm: a few fields of `Alarm` are
/// derived here, as the transition implies them. `acknowledgedAt` is exact on an acknowledgement
/// and unknown (nil) on later transitions; `resolvedAt` is exact; `conditionSince` is taken as
/// the raise time; `conditionPresent` is false once latched or resolved. The socket frame of a
/// decoded event can therefore differ from the one a single process sends in those fields only.
/// Not thread-safe (it keeps its decoder and date parser): one per thread.
package final class AlarmEventDecoder {
    package enum Failure: Error, CustomStringConvertible {
        case notAnEnvelope(String)
        case unknown(field: String, value: String)
        package var description: String {
            switch self {
            case .notAnEnvelope(let why): "not an alarm event: \(why)"
            case .unknown(let field, let value): "alarm event with unknown \(field) \(value.prefix(40))"
            }
        }
    }

    private let decoder = JSONDecoder()
    private let iso: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()

    package init() {}

    package func decode(_ bytes: [UInt8]) throws(Failure) -> (Alarm, AlarmTransition) {
        let e: AlarmEvent.Envelope
        do { e = try decoder.decode(AlarmEvent.Envelope.self, from: Foundation.Data(bytes)) } catch {
            throw .notAnEnvelope("\(error)".prefix(200).description)
        }
        let d = e.data
        guard let category = AlarmCategory(rawValue: d.category) else { throw .unknown(field: "category", value: d.category) }
        guard let priority = AlarmPriority(rawValue: d.priority) else { throw .unknown(field: "priority", value: d.priority) }
        guard let state = AlarmState(rawValue: d.state) else { throw .unknown(field: "state", value: d.state) }
        guard let kind = AlarmTransition.Kind(rawValue: d.transition.kind) else {
            throw .unknown(field: "transition kind", value: d.transition.kind)
        }
        guard let to = AlarmState(rawValue: d.transition.to) else { throw .unknown(field: "transition to", value: d.transition.to) }
        let from = try d.transition.from.map { s throws(Failure) -> AlarmState in
            guard let f = AlarmState(rawValue: s) else { throw .unknown(field: "transition from", value: s) }
            return f
        }
        let resolution = try d.transition.resolution.map { s throws(Failure) -> AlarmTransition.Resolution in
            guard let r = AlarmTransition.Resolution(rawValue: s) else { throw .unknown(field: "resolution", value: s) }
            return r
        }
        let vital = try d.vital.map { s throws(Failure) -> Vital in
            guard let v = Vital(rawValue: s) else { throw .unknown(field: "vital", value: s) }
            return v
        }
        let raisedAt = try millis(d.raised_at, "raised_at")
        let at = try millis(d.transition.at, "transition at")
        var alarm = Alarm(id: d.alert_id, patientID: d.patient_id, deviceID: d.device_id, ruleID: d.rule_id, category: category,
                          vital: vital, priority: priority, state: state, latching: d.latching,
                          conditionPresent: state != .resolved && kind != .latched, message: d.message, value: d.value,
                          threshold: d.threshold, conditionSince: raisedAt, raisedAt: raisedAt,
                          acknowledgedAt: kind == .acknowledged ? at : nil, acknowledgedBy: d.acknowledged_by,
                          resolvedAt: state == .resolved ? at : nil, escalationLevel: d.escalation_level, revision: d.revision)
        alarm.ruleSet = d.rule_set
        let transition = AlarmTransition(alarmID: d.alert_id, revision: d.revision, kind: kind, from: from, to: to, priority: priority,
                                         at: at, readingTime: nil, by: d.transition.by, value: d.value, threshold: d.threshold,
                                         escalationLevel: d.escalation_level, resolution: resolution)
        return (alarm, transition)
    }

    private func millis(_ text: String, _ field: String) throws(Failure) -> Int64 {
        guard let date = iso.date(from: text) else { throw .unknown(field: field, value: text) }
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }
}

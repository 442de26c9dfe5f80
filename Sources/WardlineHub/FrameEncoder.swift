import Foundation
import WardlineCore
import WardlineEngine

/// Encodes the hub's frames with `JSONEncoder` over small `Encodable` structs: one frame per
/// event on the socket thread, so it keeps its encoder rather than making one per frame. Building
/// `[String: Any]` dictionaries for `JSONSerialization` (the first version) cost ~7× as much a
/// vitals frame (`wardline-bench frames` measures both). Not thread-safe: one per thread.
public final class FrameEncoder {
    private let encoder = JSONText.encoder(.unordered)

    public init() {}

    public func frame<D: Encodable>(_ event: String, _ data: D) -> [UInt8] { encode(Frame(event: event, data: data)) }

    public func scoredReading(_ r: Reading, _ s: News2Score) -> [UInt8] { frame("vitals:update", ScoredReadingBody(r, s)) }

    public func alarm(_ event: String, _ a: Alarm, transition: String?) -> [UInt8] { frame(event, AlarmBody(a, transition: transition)) }

    /// A scored reading alone (the Kafka readings feed's message).
    public func scoredReadingBody(_ r: Reading, _ s: News2Score) -> [UInt8] { encode(ScoredReadingBody(r, s)) }

    private func encode<T: Encodable>(_ value: T) -> [UInt8] {
        // Every field is a string, number or boolean that the engine already validated as finite.
        guard let bytes = try? encoder.encode(value) else { return Array("{}".utf8) }
        return [UInt8](bytes)
    }
}

struct Frame<D: Encodable>: Encodable {
    let event: String
    let data: D
}

struct VitalsBody: Encodable {
    let hr, spo2, rr, temp, sbp, dbp: Double?
    let on_oxygen: Bool?
    let consciousness: String?

    init(_ v: Vitals) {
        hr = v.heartRate
        spo2 = v.spo2
        rr = v.respiratoryRate
        temp = v.temperature
        sbp = v.systolicBP
        dbp = v.diastolicBP
        on_oxygen = v.onOxygen
        consciousness = v.consciousness?.rawValue
    }
}

/// A NEWS2 score, as `vitals:update` and `/api/v1/patients/{id}/news2` give it.
package struct News2Body: Codable, Sendable {
    let total: Int
    let risk: String
    let complete: Bool
    let missing: [String]
    let scale: Int

    package init(_ s: News2Score) {
        total = s.total
        risk = WireFormat.riskName(s.risk)
        complete = s.isComplete
        missing = s.missing.members.map(\.name)
        scale = s.scale.rawValue
    }
}

struct ScoredReadingBody: Encodable {
    let patient_id: String
    let device_id: String
    let time: Int64
    let seq: Int64
    let vitals: VitalsBody
    let news2: News2Body
    let sent_at_us: Int64?

    init(_ r: Reading, _ s: News2Score) {
        patient_id = r.patientID
        device_id = r.deviceID
        time = r.time
        seq = r.seq
        vitals = VitalsBody(r.vitals)
        news2 = News2Body(s)
        sent_at_us = r.sentAtMicros
    }
}

/// An alarm, as the socket's alarm frames and every REST answer about alarms describe it (so the
/// two can never describe one differently); `transition` only in frames.
package struct AlarmBody: Encodable, Sendable {
    let id: String
    let patient_id: String?
    let device_id: String?
    let rule_id: String
    let category: String
    let vital: String?
    let priority: String
    let state: String
    let message: String
    let value: Double?
    let threshold: Double?
    let raised_at: Int64
    let condition_since: Int64
    let acknowledged_at: Int64?
    let acknowledged_by: String?
    let resolved_at: Int64?
    let revision: Int
    let latching: Bool
    let condition_present: Bool
    let escalation_level: Int
    /// The version of the rule set that raised it.
    let rule_set: String?
    let transition: String?

    package init(_ a: Alarm, transition: String? = nil) {
        id = a.id
        patient_id = a.patientID
        device_id = a.deviceID
        rule_id = a.ruleID
        category = a.category.rawValue
        vital = a.vital.map { "\($0)" }
        priority = a.priority.rawValue
        state = a.state.rawValue
        message = a.message
        value = a.value
        threshold = a.threshold
        raised_at = a.raisedAt
        condition_since = a.conditionSince
        acknowledged_at = a.acknowledgedAt
        acknowledged_by = a.acknowledgedBy
        resolved_at = a.resolvedAt
        rule_set = a.ruleSet
        revision = a.revision
        latching = a.latching
        condition_present = a.conditionPresent
        escalation_level = a.escalationLevel
        self.transition = transition
    }
}

/// The fields of a scored reading on the readings topic that a `hub` node needs to route it and
/// to answer `/news2`; the rest of the body goes to the sockets as it came.
package struct ScoredReadingHeadline: Decodable, Sendable {
    package let patient_id: String
    package let device_id: String
    package let time: Int64
    package let news2: News2Body
}

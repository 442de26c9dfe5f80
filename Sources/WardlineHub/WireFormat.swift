import Foundation
import WardlineCore
import WardlineEngine

/// The JSON shapes the ward page and the REST API share: an alarm, a scored reading, a device's
/// status. Built as plain dictionaries and serialised by Foundation, once per event (not per client).
public enum WireFormat {
    public static func alarm(_ a: Alarm) -> [String: Any] {
        var d: [String: Any] = [
            "id": a.id, "rule_id": a.ruleID, "category": a.category.rawValue, "priority": a.priority.rawValue,
            "state": a.state.rawValue, "message": a.message, "raised_at": a.raisedAt, "revision": a.revision,
            "latching": a.latching, "condition_present": a.conditionPresent, "escalation_level": a.escalationLevel,
            "condition_since": a.conditionSince,
        ]
        d["patient_id"] = a.patientID
        d["device_id"] = a.deviceID
        d["vital"] = a.vital.map { "\($0)" }
        d["value"] = a.value
        d["threshold"] = a.threshold
        d["acknowledged_at"] = a.acknowledgedAt
        d["acknowledged_by"] = a.acknowledgedBy
        d["resolved_at"] = a.resolvedAt
        return d
    }

    public static func vitals(_ v: Vitals) -> [String: Any] {
        var d: [String: Any] = [:]
        d["hr"] = v.heartRate
        d["spo2"] = v.spo2
        d["rr"] = v.respiratoryRate
        d["temp"] = v.temperature
        d["sbp"] = v.systolicBP
        d["dbp"] = v.diastolicBP
        d["on_oxygen"] = v.onOxygen
        d["consciousness"] = v.consciousness?.rawValue
        return d
    }

    public static func news2(_ s: News2Score) -> [String: Any] {
        ["total": s.total, "risk": riskName(s.risk), "complete": s.isComplete,
         "missing": s.missing.members.map(\.name), "scale": s.scale.rawValue]
    }

    public static func riskName(_ r: News2Risk) -> String {
        switch r {
        case .low: "low"
        case .lowMedium: "low_medium"
        case .medium: "medium"
        case .high: "high"
        }
    }

    public static func scoredReading(_ r: Reading, _ s: News2Score) -> [String: Any] {
        var d: [String: Any] = ["patient_id": r.patientID, "device_id": r.deviceID, "time": r.time, "seq": r.seq,
                                "vitals": vitals(r.vitals), "news2": news2(s)]
        d["sent_at_us"] = r.sentAtMicros
        return d
    }

    public static func deviceStatus(_ s: DeviceStatus, patientID: String?) -> [String: Any] {
        var d: [String: Any] = ["device_id": s.deviceID, "state": s.state.rawValue, "time": s.time ?? s.receivedAt]
        d["patient_id"] = patientID
        d["battery"] = s.battery
        d["firmware"] = s.firmware
        return d
    }

    /// One `{"event", "data"}` frame, UTF-8.
    public static func frame(_ event: String, _ data: Any) -> [UInt8] {
        serialise(["event": event, "data": data])
    }

    public static func serialise(_ object: Any) -> [UInt8] {
        // Every value put in these dictionaries is a JSON type, so this cannot fail; an empty object
        // would still be valid JSON if it ever did.
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.fragmentsAllowed, .withoutEscapingSlashes]) else { return Array("{}".utf8) }
        return [UInt8](data)
    }
}

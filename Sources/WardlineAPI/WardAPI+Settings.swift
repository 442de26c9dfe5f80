import Foundation
import WardlineCore
import WardlineEngine
import WardlineHub
import WardlineStore

/// Per-patient alarm limits (threshold overrides) and the SpO2 scale.
extension WardAPI {
    func thresholds(_ c: Call, _ db: PostgresConnection?) throws -> HTTPResult {
        let id = c.param("patient_id")
        try requireView(c, id)
        let settings = try SettingsStore(db: try need(db)).load().settings[id] ?? SettingsStore.PatientAlarmSettings()
        return .data(Thresholds(patient_id: id, spo2_scale: settings.scale.rawValue, overrides: settings.overrides.map(Self.rule)))
    }

    /// Body: `{"vital": "spo2", "direction": "below", "clear_at": 90,
    ///         "bands": [{"limit": 88, "priority": "high", "persistence_ms": 10000}]}` (no bands: disabled).
    func setThreshold(_ c: Call, _ db: PostgresConnection?) throws -> HTTPResult {
        let id = c.param("patient_id")
        let ruleID = c.param("rule_id")
        try authorise(c, .setAlarmLimits(patientID: id))
        try checkID(ruleID, "rule_id")
        let b = try body(c)
        if let named = b["rule_id"], named.string != ruleID {
            throw APIError.validation("rule_id", "must be the path's rule_id (\(ruleID)) or left out")
        }
        let vital = try string(b, "vital")!
        guard Vital(rawValue: vital) != nil else {
            throw APIError.validation("vital", "must be one of \(Vital.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let direction = try string(b, "direction")!
        guard direction == "above" || direction == "below" else { throw APIError.validation("direction", "must be above or below") }
        guard let clearAt = Self.number(b["clear_at"]) else { throw APIError.validation("clear_at", "must be a number") }
        guard let bands = b["bands"]?.array, bands.allSatisfy({ $0.object != nil }) else {
            throw APIError.validation("bands", "must be a list of {limit, priority, persistence_ms}")
        }
        for (i, band) in bands.enumerated() {
            guard Self.number(band["limit"]) != nil, let p = band["priority"]?.string, AlarmPriority(rawValue: p) != nil else {
                throw APIError.validation("bands[\(i)]", "needs a numeric limit and a priority of high, medium or low")
            }
            if let ms = band["persistence_ms"], Self.integer(ms) == nil {
                throw APIError.validation("bands[\(i)].persistence_ms", "must be a whole number of milliseconds")
            }
        }
        let bandsJSON = String(decoding: WireFormat.serialise(bands), as: UTF8.self)
        guard let rule = SettingsStore.rule([id, ruleID, vital, direction, bandsJSON, String(clearAt)]) else {
            throw APIError.validation("bands", "could not be read")
        }
        guard rule.problems.isEmpty else {
            throw APIError(400, "validation_error", "the alarm limits are not safe: " + rule.problems.joined(separator: "; "),
                           details: rule.problems.map { ["field": "bands", "problem": $0] })
        }
        try SettingsStore(db: try need(db)).saveOverride(patientID: id, rule: rule, by: who(c).userID)
        context.settingsChanged()
        return .data(ChangedThreshold(patient_id: id, override: Self.rule(rule)), message: "alarm limits changed")
    }

    func removeThreshold(_ c: Call, _ db: PostgresConnection?) throws -> HTTPResult {
        let id = c.param("patient_id")
        try authorise(c, .setAlarmLimits(patientID: id))
        try SettingsStore(db: try need(db)).removeOverride(patientID: id, ruleID: c.param("rule_id"))
        context.settingsChanged()
        return .data(["patient_id": id, "rule_id": c.param("rule_id")], message: "hospital alarm limits restored")
    }

    static func rule(_ r: ThresholdRule) -> Rule {
        Rule(rule_id: r.id, vital: r.vital.rawValue, direction: r.direction.rawValue, clear_at: r.clearLevel,
             bands: r.bands.map { Rule.Band(limit: $0.limit, priority: $0.priority.rawValue, persistence_ms: $0.persistence) })
    }

    /// A patient's alarm limits for one rule, as a clinician set them.
    struct Rule: Encodable {
        struct Band: Encodable {
            let limit: Double
            let priority: String
            let persistence_ms: Int64
        }

        let rule_id: String
        let vital: String
        let direction: String
        let clear_at: Double
        let bands: [Band]
    }

    struct Thresholds: Encodable {
        let patient_id: String
        let spo2_scale: Int
        let overrides: [Rule]
    }

    struct ChangedThreshold: Encodable {
        let patient_id: String
        let override: Rule
    }

    struct Scale: Encodable {
        let patient_id: String
        let spo2_scale: Int
    }
}

extension WardAPI {
    /// Body: `{"scale": 2}` — scale 2 for hypercapnic respiratory failure, prescribed by a physician.
    func setScale(_ c: Call, _ db: PostgresConnection?) throws -> HTTPResult {
        let id = c.param("patient_id")
        try authorise(c, .setAlarmLimits(patientID: id))
        guard let n = Self.integer(try body(c)["scale"]), let scale = SpO2Scale(rawValue: n) else {
            throw APIError.validation("scale", "must be 1 or 2")
        }
        try SettingsStore(db: try need(db)).saveScale(patientID: id, scale: scale, by: who(c).userID)
        context.settingsChanged()
        return .data(Scale(patient_id: id, spo2_scale: n), message: "SpO2 scale changed")
    }
}

import Foundation
import WardlineCore
import WardlineEngine

/// Per-patient alarm settings: threshold overrides and the SpO2 scale (`threshold_overrides`,
/// `patient_settings`). Clinicians change them through the API; the engine reads them from here.
public final class SettingsStore {
    public let db: PostgresConnection

    public init(db: PostgresConnection) { self.db = db }

    /// What a patient's settings are; equal values mean nothing changed.
    public struct PatientAlarmSettings: Sendable, Equatable {
        public var scale: SpO2Scale = .scale1
        public var overrides: [ThresholdRule] = []
        public init(scale: SpO2Scale = .scale1, overrides: [ThresholdRule] = []) {
            self.scale = scale
            self.overrides = overrides
        }
    }

    /// Every patient that has a setting differing from the hospital's, keyed by patient id.
    /// A stored override the engine would refuse is skipped and named in `refused`.
    public func load() throws -> (settings: [String: PatientAlarmSettings], refused: [String]) {
        var all: [String: PatientAlarmSettings] = [:]
        var refused: [String] = []
        for row in try db.execute("SELECT patient_id, spo2_scale FROM patient_settings").rows {
            guard let patient = row[0], let scale = row[1].flatMap(Int.init).flatMap(SpO2Scale.init(rawValue:)) else { continue }
            all[patient, default: PatientAlarmSettings()].scale = scale
        }
        let rows = try db.execute("""
            SELECT patient_id, rule_id, vital, direction, bands::text, clear_at FROM threshold_overrides
            ORDER BY patient_id, rule_id
            """).rows
        for row in rows {
            guard let patient = row[0], let ruleID = row[1] else { continue }
            guard let rule = Self.rule(row), rule.problems.isEmpty else {
                refused.append("\(patient)/\(ruleID)")
                continue
            }
            all[patient, default: PatientAlarmSettings()].overrides.append(rule)
        }
        return (all, refused)
    }

    /// Stores (or replaces) one override; the engine picks it up on its next refresh.
    public func saveOverride(patientID: String, rule: ThresholdRule, by user: String?) throws {
        let bands = rule.bands.map { StoredBand(limit: $0.limit, priority: $0.priority.rawValue, persistence_ms: $0.persistence) }
        let json = String(decoding: try JSONEncoder().encode(bands), as: UTF8.self)
        try db.execute("""
            INSERT INTO threshold_overrides (patient_id, rule_id, vital, direction, bands, clear_at, updated_by)
            VALUES ($1, $2, $3, $4, $5::jsonb, $6::float8, $7)
            ON CONFLICT (patient_id, rule_id) DO UPDATE SET vital = excluded.vital, direction = excluded.direction,
                bands = excluded.bands, clear_at = excluded.clear_at, updated_by = excluded.updated_by, updated_at = now()
            """, [patientID, rule.id, rule.vital.rawValue, rule.direction.rawValue, json, String(rule.clearLevel), user])
    }

    public func removeOverride(patientID: String, ruleID: String) throws {
        try db.execute("DELETE FROM threshold_overrides WHERE patient_id = $1 AND rule_id = $2", [patientID, ruleID])
    }

    public func saveScale(patientID: String, scale: SpO2Scale, by user: String?) throws {
        try db.execute("""
            INSERT INTO patient_settings (patient_id, spo2_scale, updated_by) VALUES ($1, $2::smallint, $3)
            ON CONFLICT (patient_id) DO UPDATE SET spo2_scale = excluded.spo2_scale, updated_by = excluded.updated_by,
                updated_at = now()
            """, [patientID, String(scale.rawValue), user])
    }

    private struct StoredBand: Codable {
        var limit: Double
        var priority: String
        var persistence_ms: Int64?
    }

    /// A rule from a row of (patient, rule id, vital, direction, bands JSON, clear level); nil when unreadable.
    public static func rule(_ row: [String?]) -> ThresholdRule? {
        guard let ruleID = row[1], let vital = row[2].flatMap(Vital.init(rawValue:)),
              let direction = row[3].flatMap(BreachDirection.init(rawValue:)),
              let json = row[4], let clearAt = row[5].flatMap(Double.init),
              let stored = try? JSONDecoder().decode([StoredBand].self, from: Data(json.utf8)) else { return nil }
        var bands: [ThresholdBand] = []
        for b in stored {
            guard let priority = AlarmPriority(rawValue: b.priority) else { return nil }
            bands.append(ThresholdBand(limit: b.limit, priority: priority, persistence: b.persistence_ms ?? 0))
        }
        return ThresholdRule(vital, direction, bands: bands, clearAt: clearAt, id: ruleID)
    }
}

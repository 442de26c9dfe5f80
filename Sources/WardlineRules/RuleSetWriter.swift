import Foundation
import WardlineCore
import WardlineEngine

/// A configuration written as a rule-set file: `wardline rules defaults` prints the built-in
/// hospital defaults this way (what `rules/hospital-default.json` was made from), so a clinical
/// engineer starts from the running numbers, not a copy that drifted.
public enum RuleSetWriter {
    public static func json(_ c: EngineConfiguration, version: String, title: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let file = File(format: RuleSetDocument.format, version: version, title: title,
                        thresholds: c.thresholdRules.map(Threshold.init), scale2_thresholds: c.scale2ThresholdRules.map(Threshold.init),
                        anomalies: c.anomalyRules.map(Anomaly.init),
                        news2: .init(low_medium: c.news2Alarm.lowMedium?.rawValue, medium: c.news2Alarm.medium?.rawValue,
                                     high: c.news2Alarm.high?.rawValue, persistence_s: seconds(c.news2Alarm.persistence)),
                        latching_priorities: AlarmPriority.allCases.filter(c.latchingPriorities.contains).map(\.rawValue),
                        timers: .init(stale_data_after_s: seconds(c.staleDataAfter), offline_grace_s: seconds(c.offlineGrace),
                                      evidence_gap_s: seconds(c.evidenceGap), news2_staleness_s: seconds(c.news2Staleness),
                                      device_alert_clear_after_s: seconds(c.deviceAlertClearAfter)),
                        wards: c.wardThresholdRules.isEmpty ? nil : c.wardThresholdRules.mapValues { Ward(thresholds: $0.map(Threshold.init)) })
        let data = (try? encoder.encode(file)) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    static func seconds(_ ms: Int64) -> Double { Double(ms) / 1000 }

    struct File: Encodable {
        let format: String
        let version: String
        let title: String
        let thresholds: [Threshold]
        let scale2_thresholds: [Threshold]
        let anomalies: [Anomaly]
        let news2: News2
        let latching_priorities: [String]
        let timers: Timers
        let wards: [String: Ward]?
    }

    struct Ward: Encodable { let thresholds: [Threshold] }

    struct Band: Encodable {
        let limit: Double
        let priority: String
        let persistence_s: Double
    }

    struct Threshold: Encodable {
        let id: String
        let vital: String
        let direction: String
        let bands: [Band]
        let clear_at: Double?
        init(_ r: ThresholdRule) {
            id = r.id
            vital = r.vital.rawValue
            direction = r.direction.rawValue
            bands = r.bands.map { Band(limit: $0.limit, priority: $0.priority.rawValue, persistence_s: RuleSetWriter.seconds($0.persistence)) }
            clear_at = r.isEnabled ? r.clearLevel : nil
        }
    }

    struct Measure: Encodable {
        var change_over_minutes: Int?
        var ratio_to_hourly_baseline: Bool?
        var deviations_from_hourly_baseline: Double?
    }

    struct Anomaly: Encodable {
        let id: String
        let vital: String
        let measure: Measure
        let direction: String
        let raise_at: Double
        let clear_at: Double
        let priority: String
        let persistence_s: Double
        let suppressed_by: [String]
        init(_ r: AnomalyRule) {
            id = r.id
            vital = r.vital.rawValue
            measure = switch r.measure {
            case .change(let minutes): Measure(change_over_minutes: minutes)
            case .ratioToHourlyBaseline: Measure(ratio_to_hourly_baseline: true)
            case .deviationsFromHourlyBaseline(let d): Measure(deviations_from_hourly_baseline: d)
            }
            direction = r.direction.rawValue
            raise_at = r.raiseAt
            clear_at = r.clearAt
            priority = r.priority.rawValue
            persistence_s = RuleSetWriter.seconds(r.persistence)
            suppressed_by = r.suppressedBy
        }
    }

    struct News2: Encodable {
        let low_medium: String?
        let medium: String?
        let high: String?
        let persistence_s: Double
        enum CodingKeys: String, CodingKey { case low_medium, medium, high, persistence_s }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            // null says "no alarm for this band" in the file; leaving the key out would mean the default.
            try c.encode(low_medium, forKey: .low_medium)
            try c.encode(medium, forKey: .medium)
            try c.encode(high, forKey: .high)
            try c.encode(persistence_s, forKey: .persistence_s)
        }
    }

    struct Timers: Encodable {
        let stale_data_after_s: Double
        let offline_grace_s: Double
        let evidence_gap_s: Double
        let news2_staleness_s: Double
        let device_alert_clear_after_s: Double
    }
}

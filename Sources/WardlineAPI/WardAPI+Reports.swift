import Foundation
import WardlineStore

/// The alarm-burden report of a ward (issue 15): how many alarms per patient-day, how fast they
/// are answered, which escalate, flap or are silenced at once. Charge nurse of the ward and admins.
extension WardAPI {
    func alarmBurden(_ c: Call, _ db: PostgresConnection?) throws -> HTTPResult {
        let q = c.request.query
        guard let raw = q["ward"] else { throw APIError.validation("ward", "is required") }
        let ward = raw.removingPercentEncoding ?? raw
        guard (1...64).contains(ward.utf8.count), ward.utf8.allSatisfy(Self.isIDByte) else {
            throw APIError.validation("ward", "must be 1–64 letters, digits, '-', '_', '.' or ':'")
        }
        func time(_ name: String) throws -> Int64 {
            guard let s = q[name] else { throw APIError.validation(name, "is required (ISO 8601 or epoch milliseconds)") }
            let text = s.removingPercentEncoding ?? s
            guard text.utf8.count <= 40, let v = ISO8601.parse(text) else {
                throw APIError.validation(name, "must be ISO 8601 or epoch milliseconds")
            }
            // Bounded before any arithmetic: the database's timestamps end in 294276, Int64 sooner.
            guard (0...Self.latestReportTime).contains(v) else { throw APIError.validation(name, "must be between 1970 and 9999") }
            return v
        }
        let from = try time("from"), to = try time("to")
        guard from < to else { throw APIError.validation("from", "must be before to") }
        guard to - from <= 31 * 86_400_000 else { throw APIError.validation("to", "a report spans at most 31 days") }
        try authorise(c, .viewWardReport(ward: ward))
        let report = try AlarmBurdenQueries(db: try need(db)).report(ward: ward, from: from, to: to)
        return .data(AlarmBurden(ward: ward, from: from, to: to, report))
    }

    /// 9999-12-31T23:59:59.999Z, epoch ms.
    static let latestReportTime: Int64 = 253_402_300_799_999

    /// The report as the API answers it; rates are per patient-day (from the readings) or per day
    /// of the period, and absent where nothing was monitored.
    struct AlarmBurden: Encodable {
        struct Rule: Encodable {
            let rule_id, priority: String
            let alarms: Int
            let per_patient_day: Double?
        }
        struct Acknowledgement: Encodable {
            let acknowledged, never_acknowledged: Int
            let median_s, p90_s: Double?
        }
        struct Escalation: Encodable { let level, count: Int }
        struct Flapping: Encodable {
            let patient_id, rule_id: String
            let raises, most_in_an_hour: Int
        }
        struct Noisy: Encodable {
            let id: String
            let alarms: Int
            let per_day: Double
        }
        struct Quick: Encodable {
            let alarm_id, patient_id, rule_id: String
            let seconds: Double
        }
        struct QuickAcknowledgements: Encodable {
            let within_s: Int
            let count: Int
            let alarms: [Quick]
        }

        let ward: String
        let from, to: Int64
        let period_days: Double
        let patient_hours: Int
        let patient_days: Double
        let patient_days_basis = "distinct patient-hours with at least one reading, divided by 24"
        let alarms: Int
        let alarms_per_patient_day: Double?
        let by_rule: [Rule]
        let acknowledgement: Acknowledgement
        let escalations: [Escalation]
        let flapping_min_raises_in_an_hour: Int
        let flapping: [Flapping]
        let noisiest_patients: [Noisy]
        let noisiest_devices: [Noisy]
        let quick_acknowledgements: QuickAcknowledgements

        init(ward: String, from: Int64, to: Int64, _ r: AlarmBurdenQueries.Report) {
            self.ward = ward
            self.from = from
            self.to = to
            let days = Double(to - from) / 86_400_000
            period_days = days
            patient_hours = r.patientHours
            let patientDays = Double(r.patientHours) / 24
            patient_days = patientDays
            func perPatientDay(_ n: Int) -> Double? { patientDays > 0 ? Double(n) / patientDays : nil }
            alarms = r.alarms
            alarms_per_patient_day = perPatientDay(r.alarms)
            by_rule = r.byRule.map { Rule(rule_id: $0.ruleID, priority: $0.priority, alarms: $0.alarms, per_patient_day: perPatientDay($0.alarms)) }
            let a = r.acknowledgement
            acknowledgement = Acknowledgement(acknowledged: a.acknowledged, never_acknowledged: a.neverAcknowledged,
                                              median_s: a.medianSeconds, p90_s: a.p90Seconds)
            escalations = r.escalations.map { Escalation(level: $0.level, count: $0.count) }
            flapping_min_raises_in_an_hour = AlarmBurdenQueries.flappingRaises
            flapping = r.flapping.map { Flapping(patient_id: $0.patientID, rule_id: $0.ruleID, raises: $0.raises, most_in_an_hour: $0.mostInAnHour) }
            noisiest_patients = r.noisiestPatients.map { Noisy(id: $0.id, alarms: $0.alarms, per_day: Double($0.alarms) / days) }
            noisiest_devices = r.noisiestDevices.map { Noisy(id: $0.id, alarms: $0.alarms, per_day: Double($0.alarms) / days) }
            quick_acknowledgements = QuickAcknowledgements(
                within_s: AlarmBurdenQueries.quickSeconds, count: r.quickAcknowledgements,
                alarms: r.quickAcknowledged.map { Quick(alarm_id: $0.alarmID, patient_id: $0.patientID, rule_id: $0.ruleID, seconds: $0.seconds) })
        }
    }
}

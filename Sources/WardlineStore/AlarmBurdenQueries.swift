import Foundation

/// The alarm-burden report of one ward for a period, read from the stored alarms, their
/// transitions and the readings. Read-only, one snapshot (REPEATABLE READ) so every figure
/// counts the same alarms.
///
/// Which alarms: those raised in [from, to) of the patients the `patients` table places on the
/// ward now (as `wardline replay` chooses them). Patient-days: the distinct patient-hours (UTC) with at
/// least one reading in the period, divided by 24 — a patient monitored for an hour counts an
/// hour whether they sent one reading or thousands.
public struct AlarmBurdenQueries {
    private let db: PostgresConnection

    public init(db: PostgresConnection) { self.db = db }

    /// Alarms of one rule at one priority (the highest the alarm reached).
    public struct RuleCount: Sendable, Equatable {
        public var ruleID: String
        public var priority: String
        public var alarms: Int
    }

    /// Time from raise to the first acknowledgement, seconds (percentile_cont: linear interpolation).
    public struct Acknowledgement: Sendable, Equatable {
        public var acknowledged: Int
        public var neverAcknowledged: Int
        public var medianSeconds: Double?
        public var p90Seconds: Double?
    }

    /// One patient and rule raised at least `flappingRaises` times within an hour.
    public struct Flapping: Sendable, Equatable {
        public var patientID: String
        public var ruleID: String
        /// Raises of this patient and rule in the whole period.
        public var raises: Int
        /// The most raises in any hour (inclusive) starting at one of them.
        public var mostInAnHour: Int
    }

    /// An alarm acknowledged within `quickSeconds` of being raised: likely a nuisance.
    public struct QuickAcknowledgement: Sendable, Equatable {
        public var alarmID: String
        public var patientID: String
        public var ruleID: String
        public var seconds: Double
    }

    public struct Report: Sendable {
        public var patientHours: Int
        public var alarms: Int
        public var byRule: [RuleCount]
        public var acknowledgement: Acknowledgement
        /// Escalation transitions of these alarms: level → count.
        public var escalations: [(level: Int, count: Int)]
        public var flapping: [Flapping]
        public var noisiestPatients: [(id: String, alarms: Int)]
        public var noisiestDevices: [(id: String, alarms: Int)]
        public var quickAcknowledgements: Int
        /// The first 100 of them, oldest first.
        public var quickAcknowledged: [QuickAcknowledgement]
    }

    public static let flappingRaises = 3
    public static let quickSeconds = 10
    public static let noisiestShown = 10

    /// The ward's alarms of the period with their first acknowledgement ($1 ward, $2 from, $3 to, epoch ms).
    private static let wardAlarms = """
        WITH period AS (SELECT timestamptz 'epoch' + $2::bigint * interval '1 millisecond' AS from_at,
                               timestamptz 'epoch' + $3::bigint * interval '1 millisecond' AS to_at),
        ward_alarms AS (
            SELECT a.id, a.patient_id, a.device_id, a.rule_id, a.priority, a.raised_at,
                   (SELECT min(t.at) FROM alert_transitions t WHERE t.alert_id = a.id AND t.kind = 'acknowledged') AS first_ack
              FROM alerts a CROSS JOIN period p
             WHERE a.patient_id IN (SELECT patient_id FROM patients WHERE ward = $1)
               AND a.raised_at >= p.from_at AND a.raised_at < p.to_at)

        """

    public func report(ward: String, from: Int64, to: Int64) throws -> Report {
        let parameters: [String?] = [ward, String(from), String(to)]
        func rows(_ sql: String) throws -> [[String?]] { try db.execute(Self.wardAlarms + sql, parameters).rows }
        func int(_ s: String?) -> Int { s.flatMap { Int($0) } ?? 0 }
        try db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        do {
            // One index probe (vitals_patient_time) per patient and hour rather than a scan of every
            // reading: a month of a ward at 1 Hz is tens of millions of rows, its hours a few thousand.
            let hours = try rows("""
                SELECT count(*) FROM patients pt CROSS JOIN period p
                 CROSS JOIN LATERAL generate_series(date_trunc('hour', p.from_at, 'UTC'), p.to_at - interval '1 microsecond',
                                                    interval '1 hour') AS h(at)
                 WHERE pt.ward = $1 AND EXISTS (
                       SELECT 1 FROM vitals v WHERE v.patient_id = pt.patient_id
                          AND v.time >= greatest(h.at, p.from_at) AND v.time < least(h.at + interval '1 hour', p.to_at))
                """).first.map { int($0[0]) } ?? 0
            let byRule = try rows("SELECT rule_id, priority, count(*) FROM ward_alarms GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2").map {
                RuleCount(ruleID: $0[0] ?? "", priority: $0[1] ?? "", alarms: int($0[2]))
            }
            let ack = try rows("""
                SELECT count(*), count(first_ack), count(*) FILTER (WHERE first_ack IS NULL),
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_ack - raised_at)),
                       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM first_ack - raised_at)),
                       count(*) FILTER (WHERE first_ack - raised_at <= make_interval(secs => \(Self.quickSeconds)))
                  FROM ward_alarms
                """).first ?? []
            let escalations = try rows("""
                SELECT t.escalation_level, count(*) FROM alert_transitions t JOIN ward_alarms w ON w.id = t.alert_id
                 WHERE t.kind = 'escalated' GROUP BY 1 ORDER BY 1
                """).map { (level: int($0[0]), count: int($0[1])) }
            let flapping = try rows("""
                , windows AS (
                    SELECT patient_id, rule_id, count(*) OVER (PARTITION BY patient_id, rule_id ORDER BY raised_at
                                                             RANGE BETWEEN CURRENT ROW AND interval '1 hour' FOLLOWING) AS in_hour
                      FROM ward_alarms)
                SELECT patient_id, rule_id, count(*), max(in_hour) FROM windows GROUP BY 1, 2
                HAVING max(in_hour) >= \(Self.flappingRaises) ORDER BY 4 DESC, 3 DESC, 1, 2 LIMIT 100
                """).map { Flapping(patientID: $0[0] ?? "", ruleID: $0[1] ?? "", raises: int($0[2]), mostInAnHour: int($0[3])) }
            let patients = try rows("""
                SELECT patient_id, count(*) FROM ward_alarms GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT \(Self.noisiestShown)
                """).map { (id: $0[0] ?? "", alarms: int($0[1])) }
            let devices = try rows("""
                SELECT device_id, count(*) FROM ward_alarms WHERE device_id IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1
                 LIMIT \(Self.noisiestShown)
                """).map { (id: $0[0] ?? "", alarms: int($0[1])) }
            let quick = try rows("""
                SELECT id, patient_id, rule_id, extract(epoch FROM first_ack - raised_at) FROM ward_alarms
                 WHERE first_ack - raised_at <= make_interval(secs => \(Self.quickSeconds)) ORDER BY raised_at, id LIMIT 100
                """).map { QuickAcknowledgement(alarmID: $0[0] ?? "", patientID: $0[1] ?? "", ruleID: $0[2] ?? "",
                                                 seconds: $0[3].flatMap(Double.init) ?? 0) }
            try db.execute("COMMIT")
            return Report(patientHours: hours, alarms: ack.count > 0 ? int(ack[0]) : 0, byRule: byRule,
                          acknowledgement: Acknowledgement(acknowledged: ack.count > 1 ? int(ack[1]) : 0,
                                                           neverAcknowledged: ack.count > 2 ? int(ack[2]) : 0,
                                                           medianSeconds: ack.count > 3 ? ack[3].flatMap(Double.init) : nil,
                                                           p90Seconds: ack.count > 4 ? ack[4].flatMap(Double.init) : nil),
                          escalations: escalations, flapping: flapping, noisiestPatients: patients, noisiestDevices: devices,
                          quickAcknowledgements: ack.count > 5 ? int(ack[5]) : 0, quickAcknowledged: quick)
        } catch {
            _ = try? db.execute("ROLLBACK")
            throw error
        }
    }
}

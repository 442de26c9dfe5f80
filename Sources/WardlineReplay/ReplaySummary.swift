/// A replay's comparison as JSON (`wardline replay --json`, `GET /api/v1/replays/{id}`): the same
/// figures as the text, missed and later high-priority alarms first. Lists of alarms are capped
/// (`listed`), their counts are not.
public struct ReplaySummary: Codable, Sendable, Equatable {
    public struct Alarm: Codable, Sendable, Equatable {
        public var alarm_id: String
        public var patient_id: String?
        public var device_id: String?
        public var rule_id: String
        public var priority: String
        public var raised_at: Int64
        public var value: Double?
        public var threshold: Double?
        /// For a high alarm the candidate raises later: by how much, in seconds of patient time.
        public var later_by_s: Double?
    }
    public struct Side: Codable, Sendable, Equatable {
        public var version: String
        public var alarms: Int
        public var alarms_per_patient_day: Double
        public var median_duration_s: Double?
        public var p90_duration_s: Double?
        public var ended_within_10_s: Int
        public var only_here: Int
        public var only_here_listed: [Alarm]
    }
    public struct Rule: Codable, Sendable, Equatable {
        public var rule_id: String
        public var priority: String
        public var in_force: Int
        public var candidate: Int
        public var in_force_per_patient_day: Double
        public var candidate_per_patient_day: Double
    }
    public struct HighAlarms: Codable, Sendable, Equatable {
        /// High-priority alarms the rules in force raise.
        public var in_force: Int
        public var missed: [Alarm]
        public var later: [Alarm]
    }
    public struct Check: Codable, Sendable, Equatable {
        public var compared: Int
        public var reproduced: Int
        public var other_rule_sets: Int
        public var not_raised_again: [String]
    }

    public var from: Int64
    public var to: Int64
    public var readings: Int
    public var device_events: Int
    public var patients: Int
    public var patient_days: Double
    public var readings_per_s: Double
    public var readings_per_s_per_engine: Double
    public var high_alarms: HighAlarms
    public var by_rule: [Rule]
    public var in_force: Side
    public var candidate: Side
    public var live_check: Check

    public static let listed = 200

    public init(_ o: ReplayOutcome) {
        let r = o.report
        func alarm(_ e: AlarmEpisode, later: Int64? = nil) -> Alarm {
            Alarm(alarm_id: e.id, patient_id: e.patientID, device_id: e.deviceID, rule_id: e.ruleID, priority: e.priority.rawValue,
                  raised_at: e.raisedAt, value: e.value, threshold: e.threshold, later_by_s: later.map { Double($0) / 1000 })
        }
        func side(_ s: ReplayReport.Side, other: ReplayReport.Side) -> Side {
            let durations = s.episodes.map { $0.duration(end: r.end) }
            let only = r.onlyIn(s, not: other)
            return Side(version: s.version, alarms: s.episodes.count, alarms_per_patient_day: Double(s.episodes.count) / r.patientDays,
                        median_duration_s: ReplayReport.percentile(durations, 0.5).map { Double($0) / 1000 },
                        p90_duration_s: ReplayReport.percentile(durations, 0.9).map { Double($0) / 1000 },
                        ended_within_10_s: r.selfEnding(s), only_here: only.count, only_here_listed: only.prefix(Self.listed).map { alarm($0) })
        }
        let (missed, later) = r.missedAndLater
        from = o.from
        to = o.to
        readings = o.readings
        device_events = o.deviceEvents
        patients = o.patients
        patient_days = o.patientDays
        readings_per_s = o.endToEndPerSecond
        readings_per_s_per_engine = o.perEnginePerSecond
        high_alarms = HighAlarms(in_force: r.highAlarmFates.count,
                                 missed: missed.prefix(Self.listed).map { alarm($0.current) },
                                 later: later.prefix(Self.listed).map { alarm($0.current, later: $0.delayMillis) })
        by_rule = r.byRule.map {
            Rule(rule_id: $0.rule, priority: $0.priority.rawValue, in_force: $0.current, candidate: $0.candidate,
                 in_force_per_patient_day: Double($0.current) / r.patientDays, candidate_per_patient_day: Double($0.candidate) / r.patientDays)
        }
        in_force = side(r.current, other: r.candidate)
        candidate = side(r.candidate, other: r.current)
        let c = o.liveCheck
        live_check = Check(compared: c.compared, reproduced: c.reproduced, other_rule_sets: c.otherRuleSets,
                           not_raised_again: Array(c.notRaisedAgain.prefix(Self.listed)))
    }
}

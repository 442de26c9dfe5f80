import WardlineCore
import WardlineEngine
import WardlineTasks

/// Alarms and their history in the `alerts` and `alert_transitions` tables.
///
/// Each engine event is written as an upsert of the alarm's current row (only if it is newer,
/// by revision) plus its transition record, so writing an event twice (a replay after a crash)
/// changes nothing. Open alarms are read back at start so the engine continues them, never
/// raising them a second time.
public final class AlarmStore {
    public let db: PostgresConnection
    /// Where each transition's DomainEvent goes (the Kafka topic), or nil for no outbox rows.
    public let outboxTopic: String?
    /// Which task-queue jobs each transition makes (into `task_outbox`), or nil for none.
    public let tasks: AlarmTasks?

    public init(db: PostgresConnection, outboxTopic: String? = nil, tasks: AlarmTasks? = nil) {
        self.db = db
        self.outboxTopic = outboxTopic
        self.tasks = tasks
    }

    /// Writes alarm events in one transaction; returns how many transitions were new.
    @discardableResult
    public func write(_ events: [(Alarm, AlarmTransition)]) throws -> Int {
        guard !events.isEmpty else { return 0 }
        return try db.transaction {
            var inserted = 0
            for (alarm, t) in events {
                try upsert(alarm)
                inserted += try db.execute("""
                    INSERT INTO alert_transitions (alert_id, revision, kind, from_state, to_state, priority, at,
                                                   reading_time, by_user, value, threshold, escalation_level, resolution)
                    VALUES ($1, $2::int, $3, $4, $5, $6, \(Self.time(7)), \(Self.time(8)), $9, $10::float8, $11::float8,
                            $12::int, $13)
                    ON CONFLICT DO NOTHING
                    """, [t.alarmID, String(t.revision), t.kind.rawValue, t.from?.rawValue, t.to.rawValue,
                          t.priority.rawValue, String(t.at), t.readingTime.map(String.init), t.by,
                          t.value.map { String($0) }, t.threshold.map { String($0) }, String(t.escalationLevel),
                          t.resolution?.rawValue]).affectedRows
                if let topic = outboxTopic {
                    // Same transaction as the alarm: the event exists exactly when the change does.
                    try db.execute("""
                        INSERT INTO outbox (event_id, topic, key, payload)
                        SELECT e.id, $2, $3, jsonb_set($4::jsonb, '{event_id}', to_jsonb(e.id::text))
                        FROM (SELECT md5($1)::uuid AS id) e
                        ON CONFLICT (event_id) DO NOTHING
                        """, ["\(t.alarmID)#\(t.revision)", topic, alarm.patientID ?? alarm.deviceID,
                              AlarmEvent.json(alarm, t)])
                }
                if let tasks {
                    // Same transaction again: a page or an escalation timer exists exactly when its alarm does.
                    try TaskOutboxStore.insert(tasks.jobs(for: alarm, t), db: db)
                }
            }
            return inserted
        }
    }

    /// The alarms that were open when Wardline last stopped.
    public func openAlarms() throws -> [Alarm] {
        try db.execute("SELECT \(Self.selectColumns) FROM alerts WHERE state <> 'resolved' ORDER BY raised_at").rows.compactMap(Self.alarm)
    }

    /// For each alarm key (patient, rule, device) with a transition stored at or after `since`
    /// (epoch ms), the time of its latest one: what a journal replay from `since` must not store again.
    public func latestTransitions(since: Int64) throws -> [(patientID: String?, ruleID: String, deviceID: String?, at: Int64)] {
        try db.execute("""
            SELECT a.patient_id, a.rule_id, a.device_id, \(Self.millis("max(t.at)"))
            FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id
            WHERE t.at >= \(Self.time(1))
            GROUP BY 1, 2, 3
            """, [String(since)]).rows.compactMap { r in
            guard let rule = r[1], let at = r[3].flatMap(Int64.init) else { return nil }
            return (r[0], rule, r[2], at)
        }
    }

    /// The columns `alarm(_:)` reads, in its order.
    static let selectColumns = """
        id, patient_id, device_id, rule_id, category, vital, priority, state, latching, condition_present,
        message, value, threshold, \(millis("condition_since")), \(millis("raised_at")),
        \(millis("active_since")), \(millis("acknowledged_at")), acknowledged_by, escalation_level, revision,
        \(millis("resolved_at")), rule_set
        """

    private func upsert(_ a: Alarm) throws {
        try db.execute("""
            INSERT INTO alerts (id, patient_id, device_id, rule_id, category, vital, priority, state, latching,
                                condition_present, message, value, threshold, condition_since, raised_at, active_since,
                                acknowledged_at, acknowledged_by, resolved_at, escalation_level, revision, rule_set, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::boolean, $10::boolean, $11, $12::float8, $13::float8,
                    \(Self.time(14)), \(Self.time(15)), \(Self.time(16)), \(Self.time(17)), $18, \(Self.time(19)),
                    $20::int, $21::int, $22, now())
            ON CONFLICT (id) DO UPDATE SET
                priority = excluded.priority, state = excluded.state, condition_present = excluded.condition_present,
                message = excluded.message, value = excluded.value, threshold = excluded.threshold,
                active_since = excluded.active_since, acknowledged_at = excluded.acknowledged_at,
                acknowledged_by = excluded.acknowledged_by, resolved_at = excluded.resolved_at,
                escalation_level = excluded.escalation_level, revision = excluded.revision, updated_at = now()
            WHERE alerts.revision < excluded.revision
            """, [a.id, a.patientID, a.deviceID, a.ruleID, a.category.rawValue, a.vital?.rawValue, a.priority.rawValue,
                  a.state.rawValue, String(a.latching), String(a.conditionPresent), a.message,
                  a.value.map { String($0) }, a.threshold.map { String($0) }, String(a.conditionSince),
                  String(a.raisedAt), String(a.activeSince), a.acknowledgedAt.map(String.init), a.acknowledgedBy,
                  a.resolvedAt.map(String.init), String(a.escalationLevel), String(a.revision), a.ruleSet])
    }

    /// Epoch milliseconds in parameter `n` as a timestamptz (NULL stays NULL).
    private static func time(_ n: Int) -> String { "timestamptz 'epoch' + $\(n)::bigint * interval '1 millisecond'" }
    /// A timestamptz column as epoch milliseconds (how every query here hands times to Swift).
    static func millis(_ column: String) -> String { "(extract(epoch FROM \(column)) * 1000)::bigint" }

    static func alarm(_ r: [String?]) -> Alarm? {
        guard let id = r[0], let rule = r[3], let category = r[4].flatMap(AlarmCategory.init(rawValue:)),
              let priority = r[6].flatMap(AlarmPriority.init(rawValue:)), let state = r[7].flatMap(AlarmState.init(rawValue:)),
              let message = r[10], let since = r[13].flatMap(Int64.init), let raised = r[14].flatMap(Int64.init)
        else { return nil }
        var alarm = Alarm(id: id, patientID: r[1], deviceID: r[2], ruleID: rule, category: category,
                     vital: r[5].flatMap(Vital.init(rawValue:)), priority: priority, state: state,
                     latching: r[8] == "t", conditionPresent: r[9] == "t", message: message,
                     value: r[11].flatMap(Double.init), threshold: r[12].flatMap(Double.init),
                     conditionSince: since, raisedAt: raised, activeSince: r[15].flatMap(Int64.init),
                     acknowledgedAt: r[16].flatMap(Int64.init), acknowledgedBy: r[17], resolvedAt: r[20].flatMap(Int64.init),
                     escalationLevel: r[18].flatMap(Int.init) ?? 0, revision: r[19].flatMap(Int.init) ?? 1)
        alarm.ruleSet = r.count > 21 ? r[21] : nil
        return alarm
    }
}

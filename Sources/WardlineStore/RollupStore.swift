/// The vitals' minute rollup and the retention of what grows without bound, over one
/// `PostgresConnection`; not thread-safe (one owner thread, the leader's).
///
/// Late readings and device clocks: the rollup reads by `received_at`, from its watermark to
/// now minus a settle margin, and recomputes every minute those readings fall in (by device time)
/// whole from `vitals`, `ON CONFLICT DO UPDATE`. A reading that arrives late, or whose device
/// clock is behind, is received after the watermark, so the next run recomputes its minute with
/// it; the margin covers readings received but not yet committed by the batch writer. A step is
/// one transaction (minutes and watermark together), so running it twice, or on two nodes at
/// once, stores the same rows.
public final class RollupStore {
    public let db: PostgresConnection
    /// The watermark's name in `rollup_watermarks`.
    public static let watermarkName = "vitals_1m"

    public init(db: PostgresConnection) { self.db = db }

    /// The watermark (ms since the epoch), or nil before the first run.
    public func watermark() throws -> Int64? {
        try db.execute("SELECT \(AlarmStore.millis("through")) FROM rollup_watermarks WHERE name = $1", [Self.watermarkName])
            .rows.first?.first.flatMap { $0 }.flatMap(Int64.init)
    }

    /// Where a first run starts: just before the oldest reading received (nil: no readings).
    public func oldestReceived() throws -> Int64? {
        try db.execute("SELECT \(AlarmStore.millis("min(received_at)")) - 1 FROM vitals").rows.first?.first.flatMap { $0 }.flatMap(Int64.init)
    }

    /// When the first reading received after `after` (ms) was received; nil: none yet.
    public func nextReceived(after: Int64) throws -> Int64? {
        try db.execute("""
            SELECT \(AlarmStore.millis("min(received_at)")) FROM vitals
            WHERE received_at > timestamptz 'epoch' + $1::bigint * interval '1 millisecond'
            """, [String(after)]).rows.first?.first.flatMap { $0 }.flatMap(Int64.init)
    }

    /// The database's clock (ms): steps are planned on it, as received_at is compared with it.
    public func now() throws -> Int64 {
        try db.execute("SELECT \(AlarmStore.millis("now()"))").rows.first?.first.flatMap { $0 }.flatMap(Int64.init) ?? 0
    }

    public struct StepResult: Sendable, Equatable {
        /// Minute rows written (inserted or recomputed).
        public var minutes: Int
        /// Readings those minutes hold.
        public var readings: Int
    }

    /// Recomputes the minutes of the readings received in (after, through], and moves the
    /// watermark to `through` (never back), in one transaction. A stored minute is replaced only
    /// by one of at least as many readings: readings leave `vitals` only with their chunk, so
    /// fewer means a late reading fell into a minute whose raw chunk is gone, and the rollup of
    /// the readings dropped is kept rather than overwritten by that one.
    public func rollUp(after: Int64, through: Int64) throws -> StepResult {
        let v = HistoryQueries.vitalColumns
        let names = v.map { "\($0)_n, \($0)_min, \($0)_avg, \($0)_max" }.joined(separator: ", ")
        let aggregates = v.map { "count(v.\($0)), min(v.\($0)), avg(v.\($0)), max(v.\($0))" }.joined(separator: ", ")
        let updates = (["n"] + v.flatMap { ["\($0)_n", "\($0)_min", "\($0)_avg", "\($0)_max"] })
            .map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
        return try db.transaction {
            let r = try db.execute("""
                WITH touched AS (
                    SELECT DISTINCT patient_id, device_id, time_bucket(interval '1 minute', time) AS bucket
                    FROM vitals
                    WHERE received_at >  timestamptz 'epoch' + $1::bigint * interval '1 millisecond'
                      AND received_at <= timestamptz 'epoch' + $2::bigint * interval '1 millisecond'
                ), written AS (
                    INSERT INTO vitals_1m (patient_id, device_id, bucket, n, \(names))
                    SELECT v.patient_id, v.device_id, t.bucket, count(*), \(aggregates)
                    FROM touched t JOIN vitals v
                      ON v.patient_id = t.patient_id AND v.device_id = t.device_id
                     AND v.time >= t.bucket AND v.time < t.bucket + interval '1 minute'
                    GROUP BY v.patient_id, v.device_id, t.bucket
                    ON CONFLICT (patient_id, device_id, bucket) DO UPDATE SET \(updates) WHERE excluded.n >= vitals_1m.n
                    RETURNING n
                )
                SELECT count(*), coalesce(sum(n), 0) FROM written
                """, [String(after), String(through)])
            try db.execute("""
                INSERT INTO rollup_watermarks (name, through) VALUES ($1, timestamptz 'epoch' + $2::bigint * interval '1 millisecond')
                ON CONFLICT (name) DO UPDATE SET through = greatest(rollup_watermarks.through, excluded.through)
                """, [Self.watermarkName, String(through)])
            let row = r.rows.first
            return StepResult(minutes: row?[0].flatMap(Int.init) ?? 0, readings: row?[1].flatMap(Int.init) ?? 0)
        }
    }

    public struct Dropped: Sendable, Equatable {
        public var rawChunks: Int
        public var rollupChunks: Int
    }

    /// Drops raw chunks past `rawDays` that are wholly rolled up, and rollup chunks past
    /// `rollupDays` (`wardline_drop_old_chunks`, migration 12).
    public func dropOldChunks(rawDays: Int, rollupDays: Int) throws -> Dropped {
        let r = try db.execute("SELECT raw_chunks, rollup_chunks FROM wardline_drop_old_chunks($1::int, $2::int)",
                               [String(rawDays), String(rollupDays)]).rows.first
        return Dropped(rawChunks: r?[0].flatMap(Int.init) ?? 0, rollupChunks: r?[1].flatMap(Int.init) ?? 0)
    }

    /// Deletes what is done and no longer read, in slices (no long lock against the writers):
    /// alarm-event and task outbox rows delivered more than `deliveredDays` ago (undelivered rows
    /// are never touched), and engine command answers older than a day (a hub waits 5 s for one).
    /// Returns the rows deleted per table. The alarm tables, put-aside rows and device
    /// assignments are kept: they are the record.
    public func expireDone(deliveredDays: Int, slice: Int = 10_000) throws -> [String: Int] {
        let days = String(deliveredDays)
        let statements: [(String, String, String)] = [
            ("outbox", "outbox WHERE id IN (SELECT id FROM outbox WHERE delivered_at", days),
            ("task_outbox", "task_outbox WHERE id IN (SELECT id FROM task_outbox WHERE published_at", days),
            ("engine_command_results",
             "engine_command_results WHERE request_id IN (SELECT request_id FROM engine_command_results WHERE answered_at", "1"),
        ]
        var deleted: [String: Int] = [:]
        for (table, target, keptDays) in statements {
            var total = 0
            while true {
                let n = try db.execute("DELETE FROM \(target) < now() - $1::int * interval '1 day' LIMIT $2::int)",
                                       [keptDays, String(slice)]).affectedRows
                total += n
                if n < slice { break }
            }
            deleted[table] = total
        }
        return deleted
    }
}

import WardlineTasks

/// One job waiting in `task_outbox`.
public struct TaskOutboxEntry: Sendable {
    public let id: UInt64
    public let route: String
    public let priority: UInt8
    public let delayMillis: Int
    /// Milliseconds until it is due (≤ 0: due now).
    public let dueInMillis: Int64
    public let jobID: String
    public let payload: [UInt8]
}

/// The task queue's outbox: jobs written with their alarm, read and marked by the task relay.
public final class TaskOutboxStore {
    public let db: PostgresConnection

    public init(db: PostgresConnection) { self.db = db }

    /// Inserts planned jobs (inside the caller's transaction); a job already there is left alone.
    static func insert(_ tasks: [PlannedTask], db: PostgresConnection) throws {
        for t in tasks {
            try db.execute("""
                INSERT INTO task_outbox (job_id, route, priority, delay_ms, due_at, payload)
                VALUES ($1::uuid, $2, $3::smallint, $4::int,
                        timestamptz 'epoch' + ($5::bigint + $4::int) * interval '1 millisecond', $6::jsonb)
                ON CONFLICT (job_id) DO NOTHING
                """, [t.job.jobID, t.job.route.rawValue, String(t.job.priority), String(t.delayMillis), String(t.job.createdAt),
                      String(decoding: t.job.json(), as: UTF8.self)])
        }
    }

    /// The oldest unpublished jobs, in the order they were written.
    public func pending(limit: Int) throws -> [TaskOutboxEntry] {
        try db.execute("""
            SELECT id, route, priority, delay_ms, (extract(epoch FROM due_at - clock_timestamp()) * 1000)::bigint,
                   job_id::text, payload::text
            FROM task_outbox WHERE published_at IS NULL ORDER BY id LIMIT $1::int
            """, [String(limit)]).rows.compactMap { r in
            guard let id = r[0].flatMap(UInt64.init), let route = r[1], let priority = r[2].flatMap(UInt8.init),
                  let delay = r[3].flatMap(Int.init), let due = r[4].flatMap(Int64.init), let jobID = r[5], let payload = r[6]
            else { return nil }
            return TaskOutboxEntry(id: id, route: route, priority: priority, delayMillis: delay, dueInMillis: due,
                                   jobID: jobID, payload: Array(payload.utf8))
        }
    }

    public func markPublished(_ id: UInt64) throws {
        try db.execute("UPDATE task_outbox SET published_at = now(), attempts = attempts + 1 WHERE id = $1::bigint", [String(id)])
    }

    public func markFailed(_ id: UInt64, error: String) throws {
        try db.execute("UPDATE task_outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1::bigint", [String(id), error])
    }
}

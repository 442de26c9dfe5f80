import WardlineTasks

extension TaskOutboxStore {
    /// Publishes a scheduled job (the ward summary of one slot) once across every node and
    /// restart: in one transaction, the job's row goes into `task_outbox` already marked published
    /// (`ON CONFLICT (job_id) DO NOTHING`, so the relay never sends it), `publish` runs only if
    /// the row is new, and the row commits only after `publish` returned (the broker confirmed).
    ///
    /// Returns false, without publishing, when the job is there already: another worker (the
    /// leader before a handover) or an earlier run sent it. Two callers at once: the second waits
    /// on the unique `job_id` until the first commits (then false) or rolls back (then it sends).
    /// A crash between the broker's confirm and the commit leaves no row: the next leader sends
    /// the job again, with the same `job_id` for the gateway to drop.
    public func publishOnce(_ job: TaskJob, publish: () throws -> Void) throws -> Bool {
        try db.transaction {
            let inserted = try db.execute("""
                INSERT INTO task_outbox (job_id, route, priority, delay_ms, due_at, payload, published_at, attempts)
                VALUES ($1::uuid, $2, $3::smallint, 0, timestamptz 'epoch' + $4::bigint * interval '1 millisecond', $5::jsonb,
                        now(), 1)
                ON CONFLICT (job_id) DO NOTHING
                """, [job.jobID, job.route.rawValue, String(job.priority), String(job.createdAt),
                      String(decoding: job.json(), as: UTF8.self)]).affectedRows
            guard inserted == 1 else { return false }
            try publish()
            return true
        }
    }
}

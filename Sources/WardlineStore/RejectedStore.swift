import WardlineCore

/// The upkeep of `rejected_messages`: counts of the rejections that were not sampled, and deletion
/// by age. Over one `PostgresConnection`; not thread-safe (one owner thread).
public final class RejectedStore {
    public let db: PostgresConnection

    public init(db: PostgresConnection) { self.db = db }

    /// Adds the tallies to `rejected_message_counts`, in one transaction.
    public func add(_ tallies: [RejectionSampler.Tally]) throws {
        guard !tallies.isEmpty else { return }
        try db.transaction {
            for t in tallies {
                try db.execute("""
                    INSERT INTO rejected_message_counts (device_id, reason, window_start, unsampled, last_received_at)
                    VALUES ($1, $2, timestamptz 'epoch' + $3::bigint * interval '1 millisecond', $4::bigint,
                            timestamptz 'epoch' + $5::bigint * interval '1 millisecond')
                    ON CONFLICT (device_id, reason, window_start) DO UPDATE SET
                        unsampled = rejected_message_counts.unsampled + excluded.unsampled,
                        last_received_at = greatest(rejected_message_counts.last_received_at, excluded.last_received_at)
                    """, [t.deviceID, t.reason.rawValue, String(t.windowStart), String(t.unsampled), String(t.lastReceivedAt)])
            }
        }
    }

    /// Deletes rejected messages received, and counts whose window started, more than `days` ago.
    /// In slices of `slice` rows, each its own statement, so a large backlog never holds a long
    /// lock against the writer's inserts. Returns the number of rejected messages deleted.
    @discardableResult
    public func deleteOlderThan(days: Int, slice: Int = 10_000) throws -> Int {
        var deleted = 0
        while true {
            let n = try db.execute("""
                DELETE FROM rejected_messages WHERE id IN (
                    SELECT id FROM rejected_messages WHERE received_at < now() - $1::int * interval '1 day' LIMIT $2::int)
                """, [String(days), String(slice)]).affectedRows
            deleted += n
            if n < slice { break }
        }
        try db.execute("DELETE FROM rejected_message_counts WHERE window_start < now() - $1::int * interval '1 day'", [String(days)])
        return deleted
    }
}

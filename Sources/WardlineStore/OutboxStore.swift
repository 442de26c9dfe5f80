/// One event waiting in the outbox.
public struct OutboxEntry: Sendable {
    public let id: UInt64
    public let topic: String
    public let key: String
    public let payload: [UInt8]
}

/// Reads pending events from `outbox` and records what Kafka did with them.
public final class OutboxStore {
    public let db: PostgresConnection

    public init(db: PostgresConnection) { self.db = db }

    /// The oldest undelivered events, in the order they were written.
    public func pending(limit: Int) throws -> [OutboxEntry] {
        try db.execute("""
            SELECT id, topic, coalesce(key, ''), payload::text FROM outbox
            WHERE delivered_at IS NULL ORDER BY id LIMIT $1::int
            """, [String(limit)]).rows.compactMap { r in
            guard let id = r[0].flatMap(UInt64.init), let topic = r[1], let payload = r[3] else { return nil }
            return OutboxEntry(id: id, topic: topic, key: r[2] ?? "", payload: Array(payload.utf8))
        }
    }

    public func markDelivered(_ ids: [UInt64]) throws {
        guard !ids.isEmpty else { return }
        try db.execute("UPDATE outbox SET delivered_at = now(), attempts = attempts + 1 WHERE id = ANY($1::bigint[])",
                       ["{" + ids.map(String.init).joined(separator: ",") + "}"])
    }

    public func markFailed(_ id: UInt64, error: String) throws {
        try db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1::bigint", [String(id), error])
    }

    public func pendingCount() throws -> Int {
        Int(try db.execute("SELECT count(*) FROM outbox WHERE delivered_at IS NULL").rows.first?.first.flatMap { $0 } ?? "0") ?? 0
    }
}

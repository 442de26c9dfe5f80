import Foundation

/// The `system_heartbeats` table: each serve and worker process says it is alive (and what it finds
/// wrong with itself), and each reads the others'. Ages are measured on the database's clock.
/// Not thread-safe: one thread uses it, with its own connection.
public final class HeartbeatStore {
    public let db: PostgresConnection

    public init(db: PostgresConnection) { self.db = db }

    public struct Beat: Sendable, Equatable {
        public var instance: String
        public var role: String
        /// Now minus its last beat, milliseconds, on the database's clock.
        public var ageMillis: Int64
        public var stopped: Bool
        public var problems: String
    }

    /// Records that `instance` is alive now; a restart under the same name clears its stop.
    public func beat(instance: String, role: String, problems: String, starting: Bool = false) throws {
        try db.execute("""
            INSERT INTO system_heartbeats (instance, role, problems) VALUES ($1, $2, $3)
            ON CONFLICT (instance) DO UPDATE SET role = EXCLUDED.role, beat_at = now(), stopped_at = NULL,
                problems = EXCLUDED.problems,
                started_at = CASE WHEN $4 THEN now() ELSE system_heartbeats.started_at END
            """, [instance, role, problems, starting ? "true" : "false"])
    }

    /// Says goodbye: a stop on purpose is not an outage.
    public func stopped(instance: String) throws {
        try db.execute("UPDATE system_heartbeats SET stopped_at = now(), beat_at = now() WHERE instance = $1", [instance])
    }

    /// Every row of `role`, newest beat first.
    public func beats(role: String) throws -> [Beat] {
        try db.execute("""
            SELECT instance, role, (extract(epoch FROM now() - beat_at) * 1000)::bigint, stopped_at IS NOT NULL, problems
            FROM system_heartbeats WHERE role = $1 ORDER BY beat_at DESC
            """, [role]).rows.compactMap { r in
            guard let instance = r[0], let role = r[1], let age = r[2].flatMap(Int64.init) else { return nil }
            return Beat(instance: instance, role: role, ageMillis: age, stopped: r[3] == "t", problems: r[4] ?? "")
        }
    }
}

import Foundation
import WardlineCore
import WardlineEngine

/// An engine node's hold on partitions of the device-message topic, through PostgreSQL
/// advisory locks on one session (`pg_try_advisory_lock(namespace, partition)`; a shared
/// `(namespace, 65535)` lock marks the node a member). The locks live exactly as long as the
/// session: a node killed with -9 loses them as soon as the server sees its socket close.
///
/// Everything the owner writes about a partition (its replay floor, the answers to commands)
/// goes through this same session and only while the lock is held, so a node that lost its
/// session cannot move a floor another node now owns. Used from one thread.
public final class PartitionLease {
    public let topic: String
    public let owner: String
    /// The first of the two lock keys: derived from the topic, so two topics never share locks.
    public let namespace: Int32
    private static let memberKey: Int32 = 65535
    private let url: String
    private var db: PostgresConnection?

    public struct Lost: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public init(databaseURL: String, topic: String, owner: String) {
        self.topic = topic
        self.owner = owner
        namespace = Self.namespace(topic: topic)
        url = Leadership.sessionURL(databaseURL, duty: LeadDuty(name: "partitions:\(topic)", title: "partitions of \(topic)"))
    }

    public static func namespace(topic: String) -> Int32 {
        Int32(truncatingIfNeeded: LeadDuty.key("wardline.partitions:" + topic) & 0x3fff_ffff)
    }

    public var isConnected: Bool { db != nil }

    /// Opens the session and joins as a member. Throws when the database cannot be reached.
    public func join() throws {
        let c = try PostgresConnection(url: url)
        try c.execute("SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3; SET tcp_user_timeout = 25000")
        _ = try c.execute("SELECT pg_advisory_lock_shared($1::int, $2::int)", [String(namespace), String(Self.memberKey)])
        db = c
    }

    /// Drops the session: every lock goes with it.
    public func leave() {
        if let db { _ = try? db.execute("SELECT pg_advisory_unlock_all()") }
        db = nil
    }

    private func session() throws -> PostgresConnection {
        guard let db else { throw Lost(description: "no database session") }
        return db
    }

    /// Runs `body` on the session; a failure ends the session (its locks are gone or going).
    private func use<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        do { return try body(try session()) } catch {
            db = nil
            throw error
        }
    }

    /// How many engine nodes hold the member lock (this one included).
    public func members() throws -> Int {
        try use { db in
            let count = try db.execute("""
                SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2
                   AND classid = $1::int::oid AND objid = $2::int::oid AND mode = 'ShareLock'
                """, [String(namespace), String(Self.memberKey)]).rows.first?.first ?? nil
            return max(1, count.flatMap { Int($0) } ?? 1)
        }
    }

    /// The partitions this session holds, as the server sees it.
    public func held() throws -> Set<Int32> {
        try use { db in
            Set(try db.execute("""
                SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2
                   AND pid = pg_backend_pid() AND classid = $1::int::oid AND objid <> $2::int::oid
                """, [String(namespace), String(Self.memberKey)]).rows.compactMap { ($0.first ?? nil).flatMap { Int32($0) } })
        }
    }

    public func tryLock(_ partition: Int32) throws -> Bool {
        try use { db in
            try db.execute("SELECT pg_try_advisory_lock($1::int, $2::int)", [String(namespace), String(partition)]).rows.first?.first == "t"
        }
    }

    public func unlock(_ partition: Int32) throws {
        _ = try use { db in try db.execute("SELECT pg_advisory_unlock($1::int, $2::int)", [String(namespace), String(partition)]) }
    }

    /// Where the last owner left the partition: nil if it was never read.
    public func floor(_ partition: Int32) throws -> (nextOffset: Int64, receivedAt: Int64?)? {
        try use { db in
            guard let row = try db.execute("SELECT next_offset, floor_received_at FROM engine_partitions WHERE topic = $1 AND partition = $2",
                                           [topic, String(partition)]).rows.first,
                  let next = row[0].flatMap({ Int64($0) }) else { return nil }
            return (next, row[1].flatMap { Int64($0) })
        }
    }

    /// Moves the partition's floor; throws `Lost` if this session no longer holds its lock.
    public func save(_ partition: Int32, nextOffset: Int64, receivedAt: Int64?) throws {
        let affected = try use { db in
            try db.execute("""
                INSERT INTO engine_partitions (topic, partition, next_offset, floor_received_at, owner, updated_at)
                SELECT $1, $2::int, $3::bigint, $4::bigint, $5, now()
                 WHERE EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2
                                  AND pid = pg_backend_pid() AND classid = $6::int::oid AND objid = $2::int::oid)
                ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset,
                    floor_received_at = EXCLUDED.floor_received_at, owner = EXCLUDED.owner, updated_at = now()
                """, [topic, String(partition), String(nextOffset), receivedAt.map(String.init), owner, String(namespace)]).affectedRows
        }
        if affected == 0 { throw Lost(description: "partition \(partition) of \(topic) is no longer held by this node") }
    }

    /// The open alarms of the partition's patients, to continue them.
    public func openAlarms(partition: Int32, partitions: Int) throws -> [Alarm] {
        try use { db in
            try AlarmStore(db: db).openAlarms().filter {
                PatientPartition.of(key: PatientPartition.key(patientID: $0.patientID, deviceID: $0.deviceID), partitions: partitions) == partition
            }
        }
    }

    /// The latest stored transition per alarm key of the partition's patients since `since`.
    public func latestTransitions(partition: Int32, partitions: Int, since: Int64) throws
        -> [(patientID: String?, ruleID: String, deviceID: String?, at: Int64)] {
        try use { db in
            try AlarmStore(db: db).latestTransitions(since: since).filter {
                PatientPartition.of(key: PatientPartition.key(patientID: $0.patientID, deviceID: $0.deviceID), partitions: partitions) == partition
            }
        }
    }

    /// The answer to a hub's command; the first answer stays (a replayed command is answered once).
    public func answer(requestID: String, status: Int, code: String, message: String, alarmID: String?) throws {
        _ = try use { db in
            try db.execute("""
                INSERT INTO engine_command_results (request_id, status, code, message, alarm_id)
                VALUES ($1::uuid, $2::int, $3, $4, $5) ON CONFLICT (request_id) DO NOTHING
                """, [requestID, String(status), code, message, alarmID])
        }
    }
}

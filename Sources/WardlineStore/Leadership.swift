import Foundation
import Logging

/// A job that one node of the whole installation does, whichever and however many run: the
/// scheduled ward summary (`wardline worker`), the rejected-message retention (`wardline serve`).
/// Each has a fixed PostgreSQL advisory-lock key, derived from its name, so every version and node
/// agrees on it without configuration (pinned by a unit test: changing a name or the derivation
/// would let an old and a new node lead at once during a rolling upgrade).
public struct LeadDuty: Sendable, Hashable, CustomStringConvertible {
    /// "wardline.ward_summary": what the key derives from, and the session's application_name.
    public let name: String
    /// What the log says it leads: "the ward summary".
    public let title: String

    public init(name: String, title: String) {
        self.name = name
        self.title = title
    }

    /// The scheduled summaries at `WARDLINE_SUMMARY_AT` (key -8083895966367229924;
    /// in `pg_locks`: classid 2412788594, objid 3950499868, objsubid 1).
    public static let wardSummary = LeadDuty(name: "wardline.ward_summary", title: "the ward summary")
    /// Deleting rejected messages past `WARDLINE_REJECTED_RETENTION_DAYS` (key
    /// -4792337509592655494; in `pg_locks`: classid 3179164269, objid 150149498, objsubid 1).
    public static let rejectedRetention = LeadDuty(name: "wardline.rejected_retention", title: "the rejected-message retention")
    /// The vitals' minute rollup and the retention of raw chunks, rollups and delivered outboxes
    /// (`RollupUpkeep`; key 5586156078050084121; in `pg_locks`: classid 1300628315, objid 873497881,
    /// objsubid 1).
    public static let vitalsRollup = LeadDuty(name: "wardline.vitals_rollup", title: "the vitals rollup and retention")

    /// The advisory-lock key: FNV-1a (64 bits) of the UTF-8 name, as PostgreSQL's signed bigint.
    public var key: Int64 { Self.key(name) }

    public static func key(_ name: String) -> Int64 {
        var h: UInt64 = 0xcbf29ce484222325
        for byte in name.utf8 { h = (h ^ UInt64(byte)) &* 0x100000001b3 }
        return Int64(bitPattern: h)
    }

    public var description: String { name }
}

/// Whether this node leads one `LeadDuty`, through a session-level PostgreSQL advisory lock
/// (`pg_try_advisory_lock(key)`) held on a connection of its own.
///
/// PostgreSQL releases a session's advisory locks when the session ends, whatever ends it: a
/// clean stop (`resign`), a kill -9 (the kernel closes the socket; the server sees it at once), a
/// crash of the host or a cut cable (the server's TCP keepalives, set here to about 25 s, end the
/// session). The next node to ask then gets the lock. A leader that loses its connection stops
/// leading at once, before the server lets anyone else in: libpq's keepalives and
/// `tcp_user_timeout` here give up after about 10 s, sooner than the server's.
///
/// Each `isLeader(now:)` is one round trip: a leader proves its session alive (`SELECT 1`; the
/// lock lives as long as the session), a node standing by tries the lock again. After a database
/// outage it reconnects, at most every 1 s doubling to 8 s while it fails, and stands again.
/// Changes are logged at notice: "leading the ward summary", "no longer leading the ward summary".
///
/// Needs a real session: not through a transaction-pooling proxy (pgbouncer's transaction mode
/// would hand the lock's session to others). Not thread-safe: one thread asks, as the worker's
/// loop and the rejected-message upkeep thread do.
public final class Leadership {
    public enum Standing: Sendable, Equatable {
        /// This node holds the lock.
        case leading
        /// Another node holds it.
        case standingBy
        /// The database cannot be asked: this node does not lead (nobody can say who does).
        case unreachable(String)
    }

    public let duty: LeadDuty
    /// As of the last `isLeader(now:)`; nil before the first and after `resign`.
    public private(set) var standing: Standing?
    private let url: String
    private let logger: Logger
    private var db: PostgresConnection?
    private var retryAt: Int64 = 0
    private var pauseMillis: Int64 = minPauseMillis
    private static let minPauseMillis: Int64 = 1000
    private static let maxPauseMillis: Int64 = 8000

    public init(duty: LeadDuty, databaseURL: String, logger: Logger) {
        self.duty = duty
        self.url = Self.sessionURL(databaseURL, duty: duty)
        self.logger = logger
    }

    /// Whether this node leads, asked of the database now (one round trip; none while waiting to
    /// reconnect after a failure, which answers false).
    public func isLeader(now: Int64) -> Bool {
        do {
            if db == nil {
                guard now >= retryAt else { return false }
                let c = try PostgresConnection(url: url)
                // The server's side: a leader whose host vanishes without closing its socket
                // loses the lock in about 10 + 3 × 5 s (or 25 s of unacknowledged data).
                try c.execute("SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3; SET tcp_user_timeout = 25000")
                db = c
            }
            if standing == .leading {
                try db!.execute("SELECT 1")
                return true
            }
            let got = try db!.execute("SELECT pg_try_advisory_lock($1::bigint)", [String(duty.key)]).rows.first?.first == "t"
            pauseMillis = Self.minPauseMillis
            become(got ? .leading : .standingBy)
            return got
        } catch {
            // Whatever this session held is gone, or goes when the server notices: do not lead.
            db = nil
            retryAt = now + pauseMillis
            pauseMillis = min(pauseMillis * 2, Self.maxPauseMillis)
            become(.unreachable("\(error)"))
            return false
        }
    }

    /// Lets go (on a clean stop): unlocks and closes the session, so another node leads at its
    /// next check instead of after this process has exited.
    public func resign(reason: String = "stopping") {
        if standing == .leading, let db {
            _ = try? db.execute("SELECT pg_advisory_unlock($1::bigint)", [String(duty.key)])
            logger.notice("no longer leading \(duty.title)", metadata: ["reason": "\(reason)", "lock_key": "\(duty.key)"])
        }
        db = nil
        standing = nil
        retryAt = 0
        pauseMillis = Self.minPauseMillis
    }

    private func become(_ new: Standing) {
        let old = standing
        standing = new
        switch (old, new) {
        case (.leading, .leading), (.standingBy, .standingBy), (.unreachable, .unreachable):
            return
        case (_, .leading):
            logger.notice("leading \(duty.title)", metadata: ["lock_key": "\(duty.key)", "lock": "\(duty.name)"])
        case (.leading, .unreachable(let why)):
            logger.notice("no longer leading \(duty.title)", metadata: ["reason": "lost the database session: \(why)", "lock_key": "\(duty.key)"])
        case (_, .unreachable(let why)):
            logger.warning("cannot ask the database who leads \(duty.title); not leading it meanwhile", metadata: ["error": "\(why)"])
        case (_, .standingBy):
            logger.info("standing by for \(duty.title): another node leads it", metadata: ["lock_key": "\(duty.key)"])
        }
    }

    /// `url` with what a leadership session needs, where the URL does not set it already: a
    /// connect timeout, keepalives, `tcp_user_timeout` (a silent network ends the session in about
    /// 10 s, not the kernel's 15 minutes), and `application_name=wardline-lead:<duty>` so
    /// `pg_stat_activity` shows who leads. Works on libpq URIs and on key=value strings.
    public static func sessionURL(_ url: String, duty: LeadDuty) -> String {
        let settings: [(String, String)] = [
            ("connect_timeout", "5"), ("keepalives", "1"), ("keepalives_idle", "5"), ("keepalives_interval", "2"),
            ("keepalives_count", "3"), ("tcp_user_timeout", "10000"), ("application_name", "wardline-lead:\(duty.name)"),
        ]
        let isURI = url.hasPrefix("postgresql://") || url.hasPrefix("postgres://")
        var out = url
        for (key, value) in settings where !Self.names(key, in: url) {
            if isURI {
                out += (out.contains("?") ? "&" : "?") + "\(key)=\(value)"
            } else {
                out += (out.isEmpty ? "" : " ") + "\(key)=\(value)"
            }
        }
        return out
    }

    /// Whether `url` sets `key` (as a URI query parameter or a key=value pair).
    private static func names(_ key: String, in url: String) -> Bool {
        url.range(of: #"(^|[?&\s])\#(key)\s*="#, options: .regularExpression) != nil
    }
}

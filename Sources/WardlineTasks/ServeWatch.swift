/// `wardline worker`'s watch over `wardline serve` (IEC 60601-1-8: a failure of the alarm system
/// must itself be signalled). Each serve instance updates its row in `system_heartbeats` every
/// few seconds; the worker reads the rows and feeds them here. An instance silent beyond the bound,
/// or reporting a stalled part of itself, is an outage: the technical on-call is paged once when it
/// begins and told once when it ends. Pure, with the clock passed in.
///
/// Notices are owed until the worker says they were delivered, so a page that could not go out
/// (every channel failing) is tried again on the next check, never forgotten, never repeated after.
public struct ServeWatch: Sendable, Equatable {
    /// One serve instance's row as the database has it.
    public typealias Row = HeartbeatRow

    public enum Notice: Sendable, Equatable {
        /// `subject` (a serve instance, or "database") began failing at `since`, for `reason`.
        case failure(subject: String, reason: String, since: Int64)
        /// It works again, after `outageMillis`; `how` says how it ended ("reporting again", "stopped").
        case recovered(subject: String, how: String, outageMillis: Int64)

        public var subject: String {
            switch self {
            case .failure(let s, _, _), .recovered(let s, _, _): s
            }
        }
    }

    /// The subject the watch names when it cannot read the heartbeats at all.
    public static let database = "database"

    public let silentAfterMillis: Int64
    /// Subjects in an outage, and when it began.
    public private(set) var failing: [String: Int64] = [:]
    /// Notices decided and not yet delivered, oldest first.
    public private(set) var owed: [Notice] = []
    /// When reading the heartbeats first failed (nil: the last read worked).
    private var unreadableSince: Int64?

    public init(silentAfterMillis: Int64) { self.silentAfterMillis = silentAfterMillis }

    /// The rows read at `now`; returns every notice owed.
    public mutating func observe(_ rows: [Row], now: Int64) -> [Notice] {
        unreadableSince = nil
        end(Self.database, how: "readable again", now: now)
        for row in rows {
            let problem: String? =
                row.stopped ? nil
                : row.ageMillis > silentAfterMillis ? "no heartbeat for \(row.ageMillis / 1000) s (hung, killed or cut off)"
                : row.problems.isEmpty ? nil : row.problems
            if let problem {
                begin(row.instance, reason: problem, since: row.ageMillis > silentAfterMillis ? now - row.ageMillis : now)
            } else {
                end(row.instance, how: row.stopped ? "stopped by an operator" : "reporting again", now: now)
            }
        }
        return owed
    }

    /// Reading the heartbeats failed at `now` (the database is down or hung): an outage of its own
    /// once it has lasted the bound, since serve cannot be watched (nor alarms stored) meanwhile.
    public mutating func readFailed(_ reason: String, now: Int64) -> [Notice] {
        let since = unreadableSince ?? now
        unreadableSince = since
        if now - since > silentAfterMillis { begin(Self.database, reason: "cannot read serve's heartbeats: \(reason)", since: since) }
        return owed
    }

    /// The worker got `notice` out; it is not owed any more.
    public mutating func delivered(_ notice: Notice) {
        if let i = owed.firstIndex(of: notice) { owed.remove(at: i) }
    }

    private mutating func begin(_ subject: String, reason: String, since: Int64) {
        guard failing[subject] == nil else { return }
        failing[subject] = since
        owed.append(.failure(subject: subject, reason: reason, since: since))
    }

    private mutating func end(_ subject: String, how: String, now: Int64) {
        guard let began = failing.removeValue(forKey: subject) else { return }
        owed.append(.recovered(subject: subject, how: how, outageMillis: now - began))
    }
}

/// One process's row in `system_heartbeats` (a serve's, read by the worker; a worker's, read by
/// serve), as the database has it.
public struct HeartbeatRow: Sendable, Equatable {
    public var instance: String
    /// Now minus its last beat, both on the database's clock (host clocks do not matter).
    public var ageMillis: Int64
    /// It said goodbye (SIGTERM): stopped on purpose, not an outage.
    public var stopped: Bool
    /// What it reports stalled inside itself ("" when nothing).
    public var problems: String

    public init(instance: String, ageMillis: Int64, stopped: Bool = false, problems: String = "") {
        self.instance = instance
        self.ageMillis = ageMillis
        self.stopped = stopped
        self.problems = problems
    }
}

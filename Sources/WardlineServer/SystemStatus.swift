import WardlineTasks
/// The alarm system's own state, as the ward is told it (`system:status` frames, the red banner)
/// and `/ready` reports it: which of its parts are stalled, and whether pages go out. Pure; the
/// watch (`AlarmSystemWatch`) feeds it what it measured.
public struct SystemStatus: Sendable, Equatable {
    public enum Severity: String, Sendable, Equatable {
        /// Alarms may not be raised, stored, shown or paged: the ward page's red banner.
        case failure
        /// Alarms still get through, by a lesser way (a page through the fallback channel).
        case degraded
    }

    public struct Problem: Sendable, Equatable {
        public var component: String
        public var severity: Severity
        public var detail: String
        /// Whether Wardline is unready while it lasts (`/ready` 503).
        public var required: Bool

        public init(component: String, severity: Severity, detail: String, required: Bool) {
            self.component = component
            self.severity = severity
            self.detail = detail
            self.required = required
        }
    }

    public var problems: [Problem] = []

    public init(problems: [Problem] = []) { self.problems = problems }

    public var ok: Bool { problems.isEmpty }

    /// One line for the ward: "ALARM SYSTEM FAILURE: engine: stalled for 16 s", or nil when all is well.
    public var headline: String? {
        guard let worst = problems.first(where: { $0.severity == .failure }) ?? problems.first else { return nil }
        let label = worst.severity == .failure ? "ALARM SYSTEM FAILURE" : "ALARM SYSTEM DEGRADED"
        return "\(label): \(problems.filter { $0.severity == worst.severity }.map { "\($0.component): \($0.detail)" }.joined(separator: "; "))"
    }

    /// What serve's own parts report, for its heartbeat row (the worker pages on it): "" when fine.
    public var ownProblems: String {
        problems.filter { $0.component != Self.paging }.map { "\($0.component): \($0.detail)" }.joined(separator: "; ")
    }

    /// The component name of the paging report on `/ready`.
    public static let paging = "paging"

    /// `stuck`: each watched part and how long it has been stuck (`Heartbeat.stuckFor`).
    /// `workers`: the worker rows, nil when there is no task queue (nothing pages, nothing to watch).
    /// `watchingMillis`: how long this serve has watched (no worker is expected before the bound).
    public static func assess(stuck: [(name: String, millis: Int64)], workers: [WorkerBeat]?, boundMillis: Int64,
                              watchingMillis: Int64) -> SystemStatus {
        var s = SystemStatus()
        for part in stuck where part.millis > boundMillis {
            s.problems.append(Problem(component: part.name, severity: .failure, detail: "stalled for \(part.millis / 1000) s", required: true))
        }
        guard let workers else { return s }
        let live = workers.filter { !$0.stopped && $0.ageMillis <= boundMillis }
        if live.isEmpty {
            guard watchingMillis > boundMillis else { return s }
            let newest = workers.map(\.ageMillis).min()
            let detail = newest.map { "no wardline worker has reported for \($0 / 1000) s: pages are not being sent" }
                ?? "no wardline worker heartbeat seen since serve started: pages may not be sent"
            s.problems.append(Problem(component: paging, severity: .failure, detail: detail, required: false))
        } else if case let failing = live.filter({ !$0.problems.isEmpty }), !failing.isEmpty {
            // Jobs go to whichever worker takes them: one failing over is enough to say so.
            s.problems.append(Problem(component: paging, severity: .degraded,
                                      detail: failing.map { "\($0.instance): \($0.problems)" }.joined(separator: "; "), required: false))
        }
        return s
    }

    /// A worker's heartbeat row, as `assess` needs it.
    public typealias WorkerBeat = HeartbeatRow
}

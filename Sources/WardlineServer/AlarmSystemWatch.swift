import Foundation
import Logging
import Synchronization
import WardlineHub
import WardlineRuntime
import WardlineStore
import WardlineWeb

/// The alarm system watching itself (IEC 60601-1-8: its own failure must be signalled), inside
/// `serve`. Two threads, so that a hung database cannot hide a hung engine:
///
/// - the check (`wardline-watch`, twice a second): reads every part's `Heartbeat` (intake, engine,
///   alarm writer, database writes) and the workers' last reports, reports each on the health
///   board (`/ready` names what stalled), and tells the ward page when the picture changes
///   (a `system:status` frame to every socket; the hub gives the latest to each new one);
/// - the beat (`wardline-heartbeat`, every `WARDLINE_HEARTBEAT_S`): updates this instance's row in
///   `system_heartbeats` (the worker pages the technical on-call when it goes silent) and reads
///   the workers' rows (their paging channels' state). Its round trip is the `database_writes` heartbeat.
final class AlarmSystemWatch: @unchecked Sendable {
    struct Settings: Sendable {
        var databaseURL: String
        /// This serve's row: its MQTT client id, unique per running instance.
        var instance: String
        var stallAfterMillis: Int64
        var heartbeatMillis: Int64
        /// Whether a task queue is configured (then a worker is expected to report).
        var expectsWorkers: Bool
    }

    private let settings: Settings
    private let parts: [Heartbeat]
    /// The beat's own database round trip, watched like the other parts.
    let database = Heartbeat("database_writes", kind: .onDemand)
    private let health: HealthBoard
    private let logger: Logger
    private let post: @Sendable ([UInt8], Bool) -> Void
    let checking = PartThread(name: "wardline-watch")
    let beating = PartThread(name: "wardline-heartbeat")
    /// The workers' rows as last read, and when (their ages grow while the database cannot be read).
    private let workers = Mutex<(rows: [SystemStatus.WorkerBeat], readAt: Int64)?>(nil)
    private let ownProblems = Mutex<String>("")

    /// `post` hands a `system:status` frame (and whether it is all well) to the WebSocket hub.
    init(settings: Settings, parts: [Heartbeat], health: HealthBoard, logger: Logger,
         post: @escaping @Sendable ([UInt8], Bool) -> Void) {
        self.settings = settings
        self.parts = parts
        self.health = health
        self.logger = logger
        self.post = post
        for part in parts + [database] { health.report(part.name, ok: true) }
    }

    func start() {
        checking.start { [self] in check() }
        beating.start { [self] in beat() }
    }

    /// Stops both threads; the beat marks the row stopped (a stop on purpose is not an outage).
    func stop() {
        checking.requestStop()
        beating.requestStop()
    }

    /// Returns once the row says stopped (or its one attempt failed).
    func finished() async {
        await checking.finished()
        await beating.finished()
    }

    // MARK: the check

    private func check() {
        let started = wallClockMillis()
        var last: SystemStatus?
        var previous = started
        while !checking.isStopping {
            let now = wallClockMillis()
            defer { previous = now }
            // This thread was not running either (the process was frozen, SIGSTOP, or starved): the
            // others' stamps are as old as its own, and they get one round to beat before judging.
            if now - previous > 500 + settings.stallAfterMillis / 2 {
                checking.pause(millis: 100)
                continue
            }
            let stuck = (parts + [database]).map { (name: $0.name, millis: $0.stuckFor(now: now)) }
            let seen = workers.withLock { $0 }.map { read in
                read.rows.map { var w = $0; w.ageMillis += now - read.readAt; return w }
            }
            let status = SystemStatus.assess(stuck: stuck, workers: settings.expectsWorkers ? seen ?? [] : nil,
                                             boundMillis: settings.stallAfterMillis, watchingMillis: now - started)
            // Reported every round: a stall's duration grows, and /ready shows it as it stands.
            for part in parts + [database] {
                let problem = status.problems.first { $0.component == part.name }
                health.report(part.name, ok: problem == nil, detail: problem?.detail ?? "")
            }
            if settings.expectsWorkers {
                let paging = status.problems.first { $0.component == SystemStatus.paging }
                health.report(SystemStatus.paging, ok: paging == nil, detail: paging?.detail ?? "a worker is reporting", required: false)
            }
            ownProblems.withLock { $0 = status.ownProblems }
            if status.problems.map(\.component) != last?.problems.map(\.component)
                || status.problems.map(\.severity) != last?.problems.map(\.severity) {
                announce(status, now: now)
                last = status
            }
            checking.pause(millis: 500)
        }
    }

    private func announce(_ s: SystemStatus, now: Int64) {
        if let headline = s.headline {
            logger.critical("alarm system problem", metadata: ["status": "\(headline)"])
        } else {
            logger.notice("alarm system: every part is working")
        }
        post(Self.frame(s, now: now), s.ok)
    }

    /// The `system:status` frame the ward page's banner shows.
    static func frame(_ s: SystemStatus, now: Int64) -> [UInt8] {
        WireFormat.frame("system:status", StatusBody(ok: s.ok, problems: s.problems.map {
            StatusBody.Problem(component: $0.component, severity: $0.severity.rawValue, detail: $0.detail)
        }, time: now, headline: s.headline))
    }

    /// No headline when all is well.
    struct StatusBody: Encodable {
        struct Problem: Encodable {
            let component: String
            let severity: String
            let detail: String
        }

        let ok: Bool
        let problems: [Problem]
        let time: Int64
        let headline: String?
    }

    // MARK: the beat

    private func beat() {
        var store: HeartbeatStore?
        var lastProblem: String?
        var first = true
        while !beating.isStopping {
            database.begin(now: wallClockMillis())
            do {
                let s = try store ?? HeartbeatStore(db: PostgresConnection(url: settings.databaseURL))
                store = s
                try s.beat(instance: settings.instance, role: "serve", problems: ownProblems.withLock { $0 }, starting: first)
                first = false
                if settings.expectsWorkers {
                    let rows = try s.beats(role: "worker").map {
                        SystemStatus.WorkerBeat(instance: $0.instance, ageMillis: $0.ageMillis, stopped: $0.stopped, problems: $0.problems)
                    }
                    let readAt = wallClockMillis()
                    workers.withLock { $0 = (rows, readAt) }
                }
                if lastProblem != nil { logger.notice("heartbeat row written again") }
                lastProblem = nil
            } catch {
                store = nil
                let detail = "\(error)"
                if detail != lastProblem {
                    logger.error("cannot write serve's heartbeat row; the worker will page the technical on-call if it lasts",
                                 metadata: ["error": "\(detail)"])
                }
                lastProblem = detail
            }
            database.end()
            beating.pause(millis: Int(settings.heartbeatMillis))
        }
        try? store?.stopped(instance: settings.instance)
    }
}

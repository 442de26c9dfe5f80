import Foundation
import Synchronization
import WardlineEngine
import WardlineReplay
import WardlineStore
#if canImport(Glibc)
import Glibc
#endif

/// Replays asked for through the API (`POST /api/v1/replays`): one at a time on this node, each on
/// a thread of its own below the pipeline's CPU priority (a day of a ward is a core for tens of
/// seconds; the live alarms come first), with a database connection of its own. The last `kept`
/// are kept in memory for `GET /api/v1/replays/{id}`; a restart forgets them.
public final class ReplayJobs: Sendable {
    public enum State: String, Sendable, Encodable { case running, done, failed }

    public struct Job: Sendable {
        public var id: String
        public var requestedBy: String
        public var requestedAt: Int64
        public var from: Int64
        public var to: Int64
        public var ward: String?
        public var inForce: String
        public var candidate: String
        public var state: State = .running
        public var readings = 0
        public var finishedAt: Int64?
        public var result: ReplaySummary?
        public var error: String?
    }

    public let kept: Int
    /// The replay thread's nice value (Linux: per thread), above the pipeline's 0.
    public let niceness: Int32
    private let databaseURL: String
    private let jobs = Mutex<[Job]>([])

    public init(databaseURL: String, kept: Int = 8, niceness: Int32 = 10) {
        self.databaseURL = databaseURL
        self.kept = kept
        self.niceness = niceness
    }

    public func job(_ id: String) -> Job? { jobs.withLock { $0.first { $0.id == id } } }

    /// The newest first.
    public var all: [Job] { jobs.withLock { $0.reversed() } }

    /// Starts a replay, or refuses while another one runs on this node.
    func start(by user: String, from: Int64, to: Int64, ward: String?,
               inForce: EngineConfiguration, candidate: EngineConfiguration) throws(APIError) -> Job {
        let job = Job(id: UUID().uuidString.lowercased(), requestedBy: user, requestedAt: Self.now(), from: from, to: to, ward: ward,
                      inForce: inForce.ruleSetVersion, candidate: candidate.ruleSetVersion)
        let busy: Job? = jobs.withLock { list in
            if let running = list.first(where: { $0.state == .running }) { return running }
            list.append(job)
            if list.count > kept { list.removeFirst(list.count - kept) }
            return nil
        }
        if let busy {
            throw APIError(409, "replay_running", "replay \(busy.id) is still running on this node; one runs at a time", retryAfter: 30)
        }
        let url = databaseURL, niceness = niceness
        let thread = Thread { [self] in
            #if canImport(Glibc)
            // On Linux the nice value is per thread, and `who` 0 is the calling thread.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
            #endif
            do {
                let db = try PostgresConnection(url: url)
                let outcome = try RecordedReplay.run(db: db, from: from, to: to, ward: ward, inForce: inForce, candidate: candidate) { n in
                    update(job.id) { $0.readings = n }
                    return true
                }
                let summary = ReplaySummary(outcome)
                update(job.id) {
                    $0.readings = summary.readings
                    $0.result = summary
                    $0.state = .done
                    $0.finishedAt = Self.now()
                }
            } catch {
                update(job.id) {
                    $0.state = .failed
                    $0.error = "the replay stopped: \(error)"
                    $0.finishedAt = Self.now()
                }
            }
        }
        thread.name = "wardline-replay"
        thread.start()
        return job
    }

    private func update(_ id: String, _ change: (inout Job) -> Void) {
        jobs.withLock { list in
            if let i = list.firstIndex(where: { $0.id == id }) { change(&list[i]) }
        }
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}

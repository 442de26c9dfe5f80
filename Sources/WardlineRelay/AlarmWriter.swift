import Foundation
import Logging
import Synchronization
import WardlineEngine
import WardlineIngest
import WardlineJournal
import WardlineRuntime
import WardlineStore
import WardlineTasks

/// Stores every alarm transition in TimescaleDB, on its own thread with its own connection, so a
/// slow database never holds up the engine. Alarm events are never dropped: while the database is
/// down they wait in memory (they are few next to readings) and the wait is logged.
///
/// Durability: `doneThrough` is the journal position from which a replay would regenerate every
/// transition not yet committed; the journal checkpoint never passes it (`CheckpointKeeper`), so a
/// kill -9, or a SIGTERM while the database is down, leaves them to the next start.
///
/// One transition the database refuses for its data (SQLSTATE 22, 23, 54) is put aside in
/// `put_aside` with its error and logged at critical (ids only); the rest of its batch is stored.
package final class AlarmWriter: EngineSink, @unchecked Sendable {
    private struct Entry {
        var alarm: Alarm
        var transition: AlarmTransition
        /// nil: no journalled message caused it, so no replay can regenerate it.
        var replayFrom: JournalPosition?
    }

    private struct Queue {
        var pending: [Entry] = []
        /// The lowest replay position of the batch being written, until it is committed.
        var inFlightFrom: JournalPosition?
    }

    private let url: String
    private let outboxTopic: String?
    private let tasks: AlarmTasks?
    private let logger: Logger
    private let log: RateLimitedLog
    private let counters: PipelineCounters
    private let queue = Mutex(Queue())
    package let thread = PartThread(name: "wardline-alarms")
    /// The consumer's replay floor: done through there once nothing waits here.
    private let processed: @Sendable () -> JournalPosition
    private let keeper: CheckpointKeeper?
    private var store: AlarmStore?
    /// Beaten every turn (at least every 20 ms idle, 5 s while the database is down): a write that
    /// does not return shows as a stall.
    package let heartbeat = Heartbeat("alarm_writer", kind: .loop)

    package init(url: String, outboxTopic: String?, tasks: AlarmTasks?, counters: PipelineCounters, logger: Logger,
         keeper: CheckpointKeeper? = nil, processed: @escaping @Sendable () -> JournalPosition = { .start }) {
        self.url = url
        self.outboxTopic = outboxTopic
        self.tasks = tasks
        self.counters = counters
        self.logger = logger
        self.log = RateLimitedLog(logger: logger)
        self.keeper = keeper
        self.processed = processed
    }

    /// Rung when an alarm arrives; the writer rings `downstream` (the relays) once it is stored.
    /// Rung when there is work: the loop's pause ends at once.
    package var doorbell: Doorbell { thread.doorbell }
    package var downstream: [Doorbell] = []

    package func accept(_ event: EngineEvent) { accept(event, replayFrom: nil) }

    package func accept(_ event: EngineEvent, replayFrom: JournalPosition?) {
        guard let alarm = event.alarm, let transition = event.transition else { return }
        queue.withLock { $0.pending.append(Entry(alarm: alarm, transition: transition, replayFrom: replayFrom)) }
        doorbell.ring()
    }

    /// A replay from here regenerates every transition not yet committed.
    package var doneThrough: JournalPosition {
        // Read the consumer first: every event it handed over before reaching this floor is then
        // visible in the queue below, waiting, in flight or already committed.
        let floor = processed()
        return queue.withLock { q in
            var done = floor
            if let f = q.inFlightFrom { done = min(done, f) }
            for e in q.pending { if let r = e.replayFrom { done = min(done, r) } }
            return done
        }
    }

    package func start() { thread.start { [self] in run() } }

    /// Sends (or stores) what is in hand, then the thread ends; past `deadline` the rest waits
    /// in the database for the next start.
    package func stopAfterFlushing(deadline: Int64) { thread.requestStop(deadline: deadline) }

    package var waiting: Int { queue.withLock { $0.pending.count } }

    private func run() {
        var pause = 100
        var down = false
        while true {
            let stopping = thread.isStopping
            heartbeat.beat(now: wallClockMillis())
            let batch = queue.withLock { q -> [Entry] in
                defer { q.pending.removeAll() }
                q.inFlightFrom = q.pending.lazy.compactMap(\.replayFrom).min()
                return q.pending
            }
            if batch.isEmpty {
                keeper?.advance()  // the consumer moved on with nothing for us
                if stopping { break }
                doorbell.wait(micros: 20_000)
                continue
            }
            do {
                let s = try store ?? AlarmStore(db: PostgresConnection(url: url), outboxTopic: outboxTopic, tasks: tasks)
                store = s
                let outcome = try DataErrorSplit.write(batch[...], { part in
                    counters.alarmTransitionsStored.add(try s.write(part.map { ($0.alarm, $0.transition) }))
                    let committed = wallClockMillis()  // `at` is the engine clock: the causing message's receipt
                    for e in part where e.replayFrom != nil { counters.alarmCommitLatency.record(milliseconds: committed - e.transition.at) }
                }, putAside: { entry, error in
                    try putAside(entry, error, db: s.db)
                })
                queue.withLock { $0.inFlightFrom = nil }
                keeper?.advance()
                if outcome.written > 0 { for bell in downstream { bell.ring() } }
                if down { logger.notice("alarm store reachable again", metadata: ["server": "\(s.db.server)"]) }
                down = false
                pause = 100
            } catch {
                store = nil
                queue.withLock { q in
                    q.pending.insert(contentsOf: batch, at: 0)
                    q.inFlightFrom = nil
                }
                if !down {
                    logger.error("cannot store alarms; keeping them in memory and retrying",
                                 metadata: ["error": "\(error)", "waiting": "\(batch.count)"])
                }
                down = true
                if thread.isPastDeadline {
                    leftAtShutdown()
                    break
                }
                sleepMicros(pause * 1000)
                pause = min(pause * 2, 5000)
            }
        }
    }

    /// The database refused this transition (with its outbox and task rows) for its data. The alarm
    /// itself was already shown on the ward page; an operator must see that it is not stored.
    private func putAside(_ entry: Entry, _ error: PostgresError, db: PostgresConnection) throws {
        let t = entry.transition
        if try PutAsideStore.insert(.transition(entry.alarm, t), error: error, db: db) {
            counters.putAside(.alarms).add()
        }
        // Ids, rule and SQLSTATE only: the error's own text may quote the row, the patient's values with it.
        log.critical(key: "alarm-put-aside", now: wallClockMillis(),
                     "alarm transition refused by the database; put aside in put_aside, not stored, not published, not paged",
                     metadata: ["alarm": "\(t.alarmID)", "revision": "\(t.revision)", "kind": "\(t.kind.rawValue)",
                                "patient": "\(entry.alarm.patientID ?? "-")", "rule": "\(entry.alarm.ruleID)",
                                "priority": "\(t.priority.rawValue)", "sqlstate": "\(error.sqlState ?? "-")"])
    }

    /// Shutdown with the database still unreachable: what a journal replay regenerates waits for the
    /// next start (the checkpoint does not pass it); only what no message caused is lost.
    private func leftAtShutdown() {
        let (journalled, other) = queue.withLock { q in
            (q.pending.filter { $0.replayFrom != nil }.count, q.pending.filter { $0.replayFrom == nil }.count)
        }
        if journalled > 0 {
            logger.warning("database unreachable at shutdown; alarm transitions not stored stay in the journal and are regenerated at the next start",
                           metadata: ["count": "\(journalled)"])
        }
        if other > 0 {
            logger.critical("alarm transitions from timers or acknowledgements not stored at shutdown",
                            metadata: ["count": "\(other)"])
        }
    }
}

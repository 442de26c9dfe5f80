import Foundation
import Logging
import Synchronization
import WardlineEngine
import WardlineStore
import WardlineTasks

/// Something downstream of the engine (the alarm store, later the WebSocket hub, Kafka, the task
/// queue). `accept` is called on the consumer thread and must not block.
public protocol EngineSink: AnyObject, Sendable {
    func accept(_ event: EngineEvent)
}

/// Stores every alarm transition in TimescaleDB, on its own thread with its own connection, so a
/// slow database never holds up the engine. Alarm events are never dropped: while the database is
/// down they wait in memory (they are few next to readings) and the wait is logged.
final class AlarmWriter: EngineSink, @unchecked Sendable {
    private let url: String
    private let outboxTopic: String?
    private let tasks: AlarmTasks?
    private let logger: Logger
    private let counters: PipelineCounters
    private let pending = Mutex<[(Alarm, AlarmTransition)]>([])
    private let stopRequested = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    private let stopDeadline = Atomic<Int64>(.max)
    private var store: AlarmStore?
    /// Beaten every turn (at least every 20 ms idle, 5 s while the database is down): a write that
    /// does not return shows as a stall.
    let heartbeat = Heartbeat("alarm_writer", kind: .loop)

    init(url: String, outboxTopic: String?, tasks: AlarmTasks?, counters: PipelineCounters, logger: Logger) {
        self.url = url
        self.outboxTopic = outboxTopic
        self.tasks = tasks
        self.counters = counters
        self.logger = logger
    }

    /// Rung when an alarm arrives; the writer rings `downstream` (the relays) once it is stored.
    let doorbell = Doorbell()
    var downstream: [Doorbell] = []

    func accept(_ event: EngineEvent) {
        guard let alarm = event.alarm, let transition = event.transition else { return }
        pending.withLock { $0.append((alarm, transition)) }
        doorbell.ring()
    }

    func start() {
        startDedicatedThread(named: "wardline-alarms") { [self] in run() }
    }

    func stopAfterFlushing(graceMillis: Int64) {
        stopDeadline.store(wallClockMillis() + graceMillis, ordering: .relaxed)
        stopRequested.store(true, ordering: .releasing)
    }

    var isStopped: Bool { stopped.load(ordering: .acquiring) }
    var waiting: Int { pending.withLock { $0.count } }

    private func run() {
        var pause = 100
        var down = false
        while true {
            let stopping = stopRequested.load(ordering: .acquiring)
            heartbeat.beat(now: wallClockMillis())
            let batch = pending.withLock { p -> [(Alarm, AlarmTransition)] in defer { p.removeAll() }; return p }
            if batch.isEmpty {
                if stopping { break }
                doorbell.wait(micros: 20_000)
                continue
            }
            do {
                let s = try store ?? AlarmStore(db: PostgresConnection(url: url), outboxTopic: outboxTopic, tasks: tasks)
                store = s
                counters.alarmTransitionsStored.add(try s.write(batch))
                for bell in downstream { bell.ring() }
                if down { logger.notice("alarm store reachable again") }
                down = false
                pause = 100
            } catch {
                store = nil
                pending.withLock { $0.insert(contentsOf: batch, at: 0) }
                if !down {
                    logger.error("cannot store alarms; keeping them in memory and retrying",
                                 metadata: ["error": "\(error)", "waiting": "\(batch.count)"])
                }
                down = true
                if stopping && wallClockMillis() > stopDeadline.load(ordering: .relaxed) {
                    logger.critical("alarm transitions not stored at shutdown", metadata: ["count": "\(waiting)"])
                    break
                }
                sleepMicros(pause * 1000)
                pause = min(pause * 2, 5000)
            }
        }
        stopped.store(true, ordering: .releasing)
    }
}

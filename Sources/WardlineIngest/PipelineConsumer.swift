import Foundation
import Logging
import Synchronization
import WardlineCore
import WardlineEngine
import WardlineJournal
import WardlineRuntime

/// The consumer end of the ring, on its own thread: counts and logs each event, hands it to every
/// ingest sink (the database writer), runs it through the alert engine, and hands the engine's
/// events to every engine sink (the alarm store, …). Sinks never block it.
///
/// The engine is not thread-safe; this thread is its only user, which also runs its timers (`tick`).
///
/// The engine runs on each message's received time (as journalled), not on the time this thread
/// gets to it, so replaying the journal after a crash gives the same alarms, ids and transitions
/// (`ReplayEchoes` keeps those already stored from going out again). Each alarm event is handed
/// on with the journal position a replay would have to start from to regenerate it (`ReplayHorizon`).
package final class PipelineConsumer: @unchecked Sendable {
    private let ring: RingBuffer<IngestItem>
    private let sinks: [any PipelineSink]
    private let engine: AlertEngine
    private let engineSinks: [any EngineSink]
    private let commands: EngineCommandQueue
    private let counters: PipelineCounters
    private let log: RateLimitedLog
    private let tickMillis: Int64
    package let thread = PartThread(name: "wardline-consumer")
    /// True while start-up pushes the journal's unreplayed messages (the ring may run dry meanwhile).
    package let replaying = Atomic<Bool>(false)
    private var engineEvents: [EngineEvent] = []
    private var lastTick: Int64 = 0
    private let clocks: DeviceClocks?
    private var lastClockSnapshot: Int64 = 0
    /// The received time of the newest message processed: the engine's clock while it works
    /// through messages (a replayed backlog included), the wall clock taking over once caught up.
    private var engineClock: Int64 = 0
    private var horizon: ReplayHorizon
    private let floorRaw: Atomic<UInt64>
    /// Set before `start`: the transitions the last run stored past the replay point.
    package var echoes = ReplayEchoes()
    /// Echoes of partitions an engine node adopts while running, merged before the next command.
    private let echoInbox = Mutex<[ReplayEchoes]>([])
    /// Beaten every turn of the loop (which turns at least every millisecond, work or not).
    package let heartbeat = Heartbeat("engine", kind: .loop)

    package init(ring: RingBuffer<IngestItem>, sinks: [any PipelineSink], engine: AlertEngine, engineSinks: [any EngineSink],
         commands: EngineCommandQueue, counters: PipelineCounters, log: RateLimitedLog, tickMillis: Int64 = 500,
         clocks: DeviceClocks? = nil, horizon: ReplayHorizon) {
        self.clocks = clocks
        self.horizon = horizon
        self.floorRaw = Atomic(horizon.floor.rawValue)
        self.commands = commands
        self.ring = ring
        self.sinks = sinks
        self.engine = engine
        self.engineSinks = engineSinks
        self.counters = counters
        self.log = log
        self.tickMillis = tickMillis
    }

    package func start() { thread.start { [self] in run() } }

    /// From another thread: these transitions are stored; a replay must not send them again.
    /// In force before any command enqueued after this call runs.
    package func merge(echoes more: ReplayEchoes) { echoInbox.withLock { $0.append(more) } }

    /// Tells the consumer that nothing more will be pushed; it drains the ring and stops.
    package func finishAfterDraining() { thread.requestStop() }

    /// Replaying the journal from here regenerates everything processed so far, evidence included.
    /// Stored only after the events of the messages before it were handed to the sinks.
    package var replayFloor: JournalPosition { JournalPosition(rawValue: floorRaw.load(ordering: .acquiring)) }

    private func run() {
        var idle = 0
        while true {
            let done = thread.isStopping
            let n = ring.popBatch(max: 1024) { item in handle(item) }
            let now = wallClockMillis()
            heartbeat.beat(now: now)
            let arrived = echoInbox.withLock { inbox in defer { inbox.removeAll() }; return inbox }
            for e in arrived { echoes.merge(e) }
            for command in commands.drain() { dispatch(command(engine, now), replayFrom: nil) }
            if now - lastTick >= tickMillis {
                lastTick = now
                // Timers run on the messages' clock while there are messages (a replay from the journal
                // must not find every device silent since it was received), on the wall clock once idle.
                let clock = (n > 0 || replaying.load(ordering: .relaxed)) && engineClock > 0 ? engineClock : now
                dispatch(engine.tick(now: clock), replayFrom: nil)
                counters.openAlarms.store(engine.openAlarmCount, ordering: .relaxed)
            }
            if let clocks, now - lastClockSnapshot >= 2000 {
                lastClockSnapshot = now
                clocks.replace(engine.deviceClockOffsets())
            }
            if n > 0 { idle = 0; continue }
            if done { break }
            // Spin briefly, then sleep: each wake-up is a context switch, so sleep long enough to find a
            // batch waiting (at most 1 ms of added latency), but never longer.
            idle += 1
            if idle > 64 { sleepMicros(idle > 66 ? 1000 : 200) }
        }
    }

    private func handle(_ item: IngestItem) {
        switch item.event {
        case .reading: counters.readingsAccepted.add()
        case .deviceStatus: counters.statusUpdates.add()
        case .deviceAlert: counters.deviceAlerts.add()
        case .rejected(let r):
            counters.rejected(r.reason).add()
            log.warning(key: "reject." + r.reason.rawValue, now: wallClockMillis(), "message rejected",
                        metadata: ["reason": "\(r.reason.rawValue)", "device": "\(r.deviceID ?? "-")",
                                   "element": "\(r.elementIndex.map(String.init) ?? "-")"])
        }
        for sink in sinks { sink.accept(item) }
        let receivedAt = item.event.receivedAt
        engineClock = receivedAt
        engineEvents.removeAll(keepingCapacity: true)
        engine.process(item.event, now: receivedAt, into: &engineEvents)
        guard item.position != .start else {
            dispatch(engineEvents, replayFrom: nil)  // not journalled: nothing could replay it
            return
        }
        let floor = horizon.note(item.position, receivedAt: receivedAt)
        dispatch(engineEvents, replayFrom: floor)
        floorRaw.store(floor.rawValue, ordering: .releasing)
    }

    /// `replayFrom`: where a replay regenerates these events (nil: timers and commands, which no
    /// journalled message caused).
    private func dispatch(_ events: [EngineEvent], replayFrom: JournalPosition?) {
        for event in events {
            if !echoes.isEmpty, let alarm = event.alarm, let t = event.transition, echoes.isEcho(alarm, t) {
                counters.replayEchoes.add()
                continue
            }
            if case .alarmRaised(let alarm, _) = event {
                counters.alarmsRaised.add()
                // Ids and the rule only: the alarm's message carries the patient's values.
                log.notice(key: "alarm", now: wallClockMillis(), "alarm raised",
                           metadata: ["alarm": "\(alarm.id)", "patient": "\(alarm.patientID ?? "-")",
                                      "rule": "\(alarm.ruleID)", "priority": "\(alarm.priority.rawValue)"])
            }
            for sink in engineSinks { sink.accept(event, replayFrom: replayFrom) }
        }
    }
}

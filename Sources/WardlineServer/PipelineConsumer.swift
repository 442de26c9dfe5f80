import Foundation
import Logging
import Synchronization
import WardlineCore
import WardlineEngine

/// The consumer end of the ring, on its own thread: counts and logs each event, hands it to every
/// ingest sink (the database writer), runs it through the alert engine, and hands the engine's
/// events to every engine sink (the alarm store, …). Sinks never block it.
///
/// The engine is not thread-safe; this thread is its only user, which also runs its timers (`tick`).
final class PipelineConsumer: @unchecked Sendable {
    private let ring: RingBuffer<IngestItem>
    private let sinks: [any PipelineSink]
    private let engine: AlertEngine
    private let engineSinks: [any EngineSink]
    private let commands: EngineCommandQueue
    private let counters: PipelineCounters
    private let log: RateLimitedLog
    private let tickMillis: Int64
    private let producerFinished = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    private var engineEvents: [EngineEvent] = []
    private var lastTick: Int64 = 0
    private let clocks: DeviceClocks?
    private var lastClockSnapshot: Int64 = 0
    /// Beaten every turn of the loop (which turns at least every millisecond, work or not).
    let heartbeat = Heartbeat("engine", kind: .loop)

    init(ring: RingBuffer<IngestItem>, sinks: [any PipelineSink], engine: AlertEngine, engineSinks: [any EngineSink],
         commands: EngineCommandQueue, counters: PipelineCounters, log: RateLimitedLog, tickMillis: Int64 = 500,
         clocks: DeviceClocks? = nil) {
        self.clocks = clocks
        self.commands = commands
        self.ring = ring
        self.sinks = sinks
        self.engine = engine
        self.engineSinks = engineSinks
        self.counters = counters
        self.log = log
        self.tickMillis = tickMillis
    }

    func start() {
        startDedicatedThread(named: "wardline-consumer") { [self] in run() }
    }

    /// Tells the consumer that nothing more will be pushed; it drains the ring and stops.
    func finishAfterDraining() { producerFinished.store(true, ordering: .releasing) }

    var isFinished: Bool { finished.load(ordering: .acquiring) }

    private func run() {
        var idle = 0
        while true {
            let done = producerFinished.load(ordering: .acquiring)
            let n = ring.popBatch(max: 1024) { item in handle(item) }
            let now = wallClockMillis()
            heartbeat.beat(now: now)
            for command in commands.drain() { dispatch(command(engine, now)) }
            if now - lastTick >= tickMillis {
                lastTick = now
                dispatch(engine.tick(now: now))
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
        finished.store(true, ordering: .releasing)
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
        engineEvents.removeAll(keepingCapacity: true)
        engine.process(item.event, now: wallClockMillis(), into: &engineEvents)
        dispatch(engineEvents)
    }

    private func dispatch(_ events: [EngineEvent]) {
        for event in events {
            if case .alarmRaised(let alarm, _) = event {
                counters.alarmsRaised.add()
                // Ids and the rule only: the alarm's message carries the patient's values.
                log.notice(key: "alarm", now: wallClockMillis(), "alarm raised",
                           metadata: ["alarm": "\(alarm.id)", "patient": "\(alarm.patientID ?? "-")",
                                      "rule": "\(alarm.ruleID)", "priority": "\(alarm.priority.rawValue)"])
            }
            for sink in engineSinks { sink.accept(event) }
        }
    }
}

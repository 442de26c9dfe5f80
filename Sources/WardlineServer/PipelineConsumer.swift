import Foundation
import Logging
import Synchronization
import WardlineCore

/// The consumer end of the ring, on its own thread: counts and logs each event and hands it to
/// every sink (database writer, engine). Sinks never block it.
final class PipelineConsumer: @unchecked Sendable {
    private let ring: RingBuffer<IngestItem>
    private let sinks: [any PipelineSink]
    private let counters: PipelineCounters
    private let log: RateLimitedLog
    private let producerFinished = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)

    init(ring: RingBuffer<IngestItem>, sinks: [any PipelineSink], counters: PipelineCounters, log: RateLimitedLog) {
        self.ring = ring
        self.sinks = sinks
        self.counters = counters
        self.log = log
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "wardline-consumer"
        thread.start()
    }

    /// Tells the consumer that nothing more will be pushed; it drains the ring and stops.
    func finishAfterDraining() { producerFinished.store(true, ordering: .releasing) }

    var isFinished: Bool { finished.load(ordering: .acquiring) }

    private func run() {
        var idle = 0
        while true {
            let done = producerFinished.load(ordering: .acquiring)
            let n = ring.popBatch(max: 1024) { item in handle(item) }
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
    }
}

import Foundation
import Logging
import Synchronization
import WardlineCore
import WardlineIngest
import WardlineRuntime

/// Logs one line of pipeline statistics every few seconds (rates, queue depths, rejects).
final class StatsReporter: @unchecked Sendable {
    private let counters: PipelineCounters
    private let ring: RingBuffer<IngestItem>
    private let writer: BatchWriter
    private let mqttConnected: @Sendable () -> Bool
    private let logger: Logger
    private let intervalMillis: Int64
    let thread = PartThread(name: "wardline-stats")

    init(counters: PipelineCounters, ring: RingBuffer<IngestItem>, writer: BatchWriter,
         mqttConnected: @escaping @Sendable () -> Bool, logger: Logger, intervalSeconds: Int) {
        self.mqttConnected = mqttConnected
        self.counters = counters
        self.ring = ring
        self.writer = writer
        self.logger = logger
        self.intervalMillis = Int64(intervalSeconds) * 1000
    }

    func start() { thread.start { [self] in run() } }

    func stop() { thread.requestStop() }

    private func run() {
        var lastReceived = 0, lastInserted = 0, last = wallClockMillis()
        while !thread.isStopping {
            thread.pause(millis: Int(intervalMillis - (wallClockMillis() - last)))
            let now = wallClockMillis()
            guard !thread.isStopping, now - last >= intervalMillis else { continue }
            let received = counters.messagesReceived.count, inserted = counters.rowsInserted.count
            let seconds = Double(now - last) / 1000
            var rejects = Logger.Metadata()
            for (reason, n) in counters.rejectedByReason where n > 0 { rejects[reason.rawValue] = "\(n)" }
            logger.info("pipeline", metadata: [
                "msgs_per_s": "\(Int(Double(received - lastReceived) / seconds))",
                "rows_per_s": "\(Int(Double(inserted - lastInserted) / seconds))",
                "received": "\(received)", "rows": "\(inserted)", "duplicates": "\(counters.duplicateReadings.count)",
                "ring": "\(ring.count)", "writer_waiting": "\(writer.waiting)", "db_up": "\(writer.isDatabaseUp)", "mqtt_up": "\(mqttConnected())",
                "spilled": "\(counters.spilledToJournal.count)", "alarms_raised": "\(counters.alarmsRaised.count)", "events_published": "\(counters.eventsPublished.count)", "ring_full_waits": "\(counters.ringFullWaits.count)",
                "rejected": .dictionary(rejects),
            ])
            lastReceived = received
            lastInserted = inserted
            last = now
        }
    }
}

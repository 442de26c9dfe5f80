import Foundation
import Logging
import Synchronization
import WardlineCore
import WardlineJournal
import WardlineMQTT

/// The MQTT side of the hot path, run on libmosquitto's network thread: journal the message,
/// validate it, push its events into the ring.
///
/// The journal write comes first because libmosquitto has already acknowledged the message to the
/// broker; the ring push waits when the ring is full (backpressure: the broker keeps the rest).
final class MQTTIngest: @unchecked Sendable {
    private let journal: JournalWriter
    private let decoder: MessageDecoder
    private let ring: RingBuffer<IngestItem>
    private let counters: PipelineCounters
    private let log: RateLimitedLog
    private let maxSegments: UInt32
    private let oldestNeeded: @Sendable () -> JournalPosition
    /// Marks each message in hand, so a message stuck here (the journal, a full ring) shows as a stall.
    let heartbeat = Heartbeat("intake", kind: .onDemand)

    init(journal: JournalWriter, decoder: MessageDecoder, ring: RingBuffer<IngestItem>, counters: PipelineCounters,
         log: RateLimitedLog, maxSegments: Int, oldestNeeded: @escaping @Sendable () -> JournalPosition) {
        self.journal = journal
        self.decoder = decoder
        self.ring = ring
        self.counters = counters
        self.log = log
        self.maxSegments = UInt32(maxSegments)
        self.oldestNeeded = oldestNeeded
    }

    /// Called for every message, on the MQTT thread.
    func handle(_ message: MQTTMessage) {
        counters.messagesReceived.add()
        let now = wallClockMillis()
        heartbeat.begin(now: now)
        defer { heartbeat.end() }
        waitForJournalRoom()
        var position = JournalPosition.start
        do {
            position = try message.payload.withUnsafeBytes {
                try journal.append(topic: message.topic, payload: $0, receivedAt: now)
            }
        } catch {
            // Still processed live; only crash-safety is lost for this message. Loud, and counted.
            counters.journalFailures.add()
            log.warning(key: "journal", now: now, "journal write failed; message processed without crash protection",
                        metadata: ["error": "\(error)"])
        }
        for event in decoder.decode(topic: message.topic, payload: message.payload, receivedAt: now) {
            push(IngestItem(position: position, event: event))
        }
    }

    /// Pushes into the ring, waiting while it is full. Startup replay uses this too, before MQTT starts.
    func push(_ item: IngestItem) {
        if ring.tryPush(item) { return }
        counters.ringFullWaits.add()
        var pause = 20
        while !ring.tryPush(item) {
            sleepMicros(pause)
            pause = min(pause * 2, 1000)
        }
    }

    /// The journal is the disk spool; when it reaches its bound, stop taking messages so the broker
    /// holds them instead of Wardline running the disk full.
    private func waitForJournalRoom() {
        guard journal.currentSegment &- oldestNeeded().segment >= maxSegments else { return }
        counters.journalPauses.add()
        log.warning(key: "journal-full", now: wallClockMillis(), "journal at its size bound; pausing intake until the database catches up",
                    metadata: ["segments": "\(maxSegments)"])
        while journal.currentSegment &- oldestNeeded().segment >= maxSegments { sleepMicros(100_000) }
    }

    func sync() { journal.sync() }
}

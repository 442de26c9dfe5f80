import Foundation
import WardlineCore
import WardlineJournal
import WardlineMQTT
import WardlineRuntime

/// The MQTT side of the hot path, run on libmosquitto's network thread: journal the message,
/// validate it, push its events into the ring.
///
/// The journal write comes first because libmosquitto acknowledges the message to the broker as
/// soon as `handle` returns, unless `handle` says it was not kept (`.refusedPausing`: the disk
/// refused it; the broker delivers it again). When the journal has no room left (`IntakeGate`),
/// intake pauses and the broker holds the rest. The ring push waits when the ring is full
/// (backpressure: the broker keeps the rest).
package final class MQTTIngest: @unchecked Sendable {
    private let journal: JournalWriter
    private let decoder: MessageDecoder
    private let ring: RingBuffer<IngestItem>
    private let counters: PipelineCounters
    private let gate: IntakeGate
    /// Marks each message in hand, so a message stuck here (the journal, a full ring) shows as a stall.
    package let heartbeat = Heartbeat("intake", kind: .onDemand)

    package init(journal: JournalWriter, decoder: MessageDecoder, ring: RingBuffer<IngestItem>, counters: PipelineCounters,
         gate: IntakeGate) {
        self.journal = journal
        self.decoder = decoder
        self.ring = ring
        self.counters = counters
        self.gate = gate
    }

    /// Called for every message, on the MQTT thread.
    package func handle(_ message: MQTTMessage) -> MQTTClient.MessageDisposition {
        counters.messagesReceived.add()
        let now = wallClockMillis()
        heartbeat.begin(now: now)
        defer { heartbeat.end() }
        let position: JournalPosition
        do {
            position = try message.payload.withUnsafeBytes {
                try journal.append(topic: message.topic, payload: $0, receivedAt: now)
            }
        } catch {
            // Not journalled, so not acknowledged and not processed: the broker sends it again.
            counters.journalFailures.add()
            gate.pausing(for: .refused(reason: "\(error)"), now: now)
            return .refusedPausing
        }
        for event in decoder.decode(topic: message.topic, payload: message.payload, receivedAt: now) {
            push(IngestItem(position: position, event: event))
        }
        if let shortage = gate.shortage(segment: journal.currentSegment) {
            gate.pausing(for: shortage, now: now)
            return .keptPausing
        }
        return .kept
    }

    /// Pushes into the ring, waiting while it is full. Startup replay uses this too, before MQTT starts.
    package func push(_ item: IngestItem) {
        if ring.tryPush(item) { return }
        counters.ringFullWaits.add()
        var pause = 20
        while !ring.tryPush(item) {
            sleepMicros(pause)
            pause = min(pause * 2, 1000)
        }
    }

    package func sync() { journal.sync() }
}

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
    /// Where a journalled message goes: decoded into the ring (`--role all`, and an engine node's
    /// records), or as it is to the device-message topic (`--role ingest`).
    package enum Destination {
        case ring(RingBuffer<IngestItem>, MessageDecoder)
        case topic(DeviceForwarder)
    }

    private let journal: JournalWriter
    private let destination: Destination
    private let counters: PipelineCounters
    private let gate: IntakeGate?
    /// Marks each message in hand, so a message stuck here (the journal, a full ring) shows as a stall.
    package let heartbeat = Heartbeat("intake", kind: .onDemand)

    package convenience init(journal: JournalWriter, decoder: MessageDecoder, ring: RingBuffer<IngestItem>, counters: PipelineCounters,
                 gate: IntakeGate?) {
        self.init(journal: journal, destination: .ring(ring, decoder), counters: counters, gate: gate)
    }

    package init(journal: JournalWriter, destination: Destination, counters: PipelineCounters, gate: IntakeGate?) {
        self.journal = journal
        self.destination = destination
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
            gate?.pausing(for: .refused(reason: "\(error)"), now: now)
            return .refusedPausing
        }
        pass(position: position, topic: message.topic, payload: message.payload, payloadSize: message.payload.count, receivedAt: now)
        if let gate, let shortage = gate.shortage(segment: journal.currentSegment) {
            gate.pausing(for: shortage, now: now)
            return .keptPausing
        }
        return .kept
    }

    /// An engine node's record of the device-message topic: journalled (its scratch journal) and
    /// decoded like a message from MQTT, on the ingest node's clock. Throws when the journal
    /// refuses it; the caller tries again.
    package func handleForwarded(topic: String, payload: [UInt8], payloadSize: Int, receivedAt: Int64) throws -> JournalPosition {
        counters.messagesReceived.add()
        heartbeat.begin(now: wallClockMillis())
        defer { heartbeat.end() }
        let position: JournalPosition
        do {
            position = try payload.withUnsafeBytes { try journal.append(topic: topic, payload: $0, receivedAt: receivedAt) }
        } catch {
            counters.journalFailures.add()
            throw error
        }
        pass(position: position, topic: topic, payload: Data(payload), payloadSize: payloadSize, receivedAt: receivedAt)
        return position
    }

    /// Hands a journalled message on; startup replay uses this too, before MQTT starts.
    package func pass(position: JournalPosition, topic: String, payload: Data, payloadSize: Int, receivedAt: Int64) {
        switch destination {
        case .ring(let ring, let decoder):
            for event in decoder.decode(topic: topic, payload: payload, payloadSize: payloadSize, receivedAt: receivedAt) {
                push(IngestItem(position: position, event: event), into: ring)
            }
        case .topic(let forwarder):
            forwarder.forward(position: position, topic: topic, payload: payload, payloadSize: payloadSize, receivedAt: receivedAt)
        }
    }

    /// Pushes into the ring, waiting while it is full (backpressure: the broker keeps the rest).
    package func push(_ item: IngestItem) {
        guard case .ring(let ring, _) = destination else { return }
        push(item, into: ring)
    }

    private func push(_ item: IngestItem, into ring: RingBuffer<IngestItem>) {
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

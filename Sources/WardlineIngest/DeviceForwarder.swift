import Foundation
import Logging
import Synchronization
import WardlineCore
import WardlineJournal
import WardlineKafka
import WardlineRuntime

/// `--role ingest`: each journalled MQTT message goes as it is to the device-message topic, on
/// its patient's partition (through the assignment; an unassigned device on its own key).
///
/// Durability: Kafka's delivery report (idempotent producer, `acks=all`) is what lets the journal
/// checkpoint move (`deliveredThrough`), so a kill -9 of the ingest node replays from the
/// journal whatever Kafka had not confirmed. A send librdkafka refuses (its queue full: the
/// broker is away) waits and tries again, holding the MQTT thread (the broker keeps the rest);
/// a delivery it gives up is sent again by the retry thread. Nothing is dropped.
package final class DeviceForwarder: @unchecked Sendable {
    private struct Outstanding {
        var position: JournalPosition
        var partition: Int32
        var key: String
        var record: [UInt8]
    }

    private let topic: String
    private let partitions: Int
    private let registry: DeviceRegistry
    private let counters: PipelineCounters
    private let log: RateLimitedLog
    private var producer: KafkaProducer!
    private let state = Mutex<(next: UInt64, outstanding: [UInt64: Outstanding], failed: [UInt64], lastPosition: JournalPosition)>(
        (1, [:], [], .start))
    package let thread = PartThread(name: "wardline-forward")

    package init(brokers: String, topic: String, partitions: Int, registry: DeviceRegistry, counters: PipelineCounters,
                 logger: Logger) throws {
        self.topic = topic
        self.partitions = partitions
        self.registry = registry
        self.counters = counters
        self.log = RateLimitedLog(logger: logger)
        producer = try KafkaProducer(brokers: brokers, clientID: "wardline-ingest") { [weak self] delivery in
            self?.delivered(delivery)
        }
    }

    /// Replaying the journal from here sends again everything Kafka has not confirmed.
    package var deliveredThrough: JournalPosition {
        state.withLock { s in s.outstanding.values.map(\.position).min() ?? s.lastPosition }
    }

    package var waiting: Int { state.withLock { $0.outstanding.count } }

    /// Called on the MQTT thread (and by the start-up replay) for every journalled message.
    package func forward(position: JournalPosition, topic deviceTopic: String, payload: Data, payloadSize: Int, receivedAt: Int64) {
        let key: String
        switch DeviceTopic.parse(deviceTopic) {
        case .success(let t): key = PatientPartition.key(patientID: registry.patient(forDevice: t.deviceID), deviceID: t.deviceID)
        // The engine rejects it with the reason; any partition will do, one fixed key keeps it bounded.
        case .failure: key = "device:"
        }
        let partition = PatientPartition.of(key: key, partitions: partitions)
        let record = DeviceTopicRecord(kind: .deviceMessage, receivedAt: receivedAt, topic: deviceTopic,
                                       payloadSize: payloadSize, body: [UInt8](payload)).encoded()
        let id = state.withLock { s in
            let id = s.next
            s.next += 1
            s.outstanding[id] = Outstanding(position: position, partition: partition, key: key, record: record)
            s.lastPosition = max(s.lastPosition, position)
            return id
        }
        send(id, partition: partition, key: key, record: record)
    }

    private func send(_ id: UInt64, partition: Int32, key: String, record: [UInt8]) {
        var pause = 1000
        while true {
            do {
                try producer.send(topic: topic, partition: partition, key: key, value: record, id: id)
                return
            } catch {
                counters.forwardRetries.add()
                log.warning(key: "forward-full", now: wallClockMillis(), "Kafka refused a device message for now; holding intake",
                            metadata: ["error": "\(error)"])
                sleepMicros(pause)
                pause = min(pause * 2, 200_000)
            }
        }
    }

    private func delivered(_ d: KafkaDelivery) {
        if d.error == nil {
            state.withLock { _ = $0.outstanding.removeValue(forKey: d.id) }
            counters.messagesForwarded.add()
        } else {
            state.withLock { $0.failed.append(d.id) }
            counters.forwardRetries.add()
            log.warning(key: "forward-failed", now: wallClockMillis(), "Kafka gave up a device message; sending it again",
                        metadata: ["error": "\(d.error ?? "")"])
            thread.doorbell.ring()
        }
    }

    /// Sends again what Kafka gave up, and moves the checkpoint (`advance`) every 100 ms.
    package func start(advance: @escaping @Sendable () -> Void) {
        thread.start { [self] in
            while !thread.isStopping {
                let again = state.withLock { s -> [(UInt64, Outstanding)] in
                    defer { s.failed.removeAll() }
                    return s.failed.compactMap { id in s.outstanding[id].map { (id, $0) } }
                }
                for (id, o) in again { send(id, partition: o.partition, key: o.key, record: o.record) }
                advance()
                thread.pause(millis: 100)
            }
            // Stopping: what is queued gets its delivery reports, then the checkpoint moves once more.
            producer.flush(timeoutMillis: 5000)
            advance()
        }
    }

    package func stop() { thread.requestStop() }
}

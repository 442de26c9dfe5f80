import WardlineCore
import WardlineKafka

/// Appends records to the device-message topic on a partition Wardline chose
/// (`PatientPartition`): a hub's acknowledgements, to the engine node that owns the patient.
/// Safe from any thread (librdkafka's producer is).
package final class DeviceTopicSender: Sendable {
    private let producer: KafkaProducer
    package let topic: String

    package init(brokers: String, topic: String, clientID: String) throws {
        self.topic = topic
        // Short: an acknowledgement is worth sending only while the clinician still waits for it.
        producer = try KafkaProducer(brokers: brokers, clientID: clientID, messageTimeoutMillis: 5000) { _ in }
    }

    package func append(_ record: DeviceTopicRecord, key: String, partition: Int32) throws {
        try producer.send(topic: topic, partition: partition, key: key, value: record.encoded(), id: 0)
    }

    package func flush() { producer.flush(timeoutMillis: 2000) }
}

import Logging
import WardlineEngine
import WardlineHub
import WardlineIngest
import WardlineKafka
import WardlineRuntime

/// Optional: every scored reading to its own Kafka topic, keyed by device — the feed a second
/// Wardline node or an analytics consumer reads (`WARDLINE_KAFKA_READINGS_TOPIC`).
///
/// The database stays the system of record for readings, so this feed does not go through the
/// outbox: librdkafka's queue holds readings while the broker is away (idempotent producer, so no
/// duplicates on retry); if that queue is full, the reading is counted in `readingsNotFed`,
/// logged, and the engine goes on — it never waits on Kafka.
package final class ReadingsFeed: EngineSink, @unchecked Sendable {
    private let producer: KafkaProducer
    private let topic: String
    private let counters: PipelineCounters
    private let log: RateLimitedLog
    /// Used on the consumer thread only (the engine sink's thread).
    private let encoder = FrameEncoder()

    package init(brokers: String, topic: String, counters: PipelineCounters, log: RateLimitedLog) throws {
        self.topic = topic
        self.counters = counters
        self.log = log
        producer = try KafkaProducer(brokers: brokers, clientID: "wardline-readings") { delivery in
            if delivery.error == nil { counters.readingsFed.add() } else { counters.readingsNotFed.add() }
        }
    }

    package func accept(_ event: EngineEvent) {
        guard case .scored(let reading, let score) = event else { return }
        do {
            try producer.send(topic: topic, key: reading.deviceID, value: encoder.scoredReadingBody(reading, score),
                              id: 0)
        } catch {
            counters.readingsNotFed.add()
            log.warning(key: "readings-feed", now: wallClockMillis(), "readings feed: Kafka queue refused a reading",
                        metadata: ["error": "\(error)"])
        }
    }

    package func flush() { producer.flush(timeoutMillis: 5000) }
}

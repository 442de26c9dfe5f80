import ArgumentParser
import Foundation
import WardlineCore
import WardlineKafka

/// Prints the events on a Kafka topic, one JSON line each: for operators, and for the tests.
struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the alarm events on Kafka from the beginning (no consumer group; moves nobody's offsets).")

    @Option(help: "Topic (default: WARDLINE_KAFKA_ALERTS_TOPIC).") var topic: String?
    @Option(help: "Stop after this many seconds without a new event.") var idle: Double = 3
    @Option(help: "Stop after this many events.") var max: Int = .max

    func run() throws {
        let (config, _) = try loadConfiguration()
        guard let brokers = config.kafkaBrokers else { throw ValidationError("WARDLINE_KAFKA_BROKERS is empty") }
        let reader = try KafkaTopicReader(brokers: brokers, topic: topic ?? config.kafkaAlertsTopic)
        var printed = 0
        var lastEvent = Date()
        while printed < max, Date().timeIntervalSince(lastEvent) < idle {
            guard let r = try reader.next(timeoutMillis: 200) else { continue }
            lastEvent = Date()
            // The event as it was published when it is JSON, else its text.
            let line = Line(key: r.key.map(JSONValue.string) ?? .null, partition: r.partition, offset: r.offset,
                            value: JSONValue.document(r.value) ?? .string(String(decoding: r.value, as: UTF8.self)))
            print(JSONText.string(line, .sorted))
            printed += 1
        }
    }

    /// One line: `key` is null for an event published without one.
    struct Line: Encodable {
        let key: JSONValue
        let partition: Int32
        let offset: Int64
        let value: JSONValue
    }
}

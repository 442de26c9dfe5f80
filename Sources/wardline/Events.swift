import ArgumentParser
import Foundation
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
            let line: [String: Any] = ["key": r.key ?? NSNull(), "partition": r.partition, "offset": r.offset,
                                       "value": (try? JSONSerialization.jsonObject(with: Data(r.value))) ?? String(decoding: r.value, as: UTF8.self)]
            print(String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self))
            printed += 1
        }
    }
}

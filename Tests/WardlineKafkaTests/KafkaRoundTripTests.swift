import Foundation
import Synchronization
import Testing
import WardlineKafka

/// Against the real Kafka-compatible broker that deploy/services.sh starts (WARDLINE_KAFKA_BROKERS).
@Suite struct KafkaRoundTripTests {
    let brokers = ProcessInfo.processInfo.environment["WARDLINE_KAFKA_BROKERS"] ?? "127.0.0.1:19092"
    let topic = ProcessInfo.processInfo.environment["WARDLINE_KAFKA_ALERTS_TOPIC"] ?? "wardline.alerts"

    final class Reports: Sendable {
        let all = Mutex<[KafkaDelivery]>([])
    }

    @Test func everyKeyedMessageIsReportedDeliveredAndReadBack() throws {
        let reports = Reports()
        let run = UUID().uuidString
        do {
            let producer = try KafkaProducer(brokers: brokers, clientID: "wardline-test") { d in reports.all.withLock { $0.append(d) } }
            #expect(producer.brokerReachable())
            for i in 0..<100 {
                try producer.send(topic: topic, key: "PAT-\(i % 7)", value: Array("\(run)#\(i)".utf8), id: UInt64(i + 1))
            }
            producer.flush(timeoutMillis: 20_000)
        }
        let delivered = reports.all.withLock { $0 }
        #expect(delivered.count == 100)
        #expect(delivered.allSatisfy { $0.error == nil }, "\(delivered.compactMap(\.error).prefix(3))")
        #expect(Set(delivered.map(\.id)) == Set(1...100))

        let reader = try KafkaTopicReader(brokers: brokers, topic: topic)
        var mine: [String: String] = [:]
        let deadline = Date().addingTimeInterval(20)
        while mine.count < 100, Date() < deadline {
            guard let r = try reader.next(timeoutMillis: 500) else { continue }
            let text = String(decoding: r.value, as: UTF8.self)
            if text.hasPrefix(run) { mine[text] = r.key }
        }
        #expect(mine.count == 100)
        #expect(mine["\(run)#8"] == "PAT-1", "the key travels with the message")
    }

    @Test func anUnreachableBrokerIsReportedNotACrash() throws {
        let reports = Reports()
        do {
            let producer = try KafkaProducer(brokers: "127.0.0.1:1", messageTimeoutMillis: 1500) { d in
                reports.all.withLock { $0.append(d) }
            }
            #expect(!producer.brokerReachable(timeoutMillis: 500))
            try producer.send(topic: topic, key: "k", value: [1], id: 42)
            producer.flush(timeoutMillis: 5000)
        }
        let delivered = reports.all.withLock { $0 }
        #expect(delivered.count == 1 && delivered[0].id == 42 && delivered[0].error != nil)
    }
}

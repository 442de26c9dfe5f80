import ArgumentParser
import Foundation
import WardlineServer
import WardlineTaskQueue
import WardlineTasks

/// Lists the dead-letter queue without taking anything from it: for operators, and for the tests.
struct DeadLetters: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters",
        abstract: "Print the jobs in the dead-letter queue (wardline.dead), one JSON line each, with why they failed. Leaves them there.")

    @Option(help: "Stop after this many.") var max: Int = 1000

    func run() throws {
        let (config, _) = try loadConfiguration()
        guard let endpoint = try config.rabbitmqEndpoint() else { throw ValidationError("WARDLINE_RABBITMQ_URL is empty") }
        // Fetched unacknowledged on one connection: closing it puts every one back, in order.
        let broker = try AMQPConnection(endpoint: endpoint)
        try broker.declare(config.taskTopology)
        var printed = 0
        while printed < max, let d = try broker.get(TaskTopology.deadQueue) {
            var headers: [String: Any] = [:]
            for (k, v) in d.headers { headers[k] = v.intValue.map { $0 as Any } ?? v.description }
            let line: [String: Any] = [
                "routing_key": d.routingKey, "message_id": d.messageID ?? NSNull(), "headers": headers,
                "job": (try? JSONSerialization.jsonObject(with: Data(d.body))) ?? String(decoding: d.body, as: UTF8.self),
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self))
            printed += 1
        }
    }
}

/// How many jobs wait in each task queue, and who consumes them.
struct Queues: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print each task queue's ready messages and consumers, one JSON line each.")

    func run() throws {
        let (config, _) = try loadConfiguration()
        guard let endpoint = try config.rabbitmqEndpoint() else { throw ValidationError("WARDLINE_RABBITMQ_URL is empty") }
        let broker = try AMQPConnection(endpoint: endpoint)
        try broker.declare(config.taskTopology)
        for q in config.taskTopology.queues {
            let (messages, consumers) = try broker.depth(of: q.name)
            let line: [String: Any] = ["queue": q.name, "messages": messages, "consumers": consumers]
            print(String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self))
        }
    }
}

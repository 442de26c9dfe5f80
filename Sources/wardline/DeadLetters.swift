import ArgumentParser
import Foundation
import WardlineCore
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
            // The job as it was published when it is JSON, else its text; `message_id` null when it has none.
            let line = Line(routing_key: d.routingKey, message_id: d.messageID.map(JSONValue.string) ?? .null,
                            headers: d.headers.mapValues { v in v.intValue.map(JSONValue.integer) ?? .string(v.description) },
                            job: JSONValue.document(d.body) ?? .string(String(decoding: d.body, as: UTF8.self)))
            print(JSONText.string(line, .sorted))
            printed += 1
        }
    }

    struct Line: Encodable {
        let routing_key: String
        let message_id: JSONValue
        let headers: [String: JSONValue]
        let job: JSONValue
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
            print(JSONText.string(Line(queue: q.name, messages: messages, consumers: consumers), .sorted))
        }
    }

    struct Line: Encodable {
        let queue: String
        let messages: Int
        let consumers: Int
    }
}

/// The queues a job can go to, by routing key on the notify exchange.
public enum TaskRoute: String, Sendable, CaseIterable {
    case page, sms, email, escalation, report

    public var queue: String { "wardline.\(rawValue)" }
}

/// Every exchange, queue and binding Wardline declares (durable, idempotent) on start, as data.
///
/// - `wardline.notify` (topic): the work exchange. Each work queue binds `#.<route>`, so it takes
///   both a fresh job (routing key `page`) and one coming back from a delay (`2000.page`).
///   Work queues have priorities (0–9) and dead-letter what a worker rejects into `wardline.dead`.
/// - `wardline.delay` (topic): timers and retry backoff without the delayed-message plugin. One
///   queue per pause, `wardline.delay.<ms>`, bound `<ms>.#`, nobody consuming: a message waits
///   its per-message expiration there, then is dead-lettered into `wardline.notify` with its
///   routing key, which names its work queue. One queue per pause because RabbitMQ expires
///   messages only from the head of a queue: a 2-minute timer must not hold back a 1-second retry.
/// - `wardline.dead` (fanout) → `wardline.dead`: jobs that failed every attempt, with the reason.
public struct TaskTopology: Sendable, Equatable {
    public static let notifyExchange = "wardline.notify"
    public static let delayExchange = "wardline.delay"
    public static let deadExchange = "wardline.dead"
    public static let deadQueue = "wardline.dead"
    public static let maxPriority: Int64 = 9

    /// The pauses in use: the escalation time and every retry backoff step (a page's up to the cap).
    public var delays: [Int]

    public init(escalationMillis: Int, retry: RetryPolicy) {
        delays = Array(Set([escalationMillis] + retry.delays + retry.pageDelays)).sorted()
    }

    public struct Queue: Sendable, Equatable {
        public var name: String
        public var arguments: [String: AMQPArgument]
        public var exchange: String
        public var bindingKey: String
    }

    public var exchanges: [(name: String, type: String)] {
        [(Self.notifyExchange, "topic"), (Self.delayExchange, "topic"), (Self.deadExchange, "fanout")]
    }

    public var queues: [Queue] {
        var q = TaskRoute.allCases.map {
            Queue(name: $0.queue, arguments: ["x-max-priority": .int(Self.maxPriority),
                                              "x-dead-letter-exchange": .string(Self.deadExchange)],
                  exchange: Self.notifyExchange, bindingKey: "#.\($0.rawValue)")
        }
        q.append(Queue(name: Self.deadQueue, arguments: [:], exchange: Self.deadExchange, bindingKey: ""))
        q += delays.map(Self.delayQueue(millis:))
        return q
    }

    /// The queue where messages wait `millis`, then go to their work queue.
    public static func delayQueue(millis d: Int) -> Queue {
        // The queue TTL is a ceiling; each message carries its own (shorter when it was late).
        Queue(name: delayQueue(d), arguments: ["x-message-ttl": .int(Int64(d)), "x-dead-letter-exchange": .string(notifyExchange)],
              exchange: delayExchange, bindingKey: "\(d).#")
    }

    public static func delayQueue(_ millis: Int) -> String { "wardline.delay.\(millis)" }

    /// Routing key on the delay exchange for a job that must wait `millis` (one of `delays`).
    public static func delayedKey(_ route: TaskRoute, millis: Int) -> String { "\(millis).\(route.rawValue)" }
}

/// A header or queue-argument value (the two AMQP field types Wardline uses).
public enum AMQPArgument: Sendable, Equatable, CustomStringConvertible {
    case string(String)
    case int(Int64)

    public var description: String {
        switch self {
        case .string(let s): s
        case .int(let i): String(i)
        }
    }

    public var intValue: Int64? { if case .int(let i) = self { i } else { nil } }
}

/// Header names Wardline sets on jobs.
public enum TaskHeader {
    /// Which attempt this delivery is (1 for the first).
    public static let attempt = "x-wardline-attempt"
    /// On a dead letter: the last error, the attempts made, the queue it failed in, and when.
    public static let reason = "x-wardline-reason"
    public static let attempts = "x-wardline-attempts"
    public static let failedQueue = "x-wardline-queue"
    public static let failedAt = "x-wardline-failed-at"
    /// On a page: the channels that have taken it already (comma-separated; `fallback` for the
    /// fallback channel), so a retry sends it only where it has not gone.
    public static let delivered = "x-wardline-delivered"
    public static let fallback = "fallback"
}

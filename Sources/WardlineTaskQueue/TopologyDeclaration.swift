import WardlineTasks

extension AMQPConnection {
    /// Declares every exchange, queue and binding of `topology` (durable). Idempotent: the same
    /// declaration twice changes nothing, so every `serve` and `worker` does it on start.
    public func declare(_ topology: TaskTopology) throws {
        for e in topology.exchanges { try declareExchange(e.name, type: e.type) }
        for q in topology.queues {
            try declareQueue(q.name, arguments: q.arguments)
            try bind(queue: q.name, exchange: q.exchange, key: q.bindingKey)
        }
    }
}

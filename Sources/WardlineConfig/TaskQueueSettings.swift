import WardlineTasks

/// The task queue's parts of the configuration, as the types that use them.
extension WardlineConfiguration {
    public var escalationMillis: Int { escalationSeconds * 1000 }

    public var retryPolicy: RetryPolicy {
        RetryPolicy(maxAttempts: retryMaxAttempts, baseMillis: retryBaseMillis, capMillis: retryMaxMillis)
    }

    /// Serve and worker declare the same topology; the delay queues follow these settings.
    public var taskTopology: TaskTopology { TaskTopology(escalationMillis: escalationMillis, retry: retryPolicy) }

    public var breakerSettings: CircuitBreaker.Settings {
        CircuitBreaker.Settings(failureThreshold: breakerFailures, coolDownMillis: Int64(breakerCoolDownMillis))
    }

    public var stallAfterMillis: Int64 { Int64(stallAfterSeconds) * 1000 }
    public var heartbeatMillis: Int64 { Int64(heartbeatSeconds) * 1000 }

    public var onCallRoster: OnCallRoster {
        var pagers: [CareTier: [String]] = [:]
        for tier in CareTier.allCases { pagers[tier] = OnCallRoster.list(onCall[tier.rawValue] ?? "") }
        return OnCallRoster(pagers: pagers)
    }

    /// The broker, or nil when the task queue is off; a malformed URL is a configuration error.
    public func rabbitmqEndpoint() throws -> AMQPEndpoint? {
        guard let url = rabbitmqURL else { return nil }
        do { return try AMQPEndpoint(url: url) } catch { throw ConfigurationError(description: "WARDLINE_RABBITMQ_URL: \(error)") }
    }
}

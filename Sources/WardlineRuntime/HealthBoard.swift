import Synchronization

/// Whether each outside dependency (database, MQTT broker, Kafka, RabbitMQ, …) is reachable, and
/// why not when it is not. `/ready` and the stats line read it; each part reports its own state.
public final class HealthBoard: Sendable {
    public struct Entry: Sendable, Equatable {
        public var ok: Bool
        public var detail: String
        /// Whether Wardline is unready while this part is down (an optional sink is not).
        public var required: Bool
    }

    private let entries = Mutex<[String: Entry]>([:])

    public init() {}

    public func report(_ component: String, ok: Bool, detail: String = "", required: Bool = true) {
        entries.withLock { $0[component] = Entry(ok: ok, detail: ok ? (detail.isEmpty ? "ok" : detail) : detail, required: required) }
    }

    public func isUp(_ component: String) -> Bool { entries.withLock { $0[component]?.ok ?? false } }

    public var snapshot: [(String, Entry)] { entries.withLock { $0.sorted { $0.key < $1.key } } }

    /// Ready when every required part is up.
    public var isReady: Bool { entries.withLock { $0.values.allSatisfy { $0.ok || !$0.required } } }
}

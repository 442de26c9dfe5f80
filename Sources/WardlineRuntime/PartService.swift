import ServiceLifecycle

/// One long-lived part of `serve` (or the worker) as a swift-service-lifecycle `Service`. The assembly starts the
/// parts itself, one after another, because the order is a contract (the journal is replayed
/// before MQTT delivers, the web server listens before the first alarm); `ServiceGroup` owns the
/// rest of their lives and, on SIGTERM, runs each part's `stop` in the reverse order, one at a
/// time: intake first, the writers after the ring is drained, the web server last.
package struct PartService: Service, CustomStringConvertible {
    package let description: String
    /// Finishes the part: returns once its thread has ended and its work in hand is stored.
    package let stop: @Sendable () async -> Void

    package init(_ description: String, stop: @escaping @Sendable () async -> Void) {
        self.description = description
        self.stop = stop
    }

    package func run() async {
        // Cancellation (a second signal, a failed part) ends the wait too; the stop still runs.
        try? await gracefulShutdown()
        await stop()
    }
}

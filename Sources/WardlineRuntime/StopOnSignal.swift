import Logging
import ServiceLifecycle
import UnixSignals

/// SIGTERM and SIGINT, trapped from the first line of a command: one that arrives while the parts
/// are still starting (waiting for the database, replaying the journal) is kept, and honoured as
/// a graceful shutdown as soon as they are up, instead of killing the process halfway.
package struct StopSignals: Sendable {
    private let signals: UnixSignalsSequence

    package init() async { signals = await UnixSignalsSequence(trapping: .sigterm, .sigint) }

    /// Runs `services` in one `ServiceGroup` (each stopped in the reverse of their order, one at a
    /// time) until a signal triggers the group's graceful shutdown; returns once all have stopped.
    package func run(_ services: [any Service], logger: Logger) async throws {
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            tasks.addTask {
                for await signal in signals {
                    logger.notice("signal received; stopping", metadata: ["signal": "\(signal)"])
                    await group.triggerGracefulShutdown()
                }
            }
            try await tasks.next()  // the group has stopped every part
            tasks.cancelAll()
        }
    }
}

/// SIGHUP, the conventional "read your configuration again": each one calls `body` (serve reloads
/// its rule-set file). Trapped from start, so an early one is not the default action (exit).
package struct ReloadSignals: Sendable {
    private let signals: UnixSignalsSequence

    package init() async { signals = await UnixSignalsSequence(trapping: .sighup) }

    /// Calls `body` for each SIGHUP until the task is cancelled.
    package func forEach(_ body: @Sendable () -> Void) async {
        for await _ in signals { body() }
    }
}

import Synchronization
import WardlineEngine

/// Changes for the engine from other threads (settings read from the database; later,
/// acknowledgements from the API). Only the consumer thread may touch the engine, so it applies
/// them between events; their events flow on like any other.
package final class EngineCommandQueue: Sendable {
    package typealias Command = @Sendable (AlertEngine, Int64) -> [EngineEvent]
    private let commands = Mutex<[Command]>([])
    /// True on a node without an engine (`--role ingest`): the settings refresher's commands go nowhere.
    private let discarding: Bool

    package init(discarding: Bool = false) { self.discarding = discarding }

    package func enqueue(_ command: @escaping Command) {
        guard !discarding else { return }
        commands.withLock { $0.append(command) }
    }

    package func drain() -> [Command] {
        commands.withLock { c in
            if c.isEmpty { return [] }
            defer { c.removeAll() }
            return c
        }
    }
}

import Synchronization
import WardlineEngine

/// Changes for the engine from other threads (settings read from the database; later,
/// acknowledgements from the API). Only the consumer thread may touch the engine, so it applies
/// them between events; their events flow on like any other.
package final class EngineCommandQueue: Sendable {
    package typealias Command = @Sendable (AlertEngine, Int64) -> [EngineEvent]
    private let commands = Mutex<[Command]>([])

    package init() {}

    package func enqueue(_ command: @escaping Command) { commands.withLock { $0.append(command) } }

    package func drain() -> [Command] {
        commands.withLock { c in
            if c.isEmpty { return [] }
            defer { c.removeAll() }
            return c
        }
    }
}

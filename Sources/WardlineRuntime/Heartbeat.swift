import Synchronization

/// One part's sign of life for the watchdog (`AlarmSystemWatch`): two relaxed atomic stores on the
/// part's own thread, read from another. Lock-free; safe from any thread.
///
/// - A part that loops for ever (the engine's consumer, the alarm writer) `beat`s every turn: it
///   is stuck when no turn has ended for longer than the bound.
/// - A part that works on demand (MQTT intake, the heartbeat write to the database) marks the
///   unit of work in hand with `begin`/`end`: it is stuck when one unit has taken longer than the
///   bound. Idle is not stuck: a ward with no devices publishing is quiet, not broken.
public final class Heartbeat: Sendable {
    public enum Kind: Sendable { case loop, onDemand }

    public let name: String
    public let kind: Kind
    private let stamp = Atomic<Int64>(0)

    public init(_ name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }

    /// A loop's turn ended at `now` (epoch ms).
    @inline(__always)
    public func beat(now: Int64) { stamp.store(now, ordering: .relaxed) }

    /// A unit of work began at `now`.
    @inline(__always)
    public func begin(now: Int64) { stamp.store(now, ordering: .relaxed) }

    /// The unit of work in hand is done.
    @inline(__always)
    public func end() { stamp.store(0, ordering: .relaxed) }

    /// How long it has been stuck at `now`, ms (0: fine, or not started yet).
    public func stuckFor(now: Int64) -> Int64 {
        let t = stamp.load(ordering: .relaxed)
        return t == 0 ? 0 : max(0, now - t)
    }
}

import Synchronization

/// A bounded, lock-free, single-producer / single-consumer ring (the MQTT thread → the engine).
///
/// Exactly one thread may push and exactly one thread may pop. The producer owns `tail`, the
/// consumer owns `head`; each publishes its index with a releasing store and reads the other's with
/// an acquiring load, so a slot is always written before it is read and read before it is reused.
/// Capacity is a power of two (index & mask). Nothing on push or pop takes a lock.
///
/// When the ring is full, `tryPush` refuses and the caller decides. Wardline's MQTT thread waits
/// (backpressure): it stops reading its socket, so the broker keeps the QoS 1 readings queued for
/// Wardline's persistent session. A full ring never drops a reading; it is counted and logged.
public final class RingBuffer<Element>: @unchecked Sendable {
    public let capacity: Int
    private let mask: Int
    private let slots: UnsafeMutablePointer<Element>
    private let head = Atomic<Int>(0)
    // Keeps head and tail on separate cache lines, so producer and consumer don't fight over one.
    private let padding: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
    private let tail = Atomic<Int>(0)

    /// - Parameter capacity: rounded up to a power of two, at least 2.
    public init(capacity: Int) {
        var c = 2
        while c < capacity { c <<= 1 }
        self.capacity = c
        self.mask = c - 1
        self.slots = .allocate(capacity: c)
        _ = padding
    }

    deinit {
        var h = head.load(ordering: .relaxed)
        let t = tail.load(ordering: .relaxed)
        while h != t {
            (slots + (h & mask)).deinitialize(count: 1)
            h &+= 1
        }
        slots.deallocate()
    }

    /// Producer only. Returns false, leaving the ring unchanged, when it is full.
    @inline(__always)
    public func tryPush(_ element: Element) -> Bool {
        let t = tail.load(ordering: .relaxed)
        if t &- head.load(ordering: .acquiring) == capacity { return false }
        (slots + (t & mask)).initialize(to: element)
        tail.store(t &+ 1, ordering: .releasing)
        return true
    }

    /// Consumer only. Returns nil when the ring is empty.
    @inline(__always)
    public func pop() -> Element? {
        let h = head.load(ordering: .relaxed)
        if h == tail.load(ordering: .acquiring) { return nil }
        let element = (slots + (h & mask)).move()
        head.store(h &+ 1, ordering: .releasing)
        return element
    }

    /// Consumer only. Moves up to `max` elements to `body` in order, publishing the new head once.
    /// Returns how many were taken.
    @discardableResult
    public func popBatch(max: Int, _ body: (consuming Element) -> Void) -> Int {
        let h = head.load(ordering: .relaxed)
        let available = tail.load(ordering: .acquiring) &- h
        let n = Swift.min(available, max)
        for i in 0..<n { body((slots + ((h &+ i) & mask)).move()) }
        if n > 0 { head.store(h &+ n, ordering: .releasing) }
        return n
    }

    /// Approximate occupancy, for metrics (exact when called by either end while the other is idle).
    public var count: Int {
        tail.load(ordering: .acquiring) &- head.load(ordering: .acquiring)
    }
}

import WardlineJournal

/// The database writer's bounded queue, with its spill state: a small value-type state machine.
///
/// While the database keeps up, items wait here in memory. Once `memoryBound` items are waiting
/// (the database is slow or down), new items are not kept in memory: they are already in the
/// journal, so the queue only remembers the journal range `[spillFrom, spillThrough]` and the
/// writer replays that range from disk once the memory queue is written. Order is kept: while a
/// spill is pending, every new item joins the spill, never the memory queue.
package struct WriterQueue {
    package let memoryBound: Int
    private(set) var items: [IngestItem] = []
    private var head = 0
    private(set) var spill: (from: JournalPosition, through: JournalPosition)?
    /// Wall-clock ms when the oldest waiting item arrived.
    private(set) var oldestArrival: Int64?

    package init(memoryBound: Int) { self.memoryBound = memoryBound }

    package var waiting: Int { items.count - head }

    package enum Admission: Equatable { case queued, spilled }

    package mutating func admit(_ item: IngestItem, now: Int64) -> Admission {
        let journalled = item.position != .start
        if journalled && (spill != nil || waiting >= memoryBound) {
            spill = (spill?.from ?? item.position, item.position)
            return .spilled
        }
        // An item that never reached the journal can only live in memory, whatever the bound.
        if waiting == 0 { oldestArrival = now }
        items.append(item)
        return .queued
    }

    /// Takes up to `max` items when a batch is due (full, old enough, or `force`).
    package mutating func takeBatch(max: Int, maxAgeMillis: Int64, now: Int64, force: Bool) -> [IngestItem] {
        guard waiting > 0 else { return [] }
        let due = force || waiting >= max || now - (oldestArrival ?? now) >= maxAgeMillis
        guard due else { return [] }
        let end = min(head + max, items.count)
        let batch = Array(items[head..<end])
        head = end
        if head == items.count {
            items.removeAll(keepingCapacity: items.capacity <= 4 * max)
            head = 0
            oldestArrival = nil
        } else {
            oldestArrival = now  // the rest have waited at most this long; flush them promptly
            if head > 65536 { items.removeFirst(head); head = 0 }
        }
        return batch
    }

    /// The spilled range to replay, once the memory queue is empty.
    package var pendingSpill: (from: JournalPosition, through: JournalPosition)? {
        waiting == 0 ? spill : nil
    }

    /// After replaying through `through`: done if nothing was spilled meanwhile, otherwise the
    /// next range starts at `through` (its record is read again; the database keeps it once).
    package mutating func replayed(through: JournalPosition) {
        guard let s = spill else { return }
        spill = s.through == through ? nil : (through, s.through)
    }
}

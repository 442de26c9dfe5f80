import WardlineJournal

/// Maps an engine node's journal checkpoint back to offsets of the device-message topic.
///
/// An engine node journals each record it reads (a scratch journal: the topic is the record of
/// truth) and its writers move the checkpoint as usual. A partition's offset may move to the
/// first record still at or past the checkpoint: replaying the partition from there regenerates
/// everything not committed, as a journal replay does on one machine. Owned by the intake thread.
package struct OffsetTracker {
    package struct Entry: Equatable {
        package var position: JournalPosition
        package var offset: Int64
        package var receivedAt: Int64
    }

    /// Where a partition is to be read again from, and the ingest clock of that record.
    package struct Floor: Equatable {
        package var nextOffset: Int64
        package var receivedAt: Int64?
        package init(nextOffset: Int64, receivedAt: Int64?) {
            self.nextOffset = nextOffset
            self.receivedAt = receivedAt
        }
    }

    private var pending: [Int32: [Entry]] = [:]
    private var heads: [Int32: Int] = [:]
    private var floors: [Int32: Floor] = [:]
    /// Floors that got their time since the last `advance`.
    private var timed: Set<Int32> = []

    package init() {}

    /// A partition is read from `floor` on (just adopted).
    package mutating func adopt(_ partition: Int32, from floor: Floor) {
        floors[partition] = floor
        pending[partition] = []
        heads[partition] = 0
    }

    package mutating func drop(_ partition: Int32) {
        timed.remove(partition)
        floors[partition] = nil
        pending[partition] = nil
        heads[partition] = nil
    }

    package var partitions: [Int32] { floors.keys.sorted() }

    /// A record of `partition` was journalled at `position`.
    package mutating func note(_ partition: Int32, offset: Int64, position: JournalPosition, receivedAt: Int64) {
        // The first record read past a floor whose time is unknown (a partition never read, or
        // read to its end) gives the floor its time: the next owner then knows what its replay
        // regenerates, even if this node dies before its floor first moves.
        if pendingCount(partition) == 0, let floor = floors[partition], floor.receivedAt == nil {
            floors[partition] = Floor(nextOffset: offset, receivedAt: receivedAt)
            timed.insert(partition)
        }
        pending[partition, default: []].append(Entry(position: position, offset: offset, receivedAt: receivedAt))
    }

    /// Records still needed by a replay, per partition.
    package func pendingCount(_ partition: Int32) -> Int { (pending[partition]?.count ?? 0) - (heads[partition] ?? 0) }

    /// The newest offset read of `partition`, if any record is pending.
    package func lastPending(_ partition: Int32) -> Entry? {
        guard let list = pending[partition], let head = heads[partition], head < list.count else { return nil }
        return list.last
    }

    /// Moves each partition's floor past the records before `checkpoint`; returns the floors that moved.
    package mutating func advance(to checkpoint: JournalPosition) -> [Int32: Floor] {
        var moved: [Int32: Floor] = [:]
        for p in timed { if let f = floors[p] { moved[p] = f } }
        timed.removeAll()
        for (p, list) in pending {
            var head = heads[p] ?? 0
            let before = head
            while head < list.count, list[head].position < checkpoint { head += 1 }
            guard head > before else { continue }
            let floor = head < list.count ? Floor(nextOffset: list[head].offset, receivedAt: list[head].receivedAt)
                                          : Floor(nextOffset: list[head - 1].offset + 1, receivedAt: nil)
            floors[p] = floor
            moved[p] = floor
            if head > 4096 && head * 2 > list.count {
                pending[p] = Array(list[head...])
                head = 0
            }
            heads[p] = head
        }
        return moved
    }

    package func floor(_ partition: Int32) -> Floor? { floors[partition] }
}

/// How many partitions of the device-message topic one engine node should hold, and which to try.
///
/// Every engine node holds a shared "member" advisory lock, so each can count the others; each
/// aims for its fair share, ceil(partitions / members), and takes free partitions up to it. A node
/// that has just joined waits `settleMillis` first, so nodes started together see each other
/// before the first one takes everything. Nodes never take a partition another holds (the lock
/// says no); a node above its share keeps what it has (handing a partition over needs its writes
/// committed first; it happens when a node stops or dies). Pure: the clock is passed in.
package struct PartitionShare {
    package let partitions: Int
    package let settleMillis: Int64
    private let joinedAt: Int64

    package init(partitions: Int, joinedAt: Int64, settleMillis: Int64 = 3000) {
        precondition(partitions > 0)
        self.partitions = partitions
        self.joinedAt = joinedAt
        self.settleMillis = settleMillis
    }

    package func share(members: Int) -> Int {
        let m = max(1, members)
        return (partitions + m - 1) / m
    }

    /// The partitions to try to lock now, in order: none while settling; otherwise, until the
    /// share is reached, those this node does not hold, starting from an offset spread by
    /// `seed` so nodes do not all try the same ones first.
    package func toTry(holding: Set<Int32>, members: Int, now: Int64, seed: Int) -> [Int32] {
        guard now - joinedAt >= settleMillis else { return [] }
        let room = share(members: members) - holding.count
        guard room > 0 else { return [] }
        let start = ((seed % partitions) + partitions) % partitions
        return (0..<partitions).map { Int32((start + $0) % partitions) }.filter { !holding.contains($0) }
    }
}

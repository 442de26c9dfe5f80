import Testing
import WardlineIngest
import WardlineJournal

@Suite struct PartitionShareTests {
    @Test func aNodeWaitsToSeeTheOthersThenTakesItsFairShare() {
        let share = PartitionShare(partitions: 12, joinedAt: 1_000, settleMillis: 3_000)
        #expect(share.toTry(holding: [], members: 1, now: 2_000, seed: 0).isEmpty)  // still settling
        #expect(share.share(members: 3) == 4)
        #expect(share.share(members: 5) == 3)
        #expect(share.share(members: 0) == 12)
        let candidates = share.toTry(holding: [0, 1], members: 3, now: 4_000, seed: 5)
        #expect(candidates.first == 5 && !candidates.contains(0) && !candidates.contains(1))
        #expect(share.toTry(holding: [0, 1, 2, 3], members: 3, now: 4_000, seed: 0).isEmpty)
    }

    @Test func whenANodeDiesTheSurvivorsShareGrows() {
        let share = PartitionShare(partitions: 12, joinedAt: 0)
        #expect(share.toTry(holding: [0, 1, 2, 3], members: 2, now: 10_000, seed: 0).count == 8)  // room for 2 of them
        #expect(share.share(members: 2) == 6)
    }
}

@Suite struct OffsetTrackerTests {
    func position(_ n: Int) -> JournalPosition { JournalPosition(segment: 1, offset: UInt32(n * 64)) }

    @Test func theFloorFollowsTheCheckpointPerPartition() {
        var t = OffsetTracker()
        t.adopt(0, from: .init(nextOffset: 100, receivedAt: 5))
        t.adopt(1, from: .init(nextOffset: 0, receivedAt: nil))
        // Records of both partitions, interleaved in the journal.
        t.note(0, offset: 100, position: position(1), receivedAt: 10)
        t.note(1, offset: 0, position: position(2), receivedAt: 11)
        t.note(0, offset: 101, position: position(3), receivedAt: 12)
        t.note(1, offset: 1, position: position(4), receivedAt: 13)
        // Partition 1's floor got its time from its first record.
        var moved = t.advance(to: position(1))
        #expect(moved[1] == .init(nextOffset: 0, receivedAt: 11))
        #expect(moved[0] == nil)
        moved = t.advance(to: position(3))
        #expect(moved[0] == .init(nextOffset: 101, receivedAt: 12))
        #expect(moved[1] == .init(nextOffset: 1, receivedAt: 13))
        moved = t.advance(to: position(5))
        // Everything committed: read again from after the last record, time unknown until the next.
        #expect(moved[0] == .init(nextOffset: 102, receivedAt: nil))
        #expect(t.pendingCount(0) == 0)
        t.note(0, offset: 102, position: position(6), receivedAt: 20)
        #expect(t.advance(to: position(6))[0] == .init(nextOffset: 102, receivedAt: 20))
    }

    @Test func aCheckpointThatDoesNotMoveMovesNoFloor() {
        var t = OffsetTracker()
        t.adopt(3, from: .init(nextOffset: 7, receivedAt: 1))
        t.note(3, offset: 7, position: position(10), receivedAt: 2)
        #expect(t.advance(to: position(10)).isEmpty)
        #expect(t.floor(3) == .init(nextOffset: 7, receivedAt: 1))
    }

    @Test func memoryStaysBounded() {
        var t = OffsetTracker()
        t.adopt(0, from: .init(nextOffset: 0, receivedAt: 0))
        for i in 1...100_000 {
            t.note(0, offset: Int64(i), position: position(i), receivedAt: Int64(i))
            if i % 1000 == 0 { _ = t.advance(to: position(i - 10)) }
        }
        #expect(t.pendingCount(0) < 1100)
    }
}

import Testing
import WardlineCore
import WardlineJournal
@testable import WardlineServer
import WardlineIngest

@Suite struct WriterQueueTests {
    func item(_ n: UInt32) -> IngestItem {
        IngestItem(position: JournalPosition(segment: 1, offset: n * 8),
                   event: .deviceStatus(DeviceStatus(deviceID: "d\(n)", state: .online, receivedAt: 0)))
    }

    @Test func flushesWhenFullOrOld() {
        var q = WriterQueue(memoryBound: 100)
        for n in UInt32(0)..<3 { _ = q.admit(item(n), now: 1000) }
        #expect(q.takeBatch(max: 5, maxAgeMillis: 50, now: 1010, force: false).isEmpty, "not full, not old")
        #expect(q.takeBatch(max: 5, maxAgeMillis: 50, now: 1050, force: false).count == 3, "old enough")
        for n in UInt32(0)..<7 { _ = q.admit(item(n), now: 2000) }
        #expect(q.takeBatch(max: 5, maxAgeMillis: 50, now: 2000, force: false).count == 5, "full batch")
        #expect(q.takeBatch(max: 5, maxAgeMillis: 50, now: 2000, force: true).count == 2, "forced at shutdown")
        #expect(q.waiting == 0)
    }

    @Test func spillsPastTheBoundAndKeepsOrder() {
        var q = WriterQueue(memoryBound: 2)
        #expect(q.admit(item(0), now: 0) == .queued)
        #expect(q.admit(item(1), now: 0) == .queued)
        #expect(q.admit(item(2), now: 0) == .spilled)
        let batch = q.takeBatch(max: 10, maxAgeMillis: 0, now: 0, force: true)
        #expect(batch.map(\.position.offset) == [0, 8])
        // Once spilling, everything joins the spill even though memory has room again.
        #expect(q.admit(item(3), now: 0) == .spilled)
        let spill = q.pendingSpill
        #expect(spill?.from.offset == 16 && spill?.through.offset == 24)
        // Something arrived during the replay: the next range starts where the replay ended.
        #expect(q.admit(item(4), now: 0) == .spilled)
        q.replayed(through: JournalPosition(segment: 1, offset: 24))
        #expect(q.pendingSpill?.from.offset == 24 && q.pendingSpill?.through.offset == 32)
        q.replayed(through: JournalPosition(segment: 1, offset: 32))
        #expect(q.pendingSpill == nil)
        #expect(q.admit(item(5), now: 0) == .queued)
    }

    @Test func spillWaitsUntilMemoryIsWritten() {
        var q = WriterQueue(memoryBound: 1)
        _ = q.admit(item(0), now: 0)
        _ = q.admit(item(1), now: 0)
        #expect(q.pendingSpill == nil, "memory first, so order holds")
        _ = q.takeBatch(max: 10, maxAgeMillis: 0, now: 0, force: true)
        #expect(q.pendingSpill != nil)
    }

    @Test func itemsOutsideTheJournalAreNeverSpilled() {
        var q = WriterQueue(memoryBound: 1)
        _ = q.admit(item(0), now: 0)
        let unjournalled = IngestItem(position: .start, event: item(1).event)
        #expect(q.admit(unjournalled, now: 0) == .queued)
        #expect(q.waiting == 2)
    }
}

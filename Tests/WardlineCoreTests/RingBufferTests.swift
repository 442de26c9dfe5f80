import Foundation
import Testing
import WardlineCore

@Suite struct RingBufferTests {
    @Test func keepsOrderAndRefusesWhenFull() {
        let ring = RingBuffer<Int>(capacity: 4)
        #expect(ring.capacity == 4)
        for i in 0..<4 { #expect(ring.tryPush(i)) }
        #expect(!ring.tryPush(99), "a full ring refuses instead of overwriting")
        #expect(ring.count == 4)
        #expect(ring.pop() == 0)
        #expect(ring.tryPush(4))
        var out: [Int] = []
        ring.popBatch(max: 10) { out.append($0) }
        #expect(out == [1, 2, 3, 4])
        #expect(ring.pop() == nil)
    }

    @Test func roundsCapacityUpToPowerOfTwo() {
        #expect(RingBuffer<Int>(capacity: 1000).capacity == 1024)
        #expect(RingBuffer<Int>(capacity: 1).capacity == 2)
    }

    @Test func releasesElementsLeftInside() {
        final class Token { static let alive = Counter(); init() { Token.alive.add(1) }; deinit { Token.alive.add(-1) } }
        final class Counter: @unchecked Sendable { let lock = NSLock(); var n = 0; func add(_ d: Int) { lock.lock(); n += d; lock.unlock() } }
        do {
            let ring = RingBuffer<Token>(capacity: 8)
            for _ in 0..<5 { _ = ring.tryPush(Token()) }
            _ = ring.pop()
        }
        #expect(Token.alive.n == 0)
    }

    /// One producer and one consumer thread hammer a small ring: every item arrives exactly once,
    /// in order. Run under ThreadSanitizer by the test script as well.
    @Test func everyItemArrivesOnceInOrderAcrossThreads() async {
        let total = 2_000_000
        let ring = RingBuffer<Int>(capacity: 64)
        let done = DispatchSemaphore(value: 0)
        final class Result: @unchecked Sendable { var received = 0; var outOfOrder = 0; var sum = 0 }
        let result = Result()
        let consumer = Thread {
            var expected = 0
            while expected < total {
                let n = ring.popBatch(max: 32) { value in
                    if value != expected { result.outOfOrder += 1 }
                    result.sum &+= value
                    expected += 1
                }
                if n == 0 { sched_yield() }
            }
            result.received = expected
            done.signal()
        }
        let producer = Thread {
            for i in 0..<total { while !ring.tryPush(i) { sched_yield() } }
            done.signal()
        }
        consumer.start()
        producer.start()
        done.wait()
        done.wait()
        #expect(result.received == total)
        #expect(result.outOfOrder == 0)
        #expect(result.sum == (total - 1) * total / 2)
        #expect(ring.pop() == nil)
    }
}

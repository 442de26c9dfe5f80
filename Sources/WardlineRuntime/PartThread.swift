import Synchronization

/// The OS thread of one long-lived part and its stop handshake, written once for every part
/// (writers, relays, the consumer, the watches): a stop request with a deadline, a pause that a
/// stop or a doorbell ends early, and the end of the thread as something to `await`.
///
/// Parts loop on their own threads because their work blocks (libpq, librdkafka, rabbitmq-c,
/// the ring); Swift's cooperative pool only ever awaits `finished()`.
package final class PartThread: Sendable {
    package let name: String
    /// Rung by `requestStop` and by whoever has work for the part: ends a `pause` early.
    package let doorbell = Doorbell()
    private let stopRequested = Atomic<Bool>(false)
    private let deadline = Atomic<Int64>(.max)
    private let end = Completion()

    package init(name: String) { self.name = name }

    /// Runs `body` on a new thread; the part is finished when it returns.
    package func start(_ body: @escaping @Sendable () -> Void) {
        startDedicatedThread(named: name) { [end] in
            body()
            end.complete()
        }
    }

    /// Asks the loop to finish its work in hand and end; after `deadline` (epoch ms) it should give
    /// up on what cannot be done (the journal or the database keeps it for the next start).
    package func requestStop(deadline: Int64 = .max) {
        self.deadline.store(deadline, ordering: .relaxed)
        stopRequested.store(true, ordering: .releasing)
        doorbell.ring()
    }

    package var isStopping: Bool { stopRequested.load(ordering: .acquiring) }

    /// Stopping, and the deadline for stopping has passed.
    package var isPastDeadline: Bool { isStopping && wallClockMillis() > deadline.load(ordering: .relaxed) }

    /// Sleeps up to `millis`, less when a stop is requested or the doorbell rings.
    package func pause(millis: Int) {
        guard !isStopping else { return }
        doorbell.wait(micros: millis * 1000)
    }

    /// Returns once the thread's body has returned.
    package func finished() async { await end.wait() }
}

/// Something that happens once, awaited from async code.
package final class Completion: Sendable {
    private let state = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    package init() {}

    package func complete() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            guard !s.done else { return [] }
            s.done = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }

    package func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s -> Bool in
                if s.done { return true }
                s.waiters.append(c)
                return false
            }
            if resumeNow { c.resume() }
        }
    }
}

/// When shutdown began, so that every part's grace is measured from the same moment (the writers
/// flush one after another, but the whole shutdown is bounded by one grace, not one per part).
package final class ShutdownClock: Sendable {
    private let began = Atomic<Int64>(0)
    package let graceMillis: Int64

    package init(graceMillis: Int64) { self.graceMillis = graceMillis }

    /// Notes the start of shutdown (the first call counts).
    package func begin() { _ = began.compareExchange(expected: 0, desired: wallClockMillis(), ordering: .relaxed) }

    /// The epoch ms by which parts give up on what cannot be done.
    package var deadline: Int64 {
        begin()
        return began.load(ordering: .relaxed) + graceMillis
    }
}

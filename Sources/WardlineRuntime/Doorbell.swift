import Dispatch
import Synchronization

/// Wakes one waiting thread as soon as there is work, instead of letting it find the work on its
/// next poll: alarms go from the engine to the store, and from the store to Kafka and RabbitMQ,
/// without waiting out an idle sleep at each step. Rings coalesce; a wait also ends on its timeout,
/// so a lost ring costs one poll period, never a stall.
package final class Doorbell: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let rung = Atomic<Bool>(false)

    package init() {}

    package func ring() {
        if !rung.exchange(true, ordering: .acquiringAndReleasing) { semaphore.signal() }
    }

    package func wait(micros: Int) {
        _ = semaphore.wait(timeout: .now() + .microseconds(micros))
        rung.store(false, ordering: .releasing)
    }
}

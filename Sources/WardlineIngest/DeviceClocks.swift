import Synchronization

/// The engine's measured device clock offsets, published for REST and `/metrics`. The consumer
/// thread replaces the snapshot every couple of seconds; readers take a copy under the lock.
package final class DeviceClocks: Sendable {
    private let offsets = Mutex<[String: Int64]>([:])
    /// The bound beyond which a clock is a technical alarm (ms; 0: no alarm).
    package let alarmAbove: Int64

    package init(alarmAbove: Int64) { self.alarmAbove = alarmAbove }

    package func replace(_ new: [String: Int64]) { offsets.withLock { $0 = new } }

    /// Milliseconds the device's clock is ahead of Wardline's (negative: behind), nil if unmeasured.
    package func offset(of device: String) -> Int64? { offsets.withLock { $0[device] } }

    /// The largest offset either way, and how many devices are beyond the alarm bound.
    package var summary: (largest: Int64, beyondBound: Int) {
        offsets.withLock { o in
            var largest: Int64 = 0, beyond = 0
            for v in o.values {
                largest = max(largest, Int64(v.magnitude))
                if alarmAbove > 0, v.magnitude > alarmAbove.magnitude { beyond += 1 }
            }
            return (largest, beyond)
        }
    }
}

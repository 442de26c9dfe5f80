import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Epoch milliseconds from the wall clock.
@inline(__always)
public func wallClockMillis() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

/// Runs `body` on a new OS thread of its own: Wardline's blocking loops never run on Swift's
/// cooperative pool.
public func startDedicatedThread(named name: String, _ body: @escaping @Sendable () -> Void) {
    let thread = Thread(block: body)
    thread.name = name
    thread.start()
}

/// Sleeps the calling thread (never used on Swift's cooperative pool).
@inline(__always)
public func sleepMicros(_ micros: Int) {
    var ts = timespec(tv_sec: micros / 1_000_000, tv_nsec: (micros % 1_000_000) * 1000)
    nanosleep(&ts, nil)
}

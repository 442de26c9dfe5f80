import Foundation
import WardlineCore
import WardlineJournal

/// An ingest event with the journal position of the message it came from (`.start`: not journalled).
public struct IngestItem: Sendable {
    public var position: JournalPosition
    public var event: IngestEvent
    public init(position: JournalPosition, event: IngestEvent) {
        self.position = position
        self.event = event
    }
}

extension IngestEvent {
    /// When Wardline received the message (its clock, epoch ms), as the journal recorded it: the
    /// engine's `now` for this event, so a replay after a restart gives the same alarms at the same times.
    var receivedAt: Int64 {
        switch self {
        case .reading(let r): r.receivedAt
        case .deviceStatus(let s): s.receivedAt
        case .deviceAlert(let a): a.receivedAt
        case .rejected(let m): m.receivedAt
        }
    }
}

/// Something downstream of the ring (the database writer, the engine). `accept` is called on the
/// consumer thread and must not block: each sink keeps its own bounded queue.
public protocol PipelineSink: AnyObject, Sendable {
    func accept(_ item: IngestItem)
}

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

#if canImport(Glibc)
import Glibc
#endif


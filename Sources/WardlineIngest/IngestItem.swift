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
    package var receivedAt: Int64 {
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

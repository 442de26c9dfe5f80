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

/// Something downstream of the ring (the database writer, the engine). `accept` is called on the
/// consumer thread and must not block: each sink keeps its own bounded queue.
public protocol PipelineSink: AnyObject, Sendable {
    func accept(_ item: IngestItem)
}

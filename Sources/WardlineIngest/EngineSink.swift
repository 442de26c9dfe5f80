import WardlineEngine
import WardlineJournal

/// Something downstream of the engine (the alarm store, later the WebSocket hub, Kafka, the task
/// queue). `accept` is called on the consumer thread and must not block.
public protocol EngineSink: AnyObject, Sendable {
    func accept(_ event: EngineEvent)
    /// As `accept(_:)`, with the journal position a replay must start from to regenerate the event
    /// (nil when no journalled message caused it: timers, commands). Durable sinks use it.
    func accept(_ event: EngineEvent, replayFrom: JournalPosition?)
}

extension EngineSink {
    public func accept(_ event: EngineEvent, replayFrom: JournalPosition?) { accept(event) }
}

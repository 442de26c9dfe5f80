import Synchronization
import WardlineJournal

/// The journal checkpoint, moved only as far as the slowest durable writer allows.
///
/// Each writer whose output must survive a kill -9 (the vitals writer, the alarm writer) is a
/// source saying "replaying from here would miss nothing of mine"; the checkpoint advances to the
/// minimum over all sources, so a restart replays every message whose readings, alarm transitions,
/// outbox and task rows or device status are not all committed. Thread-safe: any writer may call
/// `advance()` after a commit.
package final class CheckpointKeeper: Sendable {
    private let checkpoint: Mutex<JournalCheckpoint>
    private let sources = Mutex<[@Sendable () -> JournalPosition]>([])
    private let raw: Atomic<UInt64>

    package init(_ checkpoint: JournalCheckpoint) {
        raw = Atomic(checkpoint.position.rawValue)
        self.checkpoint = Mutex(checkpoint)
    }

    /// Where the next start replays from.
    package var position: JournalPosition { JournalPosition(rawValue: raw.load(ordering: .acquiring)) }

    /// Adds a writer; call before it commits anything.
    package func track(_ source: @escaping @Sendable () -> JournalPosition) {
        sources.withLock { $0.append(source) }
    }

    /// Moves the checkpoint to the minimum of the sources (never backwards).
    package func advance() {
        let target = sources.withLock { $0.map { $0() }.min() }
        guard let target else { return }
        advance(to: target)
    }

    /// Moves the checkpoint to `position` whatever the sources say: at start, when the journal
    /// holds nothing unreplayed and no writer has anything yet.
    package func advance(to position: JournalPosition) {
        checkpoint.withLock { c in
            c.advance(to: position)
            raw.store(c.position.rawValue, ordering: .releasing)
        }
    }
}

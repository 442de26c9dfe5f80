import Foundation
import Logging
import Synchronization
import WardlineCore
import WardlineJournal
import WardlineRuntime
import WardlineStore

/// Writes readings, rejections, device status and device alerts to TimescaleDB in batches, on its own thread.
///
/// Flushes when a batch is full or its oldest item is `batchAgeMillis` old. After each commit it
/// reports how far it has committed (`committedThrough`) to the checkpoint keeper. While the
/// database is down it keeps retrying with backoff; its queue holds `memoryBound` items and the
/// rest wait in the journal (see `WriterQueue`). An item the database refuses for its data is put
/// aside in `put_aside` with its error and the rest of its batch is written (`DataErrorSplit`).
package final class BatchWriter: PipelineSink, @unchecked Sendable {
    package struct Settings {
        package var databaseURL: String
        package var batchSize: Int
        package var batchAgeMillis: Int64

        package init(databaseURL: String, batchSize: Int, batchAgeMillis: Int64) {
            self.databaseURL = databaseURL
            self.batchSize = batchSize
            self.batchAgeMillis = batchAgeMillis
        }
    }

    private let settings: Settings
    private let queue: Mutex<WriterQueue>
    private let counters: PipelineCounters
    private let logger: Logger
    private let reader: JournalReader
    private let keeper: CheckpointKeeper
    private let decoder: MessageDecoder
    private let journalID: String
    private let checkpointRaw: Atomic<UInt64>
    package let thread = PartThread(name: "wardline-writer")
    /// 0: not yet connected, 1: up, 2: down.
    private let databaseState = Atomic<Int>(0)
    private let log: RateLimitedLog
    // Writer-thread state.
    private var store: VitalsStore?
    private var abandoned = false

    package init(settings: Settings, memoryBound: Int, counters: PipelineCounters, logger: Logger,
         reader: JournalReader, keeper: CheckpointKeeper, decoder: MessageDecoder, journalID: String) {
        self.journalID = journalID
        self.settings = settings
        self.queue = Mutex(WriterQueue(memoryBound: memoryBound))
        self.counters = counters
        self.logger = logger
        self.reader = reader
        self.keeper = keeper
        self.log = RateLimitedLog(logger: logger)
        self.decoder = decoder
        self.checkpointRaw = Atomic(keeper.position.rawValue)
    }

    /// Everything up to this journal position is in the database (or put aside).
    package var committedThrough: JournalPosition { JournalPosition(rawValue: checkpointRaw.load(ordering: .acquiring)) }
    package var isDatabaseUp: Bool { databaseState.load(ordering: .relaxed) == 1 }
    package var waiting: Int { queue.withLock { $0.waiting } }

    package func accept(_ item: IngestItem) {
        let admission = queue.withLock { $0.admit(item, now: wallClockMillis()) }
        if admission == .spilled { counters.spilledToJournal.add() }
    }

    package func start() { thread.start { [self] in run() } }

    /// Call once nothing more will be accepted: flushes everything, then the thread ends. Past
    /// `deadline` with the database down, the rest stays in the journal for the next start.
    package func stopAfterFlushing(deadline: Int64) { thread.requestStop(deadline: deadline) }

    private func run() {
        while !abandoned {
            let stopping = thread.isStopping
            let batch = queue.withLock {
                $0.takeBatch(max: settings.batchSize, maxAgeMillis: settings.batchAgeMillis, now: wallClockMillis(), force: stopping)
            }
            if !batch.isEmpty { write(batch); continue }
            if let spill = queue.withLock({ $0.pendingSpill }) { replay(spill); continue }
            if stopping { break }
            thread.pause(millis: 2)
        }
        if abandoned {
            logger.error("database unreachable at shutdown; unwritten readings stay in the journal for the next start",
                         metadata: ["waiting": "\(waiting)"])
        }
        store = nil
    }

    // MARK: writing

    private func write(_ batch: [IngestItem], replaying: Bool = false) {
        var pause: Int64 = 100
        while true {
            do {
                let began = DispatchTime.now().uptimeNanoseconds
                let store = try connectedStore()
                var outcome = BatchOutcome()
                var batches = 0
                // The server may refuse what is in the batch (not an outage): find the items it
                // refuses, put them aside, keep the rest. Anything else is retried, never dropped.
                let split = try DataErrorSplit.write(batch[...], { part in
                    let o = try write(part, to: store, duplicatesLikely: replaying)
                    outcome.readingsInserted += o.readingsInserted
                    outcome.readingsDuplicate += o.readingsDuplicate
                    outcome.rejectedInserted += o.rejectedInserted
                    batches += 1
                }, putAside: { item, error in
                    try putAside(item, error, db: store.db)
                })
                if split.putAside > 0 { counters.batchFailures.add() }
                counters.batchWritten(nanoseconds: DispatchTime.now().uptimeNanoseconds - began)
                committed(outcome, batches: batches, last: batch.last?.position)
                return
            } catch {
                databaseWentDown(error)
            }
            if thread.isPastDeadline { abandoned = true; return }
            sleepMicros(Int(pause) * 1000)
            pause = min(pause * 2, 5000)
        }
    }

    private func write(_ items: ArraySlice<IngestItem>, to store: VitalsStore, duplicatesLikely: Bool) throws -> BatchOutcome {
        var readings: [Reading] = []
        var rejected: [RejectedRow] = []
        var statuses: [DeviceStatus] = []
        var alerts: [DeviceAlert] = []
        readings.reserveCapacity(items.count)
        for item in items {
            switch item.event {
            case .reading(let r): readings.append(r)
            case .rejected(let m): rejected.append(RejectedRow(message: m, journalID: journalID, journalPosition: item.position.rawValue))
            case .deviceStatus(let s): statuses.append(s)
            case .deviceAlert(let a): alerts.append(a)  // as it came, for replays; the alarm it raises is the engine's
            }
        }
        return try store.write(readings: readings, rejected: rejected, statuses: statuses, alerts: alerts, duplicatesLikely: duplicatesLikely)
    }

    private func putAside(_ item: IngestItem, _ error: PostgresError, db: PostgresConnection) throws {
        let row: PutAsideRow
        switch item.event {
        case .reading(let r): row = .reading(r)
        case .rejected(let m): row = .rejected(RejectedRow(message: m, journalID: journalID, journalPosition: item.position.rawValue))
        case .deviceStatus(let s): row = .status(s)
        case .deviceAlert(let a): row = .alert(a)
        }
        if try PutAsideStore.insert(row, error: error, db: db) {
            counters.putAside(.vitals).add()
            counters.unstorable.add()
        }
        log.warning(key: "put-aside." + row.kind, now: wallClockMillis(), "database refused a row; put aside in put_aside, the rest of its batch stored",
                    metadata: ["kind": "\(row.kind)", "key": "\(row.key)", "sqlstate": "\(error.sqlState ?? "-")"])
    }

    private func committed(_ outcome: BatchOutcome, batches: Int, last: JournalPosition?) {
        counters.rowsInserted.add(outcome.readingsInserted)
        counters.duplicateReadings.add(outcome.readingsDuplicate)
        counters.rejectedStored.add(outcome.rejectedInserted)
        counters.batchesCommitted.add(batches)
        if let last, last != .start {
            checkpointRaw.store(max(last.rawValue, checkpointRaw.load(ordering: .relaxed)), ordering: .releasing)
            keeper.advance()
        }
    }

    private func connectedStore() throws -> VitalsStore {
        if let store { return store }
        let db = try PostgresConnection(url: settings.databaseURL)
        let fresh = VitalsStore(db: db)
        store = fresh
        if databaseState.exchange(1, ordering: .relaxed) != 1 {
            logger.notice("database connected; writing", metadata: ["waiting": "\(waiting)", "server": "\(db.server)"])
        }
        return fresh
    }

    private func databaseWentDown(_ error: any Error) {
        store = nil
        counters.batchFailures.add()
        if databaseState.exchange(2, ordering: .relaxed) != 2 {
            logger.error("database unavailable; holding readings in memory, then in the journal",
                         metadata: ["error": "\(error)", "waiting": "\(waiting)"])
        }
    }

    // MARK: replaying the spill

    private func replay(_ spill: (from: JournalPosition, through: JournalPosition)) {
        logger.notice("replaying readings spilled to the journal", metadata: ["from": "\(spill.from)", "through": "\(spill.through)"])
        var batch: [IngestItem] = []
        var replayed = 0
        do {
            try reader.read(from: spill.from, through: spill.through) { record in
                let events = decoder.decode(topic: record.topic, payload: Data(record.payload),
                                            payloadSize: record.payloadSize, receivedAt: record.receivedAt)
                for e in events { batch.append(IngestItem(position: record.position, event: e)) }
                if batch.count >= settings.batchSize {
                    write(batch, replaying: true)
                    replayed += batch.count
                    batch.removeAll(keepingCapacity: true)
                }
                return !abandoned
            }
        } catch {
            logger.critical("journal replay failed; readings in this range may be missing", metadata: ["error": "\(error)"])
        }
        if !batch.isEmpty && !abandoned { write(batch, replaying: true); replayed += batch.count }
        counters.replayedFromJournal.add(replayed)
        if !abandoned { queue.withLock { $0.replayed(through: spill.through) } }
    }
}

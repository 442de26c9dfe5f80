import Foundation
import Logging
import Synchronization
import WardlineCore
import WardlineEngine
import WardlineJournal
import WardlineKafka
import WardlineRuntime
import WardlineStore

/// `--role engine`: this node's intake. It holds a fair share of the device-message topic's
/// partitions (`PartitionShare`, `PartitionLease`), reads their records, and feeds each through
/// the same path as one process: a (scratch) journal, the decoder, the ring, the engine, the
/// writers. On adopting a partition it first continues the partition's open alarms from the store
/// and learns which transitions the store already holds past the partition's floor, then reads
/// from that floor: the replay regenerates windows and persistence, and nothing is stored twice.
/// The floor moves (in PostgreSQL, fenced by the lock) only as far as the journal checkpoint the
/// writers moved: a kill -9 of this node loses nothing the next owner does not read again.
package final class PartitionIntake: @unchecked Sendable {
    package struct Settings: Sendable {
        package var brokers: String
        package var topic: String
        package var partitions: Int
        package var node: String
        package var databaseURL: String
        package var settleMillis: Int64 = 3000
        package init(brokers: String, topic: String, partitions: Int, node: String, databaseURL: String) {
            self.brokers = brokers
            self.topic = topic
            self.partitions = partitions
            self.node = node
            self.databaseURL = databaseURL
        }
    }

    private let settings: Settings
    private var ingest: MQTTIngest!
    private let pipeline: PipelineConsumer
    private let commands: EngineCommandQueue
    private let keeper: CheckpointKeeper
    private let ringCount: @Sendable () -> Int
    private let counters: PipelineCounters
    private let health: HealthBoard
    private let logger: Logger
    private let log: RateLimitedLog
    package let thread = PartThread(name: "wardline-partitions")
    // Intake-thread state (and the stop part's, once the thread has ended).
    private let lease: PartitionLease
    private var consumer: KafkaPartitionConsumer?
    private var tracker = OffsetTracker()
    private var adopted: Set<Int32> = []
    private var share: PartitionShare?

    package init(settings: Settings, pipeline: PipelineConsumer, commands: EngineCommandQueue,
                 keeper: CheckpointKeeper, ringCount: @escaping @Sendable () -> Int, counters: PipelineCounters,
                 health: HealthBoard, logger: Logger) {
        self.settings = settings
        self.pipeline = pipeline
        self.commands = commands
        self.keeper = keeper
        self.ringCount = ringCount
        self.counters = counters
        self.health = health
        self.logger = logger
        self.log = RateLimitedLog(logger: logger)
        lease = PartitionLease(databaseURL: settings.databaseURL, topic: settings.topic, owner: settings.node)
    }

    /// Starts reading, into `ingest` (made once the start-up replay is done).
    package func start(into ingest: MQTTIngest) throws {
        self.ingest = ingest
        let c = try KafkaPartitionConsumer(brokers: settings.brokers, topic: settings.topic, clientID: settings.node)
        let found = try c.partitionCount()
        guard found == settings.partitions else {
            throw PartitionLease.Lost(description: "\(settings.topic) has \(found) partitions; WARDLINE_KAFKA_DEVICE_PARTITIONS says \(settings.partitions)")
        }
        consumer = c
        health.report("partitions", ok: false, detail: "joining")
        thread.start { [self] in run() }
    }

    /// Stops reading (the writers then drain and flush).
    package func stop() { thread.requestStop() }

    /// After the writers flushed: the floors move as far as they committed, then the locks go.
    package func leave() {
        if lease.isConnected { saveFloors() }
        lease.leave()
        counters.partitionsHeld.store(0, ordering: .relaxed)
        logger.notice("partitions released", metadata: ["partitions": "\(adopted.sorted())"])
        adopted = []
    }

    private func run() {
        var nextOwnership: Int64 = 0
        var nextSave: Int64 = 0
        let seed = Int(truncatingIfNeeded: LeadDuty.key(settings.node) & 0xffff)
        while !thread.isStopping {
            let now = wallClockMillis()
            if !lease.isConnected {
                guard connect(now: now) else { thread.pause(millis: 1000); continue }
            }
            if now >= nextOwnership {
                nextOwnership = now + 1000
                takeShare(now: now, seed: seed)
            }
            if now >= nextSave {
                nextSave = now + 200
                saveFloors()
            }
            guard !adopted.isEmpty, let consumer else { thread.pause(millis: 200); continue }
            do {
                guard let record = try consumer.next(timeoutMillis: 50) else { continue }
                take(record)
            } catch {
                log.warning(key: "partitions-consume", now: now, "reading the device-message topic failed; librdkafka retries",
                            metadata: ["error": "\(error)"])
            }
        }
    }

    private func connect(now: Int64) -> Bool {
        do {
            try lease.join()
            share = PartitionShare(partitions: settings.partitions, joinedAt: now, settleMillis: settings.settleMillis)
            logger.notice("engine node joined", metadata: ["topic": "\(settings.topic)", "node": "\(settings.node)",
                                                           "lock_namespace": "\(lease.namespace)"])
            return true
        } catch {
            health.report("partitions", ok: false, detail: "database unreachable: \(error)")
            log.warning(key: "partitions-join", now: now, "cannot join the engine nodes; retrying", metadata: ["error": "\(error)"])
            return false
        }
    }

    private func takeShare(now: Int64, seed: Int) {
        guard let share else { return }
        do {
            let members = try lease.members()
            let target = share.share(members: members)
            for p in share.toTry(holding: adopted, members: members, now: now, seed: seed) where adopted.count < target {
                if try lease.tryLock(p) { try adopt(p) }
            }
            if now - share.settleMillis >= 0, !adopted.isEmpty || members > 0 {
                health.report("partitions", ok: true, detail: "")
            }
        } catch {
            lost(error)
        }
    }

    /// Continues partition `p`: its open alarms, what the store holds past its floor, then its records.
    private func adopt(_ p: Int32) throws {
        let floor = try lease.floor(p)
        let open = try lease.openAlarms(partition: p, partitions: settings.partitions)
        let stored = try floor?.receivedAt.map {
            try lease.latestTransitions(partition: p, partitions: settings.partitions, since: $0 - 1000)
        } ?? []
        pipeline.merge(echoes: ReplayEchoes(stored))
        let restored = onEngine { engine, now in engine.restore(openAlarms: open, now: now); return [] }
        guard restored else { throw PartitionLease.Lost(description: "the engine did not take partition \(p)'s alarms within 10 s") }
        tracker.adopt(p, from: .init(nextOffset: floor?.nextOffset ?? 0, receivedAt: floor?.receivedAt))
        try consumer?.assign([(p, floor.map { .offset($0.nextOffset) } ?? .beginning)])
        adopted.insert(p)
        counters.partitionsAdopted.add()
        counters.partitionsHeld.store(adopted.count, ordering: .relaxed)
        logger.notice("partition adopted", metadata: ["partition": "\(p)", "from_offset": "\(floor.map { String($0.nextOffset) } ?? "beginning")",
                                                      "open_alarms": "\(open.count)", "stored_alarm_keys": "\(stored.count)"])
    }

    /// The session is gone (or refused a floor): another node may hold these partitions now. Stop
    /// reading them and forget their patients; they are adopted again, from the store, once a
    /// session holds their locks again.
    private func lost(_ error: Error) {
        lease.leave()
        guard !adopted.isEmpty else { return }
        let gone = adopted
        try? consumer?.unassign(Array(gone))
        for p in gone { tracker.drop(p) }
        adopted = []
        counters.partitionsHeld.store(0, ordering: .relaxed)
        let partitions = settings.partitions
        // What was read while the locks were held goes through the engine with the state it
        // belongs to (and on to the writers, which retry); only then is that state dropped.
        let drainedBy = wallClockMillis() + 2000
        while ringCount() > 0 && wallClockMillis() < drainedBy { sleepMicros(500) }
        _ = onEngine { engine, _ in
            engine.forgetPatients { gone.contains(PatientPartition.of(key: $0, partitions: partitions)) }
            return []
        }
        health.report("partitions", ok: false, detail: "lost the database session: \(error)")
        logger.error("partitions lost with the database session; adopting again from the store",
                     metadata: ["partitions": "\(gone.sorted())", "error": "\(error)"])
    }

    private func take(_ record: KafkaRecord) {
        guard adopted.contains(record.partition) else { return }  // fetched before an unassign
        let r: DeviceTopicRecord
        do { r = try DeviceTopicRecord(decoding: record.value) } catch {
            counters.topicRecordsRefused.add()
            log.warning(key: "partitions-record", now: wallClockMillis(), "device-message topic record refused",
                        metadata: ["partition": "\(record.partition)", "offset": "\(record.offset)", "error": "\(error)"])
            return
        }
        switch r.kind {
        case .deviceMessage:
            var pause = 1000
            while true {
                do {
                    let position = try ingest.handleForwarded(topic: r.topic, payload: r.body, payloadSize: r.payloadSize, receivedAt: r.receivedAt)
                    tracker.note(record.partition, offset: record.offset, position: position, receivedAt: r.receivedAt)
                    return
                } catch {
                    // The scratch journal's disk refused it: hold the partition here, try again.
                    log.warning(key: "partitions-journal", now: wallClockMillis(), "cannot journal a device message; holding intake",
                              metadata: ["error": "\(error)"])
                    if thread.isStopping { return }
                    sleepMicros(pause)
                    pause = min(pause * 2, 500_000)
                }
            }
        case .acknowledge:
            acknowledge(r)
        }
    }

    /// A hub's acknowledgement, in order with the patient's readings: applied once the ring holds
    /// nothing read before it, on the hub's clock (a replay applies it at the same moment, and
    /// finds it done), and answered in `engine_command_results`.
    private func acknowledge(_ r: DeviceTopicRecord) {
        guard let command = try? JSONDecoder().decode(AcknowledgeCommand.self, from: Data(r.body)) else {
            log.warning(key: "partitions-command", now: wallClockMillis(), "unreadable command on the device-message topic", metadata: [:])
            return
        }
        let drainedBy = wallClockMillis() + 2000
        while ringCount() > 0 && wallClockMillis() < drainedBy { sleepMicros(200) }
        let outcome = Mutex<(status: Int, code: String, message: String)>((503, "engine_busy", "the alarm engine did not answer"))
        let counters = counters
        _ = onEngine { engine, _ in
            do {
                let events = try engine.acknowledge(alarmID: command.alarmID, by: command.userID, now: r.receivedAt)
                counters.acknowledgements.add()
                outcome.withLock { $0 = (200, "ok", "") }
                return events
            } catch {
                outcome.withLock { $0 = (409, "cannot_acknowledge", "\(error)") }
                return []
            }
        }
        let answer = outcome.withLock { $0 }
        do {
            try lease.answer(requestID: command.requestID, status: answer.status, code: answer.code, message: answer.message,
                             alarmID: command.alarmID)
            counters.commandsAnswered.add()
        } catch {
            lost(error)
        }
    }

    private func saveFloors() {
        for (p, floor) in tracker.advance(to: keeper.position) where adopted.contains(p) {
            do { try lease.save(p, nextOffset: floor.nextOffset, receivedAt: floor.receivedAt) } catch {
                lost(error)
                return
            }
        }
    }

    /// Runs `body` on the engine's thread (between events) and waits for it, 10 s at most.
    private func onEngine(_ body: @escaping @Sendable (AlertEngine, Int64) -> [EngineEvent]) -> Bool {
        let done = DispatchSemaphore(value: 0)
        commands.enqueue { engine, now in
            defer { done.signal() }
            return body(engine, now)
        }
        return done.wait(timeout: .now() + 10) == .success
    }
}

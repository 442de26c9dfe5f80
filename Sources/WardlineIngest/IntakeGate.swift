import Logging
import Synchronization
import WardlineJournal
import WardlineMQTT
import WardlineRuntime

/// Pauses MQTT intake while the journal has no room (free space below the watermark, the segment
/// bound reached, or a segment the disk refused) and resumes it when room is back.
///
/// The MQTT thread decides a pause, because only it knows whether the message in hand was
/// journalled (`MQTTClient.MessageDisposition`): nothing unjournalled is ever acknowledged, so the
/// broker keeps it for Wardline's persistent session. This gate's own thread measures the free
/// space every 250 ms (the MQTT thread also measures after each new segment), resumes intake,
/// reports the journal on the health board (`/ready`) and in `/metrics`, and logs each change once.
package final class IntakeGate: @unchecked Sendable {
    package let room: JournalRoom
    private let directory: String
    private let oldestNeeded: @Sendable () -> JournalPosition
    private let health: HealthBoard
    private let counters: PipelineCounters
    /// Pauses and resumes are logged at most once a minute each (a refused segment retries every 5 s).
    private let log: RateLimitedLog
    private let freeBytes = Atomic<Int>(Int.max)
    private let segment: Atomic<UInt32>
    private let pausedFor = Mutex<(shortage: JournalRoom.Shortage, since: Int64)?>(nil)
    package let thread = PartThread(name: "wardline-intake-gate")
    /// Set once in `start`, before the gate's thread or the MQTT thread exist.
    private var intake: MQTTClient?
    /// A refused segment is tried again after this long (a full disk that looks fine, an I/O error).
    package static let refusedRetryMillis: Int64 = 5000

    package init(room: JournalRoom, directory: String, segment: UInt32, oldestNeeded: @escaping @Sendable () -> JournalPosition,
         health: HealthBoard, counters: PipelineCounters, logger: Logger) {
        self.room = room
        self.directory = directory
        self.segment = Atomic(segment)
        self.oldestNeeded = oldestNeeded
        self.health = health
        self.counters = counters
        self.log = RateLimitedLog(logger: logger, perInterval: 1, intervalMillis: 60_000)
    }

    package var freeBytesNow: Int { freeBytes.load(ordering: .relaxed) }
    package var isPaused: Bool { pausedFor.withLock { $0 != nil } }

    /// MQTT thread, after each append: what should pause intake now, if anything.
    package func shortage(segment current: UInt32) -> JournalRoom.Shortage? {
        if segment.exchange(current, ordering: .relaxed) != current { measure() }
        return room.shortage(freeBytes: freeBytes.load(ordering: .relaxed), segmentsHeld: segmentsHeld, pausedFor: nil)
    }

    /// MQTT thread: intake pauses for `shortage` once this message is handled.
    package func pausing(for shortage: JournalRoom.Shortage, now: Int64) {
        pausedFor.withLock { $0 = (shortage, now) }
        counters.journalPauses.add()
        log.warning(key: "intake-paused", now: now, "journal has no room; intake paused, the broker keeps readings for this session",
                    metadata: ["reason": "\(shortage)"])
        report(shortage, paused: true)
    }

    /// Starts intake, or waits paused if the journal has no room even now; then watches.
    package func start(intake: MQTTClient) throws {
        self.intake = intake
        measure()
        if let shortage = room.shortage(freeBytes: freeBytesNow, segmentsHeld: segmentsHeld, pausedFor: nil) {
            pausing(for: shortage, now: wallClockMillis())
        } else {
            report(nil, paused: false)
            try intake.start()
        }
        thread.start { [self] in run() }
    }

    /// Stops watching, so intake is not resumed behind a shutdown; await `thread.finished()` after.
    package func stop() { thread.requestStop() }

    private var segmentsHeld: Int { Int(segment.load(ordering: .relaxed) &- oldestNeeded().segment) }

    private func measure() {
        do { freeBytes.store(try JournalRoom.freeBytes(in: directory), ordering: .relaxed) } catch {
            freeBytes.store(0, ordering: .relaxed)  // unknown counts as none: pause rather than guess
        }
    }

    private func run() {
        while !thread.isStopping {
            thread.pause(millis: 250)
            if thread.isStopping { break }
            measure()
            let now = wallClockMillis()
            let paused = pausedFor.withLock { $0 }
            let shortage = room.shortage(freeBytes: freeBytesNow, segmentsHeld: segmentsHeld, pausedFor: paused?.shortage)
            if let paused, shortage == nil, let intake, intake.isPaused, now - paused.since >= retryDelay(paused.shortage) {
                // Cleared before connecting: once connected, the MQTT thread may pause again at once.
                pausedFor.withLock { $0 = nil }
                do {
                    if try intake.resume() {
                        log.notice(key: "intake-resumed", now: now, "journal has room again; intake resumed",
                                   metadata: ["free_mb": "\(freeBytesNow >> 20)", "paused_s": "\((now - paused.since) / 1000)"])
                    }
                } catch {
                    pausedFor.withLock { $0 = $0 ?? (paused.shortage, now) }
                    log.warning(key: "intake-resume-failed", now: now, "could not resume MQTT intake; retrying",
                                metadata: ["error": "\(error)"])
                }
                continue
            }
            report(shortage ?? paused?.shortage, paused: paused != nil)
        }
    }

    private func retryDelay(_ shortage: JournalRoom.Shortage) -> Int64 {
        if case .refused = shortage { return Self.refusedRetryMillis }
        return 0
    }

    private func report(_ shortage: JournalRoom.Shortage?, paused: Bool) {
        guard let shortage else {
            health.report("journal", ok: true, detail: "disk free \(freeBytesNow >> 20) MB, watermark \(room.watermarkBytes >> 20) MB")
            return
        }
        health.report("journal", ok: false, detail: "\(shortage)" + (paused ? "; intake paused" : "; intake pauses at the next message"))
    }
}

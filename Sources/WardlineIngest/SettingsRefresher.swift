import Foundation
import Logging
import Synchronization
import WardlineCore
import WardlineEngine
import WardlineRuntime
import WardlineStore
import WardlineWard

/// Re-reads device assignments and per-patient alarm settings from the database every few seconds,
/// on its own thread, so admissions and clinicians' threshold changes made elsewhere reach the
/// decoder and the engine, and wards and care assignments reach the hub and the API. Keeps the last good copy while the database is down.
package final class SettingsRefresher: @unchecked Sendable {
    private let url: String
    private let registry: DeviceRegistry
    /// Nil where no engine runs in this process (a `hub` node reads only wards and care).
    private let commands: EngineCommandQueue?
    private let intervalMillis: Int64
    private let logger: Logger
    package let thread = PartThread(name: "wardline-settings")
    private let wanted = Atomic<Bool>(false)
    /// Refreshes asked for, and the newest of them a completed read has covered.
    private let requested = Atomic<Int>(0)
    private let completed = Atomic<Int>(0)
    /// Called with who lies where and who looks after whom, after each read that changed them.
    package var onDirectory: (@Sendable (WardDirectory) -> Void)?
    private var directory: WardDirectory?
    private var assignments: [String: String] = [:]
    private var settings: [String: SettingsStore.PatientAlarmSettings] = [:]
    /// Each admitted patient's ward, as the engine was told it (for the ward's rule set).
    private var wards: [String: String] = [:]

    package init(url: String, registry: DeviceRegistry, commands: EngineCommandQueue?, intervalSeconds: Int, logger: Logger) {
        self.url = url
        self.registry = registry
        self.commands = commands
        self.intervalMillis = Int64(intervalSeconds) * 1000
        self.logger = logger
    }

    /// Reads everything once, before the pipeline starts; the engine gets it as its first commands.
    package func loadNow(_ db: PostgresConnection) throws {
        try refresh(db)
        logger.info("device assignments and alarm settings loaded",
                    metadata: ["devices": "\(assignments.count)", "patients_with_settings": "\(settings.count)"])
    }

    package func start() { thread.start { [self] in run() } }

    package func stop() { thread.requestStop() }

    /// Re-reads at once (a change was just made through the API).
    package func refreshSoon() {
        requested.add(1, ordering: .relaxed)
        wanted.store(true, ordering: .releasing)
        thread.doorbell.ring()
    }

    /// Re-reads at once and waits (up to `timeoutMillis`) until the read is done, so an admission or
    /// assignment made through REST is in force — for the decoder, the engine's commands and the
    /// access checks — when its answer goes back. Called on REST worker threads, never the pool.
    package func refreshAndWait(timeoutMillis: Int64 = 3000) {
        let ticket = requested.add(1, ordering: .relaxed).newValue
        wanted.store(true, ordering: .releasing)
        thread.doorbell.ring()
        let deadline = wallClockMillis() + timeoutMillis
        while completed.load(ordering: .acquiring) < ticket && wallClockMillis() < deadline { sleepMicros(2000) }
    }

    private func run() {
        var db: PostgresConnection?
        var failing = false
        while !thread.isStopping {
            if !wanted.load(ordering: .acquiring) { thread.pause(millis: Int(intervalMillis)) }
            if thread.isStopping { break }
            wanted.store(false, ordering: .releasing)
            let covering = requested.load(ordering: .acquiring)
            do {
                let conn = try db ?? PostgresConnection(url: url)
                db = conn
                try refresh(conn)
                completed.store(covering, ordering: .releasing)
                if failing { logger.notice("device assignments and alarm settings readable again") }
                failing = false
            } catch {
                db = nil
                if !failing { logger.warning("cannot refresh assignments and alarm settings; keeping the last copy", metadata: ["error": "\(error)"]) }
                failing = true
            }
        }
    }

    private func refresh(_ db: PostgresConnection) throws {
        let ward = WardStore(db: db)
        var care: [String: Set<String>] = [:]
        for (user, patient) in try ward.careAssignments() { care[user, default: []].insert(patient) }
        let places = try ward.patients()
        let newDirectory = WardDirectory(places: Dictionary(places.map { ($0.patientID, $0) }, uniquingKeysWith: { a, _ in a }),
                                         careAssignments: care)
        if newDirectory != directory {
            directory = newDirectory
            onDirectory?(newDirectory)
        }
        let newWards = newDirectory.places.mapValues(\.ward)
        for patient in Set(wards.keys).union(newWards.keys) where wards[patient] != newWards[patient] {
            let ward = newWards[patient]
            commands?.enqueue { engine, _ in engine.setWard(patientID: patient, ward: ward); return [] }
        }
        wards = newWards
        let newAssignments = try VitalsStore(db: db).loadAssignments()
        let (newSettings, refused) = try SettingsStore(db: db).load()
        registry.replaceAll(newAssignments)
        for device in Set(assignments.keys).union(newAssignments.keys) where assignments[device] != newAssignments[device] {
            let patient = newAssignments[device]
            commands?.enqueue { engine, now in engine.assign(device: device, to: patient, now: now) }
        }
        for patient in Set(settings.keys).union(newSettings.keys) where settings[patient] != newSettings[patient] {
            let s = newSettings[patient] ?? SettingsStore.PatientAlarmSettings()
            let log = logger
            commands?.enqueue { engine, _ in
                engine.setSpO2Scale(patientID: patient, scale: s.scale)
                do { try engine.setThresholdOverrides(patientID: patient, rules: s.overrides) } catch {
                    log.error("threshold override refused", metadata: ["patient": "\(patient)", "error": "\(error)"])
                }
                return []
            }
        }
        for r in refused where !refusedBefore.contains(r) {
            logger.error("stored threshold override is unusable and ignored", metadata: ["override": "\(r)"])
        }
        refusedBefore = Set(refused)
        assignments = newAssignments
        settings = newSettings
    }

    private var refusedBefore: Set<String> = []
}

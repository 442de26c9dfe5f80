import ArgumentParser
import Foundation
import WardlineEngine
import WardlineReplay
import WardlineRules
import WardlineStore

/// `wardline replay`: a period of the ward's recorded readings through the engine twice, with
/// the rules in force and with a candidate, on the recorded clock; the two side by side.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay recorded readings with the rules in force and a candidate rule set, and compare the alarms.",
        discussion: """
        Reads the period's readings from the database in the order Wardline received them (bounded memory), \
        runs them through two engines, and prints first every high-priority alarm the candidate misses or \
        raises later, then alarms per patient-day by rule and priority, alarm durations, alarms that end by \
        themselves within 10 s, and the alarms only one set raises. The patients' own alarm settings and wards \
        apply to both. It also checks the replay with the rules in force against the alarms the live run stored.
        """)

    @Option(help: "Start of the period: ISO 8601 (2026-12-01T08:00:00Z) or epoch milliseconds.") var from: String
    @Option(help: "End of the period (exclusive).") var to: String
    @Option(help: "Only the patients of this ward (the patients table, now).") var ward: String?
    @Option(help: "The candidate rule-set file.") var rules: String
    @Option(help: "The rules in force (default: WARDLINE_RULES_FILE, or the built-in defaults).") var current: String?

    func run() throws {
        let (config, _) = try loadConfiguration()
        guard let start = Self.time(from), let end = Self.time(to), start < end else {
            throw ValidationError("--from and --to must be times (ISO 8601 or epoch ms), --from before --to")
        }
        var base = EngineConfiguration()
        base.clockOffsetAlarmAbove = Int64(config.deviceClockAlarmSeconds) * 1000
        let inForce = try (current ?? config.rulesFile).map { try RuleSetFile.load($0, base: base).configuration } ?? base
        let candidate = try RuleSetFile.load(rules, base: base).configuration

        let db = try PostgresConnection(url: config.databaseURL)
        let runs = [try ReplayRun(configuration: inForce), try ReplayRun(configuration: candidate)]
        let (settings, _) = try SettingsStore(db: db).load()
        let places = try WardStore(db: db).patients()
        for run in runs {
            for (patient, s) in settings {
                run.engine.setSpO2Scale(patientID: patient, scale: s.scale)
                try? run.engine.setThresholdOverrides(patientID: patient, rules: s.overrides)
            }
            for p in places { run.engine.setWard(patientID: p.patientID, ward: p.ward) }
        }
        let stored = try RecordedReadings.storedAlarms(db: db, from: start, to: end, ward: ward)
        let began = DispatchTime.now().uptimeNanoseconds
        let recorded = try RecordedReadings(db: db, from: start, to: end, ward: ward)
        var patientHours = Set<String>()
        var readingCount = 0
        var feeding: UInt64 = 0
        while true {
            let batch = try recorded.next()
            if batch.isEmpty { break }
            let t0 = DispatchTime.now().uptimeNanoseconds
            for r in batch {
                readingCount += 1
                // On the patient's (device) time: an accelerated recording covers its hours in minutes of receipt.
                patientHours.insert("\(r.patientID)|\(r.time / 3_600_000)")
            }
            for run in runs { for r in batch { run.feed(r) } }
            feeding += DispatchTime.now().uptimeNanoseconds - t0
        }
        let last = runs[0].clock
        for run in runs { run.tick(until: min(end, last + 60_000)) }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9
        let report = ReplayReport(current: .init(name: "in force", version: inForce.ruleSetVersion, episodes: runs[0].episodes),
                                  candidate: .init(name: "candidate", version: candidate.ruleSetVersion, episodes: runs[1].episodes),
                                  patientDays: Double(patientHours.count) / 24, from: start, end: min(end, last + 60_000))
        print("replay \(ReplayReport.iso(start)) – \(ReplayReport.iso(end))\(ward.map { " ward \($0)" } ?? ""): "
              + "\(readingCount) readings of \(Set(patientHours.map { $0.split(separator: "|")[0] }).count) patients, "
              + String(format: "%.2f patient-days", Double(patientHours.count) / 24))
        print(String(format: "rate: %.0f readings/s end to end (database read included), %.0f readings/s through each engine",
                     Double(readingCount) / max(elapsed, 1e-9), Double(readingCount * runs.count) / max(Double(feeding) / 1e9, 1e-9)))
        // The replay with the rules in force must raise what the live run stored (same ids: same
        // patient, rule and moment), where the live run had the same rules.
        let replayed = Set(report.current.episodes.map(\.id))
        let comparable = stored.filter { $0.ruleSet == nil || $0.ruleSet == inForce.ruleSetVersion }
        let reproduced = comparable.filter { replayed.contains($0.id) }.count
        print("check against the live run: \(reproduced) of the \(comparable.count) alarms it stored under \(inForce.ruleSetVersion) raised again at the same moment"
              + (stored.count > comparable.count ? " (\(stored.count - comparable.count) stored under other rule sets not compared)" : ""))
        for missing in comparable.filter({ !replayed.contains($0.id) }).prefix(10) { print("  not raised again: \(missing.id)") }
        print("")
        print(report.text(), terminator: "")
    }

    static func time(_ text: String) -> Int64? {
        if let ms = Int64(text) { return ms }
        let f = ISO8601DateFormatter()
        if let d = f.date(from: text) { return Int64(d.timeIntervalSince1970 * 1000) }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: text).map { Int64($0.timeIntervalSince1970 * 1000) }
    }
}

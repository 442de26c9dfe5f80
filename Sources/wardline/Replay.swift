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
        Reads the period's readings, and the devices' own alerts and status, from the database in the order \
        Wardline received them (bounded memory), runs them through two engines, and prints first every high-priority alarm the candidate misses or \
        raises later, then alarms per patient-day by rule and priority, alarm durations, alarms that end by \
        themselves within 10 s, and the alarms only one set raises. The patients' own alarm settings and wards \
        apply to both. It also checks the replay with the rules in force against the alarms the live run stored.
        """)

    @Option(help: "Start of the period: ISO 8601 (2026-12-01T08:00:00Z) or epoch milliseconds.") var from: String
    @Option(help: "End of the period (exclusive).") var to: String
    @Option(help: "Only the patients of this ward (the patients table, now).") var ward: String?
    @Option(help: "The candidate rule-set file.") var rules: String
    @Option(help: "The rules in force (default: WARDLINE_RULES_FILE, or the built-in defaults).") var current: String?
    @Flag(help: "The comparison as JSON (what GET /api/v1/replays/{id} answers as its result) instead of text.") var json = false

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
        let outcome = try RecordedReplay.run(db: db, from: start, to: end, ward: ward, inForce: inForce, candidate: candidate)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(ReplaySummary(outcome)), as: UTF8.self))
            return
        }
        print("replay \(ReplayReport.iso(start)) – \(ReplayReport.iso(end))\(ward.map { " ward \($0)" } ?? ""): "
              + "\(outcome.readings) readings of \(outcome.patients) patients and \(outcome.deviceEvents) device alerts and status messages, "
              + String(format: "%.2f patient-days", outcome.patientDays))
        print(String(format: "rate: %.0f readings/s end to end (database read included), %.0f readings/s through each engine",
                     outcome.endToEndPerSecond, outcome.perEnginePerSecond))
        let check = outcome.liveCheck
        print("check against the live run: \(check.reproduced) of the \(check.compared) alarms it stored under \(inForce.ruleSetVersion) raised again at the same moment"
              + (check.otherRuleSets > 0 ? " (\(check.otherRuleSets) stored under other rule sets not compared)" : ""))
        for missing in check.notRaisedAgain.prefix(10) { print("  not raised again: \(missing)") }
        print("")
        print(outcome.report.text(), terminator: "")
    }

    static func time(_ text: String) -> Int64? {
        if let ms = Int64(text) { return ms }
        let f = ISO8601DateFormatter()
        if let d = f.date(from: text) { return Int64(d.timeIntervalSince1970 * 1000) }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: text).map { Int64($0.timeIntervalSince1970 * 1000) }
    }
}

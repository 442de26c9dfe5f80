import Foundation
import WardlineCore
import WardlineEngine

/// Two replays of one period side by side: the rules in force and a candidate. What a clinical
/// engineer needs before switching a rule set on: the alarm burden per patient-day by rule and
/// priority, how long alarms last, how many end by themselves within 10 s (likely nuisance), the
/// alarms only one set raises, and, first and loudly, every high-priority alarm of the rules in
/// force that the candidate misses or raises later. Pure: the runs are handed in.
public struct ReplayReport {
    public struct Side {
        public var name: String
        public var version: String
        public var episodes: [AlarmEpisode]
        public init(name: String, version: String, episodes: [AlarmEpisode]) {
            self.name = name
            self.version = version
            self.episodes = episodes.filter { $0.category == .physiological }
        }
    }

    /// A high alarm of the rules in force and what the candidate did with it.
    public struct HighAlarmFate: Equatable {
        public var current: AlarmEpisode
        /// nil: the candidate raised no high alarm of that rule for that patient while it lasted.
        public var candidate: AlarmEpisode?
        public var candidateHighAt: Int64? { candidate?.highAt }
        /// How much later the candidate's high alarm came, in the patient's (device) time when both
        /// readings are known (an accelerated simulator compresses Wardline's clock), else Wardline's.
        public var delayMillis: Int64? {
            guard let candidate, let theirs = candidate.highAt, let ours = current.highAt else { return nil }
            if let a = candidate.highReadingTime, let b = current.highReadingTime { return a - b }
            return theirs - ours
        }
    }

    public var current: Side
    public var candidate: Side
    public var patientDays: Double
    public var from: Int64
    public var end: Int64

    public init(current: Side, candidate: Side, patientDays: Double, from: Int64, end: Int64) {
        self.current = current
        self.candidate = candidate
        self.patientDays = max(patientDays, 1.0 / 24)
        self.from = from
        self.end = end
    }

    static func overlaps(_ a: AlarmEpisode, _ b: AlarmEpisode, end: Int64) -> Bool {
        a.patientID == b.patientID && a.ruleID == b.ruleID && a.raisedAt <= (b.clearedAt ?? end) && b.raisedAt <= (a.clearedAt ?? end)
    }

    /// Every high alarm of the rules in force, with the candidate's matching high alarm (same
    /// patient and rule, overlapping in time).
    public var highAlarmFates: [HighAlarmFate] {
        current.episodes.filter { $0.highAt != nil }.map { c in
            let match = candidate.episodes.filter { $0.highAt != nil && Self.overlaps(c, $0, end: end) }.min { $0.highAt! < $1.highAt! }
            return HighAlarmFate(current: c, candidate: match)
        }
    }

    /// The high alarms of the rules in force the candidate does not raise, oldest first, and those
    /// it raises later, the longest delay first: what must be read before anything else.
    public var missedAndLater: (missed: [HighAlarmFate], later: [HighAlarmFate]) {
        let fates = highAlarmFates
        return (fates.filter { $0.candidateHighAt == nil }.sorted { $0.current.raisedAt < $1.current.raisedAt },
                fates.filter { ($0.delayMillis ?? 0) > 0 }.sorted { ($0.delayMillis ?? 0) > ($1.delayMillis ?? 0) })
    }

    public func onlyIn(_ side: Side, not other: Side) -> [AlarmEpisode] {
        side.episodes.filter { e in !other.episodes.contains { Self.overlaps(e, $0, end: end) } }
    }

    public struct RuleLine: Equatable {
        public var rule: String
        public var priority: AlarmPriority
        public var current: Int
        public var candidate: Int
    }

    public var byRule: [RuleLine] {
        var counts: [String: (Int, Int)] = [:]
        for e in current.episodes { counts["\(e.ruleID)|\(e.priority.rawValue)", default: (0, 0)].0 += 1 }
        for e in candidate.episodes { counts["\(e.ruleID)|\(e.priority.rawValue)", default: (0, 0)].1 += 1 }
        return counts.map { key, v in
            let parts = key.split(separator: "|")
            return RuleLine(rule: String(parts[0]), priority: AlarmPriority(rawValue: String(parts[1])) ?? .low, current: v.0, candidate: v.1)
        }.sorted { ($0.priority, $0.rule) > ($1.priority, $1.rule) }
    }

    public static func percentile(_ values: [Int64], _ p: Double) -> Int64? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let rank = Int((p * Double(sorted.count - 1)).rounded())
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    public func selfEnding(_ side: Side, within millis: Int64 = 10_000) -> Int {
        side.episodes.filter { $0.clearedAt != nil && $0.duration(end: end) <= millis }.count
    }

    // MARK: Text

    public func text() -> String {
        var out: [String] = []
        let fates = highAlarmFates
        let (missed, later) = missedAndLater
        if missed.isEmpty && later.isEmpty {
            out.append("High-priority alarms: the candidate raises every one of the \(fates.count) the rules in force raise, none later.")
        } else {
            out.append("!!! HIGH-PRIORITY ALARMS THE CANDIDATE MISSES OR RAISES LATER: \(missed.count) missed, \(later.count) later (of \(fates.count)) !!!")
            for f in missed {
                out.append("!!! MISSED  \(Self.describe(f.current))")
            }
            for f in later {
                out.append("!!! LATER   \(Self.describe(f.current))  by \(Self.seconds(f.delayMillis ?? 0)) of patient time")
            }
        }
        out.append("")
        let w = max(10, max(current.version.count, candidate.version.count))
        func col(_ s: String) -> String { s.padding(toLength: w, withPad: " ", startingAt: 0) }
        out.append("alarms per patient-day (\(String(format: "%.2f", patientDays)) patient-days)")
        out.append("  " + "rule".padding(toLength: 18, withPad: " ", startingAt: 0) + "priority  " + col(current.version) + "  " + col(candidate.version))
        for l in byRule {
            out.append("  " + l.rule.padding(toLength: 18, withPad: " ", startingAt: 0) + l.priority.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
                       + col(Self.rate(l.current, patientDays)) + "  " + col(Self.rate(l.candidate, patientDays)))
        }
        out.append("  " + "all".padding(toLength: 28, withPad: " ", startingAt: 0)
                   + col(Self.rate(current.episodes.count, patientDays)) + "  " + col(Self.rate(candidate.episodes.count, patientDays)))
        out.append("")
        for side in [current, candidate] {
            let d = side.episodes.map { $0.duration(end: end) }
            out.append("\(side.name) (\(side.version)): \(side.episodes.count) alarms; duration median \(Self.percentile(d, 0.5).map(Self.seconds) ?? "-"), "
                       + "90th percentile \(Self.percentile(d, 0.9).map(Self.seconds) ?? "-"); "
                       + "ended by themselves within 10 s (likely nuisance): \(selfEnding(side))")
        }
        out.append("")
        for (side, other) in [(current, candidate), (candidate, current)] {
            let only = onlyIn(side, not: other)
            out.append("only \(side.name) (\(side.version)) raises: \(only.count)")
            for e in only.prefix(50) { out.append("  " + Self.describe(e)) }
            if only.count > 50 { out.append("  … and \(only.count - 50) more") }
        }
        return out.joined(separator: "\n") + "\n"
    }

    static func describe(_ e: AlarmEpisode) -> String {
        let value = e.value.map { formatted($0) } ?? "-"
        let limit = e.threshold.map { formatted($0) } ?? "-"
        return "\(e.patientID ?? "-")  \(iso(e.raisedAt))  \(e.ruleID) \(e.priority.rawValue)  value \(value) (limit \(limit))"
    }

    static func rate(_ n: Int, _ days: Double) -> String { String(format: "%.2f", Double(n) / days) }
    static func seconds(_ ms: Int64) -> String { String(format: "%.1f s", Double(ms) / 1000) }
    static func formatted(_ v: Double) -> String { v == v.rounded() ? String(Int64(v)) : String(format: "%.1f", v) }
    public static func iso(_ ms: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }
}

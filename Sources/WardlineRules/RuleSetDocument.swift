import Foundation
import WardlineCore
import WardlineEngine

/// One thing wrong with a rule-set file: where (a JSON path such as `thresholds[2].bands[0].limit`)
/// and what, in words a clinical engineer can act on.
public struct RuleSetProblem: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String
    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path.isEmpty ? "(file)" : path): \(message)" }
}

/// A rule-set file (`rules/*.json`, described by `rules/ruleset.schema.json`) read into the
/// engine's configuration: every error is collected with its path, not only the first, so one
/// `wardline rules check` shows a clinical engineer everything to fix.
public struct RuleSetDocument: Sendable {
    public static let format = "wardline.rules/1"

    public var version: String
    public var title: String
    public var configuration: EngineConfiguration

    /// Reads `bytes`; throws `RuleSetInvalid` with every problem found.
    public static func read(_ bytes: [UInt8]) throws(RuleSetInvalid) -> RuleSetDocument {
        let root: JSONValue
        do { root = try JSONDecoder().decode(JSONValue.self, from: Data(bytes)) } catch {
            throw RuleSetInvalid(problems: [RuleSetProblem("", "not JSON: \(Self.syntaxError(error))")])
        }
        var r = Reader()
        let document = r.document(root)
        if let document, r.problems.isEmpty {
            // What the engine itself refuses (a band order, a clear level beyond its limit).
            for p in document.configuration.problems { r.problems.append(RuleSetProblem(r.pathOf(engineProblem: p), p)) }
        }
        guard let document, r.problems.isEmpty else { throw RuleSetInvalid(problems: r.problems) }
        return document
    }

    private static func syntaxError(_ error: Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error, let underlying = context.underlyingError {
            return "\(underlying.localizedDescription) \((underlying as NSError).userInfo[NSDebugDescriptionErrorKey] ?? "")"
                .trimmingCharacters(in: .whitespaces)
        }
        return "\(error)"
    }
}

public struct RuleSetInvalid: Error, Sendable, CustomStringConvertible {
    public var problems: [RuleSetProblem]
    public var description: String {
        "\(problems.count) problem\(problems.count == 1 ? "" : "s"):\n" + problems.map { "  " + $0.description }.joined(separator: "\n")
    }
}

/// Walks the document, noting each problem at its path and going on.
private struct Reader {
    var problems: [RuleSetProblem] = []
    /// Where each threshold rule id was read, for the engine's own problems ("hr.high: …").
    var ruleSites: [String: String] = [:]

    mutating func fail(_ path: String, _ message: String) { problems.append(RuleSetProblem(path, message)) }

    func pathOf(engineProblem p: String) -> String {
        let head = p.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
        if head.hasPrefix("ward ") {
            let rest = p.dropFirst(head.count + 1).split(separator: ":", maxSplits: 1).first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
            return ruleSites["\(head.dropFirst(5))|\(rest)"] ?? "wards.\(head.dropFirst(5))"
        }
        return ruleSites[head] ?? ""
    }

    mutating func object(_ v: JSONValue?, _ path: String, keys: Set<String>, required: Set<String> = []) -> [String: JSONValue]? {
        guard let v else { return nil }
        guard let o = v.object else { fail(path, "must be an object"); return nil }
        for k in o.keys.sorted() where !keys.contains(k) {
            fail(join(path, k), "unknown field (known here: \(keys.sorted().joined(separator: ", ")))")
        }
        for k in required.sorted() where o[k] == nil { fail(join(path, k), "missing (required)") }
        return o
    }

    mutating func string(_ v: JSONValue?, _ path: String, maxLength: Int = 200) -> String? {
        guard let v else { return nil }
        guard let s = v.string else { fail(path, "must be a string"); return nil }
        guard !s.isEmpty, s.utf8.count <= maxLength else { fail(path, "must be 1 to \(maxLength) characters"); return nil }
        return s
    }

    mutating func number(_ v: JSONValue?, _ path: String) -> Double? {
        guard let v else { return nil }
        guard let d = v.double, d.isFinite else { fail(path, "must be a number"); return nil }
        return d
    }

    /// Seconds in the file, milliseconds in the engine.
    mutating func seconds(_ v: JSONValue?, _ path: String, range: ClosedRange<Double> = 0...86_400) -> Int64? {
        guard let d = number(v, path) else { return nil }
        guard range.contains(d) else { fail(path, "must be \(Int(range.lowerBound)) to \(Int(range.upperBound)) seconds"); return nil }
        return Int64((d * 1000).rounded())
    }

    mutating func choice<T: RawRepresentable & CaseIterable>(_ v: JSONValue?, _ path: String, _: T.Type) -> T? where T.RawValue == String {
        guard let s = string(v, path) else { return nil }
        guard let t = T(rawValue: s) else {
            fail(path, "\"\(s)\" is not one of \(T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))")
            return nil
        }
        return t
    }

    mutating func direction(_ v: JSONValue?, _ path: String) -> BreachDirection? {
        guard let s = string(v, path) else { return nil }
        guard let d = BreachDirection(rawValue: s) else { fail(path, "\"\(s)\" is not \"above\" or \"below\""); return nil }
        return d
    }

    mutating func array(_ v: JSONValue?, _ path: String, max: Int = 200) -> [JSONValue]? {
        guard let v else { return nil }
        guard let a = v.array else { fail(path, "must be an array"); return nil }
        guard a.count <= max else { fail(path, "at most \(max) entries"); return nil }
        return a
    }

    func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }

    // MARK: The document

    mutating func document(_ root: JSONValue) -> RuleSetDocument? {
        guard let o = object(root, "", keys: ["$schema", "format", "version", "title", "note", "thresholds", "scale2_thresholds",
                                             "anomalies", "news2", "latching_priorities", "timers", "wards"],
                             required: ["format", "version", "thresholds", "anomalies", "news2"]) else { return nil }
        if let f = string(o["format"], "format"), f != RuleSetDocument.format {
            fail("format", "\"\(f)\" is not \"\(RuleSetDocument.format)\" (a file for another version of Wardline?)")
        }
        let version = string(o["version"], "version", maxLength: 64)
        if let version, version.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            fail("version", "must not hold control characters")
        }
        _ = o["note"].map { string($0, "note", maxLength: 4000) }
        var c = EngineConfiguration()
        c.thresholdRules = thresholds(o["thresholds"], "thresholds") ?? []
        c.scale2ThresholdRules = thresholds(o["scale2_thresholds"], "scale2_thresholds") ?? []
        c.anomalyRules = anomalies(o["anomalies"], "anomalies") ?? []
        if let n = news2(o["news2"], "news2") { c.news2Alarm = n }
        if let l = array(o["latching_priorities"], "latching_priorities", max: 3) {
            c.latchingPriorities = Set(l.enumerated().compactMap { choice($0.element, "latching_priorities[\($0.offset)]", AlarmPriority.self) })
        }
        timers(o["timers"], "timers", into: &c)
        c.wardThresholdRules = wards(o["wards"], "wards")
        guard let version else { return nil }
        c.ruleSetVersion = version
        return RuleSetDocument(version: version, title: o["title"].flatMap { string($0, "title") } ?? version, configuration: c)
    }

    mutating func thresholds(_ v: JSONValue?, _ path: String, ward: String? = nil) -> [ThresholdRule]? {
        guard let list = array(v, path) else { return nil }
        var out: [ThresholdRule] = []
        var seen: Set<String> = []
        for (i, item) in list.enumerated() {
            let at = "\(path)[\(i)]"
            guard let o = object(item, at, keys: ["id", "vital", "direction", "bands", "clear_at", "note"],
                                 required: ["vital", "direction", "bands"]) else { continue }
            _ = o["note"].map { string($0, at + ".note", maxLength: 4000) }
            let vital = choice(o["vital"], at + ".vital", Vital.self)
            let direction = direction(o["direction"], at + ".direction")
            let id = o["id"].flatMap { string($0, at + ".id", maxLength: 64) }
            var bands: [ThresholdBand] = []
            if let list = array(o["bands"], at + ".bands", max: 3) {
                for (j, b) in list.enumerated() {
                    let bat = "\(at).bands[\(j)]"
                    guard let bo = object(b, bat, keys: ["limit", "priority", "persistence_s"], required: ["limit", "priority"]) else { continue }
                    let limit = number(bo["limit"], bat + ".limit")
                    let priority = choice(bo["priority"], bat + ".priority", AlarmPriority.self)
                    let persistence = bo["persistence_s"].map { seconds($0, bat + ".persistence_s", range: 0...3600) } ?? 0
                    if let limit, let priority, let persistence { bands.append(ThresholdBand(limit: limit, priority: priority, persistence: persistence)) }
                }
            }
            let clear = o["clear_at"].flatMap { number($0, at + ".clear_at") }
            if o["clear_at"] == nil && !(o["bands"]?.array?.isEmpty ?? true) { fail(at + ".clear_at", "missing (required when there are bands)") }
            guard let vital, let direction else { continue }
            let rule = bands.isEmpty && o["bands"]?.array?.isEmpty == true
                ? ThresholdRule.disabled(vital, direction, id: id)
                : ThresholdRule(vital, direction, bands: bands, clearAt: clear ?? 0, id: id)
            if !seen.insert(rule.id).inserted { fail(at + ".id", "the rule id \(rule.id) is used twice in this list") }
            ruleSites[ward.map { "\($0)|\(rule.id)" } ?? rule.id] = at
            out.append(rule)
        }
        return out
    }

    mutating func anomalies(_ v: JSONValue?, _ path: String) -> [AnomalyRule]? {
        guard let list = array(v, path) else { return nil }
        var out: [AnomalyRule] = []
        for (i, item) in list.enumerated() {
            let at = "\(path)[\(i)]"
            guard let o = object(item, at, keys: ["id", "vital", "measure", "direction", "raise_at", "clear_at", "priority",
                                                   "persistence_s", "suppressed_by", "note"],
                                 required: ["id", "vital", "measure", "direction", "raise_at", "clear_at", "priority"]) else { continue }
            _ = o["note"].map { string($0, at + ".note", maxLength: 4000) }
            let id = string(o["id"], at + ".id", maxLength: 64)
            let vital = choice(o["vital"], at + ".vital", Vital.self)
            let measure = self.measure(o["measure"], at + ".measure")
            let direction = direction(o["direction"], at + ".direction")
            let raise = number(o["raise_at"], at + ".raise_at")
            let clear = number(o["clear_at"], at + ".clear_at")
            let priority = choice(o["priority"], at + ".priority", AlarmPriority.self)
            let persistence = o["persistence_s"].map { seconds($0, at + ".persistence_s", range: 0...3600) } ?? 0
            var suppressed: [String] = []
            if let s = array(o["suppressed_by"], at + ".suppressed_by", max: 20) {
                suppressed = s.enumerated().compactMap { string($0.element, "\(at).suppressed_by[\($0.offset)]", maxLength: 64) }
            }
            guard let id, let vital, let measure, let direction, let raise, let clear, let priority, let persistence else { continue }
            let rule = AnomalyRule(id: id, vital: vital, measure: measure, direction: direction, raiseAt: raise, clearAt: clear,
                                   priority: priority, persistence: persistence, suppressedBy: suppressed)
            for p in rule.problems { fail(at, p) }
            ruleSites[id] = at
            out.append(rule)
        }
        return out
    }

    mutating func measure(_ v: JSONValue?, _ path: String) -> AnomalyRule.Measure? {
        guard let o = object(v, path, keys: ["change_over_minutes", "ratio_to_hourly_baseline", "deviations_from_hourly_baseline"]) else { return nil }
        guard o.count == 1, let (key, value) = o.first else {
            fail(path, "exactly one of change_over_minutes, ratio_to_hourly_baseline (true), deviations_from_hourly_baseline (the minimum SD)")
            return nil
        }
        switch key {
        case "change_over_minutes":
            guard let m = value.integer else { fail(path + "." + key, "must be a whole number of minutes"); return nil }
            return .change(minutes: m)
        case "ratio_to_hourly_baseline":
            guard case .bool(true) = value else { fail(path + "." + key, "must be true"); return nil }
            return .ratioToHourlyBaseline
        default:
            guard let d = number(value, path + "." + key), d > 0 else { fail(path + "." + key, "must be a positive number"); return nil }
            return .deviationsFromHourlyBaseline(minimumDeviation: d)
        }
    }

    mutating func news2(_ v: JSONValue?, _ path: String) -> News2AlarmRule? {
        guard let o = object(v, path, keys: ["low_medium", "medium", "high", "persistence_s", "note"]) else { return nil }
        var n = News2AlarmRule()
        func band(_ key: String) -> (present: Bool, value: AlarmPriority?) {
            guard let raw = o[key] else { return (false, nil) }
            if case .null = raw { return (true, nil) }
            return (true, choice(raw, path + "." + key, AlarmPriority.self))
        }
        for (key, set) in [("low_medium", { (p: AlarmPriority?) in n.lowMedium = p }), ("medium", { n.medium = $0 }), ("high", { n.high = $0 })]
            as [(String, (AlarmPriority?) -> Void)] {
            let b = band(key)
            if b.present { set(b.value) }
        }
        if let p = o["persistence_s"].map({ seconds($0, path + ".persistence_s", range: 0...3600) }) { n.persistence = p ?? n.persistence }
        return n
    }

    mutating func timers(_ v: JSONValue?, _ path: String, into c: inout EngineConfiguration) {
        guard let o = object(v, path, keys: ["stale_data_after_s", "offline_grace_s", "evidence_gap_s", "news2_staleness_s",
                                             "device_alert_clear_after_s"]) else { return }
        if let s = o["stale_data_after_s"].flatMap({ seconds($0, path + ".stale_data_after_s", range: 1...86_400) }) { c.staleDataAfter = s }
        if let s = o["offline_grace_s"].flatMap({ seconds($0, path + ".offline_grace_s", range: 0...3600) }) { c.offlineGrace = s }
        if let s = o["evidence_gap_s"].flatMap({ seconds($0, path + ".evidence_gap_s", range: 1...3600) }) { c.evidenceGap = s }
        if let s = o["news2_staleness_s"].flatMap({ seconds($0, path + ".news2_staleness_s", range: 60...86_400) }) { c.news2Staleness = s }
        if let s = o["device_alert_clear_after_s"].flatMap({ seconds($0, path + ".device_alert_clear_after_s", range: 1...3600) }) {
            c.deviceAlertClearAfter = s
        }
    }

    mutating func wards(_ v: JSONValue?, _ path: String) -> [String: [ThresholdRule]] {
        guard let v else { return [:] }
        guard let o = v.object else { fail(path, "must be an object of ward name → its rules"); return [:] }
        guard o.count <= 500 else { fail(path, "at most 500 wards"); return [:] }
        var out: [String: [ThresholdRule]] = [:]
        for (ward, set) in o.sorted(by: { $0.key < $1.key }) {
            let at = "\(path).\(ward)"
            if ward.isEmpty || ward.utf8.count > 64 { fail(at, "a ward name is 1 to 64 characters"); continue }
            guard let wo = object(set, at, keys: ["title", "note", "thresholds"], required: ["thresholds"]) else { continue }
            _ = wo["title"].map { string($0, at + ".title") }
            _ = wo["note"].map { string($0, at + ".note", maxLength: 4000) }
            out[ward] = thresholds(wo["thresholds"], at + ".thresholds", ward: ward) ?? []
        }
        return out
    }
}

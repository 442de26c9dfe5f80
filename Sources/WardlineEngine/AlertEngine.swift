import WardlineCore

/// The alert engine: thresholds, windowed anomalies, NEWS2 and the alarm lifecycle, for every
/// patient, as one deterministic state machine.
///
/// Not thread-safe and not `Sendable`: one thread owns it (the pipeline's consumer thread) and
/// calls `process` for each ingest event, `tick` about once a second, and the commands
/// (`acknowledge`, overrides, assignments) between them. Pure Swift, no I/O, no clock of its own:
/// physiological rules run on each reading's device time, timers (stale data, offline grace,
/// escalation, device-alert quiet periods) on the `now` passed in, epoch ms. The same inputs
/// always give the same events, alarm ids included.
public final class AlertEngine {
    public internal(set) var configuration: EngineConfiguration
    /// Who makes alarm ids; nil for the deterministic "<patient>/<rule>[@device]/<raisedAt>".
    private let makeAlarmID: ((AlarmIDSeed) -> String)?
    var patients: [String: PatientState] = [:]
    var settings: [String: PatientSettings] = [:]
    var devices: [String: DeviceWatch] = [:]
    /// Open alarm id → the key of the patient state holding it.
    var alarmIndex: [String: String] = [:]
    var defaultRules: [ThresholdRule]
    var defaultChecks: [RuleCheck]
    /// The vitals with windows (those some anomaly rule watches), and each anomaly rule's window.
    let windowedVitals: [Vital]
    private let anomalyWindow: [Int]
    private var lastIDTime: Int64 = .min
    private var idSerial = 0
    var lastSweep: Int64 = .min

    /// Refuses a configuration with `problems` (a clinical setting that would never alarm or clear).
    public init(configuration: EngineConfiguration = EngineConfiguration(),
                makeAlarmID: ((AlarmIDSeed) -> String)? = nil) throws(InvalidConfiguration) {
        let problems = configuration.problems
        guard problems.isEmpty else { throw InvalidConfiguration(problems: problems) }
        self.configuration = configuration
        self.makeAlarmID = makeAlarmID
        defaultRules = configuration.thresholdRules
        defaultChecks = configuration.thresholdRules.map(RuleCheck.init)
        var vitals: [Vital] = []
        for r in configuration.anomalyRules where !vitals.contains(r.vital) { vitals.append(r.vital) }
        windowedVitals = vitals
        anomalyWindow = configuration.anomalyRules.map { r in vitals.firstIndex(of: r.vital)! }
    }

    // MARK: Input

    /// Feeds one validated ingest event. Rejected messages concern no patient and return nothing.
    public func process(_ event: IngestEvent, now: Int64) -> [EngineEvent] {
        var events: [EngineEvent] = []
        process(event, now: now, into: &events)
        return events
    }

    /// As `process(_:now:)`, appending to a caller's buffer (the consumer thread reuses one).
    public func process(_ event: IngestEvent, now: Int64, into events: inout [EngineEvent]) {
        switch event {
        case .reading(let r): processReading(r, now: now, into: &events)
        case .deviceStatus(let s): processStatus(s, now: now, into: &events)
        case .deviceAlert(let a): processDeviceAlert(a, now: now, into: &events)
        case .rejected: break
        }
    }

    func processReading(_ r: Reading, now: Int64, into events: inout [EngineEvent]) {
        let device = noteReading(r, now: now, into: &events)
        let p = state(for: r.patientID, now: now)
        p.lastActivity = now
        let source = p.source(for: r.deviceID, now: now)
        // A redelivered message (QoS 1, or the journal and the broker both handing it over after a
        // crash) changes nothing: it is scored again for the sinks, and stored once by its key.
        let duplicate = source.isRepeat(seq: r.seq, time: r.time)
        // Only the message order decides what is live, never Wardline's receive time, so a replay
        // of the journal after a crash judges every reading exactly as the first run did. A single
        // reading stamped well before the one just before it from the same device is history (a
        // delayed message, or the first reading after the clock jumped back: the next one is live
        // again and restarts the evidence on the new clock).
        let live = !r.isBacklog && !duplicate
            && (source.previousTime == .min || r.time >= source.previousTime - BreachTracker.reorderTolerance)
        if !r.isBacklog && !duplicate { source.previousTime = r.time }
        if live {
            // The clock went back (or the reading before ran ahead of it): this device's windows
            // start again rather than refuse every reading until its clock catches up.
            if source.newestTime != .min, r.time < source.newestTime - BreachTracker.reorderTolerance {
                source.windows = Array(repeating: VitalWindow(), count: windowedVitals.count)
            }
            source.newestTime = r.time
        } else if r.time > source.newestTime {
            source.newestTime = r.time
        }
        source.heardAt = now
        if device.trusted && !duplicate {
            source.observations.record(r.vitals, at: r.time, live: live)
            // Only live values are compared between devices: a backlog says what was, not what is.
            if live { source.remember(r.vitals, at: now) }
        }
        let score = News2Observations.score(p.sources, at: now, staleness: configuration.news2Staleness, scale: p.settings.scale)
        p.lastScore = score
        events.append(.scored(r, score))
        if let link = device.link { apply(link, device: r.deviceID, patient: r.patientID, now: now, into: &events) }
        if let clock = device.clock { apply(clock, device: r.deviceID, patient: r.patientID, now: now, into: &events) }
        guard device.trusted, !duplicate else { return }
        evaluateThresholds(p, source, r, live: live, now: now, into: &events)
        evaluateWindows(p, source, r, live: live, now: now, into: &events)
        evaluateNews2(p, source, score, r, live: live, now: now, into: &events)
        if p.sources.count > 1 || (!p.alarms.isEmpty && p.hasOpenAlarm(prefix: "disagree.")) {
            evaluateAgreement(p, r, now: now, into: &events)
        }
    }

    /// Devices heard from within this long still speak for the patient: their breaches keep an
    /// alarm open and their values are compared.
    var sourceCurrentWindow: Int64 { configuration.staleDataAfter }

    // MARK: Rules

    private func evaluateThresholds(_ p: PatientState, _ source: ReadingSource, _ r: Reading, live: Bool, now: Int64,
                                    into events: inout [EngineEvent]) {
        let gap = configuration.evidenceGap
        // Work on the trackers outside the source object: one exclusive access instead of one per rule.
        var trackers: [BreachTracker] = []
        swap(&trackers, &source.trackers)
        defer { swap(&trackers, &source.trackers) }
        let checks = p.checks
        for i in checks.indices {
            let check = checks[i]
            guard let v = check.vital.value(in: r.vitals) else { continue }
            let level = check.level(of: v)
            let outcome = trackers[i].observe(level: level, clear: level < 0 && check.clears(v), at: r.time, live: live,
                                              evidenceGap: gap) { check.persistence[$0] }
            switch outcome {
            case .none:
                break
            case .clear:
                // Another device still beyond the limit keeps the alarm: the worse one counts. And
                // history (a backlog, a delayed message) is never the reason an alarm ends.
                if live, !p.alarms.isEmpty, !p.anotherSourceHolds(besides: r.deviceID, now: now, window: sourceCurrentWindow,
                                                             { $0.trackers[i].isHolding }) {
                    conditionGone(p, rule: p.rules[i].id, device: nil, value: v, readingTime: r.time, now: now, into: &events)
                }
            case .confirmed(let band, let since):
                let rule = p.rules[i]
                let b = rule.bands[band]
                conditionHolds(p, rule: rule.id, device: r.deviceID, category: .physiological, vital: rule.vital,
                               priority: b.priority, value: v, threshold: b.limit, since: since, readingTime: r.time,
                               now: now, into: &events, message: rule.message(v, band: band))
            }
        }
    }

    private func evaluateWindows(_ p: PatientState, _ source: ReadingSource, _ r: Reading, live: Bool, now: Int64,
                                 into events: inout [EngineEvent]) {
        var windows: [VitalWindow] = []
        swap(&windows, &source.windows)
        defer { swap(&windows, &source.windows) }
        for w in windowedVitals.indices {
            guard let v = windowedVitals[w].value(in: r.vitals),
                  windows[w].add(v, at: r.time, ewmaTimeConstant: configuration.ewmaTimeConstant) else { continue }
            // A 10-second bucket closed: the moment the window rules can change.
            evaluateAnomalies(p, source, window: w, windows[w], r, live: live, now: now, into: &events)
        }
    }

    private func evaluateAnomalies(_ p: PatientState, _ source: ReadingSource, window w: Int, _ window: VitalWindow,
                                   _ r: Reading, live: Bool, now: Int64, into events: inout [EngineEvent]) {
        let rules = configuration.anomalyRules
        // Buckets close every 10 s at best, so the evidence gap is at least two buckets.
        let gap = max(configuration.evidenceGap, 2 * VitalWindow.fineWidth)
        for k in rules.indices where anomalyWindow[k] == w {
            let rule = rules[k]
            guard let m = rule.evaluate(window, minimumSamples: configuration.anomalyMinimumSamples,
                                        baselineMinutes: configuration.baselineMinimumMinutes) else { continue }
            let reaches = rule.reaches(m)
            switch source.anomalyTrackers[k].observe(level: reaches ? 0 : -1, clear: !reaches && rule.clears(m), at: r.time,
                                                     live: live, evidenceGap: gap, persistence: { _ in rule.persistence }) {
            case .none:
                break
            case .clear:
                if live, !p.anotherSourceHolds(besides: r.deviceID, now: now, window: sourceCurrentWindow,
                                               { $0.anomalyTrackers[k].isHolding }) {
                    conditionGone(p, rule: rule.id, device: nil, value: m, readingTime: r.time, now: now, into: &events)
                }
            case .confirmed(_, let since):
                if p.hasOpenAlarm(ruleIn: rule.suppressedBy) {
                    // Let it confirm afresh once the more specific alarm has gone.
                    source.anomalyTrackers[k].reset()
                    continue
                }
                conditionHolds(p, rule: rule.id, device: r.deviceID, category: .physiological, vital: rule.vital,
                               priority: rule.priority, value: m, threshold: rule.raiseAt, since: since,
                               readingTime: r.time, now: now, into: &events, message: rule.message(m))
            }
        }
    }

    private func evaluateNews2(_ p: PatientState, _ source: ReadingSource, _ score: News2Score, _ r: Reading, live: Bool,
                               now: Int64,
                               into events: inout [EngineEvent]) {
        let rule = configuration.news2Alarm
        let risk = score.risk
        let clear = score.isComplete && rule.priority(for: risk) == nil
        // The score combines every device; its persistence runs on the clock of the device whose
        // reading moved it.
        let outcome = source.news2Tracker.observe(level: risk.rawValue - 1, clear: clear, at: r.time, live: live,
                                                  evidenceGap: configuration.evidenceGap) { _ in rule.persistence }
        switch outcome {
        case .none:
            break
        case .clear:
            if live, !p.anotherSourceHolds(besides: r.deviceID, now: now, window: sourceCurrentWindow, { $0.news2Tracker.isHolding }) {
                conditionGone(p, rule: "news2", device: nil, value: Double(score.total), readingTime: r.time, now: now,
                              into: &events)
            }
        case .confirmed(let band, let since):
            let bandRisk = News2Risk(rawValue: band + 1)!
            guard let priority = rule.priority(for: bandRisk) else { return }
            let threshold: Double = bandRisk == .high ? 7 : bandRisk == .medium ? 5 : 3
            let missing = score.isComplete ? "" : " (at least: " + score.missing.members.map(\.name).joined(separator: ", ") + " missing)"
            conditionHolds(p, rule: "news2", device: nil, category: .physiological, vital: nil, priority: priority,
                           value: Double(score.total), threshold: threshold, since: since, readingTime: r.time, now: now,
                           into: &events, message: "NEWS2 \(score.total), \(bandRisk.clinicalName) clinical risk" + missing)
        }
    }

    /// Two devices measuring the same vital that disagree beyond its tolerance for the rule's
    /// persistence raise "disagree.<vital>"; agreement (or one device falling silent) clears it.
    private func evaluateAgreement(_ p: PatientState, _ r: Reading, now: Int64, into events: inout [EngineEvent]) {
        let rule = configuration.disagreement
        let window = sourceCurrentWindow
        for vital in Vital.ordered {
            guard let tolerance = rule.tolerance[vital] else { continue }
            let k = vital.index
            var low = Double.infinity, high = -Double.infinity, lowDevice = "", highDevice = "", measured = 0
            for s in p.sources where s.latestAt[k] != .min && now - s.latestAt[k] <= window {
                measured += 1
                if s.latest[k] < low { (low, lowDevice) = (s.latest[k], s.deviceID) }
                if s.latest[k] > high { (high, highDevice) = (s.latest[k], s.deviceID) }
            }
            let id = DisagreementRule.ruleID(vital)
            if measured >= 2, high - low > tolerance {
                if p.disagreeingSince[k] == .min { p.disagreeingSince[k] = now }
                let since = p.disagreeingSince[k]
                guard now - since >= rule.persistence else { continue }
                conditionHolds(p, rule: id, device: nil, category: .technical, vital: vital, priority: rule.priority,
                               value: high - low, threshold: tolerance, since: since, readingTime: nil, now: now,
                               into: &events,
                               message: "\(vital.displayName) differs between \(lowDevice) and \(highDevice) by more than \(formatted(tolerance)) \(vital.unit)")
            } else if p.disagreeingSince[k] != .min || p.openAlarmIndex(rule: id, device: nil) != nil {
                p.disagreeingSince[k] = .min
                conditionGone(p, rule: id, device: nil, value: measured >= 2 ? high - low : nil, readingTime: nil,
                              now: now, into: &events)
            }
        }
    }

    // MARK: State

    /// The working state of a patient, created on first use.
    func state(for patientID: String, now: Int64) -> PatientState {
        if let p = patients[patientID] { return p }
        let s = settings[patientID] ?? PatientSettings()
        let rules = s.isDefault ? defaultRules : s.effectiveRules(configuration)
        let p = PatientState(key: patientID, patientID: patientID, settings: s, rules: rules,
                             checks: s.isDefault ? defaultChecks : rules.map(RuleCheck.init), windowCount: windowedVitals.count, anomalyRuleCount: configuration.anomalyRules.count,
                             now: now)
        patients[patientID] = p
        return p
    }

    func nextAlarmID(_ seed: AlarmIDSeed) -> String {
        if let makeAlarmID { return makeAlarmID(seed) }
        // Raising, resolving and raising again within one millisecond still gives distinct ids.
        if seed.raisedAt == lastIDTime { idSerial += 1 } else { (lastIDTime, idSerial) = (seed.raisedAt, 0) }
        let device = TechnicalRule.isPerDevice(seed.ruleID) ? seed.deviceID.map { "@" + $0 } ?? "" : ""
        return "\(seed.patientID ?? "-")/\(seed.ruleID)\(device)/\(seed.raisedAt)" + (idSerial > 0 ? "-\(idSerial)" : "")
    }
}

/// What an injected id maker is told about the alarm it names.
public struct AlarmIDSeed: Sendable, Hashable {
    public var patientID: String?
    public var deviceID: String?
    public var ruleID: String
    public var category: AlarmCategory
    public var raisedAt: Int64
}

/// A configuration the engine refuses, with every reason.
public struct InvalidConfiguration: Error, Sendable, Equatable, CustomStringConvertible {
    public var problems: [String]
    public var description: String { "invalid engine configuration: " + problems.joined(separator: "; ") }
}

extension News2Risk {
    /// The RCP chart's words.
    public var clinicalName: String {
        switch self {
        case .low: "low"
        case .lowMedium: "low-medium"
        case .medium: "medium"
        case .high: "high"
        }
    }
}

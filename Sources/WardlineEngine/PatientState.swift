import WardlineCore

/// What clinicians have set for one patient: kept apart from the engine's working state, so that
/// forgetting an idle patient's windows never forgets their prescribed limits.
struct PatientSettings: Equatable {
    var scale = SpO2Scale.scale1
    /// Per-patient threshold rules, replacing the hospital rule with the same id.
    var overrides: [ThresholdRule] = []
    /// The patient's ward, for its rule set (nil: the hospital's alone).
    var ward: String?

    var isDefault: Bool { scale == .scale1 && overrides.isEmpty && ward == nil }

    /// The hospital rules, then the ward's, then scale 2's replacements, then the patient's
    /// overrides, by id.
    func effectiveRules(_ c: EngineConfiguration) -> [ThresholdRule] {
        var rules = c.thresholdRules
        func apply(_ r: ThresholdRule) {
            if let i = rules.firstIndex(where: { $0.id == r.id }) { rules[i] = r } else { rules.append(r) }
        }
        if let ward, let wardRules = c.wardThresholdRules[ward] { wardRules.forEach(apply) }
        if scale == .scale2 { c.scale2ThresholdRules.forEach(apply) }
        overrides.forEach(apply)
        return rules
    }
}

/// An open alarm and when its condition was last seen (device alerts clear after a quiet period).
struct OpenAlarm {
    var alarm: Alarm
    var lastEvidenceAt: Int64
}

/// The engine's working state for one patient (or, for a device alert with no patient, one
/// device). A class so the engine's dictionary lookup yields a reference to mutate in place.
final class PatientState {
    /// The dictionary key: the patient id, or "device:<id>" for an unassigned device's own alerts.
    let key: String
    let patientID: String?
    var settings: PatientSettings
    var rules: [ThresholdRule]
    /// `rules` flattened for the per-reading checks.
    var checks: [RuleCheck]
    /// Each device that sends this patient's readings, with its trackers and windows on its own
    /// clock; usually one or two, so a linear search is the fastest lookup.
    var sources: [ReadingSource] = []
    let windowCount: Int
    let anomalyRuleCount: Int
    var lastScore: News2Score?
    var alarms: [OpenAlarm] = []
    /// Engine clock since which two devices have disagreed on each vital (`Vital.index`); `.min` when they agree.
    var disagreeingSince = SIMD8<Int64>(repeating: .min)
    /// Engine clock of the last reading or alarm activity, for forgetting idle patients.
    var lastActivity: Int64

    init(key: String, patientID: String?, settings: PatientSettings, rules: [ThresholdRule], checks: [RuleCheck],
         windowCount: Int, anomalyRuleCount: Int, now: Int64) {
        self.key = key
        self.patientID = patientID
        self.settings = settings
        self.rules = rules
        self.checks = checks
        self.windowCount = windowCount
        self.anomalyRuleCount = anomalyRuleCount
        lastActivity = now
    }

    /// The source for `device`, created on its first reading for this patient.
    func source(for device: String, now: Int64) -> ReadingSource {
        for s in sources where s.deviceID == device { return s }
        let s = ReadingSource(deviceID: device, ruleCount: rules.count, windowCount: windowCount,
                              anomalyRuleCount: anomalyRuleCount, now: now)
        sources.append(s)
        return s
    }

    /// Forgets a device that no longer serves this patient.
    func removeSource(_ device: String) { sources.removeAll { $0.deviceID == device } }

    /// Swaps in new rules, keeping the persistence state of every rule that did not change.
    func replaceRules(_ new: [ThresholdRule]) {
        for s in sources {
            var kept: [BreachTracker] = []
            kept.reserveCapacity(new.count)
            for r in new {
                if let i = rules.firstIndex(of: r) { kept.append(s.trackers[i]) } else { kept.append(BreachTracker()) }
            }
            s.trackers = kept
        }
        rules = new
        checks = new.map(RuleCheck.init)
    }

    /// Whether any device other than `device`, heard from within `window`, still holds the condition
    /// `holds` describes: then one device's clear reading must not end the patient's alarm.
    func anotherSourceHolds(besides device: String, now: Int64, window: Int64, _ holds: (ReadingSource) -> Bool) -> Bool {
        guard sources.count > 1 else { return false }
        for s in sources where s.deviceID != device && s.isCurrent(at: now, window: window) && holds(s) { return true }
        return false
    }

    /// The open alarm of a rule: for technical rules, of that device too; a patient's
    /// physiological rules (`device` nil) have one alarm whichever device measured.
    func openAlarmIndex(rule: String, device: String?) -> Int? {
        alarms.firstIndex { $0.alarm.ruleID == rule && (device == nil || $0.alarm.deviceID == device) }
    }

    func hasOpenAlarm(prefix: String) -> Bool {
        !alarms.isEmpty && alarms.contains { $0.alarm.ruleID.hasPrefix(prefix) }
    }

    func hasOpenAlarm(ruleIn ids: [String]) -> Bool {
        !alarms.isEmpty && alarms.contains { ids.contains($0.alarm.ruleID) }
    }
}

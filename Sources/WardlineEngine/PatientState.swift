import WardlineCore

/// What clinicians have set for one patient: kept apart from the engine's working state, so that
/// forgetting an idle patient's windows never forgets their prescribed limits.
struct PatientSettings: Equatable {
    var scale = SpO2Scale.scale1
    /// Per-patient threshold rules, replacing the hospital rule with the same id.
    var overrides: [ThresholdRule] = []

    var isDefault: Bool { scale == .scale1 && overrides.isEmpty }

    /// The hospital rules, then scale 2's replacements, then the patient's overrides, by id.
    func effectiveRules(_ c: EngineConfiguration) -> [ThresholdRule] {
        var rules = c.thresholdRules
        func apply(_ r: ThresholdRule) {
            if let i = rules.firstIndex(where: { $0.id == r.id }) { rules[i] = r } else { rules.append(r) }
        }
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
    var trackers: [BreachTracker]
    /// Indexed like the engine's windowed vitals; their storage is allocated on the first value.
    var windows: [VitalWindow]
    var anomalyTrackers: [BreachTracker]
    var observations = News2Observations()
    var news2Tracker = BreachTracker()
    var lastScore: News2Score?
    var alarms: [OpenAlarm] = []
    /// Engine clock of the last reading or alarm activity, for forgetting idle patients.
    var lastActivity: Int64

    init(key: String, patientID: String?, settings: PatientSettings, rules: [ThresholdRule], checks: [RuleCheck],
         windowCount: Int, anomalyRuleCount: Int, now: Int64) {
        self.key = key
        self.patientID = patientID
        self.settings = settings
        self.rules = rules
        self.checks = checks
        trackers = Array(repeating: BreachTracker(), count: rules.count)
        windows = Array(repeating: VitalWindow(), count: windowCount)
        anomalyTrackers = Array(repeating: BreachTracker(), count: anomalyRuleCount)
        lastActivity = now
    }

    /// Swaps in new rules, keeping the persistence state of every rule that did not change.
    func replaceRules(_ new: [ThresholdRule]) {
        var kept: [BreachTracker] = []
        kept.reserveCapacity(new.count)
        for r in new {
            if let i = rules.firstIndex(of: r) { kept.append(trackers[i]) } else { kept.append(BreachTracker()) }
        }
        rules = new
        checks = new.map(RuleCheck.init)
        trackers = kept
    }

    /// The open alarm of a rule: for technical rules, of that device too; a patient's
    /// physiological rules (`device` nil) have one alarm whichever device measured.
    func openAlarmIndex(rule: String, device: String?) -> Int? {
        alarms.firstIndex { $0.alarm.ruleID == rule && (device == nil || $0.alarm.deviceID == device) }
    }

    func hasOpenAlarm(ruleIn ids: [String]) -> Bool {
        !alarms.isEmpty && alarms.contains { ids.contains($0.alarm.ruleID) }
    }
}

import WardlineCore

/// Per-patient settings clinicians make: threshold overrides and the SpO2 scale. The database
/// stores them; the engine is told them (at start-up for every patient, then on each change).
/// A changed rule's persistence delay starts afresh; an open alarm is re-judged on the next reading
/// against the new limits.
extension AlertEngine {
    /// Replaces the hospital rule with the same id for this patient (or adds a rule).
    public func setThresholdOverride(patientID: String, rule: ThresholdRule) throws(InvalidThresholdRule) {
        try Self.check(rule)
        updateSettings(patientID) { s in
            if let i = s.overrides.firstIndex(where: { $0.id == rule.id }) { s.overrides[i] = rule } else { s.overrides.append(rule) }
        }
    }

    /// Replaces all of a patient's overrides at once (loading them from the database).
    public func setThresholdOverrides(patientID: String, rules: [ThresholdRule]) throws(InvalidThresholdRule) {
        for r in rules { try Self.check(r) }
        updateSettings(patientID) { $0.overrides = rules }
    }

    /// Goes back to the hospital rule (or to none, for a rule only this patient had).
    public func removeThresholdOverride(patientID: String, ruleID: String) {
        updateSettings(patientID) { $0.overrides.removeAll { $0.id == ruleID } }
    }

    /// The rules in force for a patient: hospital defaults, scale-2 replacements, overrides.
    public func thresholdRules(for patientID: String) -> [ThresholdRule] {
        (settings[patientID] ?? PatientSettings()).effectiveRules(configuration)
    }

    /// Scores the patient on SpO2 scale 1 or 2, and applies the scale's SpO2 limits unless the
    /// patient has an override for them.
    public func setSpO2Scale(patientID: String, scale: SpO2Scale) {
        updateSettings(patientID) { $0.scale = scale }
    }

    public func spo2Scale(for patientID: String) -> SpO2Scale { settings[patientID]?.scale ?? .scale1 }

    /// The patient's ward, whose rule set (if the configuration has one) applies to them.
    public func setWard(patientID: String, ward: String?) {
        updateSettings(patientID) { $0.ward = ward }
    }

    private func updateSettings(_ patientID: String, _ change: (inout PatientSettings) -> Void) {
        var s = settings[patientID] ?? PatientSettings()
        change(&s)
        settings[patientID] = s.isDefault ? nil : s
        guard let p = patients[patientID] else { return }
        p.settings = s
        p.replaceRules(s.effectiveRules(configuration))
    }

    private static func check(_ rule: ThresholdRule) throws(InvalidThresholdRule) {
        let problems = rule.problems
        if !problems.isEmpty { throw InvalidThresholdRule(ruleID: rule.id, problems: problems) }
    }
}

/// A rule set reloaded while Wardline runs (`wardline rules reload`, SIGHUP): the new limits apply
/// from the next reading, each unchanged rule keeping its persistence state; an open alarm whose
/// rule is gone can no longer clear by itself, so acknowledging it ends it (as after a restart).
public struct RuleSetChangeRefused: Error, Sendable, CustomStringConvertible {
    public var description: String
}

extension AlertEngine {
    public func reconfigure(_ new: EngineConfiguration) throws(RuleSetChangeRefused) {
        let problems = new.problems
        guard problems.isEmpty else { throw RuleSetChangeRefused(description: problems.joined(separator: "; ")) }
        // The windows each patient keeps follow the anomaly rules' vitals: a change there needs a restart.
        guard new.anomalyRules.map(\.vital) == configuration.anomalyRules.map(\.vital) else {
            throw RuleSetChangeRefused(description: "the anomaly rules watch other vitals than the running set's; restart Wardline to apply it")
        }
        configuration = new
        reloadDefaults()
        for p in patients.values where p.patientID != nil {
            p.replaceRules(p.settings.effectiveRules(new))
            for i in p.alarms.indices where p.alarms[i].alarm.category == .physiological {
                let rule = p.alarms[i].alarm.ruleID
                let known = rule == "news2" || rule.hasPrefix("disagree.") || p.rules.contains { $0.id == rule }
                    || new.anomalyRules.contains { $0.id == rule }
                if !known { p.alarms[i].alarm.conditionPresent = false }
            }
        }
    }
}

extension AlertEngine {
    /// The rules of a patient with no settings of their own, after `configuration` changed.
    func reloadDefaults() {
        defaultRules = configuration.thresholdRules
        defaultChecks = defaultRules.map(RuleCheck.init)
    }
}

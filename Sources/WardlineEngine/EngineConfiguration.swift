import WardlineCore

/// Everything the alert engine can be told, with the hospital's defaults (see `HospitalDefaults`
/// for where the clinical numbers come from). Times are milliseconds.
public struct EngineConfiguration: Sendable {
    /// Threshold rules for every patient; a per-patient override replaces the rule with its id.
    public var thresholdRules = HospitalDefaults.thresholdRules
    /// Rules that replace the ones with the same id for patients scored on SpO2 scale 2.
    public var scale2ThresholdRules = HospitalDefaults.scale2ThresholdRules
    public var anomalyRules = HospitalDefaults.anomalyRules
    /// Ward rule sets (a COPD ward, a paediatric ward): rules that replace the hospital rule with
    /// the same id (or add one) for the patients of that ward, before scale 2 and the patient's own.
    public var wardThresholdRules: [String: [ThresholdRule]] = [:]
    /// The rule set's version, recorded on every alarm it raises ("built-in": `HospitalDefaults`).
    public var ruleSetVersion = "built-in"
    public var news2Alarm = News2AlarmRule()
    /// A NEWS2 parameter counts only while its newest value is at most this old (on the clock of
    /// the device that measured it, plus any silence since).
    /// One hour keeps an hourly blood pressure in the score.
    public var news2Staleness: Int64 = 3_600_000
    /// Readings further apart than this break a breach's persistence: the delay starts again.
    public var evidenceGap: Int64 = 20_000
    /// Time constant of the windows' EWMA.
    public var ewmaTimeConstant: Int64 = 60_000
    /// Readings each compared minute needs before a `.change` measure is computed.
    public var anomalyMinimumSamples = 3
    /// Minutes of the last hour that must hold readings before a baseline measure is computed.
    public var baselineMinimumMinutes = 30
    /// Alarms of these priorities latch: they stay active after recovery until acknowledged.
    public var latchingPriorities: Set<AlarmPriority> = [.high]
    public var escalation = EscalationPolicy()

    /// No reading from an assigned device for this long (engine clock) raises "no data".
    public var staleDataAfter: Int64 = 30_000
    public var staleDataPriority = AlarmPriority.medium
    /// An offline status must last this long before it alarms (a Wi-Fi roam reconnects sooner).
    public var offlineGrace: Int64 = 10_000
    public var offlinePriority = AlarmPriority.medium
    public var battery = BatteryRule()
    /// A device whose clock is further than this from Wardline's (median of its last live
    /// readings) raises the technical alarm "device.clock"; 0 turns the alarm off. The offset is
    /// measured and shown either way; the rules never depend on it.
    public var clockOffsetAlarmAbove: Int64 = 60_000
    public var clockPriority = AlarmPriority.low
    public var disagreement = DisagreementRule()
    /// A device's own alert is treated as present until it has not been repeated for this long.
    public var deviceAlertClearAfter: Int64 = 60_000
    /// Device alert codes (lower case) meaning the signal cannot be trusted: while one is present,
    /// that device's readings raise and clear no physiological alarm and feed no window or NEWS2.
    public var signalLossCodes: Set<String> = ["probe_off", "sensor_off", "lead_off", "leads_off", "no_signal",
                                                "poor_signal", "artifact", "artefact"]
    /// Device alert codes (lower case) that are about the patient rather than the equipment.
    public var physiologicalDeviceAlertCodes: Set<String> = ["apnea", "apnoea", "asystole", "vfib", "vtach",
                                                              "brady", "tachy", "desat", "hr_high", "hr_low",
                                                              "spo2_low"]
    /// A patient with no reading and no open alarm for this long is forgotten (engine clock).
    public var forgetIdlePatientsAfter: Int64 = 6 * 3_600_000

    public init() {}

    /// What is wrong with this configuration, or nothing.
    public var problems: [String] {
        var p: [String] = []
        for r in thresholdRules + scale2ThresholdRules { p += r.problems.map { "\(r.id): \($0)" } }
        for (ward, rules) in wardThresholdRules.sorted(by: { $0.key < $1.key }) {
            for r in rules { p += r.problems.map { "ward \(ward): \(r.id): \($0)" } }
        }
        for r in anomalyRules { p += r.problems.map { "\(r.id): \($0)" } }
        let ids = thresholdRules.map(\.id) + anomalyRules.map(\.id) + ["news2"]
        if Set(ids).count != ids.count { p.append("rule ids must be unique") }
        if news2Staleness <= 0 { p.append("news2Staleness must be positive") }
        if evidenceGap <= 0 { p.append("evidenceGap must be positive") }
        if ewmaTimeConstant <= 0 { p.append("ewmaTimeConstant must be positive") }
        if clockOffsetAlarmAbove < 0 { p.append("clockOffsetAlarmAbove must not be negative") }
        if disagreement.persistence < 0 || disagreement.tolerance.values.contains(where: { !($0 > 0) }) {
            p.append("disagreement tolerances must be positive and its persistence not negative")
        }
        if staleDataAfter <= 0 || offlineGrace < 0 || deviceAlertClearAfter <= 0 { p.append("device timers must be positive") }
        if escalation.firstAfter < 0 || escalation.repeatEvery <= 0 { p.append("escalation times must be positive") }
        if !(battery.clearAt >= battery.lowBelow && battery.lowBelow >= battery.criticalBelow) {
            p.append("battery levels must be clear ≥ low ≥ critical")
        }
        return p
    }
}

/// How the NEWS2 risk raises an alarm ("news2"): the priority for each risk band (nil: no alarm),
/// after the risk has held for `persistence` ms of reading time. The alarm clears only on a
/// complete score back in the low band: a score that lost a parameter to staleness is not evidence
/// of recovery.
public struct News2AlarmRule: Sendable, Hashable {
    /// A single parameter scoring 3: RCP's "urgent ward-based response". No alarm by default: the
    /// hospital threshold limits sit on the red-score boundaries, so the threshold alarm of that
    /// parameter has already sounded and a second alarm would only add noise. (Consciousness has
    /// no threshold; it is charted by the nurse who has just seen the patient.)
    public var lowMedium: AlarmPriority? = nil
    /// 5–6: "key threshold for urgent response".
    public var medium: AlarmPriority? = .medium
    /// ≥ 7: "urgent or emergency response".
    public var high: AlarmPriority? = .high
    /// Long enough that one artefactual reading scoring 3 does not alarm.
    public var persistence: Int64 = 30_000

    public init() {}

    func priority(for risk: News2Risk) -> AlarmPriority? {
        switch risk {
        case .low: nil
        case .lowMedium: lowMedium
        case .medium: medium
        case .high: high
        }
    }
}

/// Battery alarms from device status: below `lowBelow` % a low-priority alarm, below
/// `criticalBelow` % medium; cleared at `clearAt` % or more.
public struct BatteryRule: Sendable, Hashable {
    public var lowBelow: Double = 20
    public var criticalBelow: Double = 10
    public var clearAt: Double = 25
    public var lowPriority = AlarmPriority.low
    public var criticalPriority = AlarmPriority.medium

    public init() {}
}

/// Two devices measuring one vital of one patient that differ by more than the vital's tolerance
/// for `persistence` (engine clock) raise the technical alarm "disagree.<vital>": a probe on the
/// wrong finger, a cuff on the wrong patient, a failing sensor. Both values still count, and the
/// worse one alarms, so the disagreement is never resolved by believing the reassuring device.
public struct DisagreementRule: Sendable, Hashable {
    public var tolerance: [Vital: Double] = [.heartRate: 15, .spo2: 5, .respiratoryRate: 6, .temperature: 1.0,
                                             .systolicBP: 20, .diastolicBP: 15]
    public var persistence: Int64 = 10_000
    public var priority = AlarmPriority.low

    public init() {}

    /// The rule id of a disagreement on `vital`.
    public static func ruleID(_ vital: Vital) -> String { "disagree." + vital.rawValue }
}

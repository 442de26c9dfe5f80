import WardlineCore

/// A windowed anomaly on one vital: a trend or a departure from the patient's own baseline, which
/// catches a deterioration while every value is still inside its threshold limits.
///
/// The rule computes one measure from the patient's windows each time a 10-second bucket closes,
/// raises when the measure reaches `raiseAt` (inclusive) and clears when it is back at `clearAt`
/// (inclusive). While too little data is in the windows the measure is unknown and nothing changes.
public struct AnomalyRule: Sendable, Hashable, Identifiable {
    public enum Measure: Sendable, Hashable {
        /// Mean of the last minute minus the mean of the minute `minutes` (1–5) earlier, in the
        /// vital's unit: "SpO2 fell 4 points in 5 minutes" is `.change(minutes: 5)` at −4.
        case change(minutes: Int)
        /// The EWMA divided by the last hour's mean: 1.3 is "30 % above its 60-minute baseline".
        case ratioToHourlyBaseline
        /// (EWMA − last hour's mean) / last hour's standard deviation, the deviation floored at
        /// `minimumDeviation` so a very steady hour does not turn noise into an alarm.
        case deviationsFromHourlyBaseline(minimumDeviation: Double)
    }

    public var id: String
    public var vital: Vital
    public var measure: Measure
    /// `.below` for falls (`raiseAt` negative), `.above` for rises.
    public var direction: BreachDirection
    public var raiseAt: Double
    public var clearAt: Double
    public var priority: AlarmPriority
    /// Milliseconds of reading time the measure must stay at `raiseAt` or beyond (the hospital
    /// defaults use a minute, longer than a short artefact moves a one-minute mean or the EWMA).
    public var persistence: Int64
    /// Threshold rules that make this one redundant: while one of them has an open alarm for the
    /// patient, this rule raises nothing (a desaturation alarm says more than "SpO2 falling").
    public var suppressedBy: [String]

    public init(id: String, vital: Vital, measure: Measure, direction: BreachDirection, raiseAt: Double,
                clearAt: Double, priority: AlarmPriority, persistence: Int64 = 0, suppressedBy: [String] = []) {
        self.id = id
        self.vital = vital
        self.measure = measure
        self.direction = direction
        self.raiseAt = raiseAt
        self.clearAt = clearAt
        self.priority = priority
        self.persistence = persistence
        self.suppressedBy = suppressedBy
    }

    /// The measure now, or nil when the windows hold too little data for it.
    func evaluate(_ w: VitalWindow, minimumSamples: Int, baselineMinutes: Int) -> Double? {
        switch measure {
        case .change(let minutes):
            return w.change(overMinutes: minutes, minimumSamples: minimumSamples)
        case .ratioToHourlyBaseline:
            guard w.minutesCoveredInLastHour >= baselineMinutes, let mean = w.lastHour.mean, mean > 0 else { return nil }
            return w.ewma / mean
        case .deviationsFromHourlyBaseline(let floor):
            let hour = w.lastHour
            guard w.minutesCoveredInLastHour >= baselineMinutes, let mean = hour.mean,
                  let sd = hour.standardDeviation else { return nil }
            return (w.ewma - mean) / max(sd, floor)
        }
    }

    func reaches(_ m: Double) -> Bool { direction == .above ? m >= raiseAt : m <= raiseAt }
    func clears(_ m: Double) -> Bool { direction == .above ? m <= clearAt : m >= clearAt }

    func message(_ m: Double) -> String {
        switch measure {
        case .change(let minutes):
            let verb = m < 0 ? "fell" : "rose"
            return "\(vital.displayName) \(verb) \(formatted(abs(m))) \(vital.unit) in \(minutes) min"
        case .ratioToHourlyBaseline:
            let pct = Int(((m - 1) * 100).rounded())
            return "\(vital.displayName) \(pct >= 0 ? "+" : "")\(pct) % against its 60-min baseline"
        case .deviationsFromHourlyBaseline:
            return "\(vital.displayName) \(formatted(m)) SD from its 60-min baseline"
        }
    }

    public var problems: [String] {
        var p: [String] = []
        if case .change(let minutes) = measure, !(1...VitalWindow.longestChangeMinutes).contains(minutes) {
            p.append("change is measured over 1 to \(VitalWindow.longestChangeMinutes) minutes, not \(minutes)")
        }
        if !raiseAt.isFinite || !clearAt.isFinite { p.append("levels must be numbers") }
        if direction == .above ? clearAt > raiseAt : clearAt < raiseAt {
            p.append("clear level \(clearAt) is beyond the raise level \(raiseAt); the alarm could never clear")
        }
        if persistence < 0 { p.append("persistence is negative") }
        return p
    }
}

import WardlineCore

/// Wardline's adult general-ward defaults. They are a starting point for the hospital's clinical
/// engineering and medical devices committee to review, not a clinical standard: every value is a
/// field of `EngineConfiguration`, and clinicians override thresholds per patient.
///
/// Where they come from:
/// - Limits sit at or just outside the NEWS2 bands that score 3 (RCP 2017), so an alarm means the
///   same thing as a red score on the chart: SpO2 < 92 (scale 1 ≤ 91), HR > 130 (≥ 131), RR > 24
///   (≥ 25), SBP < 91 (≤ 90), SBP > 219 (≥ 220), temperature < 35.1 (≤ 35.0).
/// - MAP < 65 mmHg is the Surviving Sepsis Campaign (2021) perfusion target.
/// - SpO2 targets 94–98 % (scale 1) and 88–92 % (scale 2) follow the BTS oxygen guideline (2017).
/// - Persistence delays of 10–20 s on continuously measured vitals (HR, SpO2, RR) are the
///   alarm-fatigue mitigation the monitoring literature recommends (e.g. Welch 2011, Bonafide 2015):
///   most SpO2 and HR false alarms last under 10–15 s. Intermittently measured vitals (NIBP,
///   temperature) alarm on the first reading: each is already a deliberate measurement, and a delay
///   would wait for the next cycle, often 15 minutes or more.
/// - Clear levels sit 1–5 units inside the limit (hysteresis) so a value hovering at a limit does
///   not raise and clear over and over.
public enum HospitalDefaults {
    static func band(_ limit: Double, _ priority: AlarmPriority, _ seconds: Int64 = 0) -> ThresholdBand {
        ThresholdBand(limit: limit, priority: priority, persistence: seconds * 1000)
    }

    public static let thresholdRules: [ThresholdRule] = [
        ThresholdRule(.heartRate, .above, bands: [band(120, .medium, 10), band(130, .high, 10)], clearAt: 115),
        ThresholdRule(.heartRate, .below, bands: [band(50, .medium, 10), band(40, .high, 10)], clearAt: 55),
        ThresholdRule(.spo2, .below, bands: [band(92, .medium, 15), band(90, .high, 10)], clearAt: 93),
        ThresholdRule(.respiratoryRate, .above, bands: [band(24, .medium, 20), band(30, .high, 20)], clearAt: 22),
        ThresholdRule(.respiratoryRate, .below, bands: [band(10, .medium, 20), band(8, .high, 20)], clearAt: 11),
        ThresholdRule(.temperature, .above, bands: [band(38.0, .low), band(39.0, .medium), band(40.0, .high)], clearAt: 37.8),
        ThresholdRule(.temperature, .below, bands: [band(36.0, .low), band(35.1, .medium)], clearAt: 36.2),
        ThresholdRule(.systolicBP, .above, bands: [band(180, .medium), band(219, .high)], clearAt: 170),
        ThresholdRule(.systolicBP, .below, bands: [band(100, .low), band(91, .medium), band(80, .high)], clearAt: 105),
        ThresholdRule(.diastolicBP, .above, bands: [band(110, .medium), band(120, .high)], clearAt: 105),
        ThresholdRule(.diastolicBP, .below, bands: [band(40, .medium)], clearAt: 45),
        ThresholdRule(.meanArterialPressure, .above, bands: [band(130, .medium)], clearAt: 120),
        ThresholdRule(.meanArterialPressure, .below, bands: [band(65, .medium), band(55, .high)], clearAt: 70),
    ]

    /// Replacements for patients on SpO2 scale 2 (hypercapnic respiratory failure, target 88–92 %):
    /// the scale-1 limits would alarm all day for a patient at their prescribed target.
    public static let scale2ThresholdRules: [ThresholdRule] = [
        ThresholdRule(.spo2, .below, bands: [band(88, .medium, 15), band(85, .high, 10)], clearAt: 89),
    ]

    /// A trend must hold for a minute: a few seconds of artefact (SpO2 0 while the finger moves)
    /// shift a one-minute mean or the EWMA for less than a minute.
    static let trendPersistence: Int64 = 60_000

    public static let anomalyRules: [AnomalyRule] = [
        // A desaturating patient is found minutes before the SpO2 limit: "4 points in 5 minutes".
        // Minute means blur a ramp's ends, so a steady fall of 4 points over 5 minutes measures
        // 3.7–4; −3.5 catches it, a fall of 3 does not.
        AnomalyRule(id: "spo2.falling", vital: .spo2, measure: .change(minutes: 5), direction: .below,
                    raiseAt: -3.5, clearAt: -2, priority: .medium, persistence: trendPersistence, suppressedBy: ["spo2.low"]),
        // Tachycardia relative to the patient's own last hour: an early sign of sepsis or bleeding.
        AnomalyRule(id: "hr.rising", vital: .heartRate, measure: .ratioToHourlyBaseline, direction: .above,
                    raiseAt: 1.30, clearAt: 1.15, priority: .medium, persistence: trendPersistence, suppressedBy: ["hr.high"]),
        // Tachypnoea is the earliest and most neglected sign of deterioration.
        AnomalyRule(id: "rr.rising", vital: .respiratoryRate, measure: .ratioToHourlyBaseline, direction: .above,
                    raiseAt: 1.40, clearAt: 1.20, priority: .low, persistence: trendPersistence, suppressedBy: ["rr.high"]),
    ]
}

import WardlineCore

/// The NEWS2 observation chart (Royal College of Physicians, *National Early Warning Score (NEWS) 2*,
/// December 2017, chart 1), written down band by band exactly as published.
///
/// Values between two published bands (RR 20.5, temperature 38.05 — the chart has whole numbers and
/// tenths of a degree only) score the **worse** of the two neighbouring bands: a value counts in the
/// more normal band only once it is inside that band's published range. The engine may under-alarm
/// by rounding but never under-score, and a device that averages (RR 20.5) is scored as if its
/// value had already left the normal range. Examples: RR 20.5 → 2, RR 11.5 → 1, SpO2 95.5 → 1,
/// temperature 38.05 → 1, 36.05 → 1, 35.05 → 3, pulse 90.5 → 1, SBP 219.5 → 3.
public enum News2Chart {
    /// One published band: a closed range (open-ended at the chart's edges) and its score.
    struct Band {
        var low: Double
        var high: Double
        var score: Int
        init(_ low: Double, _ high: Double, _ score: Int) { (self.low, self.high, self.score) = (low, high, score) }
    }

    static let respiration = [Band(-.infinity, 8, 3), Band(9, 11, 1), Band(12, 20, 0), Band(21, 24, 2), Band(25, .infinity, 3)]
    static let spo2Scale1 = [Band(-.infinity, 91, 3), Band(92, 93, 2), Band(94, 95, 1), Band(96, .infinity, 0)]
    /// Scale 2 on air: 88–92 and ≥ 93 both score 0.
    static let spo2Scale2OnAir = [Band(-.infinity, 83, 3), Band(84, 85, 2), Band(86, 87, 1), Band(88, .infinity, 0)]
    static let spo2Scale2OnOxygen = [Band(-.infinity, 83, 3), Band(84, 85, 2), Band(86, 87, 1), Band(88, 92, 0),
                                     Band(93, 94, 1), Band(95, 96, 2), Band(97, .infinity, 3)]
    static let systolic = [Band(-.infinity, 90, 3), Band(91, 100, 2), Band(101, 110, 1), Band(111, 219, 0), Band(220, .infinity, 3)]
    static let pulse = [Band(-.infinity, 40, 3), Band(41, 50, 1), Band(51, 90, 0), Band(91, 110, 1), Band(111, 130, 2),
                        Band(131, .infinity, 3)]
    static let temperature = [Band(-.infinity, 35.0, 3), Band(35.1, 36.0, 1), Band(36.1, 38.0, 0), Band(38.1, 39.0, 1),
                              Band(39.1, .infinity, 2)]

    /// The published band containing `value`, or the worse of the two bands either side of the gap it falls in.
    static func score(_ value: Double, _ bands: [Band]) -> Int {
        for i in bands.indices {
            let band = bands[i]
            if value <= band.high { return value >= band.low ? band.score : max(band.score, bands[i - 1].score) }
        }
        return bands[bands.count - 1].score
    }

    public static func respirationScore(_ breathsPerMinute: Double) -> Int { score(breathsPerMinute, respiration) }

    /// SpO2 score on the patient's scale. On scale 2 the score above 92 % depends on oxygen: when
    /// `onOxygen` is unknown it is scored as air, the lowest score it could have.
    public static func oxygenSaturationScore(_ percent: Double, scale: SpO2Scale, onOxygen: Bool?) -> Int {
        switch scale {
        case .scale1: score(percent, spo2Scale1)
        case .scale2: score(percent, onOxygen == true ? spo2Scale2OnOxygen : spo2Scale2OnAir)
        }
    }

    public static func supplementalOxygenScore(_ onOxygen: Bool) -> Int { onOxygen ? 2 : 0 }
    public static func systolicScore(_ mmHg: Double) -> Int { score(mmHg, systolic) }
    public static func pulseScore(_ bpm: Double) -> Int { score(bpm, pulse) }
    /// New confusion scores 3, like V, P and U.
    public static func consciousnessScore(_ level: Consciousness) -> Int { level == .alert ? 0 : 3 }
    public static func temperatureScore(_ celsius: Double) -> Int { score(celsius, temperature) }

    /// The clinical risk for an aggregate score and whether any single parameter scored 3.
    public static func risk(total: Int, anyParameterScoredThree: Bool) -> News2Risk {
        if total >= 7 { return .high }
        if total >= 5 { return .medium }
        return anyParameterScoredThree ? .lowMedium : .low
    }
}

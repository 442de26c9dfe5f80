import WardlineCore

/// Which SpO2 scale a patient is scored on. Scale 2 is for hypercapnic respiratory failure with a
/// prescribed target of 88–92 %, set per patient by a clinician (RCP 2017, and BTS oxygen guideline).
public enum SpO2Scale: Int, Sendable, Hashable, CaseIterable {
    case scale1 = 1
    case scale2 = 2
}

/// The NEWS2 clinical risk bands, in rising order.
public enum News2Risk: Int, Sendable, Hashable, Comparable, CaseIterable {
    /// Aggregate 0–4 with no single parameter scoring 3.
    case low
    /// A single parameter scoring 3 (the chart's "red score"), aggregate ≤ 4.
    case lowMedium
    /// Aggregate 5–6.
    case medium
    /// Aggregate 7 or more.
    case high

    public static func < (a: News2Risk, b: News2Risk) -> Bool { a.rawValue < b.rawValue }
}

/// The seven NEWS2 parameters.
public enum News2Parameter: Int, Sendable, Hashable, CaseIterable {
    case respirationRate, oxygenSaturation, supplementalOxygen, systolicBP, pulse, consciousness, temperature

    /// The chart's row name.
    public var name: String {
        switch self {
        case .respirationRate: "respiration rate"
        case .oxygenSaturation: "SpO2"
        case .supplementalOxygen: "air or oxygen"
        case .systolicBP: "systolic BP"
        case .pulse: "pulse"
        case .consciousness: "consciousness"
        case .temperature: "temperature"
        }
    }
}

/// A set of NEWS2 parameters (the ones missing from a score).
public struct News2Parameters: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public init(_ p: News2Parameter) { rawValue = 1 << UInt8(p.rawValue) }

    public static let all = News2Parameters(rawValue: 0x7F)
    public func contains(_ p: News2Parameter) -> Bool { contains(News2Parameters(p)) }
    public var members: [News2Parameter] { News2Parameter.allCases.filter { contains($0) } }
}

/// One NEWS2 score: each parameter's score, the aggregate, and the clinical risk.
///
/// A score never pretends: parameters with no value fresh enough are listed in `missing`, `total`
/// adds up only the parameters present, and `risk` is computed from those — a lower bound on the
/// true risk, since a missing parameter can only add to it. `isComplete` says whether it is the
/// published NEWS2 or that lower bound.
public struct News2Score: Sendable, Hashable {
    public var scale: SpO2Scale
    /// Each parameter's score in lane `News2Parameter.rawValue`; -1 when missing (lane 7 unused).
    private var scores = SIMD8<Int8>(repeating: -1)

    public init(scale: SpO2Scale = .scale1) { self.scale = scale }

    public subscript(_ p: News2Parameter) -> Int? {
        get { scores[p.rawValue] < 0 ? nil : Int(scores[p.rawValue]) }
        set { scores[p.rawValue] = Int8(newValue ?? -1) }
    }

    /// The sum of the parameters present.
    public var total: Int {
        var t = 0
        for i in 0..<7 where scores[i] > 0 { t += Int(scores[i]) }
        return t
    }

    public var missing: News2Parameters {
        var m = News2Parameters()
        for p in News2Parameter.allCases where scores[p.rawValue] < 0 { m.insert(News2Parameters(p)) }
        return m
    }

    public var isComplete: Bool { missing.isEmpty }

    public var anyParameterScoredThree: Bool { (0..<7).contains { scores[$0] == 3 } }

    /// The clinical risk of the parameters present (a lower bound when incomplete).
    public var risk: News2Risk { News2Chart.risk(total: total, anyParameterScoredThree: anyParameterScoredThree) }
}

extension News2Score {
    /// Scores a complete or partial set of observations. Nil means "not observed".
    public init(respirationRate: Double?, spo2: Double?, onOxygen: Bool?, systolicBP: Double?, pulse: Double?,
                consciousness: Consciousness?, temperature: Double?, scale: SpO2Scale = .scale1) {
        self.init(scale: scale)
        self[.respirationRate] = respirationRate.map(News2Chart.respirationScore)
        self[.oxygenSaturation] = spo2.map { News2Chart.oxygenSaturationScore($0, scale: scale, onOxygen: onOxygen) }
        self[.supplementalOxygen] = onOxygen.map(News2Chart.supplementalOxygenScore)
        self[.systolicBP] = systolicBP.map(News2Chart.systolicScore)
        self[.pulse] = pulse.map(News2Chart.pulseScore)
        self[.consciousness] = consciousness.map(News2Chart.consciousnessScore)
        self[.temperature] = temperature.map(News2Chart.temperatureScore)
    }
}

extension News2Score: CustomStringConvertible {
    public var description: String {
        let parts = News2Parameter.allCases.map { p in self[p].map(String.init) ?? "–" }
        return "NEWS2 \(total)\(isComplete ? "" : "+?") \(risk) [\(parts.joined(separator: " "))] scale \(scale.rawValue)"
    }
}

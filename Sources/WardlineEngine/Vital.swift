import WardlineCore

/// One vital sign the engine watches, including mean arterial pressure derived from the two pressures.
///
/// Raw values are the protocol's short names (`hr`, `spo2`, …), so rule ids and REST paths read the
/// way the devices' payloads do.
public enum Vital: String, Sendable, Hashable, CaseIterable, Comparable {
    case heartRate = "hr"
    case spo2
    case temperature = "temp"
    case respiratoryRate = "rr"
    case systolicBP = "sbp"
    case diastolicBP = "dbp"
    /// DBP + (SBP − DBP) / 3, present only when both pressures are in the same reading.
    case meanArterialPressure = "map"

    /// This vital's value in a reading, or nil when the device did not measure it.
    @inlinable
    public func value(in vitals: Vitals) -> Double? {
        let v: Double?
        switch self {
        case .heartRate: v = vitals.heartRate
        case .spo2: v = vitals.spo2
        case .temperature: v = vitals.temperature
        case .respiratoryRate: v = vitals.respiratoryRate
        case .systolicBP: v = vitals.systolicBP
        case .diastolicBP: v = vitals.diastolicBP
        case .meanArterialPressure: v = vitals.meanArterialPressure
        }
        // A NaN is no measurement: it must neither raise nor clear anything.
        guard let v, !v.isNaN else { return nil }
        return v
    }

    public var unit: String {
        switch self {
        case .heartRate: "bpm"
        case .spo2: "%"
        case .temperature: "°C"
        case .respiratoryRate: "/min"
        case .systolicBP, .diastolicBP, .meanArterialPressure: "mmHg"
        }
    }

    /// The name a nurse reads on the alarm ("SpO2 low").
    public var displayName: String {
        switch self {
        case .heartRate: "HR"
        case .spo2: "SpO2"
        case .temperature: "Temp"
        case .respiratoryRate: "RR"
        case .systolicBP: "SBP"
        case .diastolicBP: "DBP"
        case .meanArterialPressure: "MAP"
        }
    }

    var index: Int {
        switch self {
        case .heartRate: 0
        case .spo2: 1
        case .temperature: 2
        case .respiratoryRate: 3
        case .systolicBP: 4
        case .diastolicBP: 5
        case .meanArterialPressure: 6
        }
    }

    public static func < (a: Vital, b: Vital) -> Bool { a.index < b.index }

    /// Every vital in `index` order, made once (the synthesised `allCases` builds an array per call).
    static let ordered: [Vital] = allCases
}

/// Which side of a limit is abnormal.
public enum BreachDirection: String, Sendable, Hashable {
    /// Values above the limit breach it (tachycardia, fever).
    case above
    /// Values below the limit breach it (desaturation, hypotension).
    case below

    /// Whether `value` is beyond `limit` on this side (strictly: a value equal to the limit is not a breach).
    @inlinable
    public func isBeyond(_ value: Double, _ limit: Double) -> Bool {
        self == .above ? value > limit : value < limit
    }

    /// Whether `value` has come back to `level` or past it towards normal.
    @inlinable
    public func hasReturned(_ value: Double, to level: Double) -> Bool {
        self == .above ? value <= level : value >= level
    }
}

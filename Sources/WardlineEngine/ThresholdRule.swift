import WardlineCore

/// One alarm band of a threshold rule: beyond `limit`, the alarm has `priority` once the breach has
/// held for `persistence` milliseconds of reading time.
public struct ThresholdBand: Sendable, Hashable {
    public var limit: Double
    public var priority: AlarmPriority
    /// How long the value must stay beyond the limit before the alarm sounds, in milliseconds of
    /// reading time (the device clock). 0 alarms on the first reading beyond the limit.
    public var persistence: Int64

    public init(limit: Double, priority: AlarmPriority, persistence: Int64 = 0) {
        self.limit = limit
        self.priority = priority
        self.persistence = persistence
    }
}

/// A limit alarm on one vital in one direction ("SpO2 low"), with up to three bands of rising
/// priority, one clear level (hysteresis), and a persistence delay per band.
///
/// Bands are strict: `below 90` breaches at 89.9, not at 90. The alarm raised by a rule has the
/// priority of the most severe band confirmed, never falls back while it is open, and its condition
/// clears only once a reading is back at `clearLevel` or beyond it towards normal — so a value
/// hovering at the limit does not chatter. A rule with no bands is disabled.
public struct ThresholdRule: Sendable, Hashable, Identifiable {
    /// Stable name, `"<vital>.high"` or `"<vital>.low"` by default; per-patient overrides replace
    /// the hospital default with the same id.
    public var id: String
    public var vital: Vital
    public var direction: BreachDirection
    /// Least severe (nearest to normal) first.
    public private(set) var bands: [ThresholdBand]
    public var clearLevel: Double

    public init(_ vital: Vital, _ direction: BreachDirection, bands: [ThresholdBand], clearAt clearLevel: Double,
                id: String? = nil) {
        self.id = id ?? "\(vital.rawValue).\(direction == .above ? "high" : "low")"
        self.vital = vital
        self.direction = direction
        self.bands = bands.sorted { direction == .above ? $0.limit < $1.limit : $0.limit > $1.limit }
        self.clearLevel = clearLevel
    }

    /// A disabled rule: it raises nothing, and an open alarm of this id clears on the next reading.
    public static func disabled(_ vital: Vital, _ direction: BreachDirection, id: String? = nil) -> ThresholdRule {
        ThresholdRule(vital, direction, bands: [], clearAt: 0, id: id)
    }

    public var isEnabled: Bool { !bands.isEmpty }

    /// Why this rule would be unsafe or meaningless, or nothing when it is sound.
    public var problems: [String] {
        var p: [String] = []
        if bands.count > 3 { p.append("at most three bands (one per priority)") }
        for b in bands where !b.limit.isFinite { p.append("limit \(b.limit) is not a number") }
        for b in bands where b.persistence < 0 { p.append("persistence \(b.persistence) ms is negative") }
        if !clearLevel.isFinite { p.append("clear level is not a number") }
        for (a, b) in zip(bands, bands.dropFirst()) {
            if a.limit == b.limit { p.append("two bands share the limit \(a.limit)") }
            if b.priority <= a.priority { p.append("band beyond \(b.limit) must have a higher priority than \(a.limit)") }
        }
        if let first = bands.first, clearLevel.isFinite, direction.isBeyond(clearLevel, first.limit) {
            p.append("clear level \(clearLevel) is beyond the alarm limit \(first.limit); the alarm could never clear")
        }
        return p
    }

    /// The alarm text a nurse reads: "SpO2 86 % (< 90)".
    func message(_ value: Double, band i: Int) -> String {
        "\(vital.displayName) \(formatted(value)) \(vital.unit) (\(direction == .above ? ">" : "<") \(formatted(bands[i].limit)))"
    }
}

/// A threshold rule that cannot be used, with the reasons.
public struct InvalidThresholdRule: Error, Sendable, Equatable, CustomStringConvertible {
    public var ruleID: String
    public var problems: [String]
    public var description: String { "threshold rule \(ruleID): " + problems.joined(separator: "; ") }
}

/// Vitals as monitors show them: whole numbers without a decimal point, tenths otherwise.
func formatted(_ v: Double) -> String {
    if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
    let tenths = (v * 10).rounded() / 10
    return tenths == v ? String(tenths) : String((v * 100).rounded() / 100)
}

/// A threshold rule flattened for the per-reading path: no reference-counted fields, so checking
/// thirteen rules costs no retain or release.
struct RuleCheck {
    let vital: Vital
    let direction: BreachDirection
    let bandCount: Int
    let limits: SIMD4<Double>
    let persistence: SIMD4<Int64>
    let clearLevel: Double

    init(_ r: ThresholdRule) {
        vital = r.vital
        direction = r.direction
        bandCount = min(r.bands.count, 3)
        var l = SIMD4<Double>(repeating: 0), p = SIMD4<Int64>(repeating: 0)
        for i in 0..<bandCount {
            l[i] = r.bands[i].limit
            p[i] = r.bands[i].persistence
        }
        limits = l
        persistence = p
        clearLevel = r.clearLevel
    }

    /// The index of the most severe band `value` is beyond, or -1.
    @inline(__always)
    func level(of value: Double) -> Int {
        var level = -1
        for i in 0..<bandCount {
            guard direction.isBeyond(value, limits[i]) else { break }
            level = i
        }
        return level
    }

    /// Whether `value` clears an open alarm of this rule.
    @inline(__always)
    func clears(_ value: Double) -> Bool {
        bandCount == 0 || direction.hasReturned(value, to: clearLevel)
    }
}

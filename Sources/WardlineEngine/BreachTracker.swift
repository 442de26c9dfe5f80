import WardlineCore

/// The persistence-delay and hysteresis state of one rule for one patient as one device sees it: a
/// small state machine fed one observation at a time, on that device's own clock.
///
/// One device's clock is only ever compared with itself, so a clock that is minutes fast or slow
/// changes nothing; the engine combines the devices' trackers into one alarm per patient and rule.
///
/// A breach is confirmed only by evidence: a band alarms once readings have stayed beyond its limit
/// from the first breaching reading until one at least `persistence` later, with no two consecutive
/// readings more than `evidenceGap` apart. A timer cannot confirm a breach, because after the last
/// reading nobody knows that the value stayed there (a probe falling off ends in silence, not in a
/// sustained desaturation); silence is the stale-data technical alarm's business.
struct BreachTracker {
    enum Outcome: Equatable {
        case none
        /// Band `band` has newly held long enough; more severe than anything confirmed before.
        case confirmed(band: Int, since: Int64)
        /// The value is back at the rule's clear level (reported on every such reading, so an alarm
        /// restored after a restart clears too).
        case clear
    }

    /// A live reading at most this much older than the newest one is taken as reordered delivery
    /// and ignored; further back, the device's clock has jumped (or a forged reading ran ahead).
    static let reorderTolerance: Int64 = 2_000

    /// When each band's current breach began; `.min` when the value is not beyond it.
    private var since: (Int64, Int64, Int64) = (.min, .min, .min)
    private var lastTime: Int64 = .min
    /// The most severe band confirmed since the condition last cleared, -1 for none.
    private(set) var confirmed: Int8 = -1
    /// Whether the last observation was beyond a limit, or an alarm it confirmed has not cleared:
    /// while it holds, this device keeps the patient's alarm open whatever other devices say.
    var isHolding: Bool { confirmed >= 0 || since.0 != .min }

    /// Feeds one observation: `level` is the most severe band breached (-1 for none) and `clear`
    /// whether the value is back at the clear level. `persistence(i)` is band i's delay. `live` is
    /// false for the readings of a backlog array, which are history.
    mutating func observe(level: Int, clear: Bool, at time: Int64, live: Bool = true, evidenceGap: Int64,
                          persistence: (Int) -> Int64) -> Outcome {
        if time < lastTime {
            // History (a backlog older than what was seen) cannot rewrite what followed it, and a
            // reordered message is dropped; but a live reading far behind means the clock jumped
            // back or a reading ran ahead of it: the breach evidence starts again from this reading,
            // so no clock, right or wrong, can silence this device's later readings.
            guard live, time < lastTime - Self.reorderTolerance else { return .none }
            since = (.min, .min, .min)
            lastTime = .min
        }
        let continuous = lastTime != .min && time - lastTime <= evidenceGap
        lastTime = time
        if clear {
            since = (.min, .min, .min)
            confirmed = -1
            return .clear
        }
        var best = -1
        var bestSince = Int64.min
        for band in 0..<3 {
            var start = self[band]
            if band > level {
                start = .min
            } else if start == .min || !continuous {
                start = time
            }
            self[band] = start
            if start != .min, time - start >= persistence(band) {
                best = band
                bestSince = start
            }
        }
        guard best > Int(confirmed) else { return .none }
        confirmed = Int8(best)
        return .confirmed(band: best, since: bestSince)
    }

    /// Forgets everything (the rule changed): the next breach starts its delay afresh.
    mutating func reset() { self = BreachTracker() }

    private subscript(band: Int) -> Int64 {
        get { band == 0 ? since.0 : band == 1 ? since.1 : since.2 }
        set {
            switch band {
            case 0: since.0 = newValue
            case 1: since.1 = newValue
            default: since.2 = newValue
            }
        }
    }
}

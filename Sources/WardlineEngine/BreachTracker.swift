import WardlineCore

/// The persistence-delay and hysteresis state of one rule for one patient: a small state machine fed
/// one observation at a time, on reading time.
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

    /// When each band's current breach began; `.min` when the value is not beyond it.
    private var since: (Int64, Int64, Int64) = (.min, .min, .min)
    private var lastTime: Int64 = .min
    /// The most severe band confirmed since the condition last cleared, -1 for none.
    private(set) var confirmed: Int8 = -1

    /// Feeds one observation: `level` is the most severe band breached (-1 for none) and `clear`
    /// whether the value is back at the clear level. `persistence(i)` is band i's delay.
    mutating func observe(level: Int, clear: Bool, at time: Int64, evidenceGap: Int64,
                          persistence: (Int) -> Int64) -> Outcome {
        // A reading older than one already seen (a replayed backlog) cannot rewrite what followed it.
        guard time >= lastTime else { return .none }
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

import WardlineCore

/// Sliding windows over one vital of one patient: the last 1 to 6 minutes in 10-second buckets,
/// the last hour in 2-minute buckets, and an exponentially weighted moving average.
///
/// Memory is fixed (about 1 KB a vital, whatever the reading rate) and each reading costs O(1):
/// one bucket update, plus one bucket close every 10 s that adjusts seven running totals.
/// Window statistics move when a bucket closes, so they lag the newest reading by up to 10 s.
struct VitalWindow {
    static let fineWidth: Int64 = 10_000
    static let fineBuckets = 36
    static let bucketsPerMinute = 6
    static let coarseWidth: Int64 = 120_000
    static let coarseBuckets = 30
    /// The longest "change over k minutes" the fine ring can answer.
    static let longestChangeMinutes = 5

    /// The last 1, 2, … 6 minutes; shared by every window rather than allocated with each.
    private static let fineSpans = [6, 12, 18, 24, 30, 36]
    private static let coarseSpans = [coarseBuckets]

    private var fine = BucketRing(width: fineWidth, count: fineBuckets, spans: fineSpans)
    private var coarse = BucketRing(width: coarseWidth, count: coarseBuckets, spans: coarseSpans)
    private(set) var ewma: Double = 0
    private(set) var ewmaTime: Int64 = .min
    /// Readings refused because they were older than the open bucket.
    private(set) var lateReadings = 0

    /// Adds one reading; returns true when a 10-second bucket closed (the moment to evaluate rules).
    mutating func add(_ value: Double, at time: Int64, ewmaTimeConstant tau: Int64) -> Bool {
        updateAverage(value, at: time, tau: tau)
        if coarse.add(value, at: time) == .tooOld { lateReadings += 1 }
        switch fine.add(value, at: time) {
        case .closedBuckets: return true
        case .inOpenBucket: return false
        case .tooOld: return false
        }
    }

    /// A time-aware EWMA: the weight of the new value is Δt / (τ + Δt), the first-order form of
    /// 1 − e^(−Δt/τ), so irregular reading intervals weigh as much time as they cover. After a
    /// silence of five time constants the average starts again from the new value.
    private mutating func updateAverage(_ value: Double, at time: Int64, tau: Int64) {
        if ewmaTime == .min || time - ewmaTime > 5 * tau {
            ewma = value
            ewmaTime = time
        } else if time > ewmaTime {
            let dt = Double(time - ewmaTime)
            ewma += dt / (Double(tau) + dt) * (value - ewma)
            ewmaTime = time
        }
    }

    /// The last minute of closed buckets.
    var lastMinute: WindowSummary { fine.span(0).summary }
    /// The last five minutes of closed buckets.
    var lastFiveMinutes: WindowSummary { fine.span(4).summary }
    /// The last hour of closed 2-minute buckets, and how many minutes of it hold readings.
    var lastHour: WindowSummary { coarse.span(0).summary }
    var minutesCoveredInLastHour: Int { coarse.span(0).filled * Int(Self.coarseWidth / 60_000) }

    /// The minute that ended `minutes` minutes before the last one began.
    func minute(endingMinutesAgo minutes: Int) -> WindowSummary {
        precondition((1...Self.longestChangeMinutes).contains(minutes))
        return (fine.span(minutes) - fine.span(minutes - 1)).summary
    }

    /// Mean of the last minute minus the mean of the minute `minutes` earlier, when both minutes
    /// hold at least `minimumSamples` readings.
    func change(overMinutes minutes: Int, minimumSamples: Int) -> Double? {
        let now = lastMinute, then = minute(endingMinutesAgo: minutes)
        guard now.count >= minimumSamples, then.count >= minimumSamples, let a = now.mean, let b = then.mean else {
            return nil
        }
        return a - b
    }

    var statistics: WindowStatistics {
        WindowStatistics(lastMinute: lastMinute, lastFiveMinutes: lastFiveMinutes, lastHour: lastHour,
                         minutesCoveredInLastHour: minutesCoveredInLastHour,
                         ewma: ewmaTime == .min ? nil : ewma,
                         changeOverFiveMinutes: change(overMinutes: 5, minimumSamples: 1))
    }
}

/// A snapshot of one vital's windows for one patient (for the REST API and for tests).
public struct WindowStatistics: Sendable, Hashable {
    public var lastMinute: WindowSummary
    public var lastFiveMinutes: WindowSummary
    public var lastHour: WindowSummary
    public var minutesCoveredInLastHour: Int
    public var ewma: Double?
    /// Mean of the last minute minus the mean of the minute five minutes before it.
    public var changeOverFiveMinutes: Double?
}

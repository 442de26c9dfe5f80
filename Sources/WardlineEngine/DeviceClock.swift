/// How far one device's clock is from Wardline's: the median of (device time − receive time) over
/// its last five live readings, so one forged or glitched timestamp moves nothing. Includes the
/// network and broker delay (milliseconds on a ward network), which is why only offsets of tens of
/// seconds alarm.
///
/// Only measured and reported: the rules run on each device's own clock and never need it.
public struct DeviceClock: Sendable {
    static let samples = 5
    private var recent: (Int64, Int64, Int64, Int64, Int64) = (0, 0, 0, 0, 0)
    private var count = 0
    /// Whether the "device.clock" alarm condition currently holds.
    var alarmed = false

    public init() {}

    /// The measured offset in milliseconds (positive: the device's clock is ahead), nil before the
    /// first live reading.
    public private(set) var offset: Int64?

    private func median() -> Int64? {
        if count >= Self.samples {
            // A nine-comparator sorting network: the per-reading path stays branch-light.
            var (a, b, c, d, e) = recent
            func order(_ x: inout Int64, _ y: inout Int64) { if x > y { swap(&x, &y) } }
            order(&a, &b); order(&d, &e); order(&c, &e); order(&c, &d); order(&a, &d)
            order(&a, &c); order(&b, &e); order(&b, &d); order(&b, &c)
            return c
        }
        guard count > 0 else { return nil }
        // An insertion sort of at most five lanes: no allocation on the per-reading path.
        let n = min(count, Self.samples)
        var v = SIMD8<Int64>(recent.0, recent.1, recent.2, recent.3, recent.4, 0, 0, 0)
        for i in 1..<max(n, 1) {
            var j = i
            while j > 0, v[j - 1] > v[j] { (v[j - 1], v[j]) = (v[j], v[j - 1]); j -= 1 }
        }
        // Of an even count, the upper middle.
        return v[n / 2]
    }

    mutating func observe(deviceTime: Int64, receivedAt: Int64) {
        let o = deviceTime &- receivedAt
        switch count % Self.samples {
        case 0: recent.0 = o
        case 1: recent.1 = o
        case 2: recent.2 = o
        case 3: recent.3 = o
        default: recent.4 = o
        }
        count += 1
        offset = median()
    }

    /// Whether the alarm should be raised (true), cleared (false), or left as it is (nil), for a
    /// bound of `limit` ms; clears at three quarters of it, so an offset hovering at the limit does
    /// not chatter.
    mutating func judge(limit: Int64) -> Bool? {
        guard limit > 0, let o = offset else { return nil }
        let magnitude = o.magnitude
        if !alarmed, magnitude > limit.magnitude { alarmed = true; return true }
        if alarmed, magnitude <= limit.magnitude / 4 * 3 { alarmed = false; return false }
        return nil
    }
}

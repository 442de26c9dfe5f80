/// A token bucket: `burst` requests at once, then `ratePerSecond` on average.
///
/// A pure value: the caller passes the time (milliseconds, any monotonic or wall clock) to every
/// call, so tests drive it with a made-up clock. A clock that steps back refills nothing.
public struct TokenBucket: Sendable, Equatable {
    public let ratePerSecond: Double
    public let burst: Double
    public private(set) var tokens: Double
    public private(set) var updatedMillis: Int64

    /// Starts full.
    public init(ratePerSecond: Double, burst: Double, nowMillis: Int64) {
        self.ratePerSecond = ratePerSecond
        self.burst = max(1, burst)
        tokens = self.burst
        updatedMillis = nowMillis
    }

    /// Takes one token: nil when allowed, else the milliseconds until one will be there.
    public mutating func take(nowMillis: Int64) -> Int64? {
        refill(nowMillis)
        if tokens >= 1 {
            tokens -= 1
            return nil
        }
        guard ratePerSecond > 0 else { return Int64.max }
        return Int64(((1 - tokens) / ratePerSecond * 1000).rounded(.up))
    }

    /// Full again: forgetting it loses nothing.
    public func isFull(nowMillis: Int64) -> Bool {
        var copy = self
        copy.refill(nowMillis)
        return copy.tokens >= burst
    }

    private mutating func refill(_ now: Int64) {
        let elapsed = max(0, now - updatedMillis)
        tokens = min(burst, tokens + Double(elapsed) * ratePerSecond / 1000)
        updatedMillis = max(updatedMillis, now)
    }
}

/// One token bucket per key (a token's subject and what it is doing), made full on first use and
/// forgotten once full again, so the map holds only callers who were busy lately.
/// A value type, owned by one thread (the web server's service thread).
public struct RateLimiter: Sendable {
    public struct Rule: Sendable, Equatable {
        public var ratePerSecond: Double
        public var burst: Double
        public init(ratePerSecond: Double, burst: Double) {
            self.ratePerSecond = ratePerSecond
            self.burst = burst
        }
        /// No limit at all.
        public var isOff: Bool { ratePerSecond <= 0 }
    }

    private var buckets: [String: TokenBucket] = [:]
    public init() {}

    public var count: Int { buckets.count }

    /// Nil when allowed; else whole seconds (at least 1) to wait, for `Retry-After`.
    public mutating func take(_ key: String, _ rule: Rule, nowMillis: Int64) -> Int? {
        guard !rule.isOff else { return nil }
        var bucket = buckets[key] ?? TokenBucket(ratePerSecond: rule.ratePerSecond, burst: rule.burst, nowMillis: nowMillis)
        let wait = bucket.take(nowMillis: nowMillis)
        buckets[key] = bucket
        guard let wait else { return nil }
        return Int(max(1, (min(wait, 3_600_000) + 999) / 1000))
    }

    public mutating func forgetIdle(nowMillis: Int64) {
        buckets = buckets.filter { !$0.value.isFull(nowMillis: nowMillis) }
    }
}

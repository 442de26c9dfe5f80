/// How a job whose delivery failed is tried again: after `base`, then twice as long each time up to
/// `cap`, for `maxAttempts` attempts in all; after the last it goes to the dead-letter queue — except
/// a page whose alarm is still active, which goes on at the capped backoff (`PageFollowUp`).
public struct RetryPolicy: Sendable, Equatable {
    public var maxAttempts: Int
    public var baseMillis: Int
    public var capMillis: Int

    public init(maxAttempts: Int, baseMillis: Int, capMillis: Int) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseMillis = max(1, baseMillis)
        self.capMillis = max(self.baseMillis, capMillis)
    }

    public enum Decision: Sendable, Equatable {
        /// Publish it again after this many milliseconds, as attempt `attempt`.
        case retry(afterMillis: Int, attempt: Int)
        case deadLetter
    }

    /// What to do after attempt number `attempt` (1 for the first delivery) failed.
    public func afterFailure(attempt: Int) -> Decision {
        attempt >= maxAttempts ? .deadLetter : .retry(afterMillis: delay(beforeAttempt: attempt + 1), attempt: attempt + 1)
    }

    /// The pause before attempt `n` (n ≥ 2): base, 2 × base, 4 × base, … capped.
    public func delay(beforeAttempt n: Int) -> Int {
        let doublings = min(max(0, n - 2), 30)
        return min(capMillis, baseMillis << doublings)
    }

    /// Every distinct pause this policy can ask for (each needs its own delay queue).
    public var delays: [Int] {
        guard maxAttempts >= 2 else { return [] }
        var seen: [Int] = []
        for n in 2...maxAttempts where !seen.contains(delay(beforeAttempt: n)) { seen.append(delay(beforeAttempt: n)) }
        return seen
    }

    /// Every pause a page can wait, past `maxAttempts` too: base, 2 × base, … up to and including the cap.
    public var pageDelays: [Int] {
        var seen: [Int] = []
        var n = 2
        while seen.last != capMillis { seen.append(delay(beforeAttempt: n)); n += 1 }
        return seen
    }
}

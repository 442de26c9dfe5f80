/// The classic circuit breaker for one delivery channel, as a value-type state machine with the
/// clock passed in (epoch ms), so it is tested without a gateway or a sleep.
///
/// ```
///   closed ── `failureThreshold` consecutive failures ──▶ open ── cool-down over ──▶ half-open
///     ▲        (each attempt fails fast while open)        ▲                        (one probe)
///     │                                                    └──── probe failed ───────┘    │
///     └──────────────────────────────── probe succeeded ──────────────────────────────────┘
/// ```
/// A success anywhere closes it and clears the count. Not thread-safe: one worker thread owns it.
public struct CircuitBreaker: Sendable, Equatable {
    public struct Settings: Sendable, Equatable {
        /// Consecutive failures that open the circuit.
        public var failureThreshold: Int
        /// How long it stays open before one probe is let through.
        public var coolDownMillis: Int64

        public init(failureThreshold: Int, coolDownMillis: Int64) {
            self.failureThreshold = max(1, failureThreshold)
            self.coolDownMillis = max(0, coolDownMillis)
        }
    }

    public enum State: Sendable, Equatable {
        case closed(consecutiveFailures: Int)
        /// Failing fast until `retryAt`; `since` is when it opened (the outage's start for the ward).
        case open(since: Int64, retryAt: Int64)
        /// One probe may go; `since` is still the outage's start.
        case halfOpen(since: Int64, probing: Bool)
    }

    /// What the caller may do now.
    public enum Permission: Sendable, Equatable {
        case attempt
        /// The one attempt after a cool-down: its result decides open or closed.
        case probe
        /// Do not try; the channel is known to be failing (until `retryAt`, or until the probe in flight answers).
        case failFast(retryAt: Int64?)
    }

    /// A change worth a log line and a health report.
    public enum Change: Sendable, Equatable {
        case opened(failures: Int)
        case reopened
        case closed(outageMillis: Int64)
    }

    public let settings: Settings
    public private(set) var state: State = .closed(consecutiveFailures: 0)
    /// The last failure's reason while not closed (for the ward page and `/ready`).
    public private(set) var lastFailure: String?

    public init(settings: Settings) { self.settings = settings }

    /// Asks before an attempt; moves open → half-open once the cool-down is over.
    public mutating func permission(now: Int64) -> Permission {
        switch state {
        case .closed: return .attempt
        case .open(let since, let retryAt):
            guard now >= retryAt else { return .failFast(retryAt: retryAt) }
            state = .halfOpen(since: since, probing: true)
            return .probe
        case .halfOpen(let since, let probing):
            guard !probing else { return .failFast(retryAt: nil) }
            state = .halfOpen(since: since, probing: true)
            return .probe
        }
    }

    public mutating func recordSuccess(now: Int64) -> Change? {
        defer { state = .closed(consecutiveFailures: 0); lastFailure = nil }
        switch state {
        case .closed: return nil
        case .open(let since, _), .halfOpen(let since, _): return .closed(outageMillis: now - since)
        }
    }

    public mutating func recordFailure(_ reason: String, now: Int64) -> Change? {
        switch state {
        case .closed(let n):
            guard n + 1 >= settings.failureThreshold else {
                state = .closed(consecutiveFailures: n + 1)
                return nil
            }
            state = .open(since: now, retryAt: now + settings.coolDownMillis)
            lastFailure = reason
            return .opened(failures: n + 1)
        case .halfOpen(let since, _):
            state = .open(since: since, retryAt: now + settings.coolDownMillis)
            lastFailure = reason
            return .reopened
        case .open:
            lastFailure = reason
            return nil
        }
    }

    /// When the current outage began (open or half-open), nil while closed.
    public var failingSince: Int64? {
        switch state {
        case .closed: nil
        case .open(let since, _), .halfOpen(let since, _): since
        }
    }
}

/// Where an alarm stands when its page could not be delivered on the primary channel.
public enum AlarmStanding: Sendable, Equatable {
    /// Not looked up: the page still has attempts left on the primary and the primary is not known down.
    case notChecked
    /// Active and unacknowledged in the same episode as the page.
    case active
    /// Acknowledged, resolved, active again in a later episode (which has its own page), or gone.
    case answered(String)
    /// The database could not say. A page is never given up on a guess.
    case unknown

    /// From the alarm's row now (`state` nil: no such alarm), as `EscalationDecision` reads it.
    public static func of(_ page: TaskJob, state: String?, activeSince: Int64?, acknowledgedBy: String?) -> AlarmStanding {
        guard let alarm = page.alarm else { return .answered("no alarm in the job") }
        switch state {
        case nil: return .answered("alarm not found")
        case "resolved": return .answered("resolved")
        case "acknowledged": return .answered("acknowledged by \(acknowledgedBy ?? "someone")")
        default:
            if let since = activeSince, abs(since - alarm.activeSince) > 1 { return .answered("acknowledged and active again since") }
            return .active
        }
    }
}

/// What happens to a page whose primary channels did not all accept it (issue 12: a page is never
/// given up while its alarm is active).
///
/// - While it has attempts left and the primary is not known down, it is retried with backoff.
/// - Once those attempts are spent, or at once when the primary's circuit is open (failing fast),
///   it also goes through the fallback channel — once per page.
/// - It is retried on the primary at the capped backoff for as long as the alarm is active (or the
///   database cannot say), so the gateway gets it too once it is back.
/// - Only a page whose alarm has been acknowledged or resolved goes to the dead letters.
public struct PageFollowUp: Sendable, Equatable {
    public var sendFallback: Bool
    public var next: Next

    public init(sendFallback: Bool, next: Next) {
        self.sendFallback = sendFallback
        self.next = next
    }

    public enum Next: Sendable, Equatable {
        case retry(afterMillis: Int, attempt: Int)
        case deadLetter(reason: String)
    }

    /// Whether the worker must look the alarm up before deciding (the answer is only needed then).
    public static func needsStanding(attempt: Int, policy: RetryPolicy, primaryFailedFast: Bool) -> Bool {
        attempt >= policy.maxAttempts || primaryFailedFast
    }

    /// After attempt `attempt` (1 for the first) failed on the primary.
    public static func decide(attempt: Int, policy: RetryPolicy, primaryFailedFast: Bool, hasFallback: Bool,
                              fallbackDelivered: Bool, standing: AlarmStanding) -> PageFollowUp {
        if case .answered(let why) = standing {
            return PageFollowUp(sendFallback: false, next: .deadLetter(reason: "alarm \(why); the primary channel failed \(attempt) attempt(s)"))
        }
        let spent = attempt >= policy.maxAttempts
        return PageFollowUp(sendFallback: hasFallback && !fallbackDelivered && (spent || primaryFailedFast),
                            next: .retry(afterMillis: policy.delay(beforeAttempt: attempt + 1), attempt: attempt + 1))
    }
}

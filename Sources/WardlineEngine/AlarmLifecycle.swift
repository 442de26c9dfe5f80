import WardlineCore

/// The alarm lifecycle as a state machine on `Alarm`: each event is a mutating method that returns
/// the transition to record, or nothing when the event changes nothing.
///
/// ```
///            raise                 acknowledge               condition cleared
///   (none) ───────▶ active ─────────────────▶ acknowledged ────────────────────▶ resolved
///                    │  ▲                         │  worse band confirmed ──▶ active (reactivated)
///                    │  └─ condition returned ◀── │
///   condition cleared│  non-latching ───────────────────────────────────────────▶ resolved
///                    └─ latching: stays active (latched) ── acknowledge ──▶ acknowledged ──▶ resolved
/// ```
extension Alarm {
    /// Evidence that the condition holds at `priority` (a breach confirmed, a device alert repeated).
    mutating func conditionConfirmed(priority newPriority: AlarmPriority, latching latchingNow: Bool, value: Double?,
                                     threshold: Double?, message newMessage: String?, readingTime: Int64?,
                                     at now: Int64) -> AlarmTransition? {
        guard state != .resolved else { return nil }
        let from = state
        let kind: AlarmTransition.Kind
        if newPriority > priority {
            priority = newPriority
            latching = latching || latchingNow
            if state == .acknowledged {
                // Acknowledging a medium alarm is not acknowledging the high one it has become.
                state = .active
                activeSince = now
                escalationLevel = 0
                kind = .reactivated
            } else {
                // Escalation counts from when it became this urgent, not from its quieter start.
                activeSince = now
                escalationLevel = 0
                kind = .priorityRaised
            }
        } else if !conditionPresent {
            kind = .conditionReturned
        } else {
            return nil
        }
        conditionPresent = true
        if let newMessage { message = newMessage }
        return record(kind, from: from, at: now, readingTime: readingTime, value: value, threshold: threshold)
    }

    /// Evidence that the condition no longer holds. A latching alarm nobody has acknowledged stays
    /// active; anything else resolves.
    mutating func conditionCleared(value: Double?, readingTime: Int64?, at now: Int64) -> AlarmTransition? {
        guard state != .resolved, conditionPresent else { return nil }
        conditionPresent = false
        let from = state
        if state == .active && latching {
            return record(.latched, from: from, at: now, readingTime: readingTime, value: value, threshold: threshold)
        }
        state = .resolved
        resolvedAt = now
        var t = record(.resolved, from: from, at: now, readingTime: readingTime, value: value, threshold: threshold)
        t.resolution = .conditionCleared
        return t
    }

    /// A clinician acknowledges the alarm. When its condition has already cleared (a latched
    /// alarm) the engine then resolves it with `.acknowledgedAfterRecovery`.
    mutating func acknowledge(by user: String, at now: Int64) throws(AcknowledgementError) -> AlarmTransition {
        switch state {
        case .resolved: throw .notOpen(alarmID: id)
        case .acknowledged: throw .alreadyAcknowledged(self)
        case .active: break
        }
        state = .acknowledged
        acknowledgedAt = now
        acknowledgedBy = user
        return record(.acknowledged, from: .active, at: now, by: user)
    }

    /// The next escalation, when this alarm has stayed active and unacknowledged long enough.
    mutating func escalate(at now: Int64, policy: EscalationPolicy) -> AlarmTransition? {
        guard state == .active, policy.priorities.contains(priority), escalationLevel < policy.maximumLevel,
              now >= activeSince + policy.firstAfter + Int64(escalationLevel) * policy.repeatEvery else { return nil }
        escalationLevel += 1
        return record(.escalated, from: .active, at: now)
    }

    /// Ends the alarm whatever its state, for a reason outside the condition (device unassigned,
    /// patient discharged).
    mutating func resolve(_ resolution: AlarmTransition.Resolution, by user: String? = nil, at now: Int64) -> AlarmTransition? {
        guard state != .resolved else { return nil }
        let from = state
        state = .resolved
        conditionPresent = false
        resolvedAt = now
        var t = record(.resolved, from: from, at: now, by: user)
        t.resolution = resolution
        return t
    }

    /// The transition record of raising this alarm, on the evidence of the reading at `readingTime`.
    func raisedTransition(readingTime: Int64?) -> AlarmTransition {
        AlarmTransition(alarmID: id, revision: revision, kind: .raised, from: nil, to: state, priority: priority,
                        at: raisedAt, readingTime: readingTime, by: nil, value: value, threshold: threshold,
                        escalationLevel: 0, resolution: nil)
    }

    private mutating func record(_ kind: AlarmTransition.Kind, from: AlarmState, at now: Int64, readingTime: Int64? = nil,
                                 by user: String? = nil, value: Double? = nil, threshold: Double? = nil) -> AlarmTransition {
        revision += 1
        if let value { self.value = value }
        if let threshold { self.threshold = threshold }
        return AlarmTransition(alarmID: id, revision: revision, kind: kind, from: from, to: state, priority: priority,
                               at: now, readingTime: readingTime, by: user, value: value ?? self.value,
                               threshold: threshold ?? self.threshold, escalationLevel: escalationLevel, resolution: nil)
    }
}

/// Why an acknowledgement was refused.
public enum AcknowledgementError: Error, Sendable, Equatable {
    /// No open alarm has this id: it never existed, or it is already resolved (the engine keeps open
    /// alarms only; the store knows the rest).
    case notOpen(alarmID: String)
    /// Someone has already acknowledged it; the alarm is returned as it stands.
    case alreadyAcknowledged(Alarm)
}

/// When unacknowledged alarms escalate: the first time `firstAfter` ms after becoming active, then
/// every `repeatEvery` ms, up to `maximumLevel` escalations. Only alarms whose priority is in
/// `priorities` escalate. Times are on the engine's injected clock.
public struct EscalationPolicy: Sendable, Hashable {
    public var priorities: Set<AlarmPriority>
    public var firstAfter: Int64
    public var repeatEvery: Int64
    public var maximumLevel: Int

    public init(priorities: Set<AlarmPriority> = [.high], firstAfter: Int64 = 120_000, repeatEvery: Int64 = 180_000,
                maximumLevel: Int = 3) {
        self.priorities = priorities
        self.firstAfter = firstAfter
        self.repeatEvery = repeatEvery
        self.maximumLevel = maximumLevel
    }
}

import WardlineCore

/// What the engine knows about one device's link: which patient it serves, whether it is sending,
/// and whether its signal can be trusted. A small state machine on the engine's clock; its
/// actions are the technical alarm conditions to raise or clear.
struct DeviceWatch {
    enum Link: Equatable {
        /// Readings arrive (or the device has just been assigned and has a grace period to start).
        case reporting
        /// Nothing for `staleDataAfter`: the "no data" condition holds.
        case stale
        /// The device said it is offline; the alarm waits out the grace period.
        case goingOffline(since: Int64, wasStale: Bool)
        /// Offline past the grace period: the "device offline" condition holds.
        case offline
    }

    enum Condition { case stale, offline, clock }

    enum Action: Equatable {
        case raise(Condition, since: Int64)
        case clear(Condition)
    }

    var patientID: String?
    private(set) var link = Link.reporting
    /// Engine clock of the last reading (or of the assignment, or of coming back online).
    private(set) var lastHeardAt: Int64
    /// A signal-loss alert (probe off) makes readings untrustworthy until this time.
    var signalLostUntil: Int64 = .min
    /// How far the device's clock is from Wardline's.
    var clock = DeviceClock()

    init(patientID: String?, now: Int64) {
        self.patientID = patientID
        lastHeardAt = now
    }

    /// A reading arrived: whatever silence or offline state there was is over.
    mutating func readingArrived(at now: Int64) -> Action? {
        lastHeardAt = now
        defer { link = .reporting }
        switch link {
        case .reporting: return nil
        case .stale: return .clear(.stale)
        case .goingOffline(_, let wasStale): return wasStale ? .clear(.stale) : nil
        case .offline: return .clear(.offline)
        }
    }

    mutating func statusOnline(at now: Int64) -> Action? {
        switch link {
        case .reporting, .stale: return nil
        case .goingOffline(_, let wasStale):
            link = wasStale ? .stale : .reporting
            return nil
        case .offline:
            // A device coming back gets a fresh stale-data period to send its first reading.
            link = .reporting
            lastHeardAt = now
            return .clear(.offline)
        }
    }

    mutating func statusOffline(at now: Int64) {
        switch link {
        case .reporting: link = .goingOffline(since: now, wasStale: false)
        case .stale: link = .goingOffline(since: now, wasStale: true)
        case .goingOffline, .offline: break
        }
    }

    /// Timers: the offline grace period and stale data. Only devices serving a patient alarm.
    mutating func tick(now: Int64, staleAfter: Int64, offlineGrace: Int64) -> [Action] {
        guard patientID != nil else { return [] }
        switch link {
        case .reporting where now - lastHeardAt > staleAfter:
            link = .stale
            return [.raise(.stale, since: lastHeardAt + staleAfter)]
        case .goingOffline(let since, let wasStale) where now - since >= offlineGrace:
            // Offline says more than "no data", so it replaces it.
            link = .offline
            return (wasStale ? [.clear(.stale)] : []) + [.raise(.offline, since: since)]
        default:
            return []
        }
    }

    /// A restored open alarm of `condition` puts the watch back where it was before the restart.
    mutating func restore(_ condition: Condition) {
        switch condition {
        case .offline: link = .offline
        case .stale: link = .stale
        case .clock: clock.alarmed = true
        }
    }

    /// A single reading stamped `deviceTime` arrived at `receivedAt`: measures the clock, and returns
    /// the "device.clock" action when its offset crosses `limit`. Only measured: no rule depends
    /// on receive times, so a replay after a crash decides exactly as the first run did.
    mutating func clockObserved(deviceTime: Int64, receivedAt: Int64, limit: Int64) -> Action? {
        clock.observe(deviceTime: deviceTime, receivedAt: receivedAt)
        switch clock.judge(limit: limit) {
        case true?: return .raise(.clock, since: receivedAt)
        case false?: return .clear(.clock)
        case nil: return nil
        }
    }

    func signalTrusted(at now: Int64) -> Bool { now >= signalLostUntil }
}

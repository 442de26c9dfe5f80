import WardlineEngine

/// Keeps a journal replay from storing, showing or paging again what the last run already stored.
///
/// After a restart the engine is fed the journal from the checkpoint, which trails what was
/// committed (by the replay horizon, and by whichever writer was behind). The engine runs on each
/// message's received time, so it regenerates the same transitions at the same times; those the
/// database already holds are echoes. For each alarm key (patient, rule, and device for device
/// rules) this holds the time of the latest transition stored; an engine event for that key at or
/// before it is an echo and goes nowhere. The first event past it ends the key's replay.
///
/// Owned by the consumer thread; small (keys with transitions since the replay point) and it empties
/// as the replay catches up.
package struct ReplayEchoes {
    private var latestStored: [String: Int64] = [:]

    package init(_ stored: [(patientID: String?, ruleID: String, deviceID: String?, at: Int64)] = []) {
        for s in stored {
            let key = Self.key(patientID: s.patientID, ruleID: s.ruleID, deviceID: s.deviceID)
            latestStored[key] = max(latestStored[key] ?? .min, s.at)
        }
    }

    /// Adds the stored transitions of a partition just adopted (engine role).
    package mutating func merge(_ other: ReplayEchoes) {
        latestStored.merge(other.latestStored) { max($0, $1) }
    }

    package var isEmpty: Bool { latestStored.isEmpty }
    package var count: Int { latestStored.count }

    /// Whether `t` (of `alarm`) is already stored; false from the first transition past the stored ones.
    package mutating func isEcho(_ alarm: Alarm, _ t: AlarmTransition) -> Bool {
        let key = Self.key(patientID: alarm.patientID, ruleID: alarm.ruleID, deviceID: alarm.deviceID)
        guard let stored = latestStored[key] else { return false }
        if t.at <= stored { return true }
        latestStored[key] = nil
        return false
    }

    /// One open alarm per patient and rule, and per device for device rules ("device.…"): the
    /// engine's own de-duplication key, so a regenerated alarm matches its stored episode even if
    /// it was raised at another moment.
    package static func key(patientID: String?, ruleID: String, deviceID: String?) -> String {
        let device = ruleID.hasPrefix("device.") ? "|" + (deviceID ?? "") : ""
        return (patientID ?? "-") + "|" + ruleID + device
    }
}

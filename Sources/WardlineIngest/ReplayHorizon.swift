import WardlineJournal

/// Where a restart must replay the journal from so the engine meets again the evidence behind
/// anything it has not yet seen committed: a small value type fed by the consumer thread.
///
/// An alarm is raised by a breach that held for its persistence delay, so regenerating a lost
/// transition takes more than the message that triggered it: the readings before it too. The
/// consumer notes each processed message here; `floor` is the first journal position received
/// `horizonMillis` before the newest one (received time, Wardline's clock; a device sending in
/// bursts packs more reading time into it, never less). The alarm writer reports no later a
/// position than this floor as done, so the journal checkpoint trails live traffic by the horizon.
///
/// Samples are kept once per `granuleMillis` of received time, so memory is bounded by
/// horizon / granule whatever the message rate.
package struct ReplayHorizon {
    package let horizonMillis: Int64
    package let granuleMillis: Int64
    private var samples: [(receivedAt: Int64, position: JournalPosition)] = []
    private var head = 0
    /// Replaying from here misses no evidence of any message noted so far. Only grows.
    package private(set) var floor: JournalPosition

    package init(horizonMillis: Int64, start: JournalPosition, granuleMillis: Int64 = 250) {
        self.horizonMillis = max(0, horizonMillis)
        self.granuleMillis = max(1, granuleMillis)
        floor = start
    }

    /// Notes a processed journalled message; returns the new floor.
    @discardableResult
    package mutating func note(_ position: JournalPosition, receivedAt: Int64) -> JournalPosition {
        if head == samples.count || receivedAt >= samples[samples.count - 1].receivedAt + granuleMillis {
            samples.append((receivedAt, position))
        }
        let target = receivedAt - horizonMillis
        // Keep the newest sample at or before the target; those older are no longer needed.
        while head + 1 < samples.count && samples[head + 1].receivedAt <= target { head += 1 }
        if samples[head].receivedAt <= target && samples[head].position > floor { floor = samples[head].position }
        if head > 1024 { samples.removeFirst(head); head = 0 }
        return floor
    }
}

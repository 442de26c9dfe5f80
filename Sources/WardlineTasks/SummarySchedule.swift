/// When the scheduled ward summaries fall due: at each of `WARDLINE_SUMMARY_AT`'s times of day
/// (UTC, minute resolution), every day. One time is the daily summary; several are one per shift
/// handover (07:00,19:00).
///
/// A slot's job is the same whoever makes it: its id derives from the day and the time of day, and
/// its period ends at the slot, not at the moment a worker got round to it. So two workers that
/// both send the 07:00 summary in a leadership handover send one job twice, with one `job_id`, which
/// `task_outbox` keeps once (see `TaskOutboxStore.publishOnce`) and a gateway can drop.
public struct SummarySchedule: Sendable, Equatable {
    public static let dayMillis: Int64 = 86_400_000

    /// Minutes after midnight UTC, sorted, each once.
    public let minutesOfDay: [Int]

    public init(minutesOfDay: [Int]) {
        self.minutesOfDay = Array(Set(minutesOfDay.filter { (0..<1440).contains($0) })).sorted()
    }

    public var isEmpty: Bool { minutesOfDay.isEmpty }

    /// The first slot strictly after `now` (epoch ms), or nil for no schedule.
    public func next(after now: Int64) -> Int64? {
        guard let first = minutesOfDay.first else { return nil }
        let dayStart = now - now.modulo(Self.dayMillis)
        for minute in minutesOfDay {
            let slot = dayStart + Int64(minute) * 60_000
            if slot > now { return slot }
        }
        return dayStart + Self.dayMillis + Int64(first) * 60_000
    }

    /// The last slot at or before `now`, or nil for no schedule.
    public func latest(atOrBefore now: Int64) -> Int64? {
        guard let last = minutesOfDay.last else { return nil }
        let dayStart = now - now.modulo(Self.dayMillis)
        for minute in minutesOfDay.reversed() {
            let slot = dayStart + Int64(minute) * 60_000
            if slot <= now { return slot }
        }
        return dayStart - Self.dayMillis + Int64(last) * 60_000
    }

    /// The summary job of the slot at `slot` (epoch ms): the 24 h up to it, with an id from the
    /// UTC day and time of day alone ("ward_summary#19875#07:00").
    public static func job(slot: Int64) -> TaskJob {
        TaskJob(jobID: jobID(slot: slot), kind: .wardSummary, createdAt: slot, periodEnd: slot)
    }

    public static func jobID(slot: Int64) -> String { AlarmTasks.id(slotName(slot)) }

    /// "ward_summary#<days since the epoch>#HH:MM", what the id is derived from.
    public static func slotName(_ slot: Int64) -> String {
        let day = (slot - slot.modulo(dayMillis)) / dayMillis
        let minute = Int(slot.modulo(dayMillis) / 60_000)
        let hh = minute / 60, mm = minute % 60
        return "ward_summary#\(day)#\(hh < 10 ? "0" : "")\(hh):\(mm < 10 ? "0" : "")\(mm)"
    }
}

private extension Int64 {
    /// Always in 0..<m, also before the epoch.
    func modulo(_ m: Int64) -> Int64 { let r = self % m; return r < 0 ? r + m : r }
}

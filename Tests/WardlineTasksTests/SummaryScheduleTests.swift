import Testing
import WardlineTasks

@Suite struct SummaryScheduleTests {
    /// 2024-06-01 00:00 UTC.
    static let day: Int64 = 1_717_200_000_000
    static func at(_ hour: Int64, _ minute: Int64, dayOffset: Int64 = 0) -> Int64 {
        day + dayOffset * SummarySchedule.dayMillis + (hour * 60 + minute) * 60_000
    }

    @Test func oneTimeADayFallsDueDaily() {
        let s = SummarySchedule(minutesOfDay: [7 * 60])
        #expect(s.next(after: Self.at(6, 59)) == Self.at(7, 0))
        #expect(s.next(after: Self.at(7, 0)) == Self.at(7, 0, dayOffset: 1), "strictly after: the slot just sent is not next")
        #expect(s.next(after: Self.at(23, 0)) == Self.at(7, 0, dayOffset: 1))
        #expect(s.latest(atOrBefore: Self.at(7, 0)) == Self.at(7, 0))
        #expect(s.latest(atOrBefore: Self.at(6, 59)) == Self.at(7, 0, dayOffset: -1))
    }

    @Test func severalTimesFallDueInOrderWhateverOrderTheyWereGiven() {
        let s = SummarySchedule(minutesOfDay: [19 * 60, 7 * 60, 19 * 60, 5000])
        #expect(s.minutesOfDay == [420, 1140], "sorted, each once, out-of-day minutes dropped")
        #expect(s.next(after: Self.at(8, 0)) == Self.at(19, 0))
        #expect(s.next(after: Self.at(19, 0)) == Self.at(7, 0, dayOffset: 1))
        #expect(s.latest(atOrBefore: Self.at(18, 59)) == Self.at(7, 0))
        #expect(s.latest(atOrBefore: Self.at(3, 0)) == Self.at(19, 0, dayOffset: -1))
    }

    @Test func noTimesNeverFallDue() {
        let s = SummarySchedule(minutesOfDay: [])
        #expect(s.isEmpty && s.next(after: Self.day) == nil && s.latest(atOrBefore: Self.day) == nil)
    }

    /// Two workers sending the same slot (a handover) send one job: same id, same period.
    @Test func aSlotsJobIsTheSameWhoeverMakesIt() {
        let a = SummarySchedule.job(slot: Self.at(7, 0)), b = SummarySchedule.job(slot: Self.at(7, 0))
        #expect(a == b && a.json() == b.json())
        #expect(a.kind == .wardSummary && a.periodEnd == Self.at(7, 0) && a.route == .report)
        #expect(SummarySchedule.slotName(Self.at(7, 5)) == "ward_summary#19875#07:05")
        #expect(a.jobID == AlarmTasks.id("ward_summary#19875#07:00"))
        #expect(SummarySchedule.jobID(slot: Self.at(19, 0)) != a.jobID)
        #expect(SummarySchedule.jobID(slot: Self.at(7, 0, dayOffset: 1)) != a.jobID)
    }
}

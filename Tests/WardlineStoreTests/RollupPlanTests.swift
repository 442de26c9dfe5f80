import Testing
import WardlineStore

/// The rollup's step planning and when history reads the rollups: pure, no database.
@Suite struct RollupPlanTests {
    typealias Step = RollupPlan.Step
    static let minute: Int64 = 60_000

    @Test func stepsEndAtTheSettleMarginAndChainFromTheWatermark() {
        let steps = RollupPlan.steps(watermark: 0, nextReceived: 1, now: 25 * Self.minute + 2 * Self.minute,
                                     settleMillis: 2 * Self.minute, stepMillis: 10 * Self.minute, maxSteps: 100)
        #expect(steps == [Step(after: 0, through: 10 * Self.minute), Step(after: 10 * Self.minute, through: 20 * Self.minute),
                          Step(after: 20 * Self.minute, through: 25 * Self.minute)])
    }

    @Test func nothingToDoInsideTheMargin() {
        #expect(RollupPlan.steps(watermark: 1000, nextReceived: 1001, now: 1000 + 120_000, settleMillis: 120_000,
                                 stepMillis: 600_000, maxSteps: 10).isEmpty)
        #expect(RollupPlan.steps(watermark: 5000, nextReceived: nil, now: 1000, settleMillis: 0, stepMillis: 600_000, maxSteps: 10).isEmpty,
                "a watermark ahead of the database's clock never goes back")
    }

    @Test func aBacklogIsBoundedPerRun() {
        let steps = RollupPlan.steps(watermark: 0, nextReceived: 1, now: 1_000 * Self.minute, settleMillis: 0,
                                     stepMillis: Self.minute, maxSteps: 3)
        #expect(steps.count == 3 && steps.last == Step(after: 2 * Self.minute, through: 3 * Self.minute))
    }

    @Test func anEmptyGapIsOneStep() {
        // Nothing received for 40 days after the watermark: the first step reaches over the gap.
        let day: Int64 = 86_400_000
        let steps = RollupPlan.steps(watermark: 0, nextReceived: 40 * day, now: 40 * day + 15 * Self.minute,
                                     settleMillis: 2 * Self.minute, stepMillis: 10 * Self.minute, maxSteps: 100)
        #expect(steps == [Step(after: 0, through: 40 * day - 1 + 10 * Self.minute),
                          Step(after: 40 * day - 1 + 10 * Self.minute, through: 40 * day + 13 * Self.minute)])
        let quiet = RollupPlan.steps(watermark: 0, nextReceived: nil, now: 40 * day, settleMillis: 0,
                                     stepMillis: 10 * Self.minute, maxSteps: 100)
        #expect(quiet == [Step(after: 0, through: 40 * day)], "no readings at all: the watermark moves to the target at once")
    }

    @Test(arguments: [
        // (range, bucket s, starts days ago, reads rollups)
        (Int64(3_600_000), 60, Int64(0), false),          // an hour: raw
        (Int64(7 * 3_600_000), 60, Int64(0), true),       // beyond 6 h, whole minutes
        (Int64(7 * 3_600_000), 90, Int64(0), false),      // a bucket minutes do not nest in
        (Int64(7 * 3_600_000), 30, Int64(0), false),      // finer than a minute
        (Int64(3_600_000), 300, Int64(2), true),          // short, but older than the shortest raw retention
    ])
    func historyReadsRollupsForLongRanges(range: Int64, bucket: Int, daysAgo: Int64, expected: Bool) {
        let now: Int64 = 1_800_000_000_000
        let to = now - daysAgo * 86_400_000
        #expect(HistoryQueries.readsRollups(fromMillis: to - range, toMillis: to, bucketSeconds: bucket, nowMillis: now) == expected)
    }
}

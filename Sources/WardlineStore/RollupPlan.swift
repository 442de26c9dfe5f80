/// Which received-time windows one rollup run covers: from the watermark to `now - settle`, in
/// steps of at most `stepMillis`, at most `maxSteps` of them (the rest on the next run), so a
/// backlog (a first run over old data, a long outage) never becomes one huge transaction.
public enum RollupPlan {
    public struct Step: Sendable, Equatable {
        /// Readings received in (after, through].
        public var after: Int64
        public var through: Int64
        public init(after: Int64, through: Int64) {
            self.after = after
            self.through = through
        }
    }

    /// `nextReceived`: when the first reading after the watermark was received (nil: none yet);
    /// the first step reaches over the empty gap before it, so a first run over old data, or a
    /// quiet night, is not thousands of empty transactions.
    public static func steps(watermark: Int64, nextReceived: Int64?, now: Int64, settleMillis: Int64, stepMillis: Int64,
                             maxSteps: Int) -> [Step] {
        precondition(stepMillis > 0 && maxSteps > 0)
        let target = now - settleMillis
        var steps: [Step] = []
        var at = watermark
        // Nothing received in (watermark, skipTo]: the first step may start its span there.
        var skipTo = min(target, max(watermark, (nextReceived ?? target) - 1))
        while at < target && steps.count < maxSteps {
            let from = max(at, skipTo)
            let next = from > target - stepMillis ? target : from + stepMillis
            steps.append(Step(after: at, through: next))
            at = next
            skipTo = at
        }
        return steps
    }
}

import Testing
import WardlineCore

@Suite struct RejectionSamplerTests {
    static let hour: Int64 = 3_600_000
    static let t0: Int64 = 1_795_482_000_000  // a clock hour

    /// Feeds (device, reason, time) to a sampler; returns which were kept.
    static func admit(_ s: inout RejectionSampler, _ inputs: [(String?, RejectReason, Int64)]) -> [Bool] {
        inputs.map { s.admit(deviceID: $0.0, reason: $0.1, receivedAt: $0.2) }
    }

    @Test func keepsTheBudgetPerDeviceAndReasonAndCountsTheRest() {
        var s = RejectionSampler(perWindow: 3)
        let flood = Self.admit(&s, (0..<10).map { ("mon-1", .fieldTooLong, Self.t0 + Int64($0)) })
        #expect(flood == [true, true, true] + Array(repeating: false, count: 7))
        let others = Self.admit(&s, [("mon-1", .badCharacters, Self.t0 + 20), ("mon-2", .fieldTooLong, Self.t0 + 21)])
        #expect(others == [true, true], "another reason, another device: each its own budget")
        let tallies = s.takeTallies()
        #expect(tallies == [.init(deviceID: "mon-1", reason: .fieldTooLong, windowStart: Self.t0, unsampled: 7,
                                  lastReceivedAt: Self.t0 + 9)])
        #expect(s.takeTallies().isEmpty, "taken tallies are forgotten")
    }

    @Test func aNewHourGivesANewBudget() {
        var s = RejectionSampler(perWindow: 1)
        let kept = Self.admit(&s, [
            ("mon-1", .wrongType, Self.t0 + Self.hour - 2), ("mon-1", .wrongType, Self.t0 + Self.hour - 1),
            ("mon-1", .wrongType, Self.t0 + Self.hour), ("mon-1", .wrongType, Self.t0 + Self.hour + 1),
            // A replayed message from the hour before counts against the current hour.
            ("mon-1", .wrongType, Self.t0),
        ])
        #expect(kept == [true, false, true, false, false])
        let tallies = s.takeTallies().map { [$0.windowStart, Int64($0.unsampled)] }
        #expect(tallies == [[Self.t0, 1], [Self.t0 + Self.hour, 2]])
    }

    @Test func manyDevicesBeyondTheKeyBoundAreCountedTogether() {
        var s = RejectionSampler(perWindow: 5, maxKeys: 2)
        let kept = Self.admit(&s, [
            ("a", .malformedJSON, Self.t0), (nil, .unknownTopic, Self.t0), ("c", .malformedJSON, Self.t0),
            ("d", .malformedJSON, Self.t0), ("a", .malformedJSON, Self.t0),
        ])
        #expect(kept == [true, true, false, false, true], "known keys keep their budget")
        let tallies = s.takeTallies()
        #expect(tallies == [.init(deviceID: RejectionSampler.otherDevices, reason: .malformedJSON, windowStart: Self.t0,
                                  unsampled: 2, lastReceivedAt: Self.t0)])
    }

    @Test func aZeroBudgetStoresNothing() {
        var s = RejectionSampler(perWindow: 0)
        let kept = Self.admit(&s, [("mon-1", .wrongType, Self.t0)])
        #expect(kept == [false])
        #expect(s.takeTallies().first?.unsampled == 1)
    }
}

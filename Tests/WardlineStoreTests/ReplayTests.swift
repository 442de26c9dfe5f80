import Testing
import WardlineCore
@testable import WardlineEngine
import WardlineJournal
@testable import WardlineServer
import WardlineIngest

@Suite struct ReplayHorizonTests {
    func position(_ n: Int) -> JournalPosition { JournalPosition(segment: 1, offset: UInt32(n * 64)) }

    @Test func theFloorTrailsTheNewestMessageByTheHorizon() {
        var h = ReplayHorizon(horizonMillis: 10_000, start: position(0), granuleMillis: 250)
        // One message every 100 ms for 30 s.
        for i in 1...300 { h.note(position(i), receivedAt: 1_000_000 + Int64(i) * 100) }
        // Newest at 1_030_000: the floor is the first sampled message received at or before 1_020_000.
        let floorTime = 1_000_000 + Int64(h.floor.offset / 64) * 100
        #expect(floorTime <= 1_020_000 && floorTime > 1_020_000 - 250)
    }

    @Test func noFloorMovementBeforeTheHorizonHasPassed() {
        var h = ReplayHorizon(horizonMillis: 60_000, start: position(0))
        for i in 1...100 { h.note(position(i), receivedAt: 5_000 + Int64(i) * 100) }
        #expect(h.floor == position(0))
    }

    @Test func zeroHorizonFollowsTheMessagesAndNeverGoesBack() {
        var h = ReplayHorizon(horizonMillis: 0, start: position(0), granuleMillis: 1)
        for i in 1...50 { #expect(h.note(position(i), receivedAt: Int64(i) * 10) == position(i)) }
        h.note(position(51), receivedAt: 5)  // a clock step back
        #expect(h.floor == position(50))
    }

    @Test func memoryStaysBounded() {
        var h = ReplayHorizon(horizonMillis: 1000, start: position(0), granuleMillis: 10)
        for i in 1...200_000 { h.note(position(i), receivedAt: Int64(i)) }
        #expect(h.floor > position(190_000))
    }
}

@Suite struct ReplayEchoTests {
    func echo(_ echoes: inout ReplayEchoes, _ a: Alarm, _ t: AlarmTransition) -> Bool { echoes.isEcho(a, t) }

    func alarm(_ patient: String, _ rule: String, device: String? = "dev-1", raisedAt: Int64) -> Alarm {
        Alarm(id: "\(patient)/\(rule)/\(raisedAt)", patientID: patient, deviceID: device, ruleID: rule,
              category: rule.hasPrefix("device.") ? .technical : .physiological, vital: nil, priority: .high,
              latching: true, message: "m", value: nil, threshold: nil, conditionSince: raisedAt - 10_000, raisedAt: raisedAt)
    }

    func transition(_ a: Alarm, at: Int64, revision: Int = 1) -> AlarmTransition {
        var t = a.raisedTransition(readingTime: at)
        t.at = at
        t.revision = revision
        return t
    }

    @Test func transitionsUpToTheStoredOnesAreEchoesAndTheFirstNewOneEndsTheReplay() {
        var echoes = ReplayEchoes([("PAT-1", "spo2.low", "dev-1", 2_000)])
        let a = alarm("PAT-1", "spo2.low", raisedAt: 1_000)
        #expect(echo(&echoes, a, transition(a, at: 1_000)))
        #expect(echo(&echoes, a, transition(a, at: 2_000, revision: 2)))
        #expect(!echo(&echoes, a, transition(a, at: 2_001, revision: 3)))
        #expect(echoes.isEmpty)
        #expect(!echo(&echoes, a, transition(a, at: 1_500)), "past the replay, nothing is filtered")
    }

    @Test func anotherPatientOrRuleIsNotAnEcho() {
        var echoes = ReplayEchoes([("PAT-1", "spo2.low", "dev-1", 2_000)])
        let other = alarm("PAT-2", "spo2.low", raisedAt: 1_000)
        let rule = alarm("PAT-1", "hr.high", raisedAt: 1_000)
        #expect(!echo(&echoes, other, transition(other, at: 1_000)))
        #expect(!echo(&echoes, rule, transition(rule, at: 1_000)))
    }

    @Test func aRegeneratedRaiseWithAnotherIdStillMatchesItsEpisode() {
        // The replay confirmed the breach later than the first run did: same patient and rule.
        var echoes = ReplayEchoes([("PAT-1", "news2", nil, 9_000)])
        let regenerated = alarm("PAT-1", "news2", device: "dev-2", raisedAt: 4_000)
        #expect(echo(&echoes, regenerated, transition(regenerated, at: 4_000)))
    }

    @Test func deviceRulesAreKeyedByDevice() {
        var echoes = ReplayEchoes([("PAT-1", "device.stale", "dev-1", 9_000)])
        let otherDevice = alarm("PAT-1", "device.stale", device: "dev-2", raisedAt: 4_000)
        #expect(!echo(&echoes, otherDevice, transition(otherDevice, at: 4_000)))
    }
}

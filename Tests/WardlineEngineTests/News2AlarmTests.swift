import Testing
import WardlineCore
@testable import WardlineEngine

/// NEWS2 as the engine keeps it: newest value of each parameter, staleness, and its alarm.
@Suite struct News2AlarmTests {
    @Test func eachParameterComesFromItsNewestFreshReadingWhicheverDeviceSentIt() {
        var c = EngineConfiguration()
        c.news2Staleness = 15 * 60_000
        let ward = Ward(c)
        // The nurse's observations at the start…
        ward.read(Vitals(temperature: 36.9, systolicBP: 95, diastolicBP: 60, onOxygen: true, consciousness: .alert),
                  device: "obs-cart")
        // …and a pulse oximeter every second.
        ward.run(seconds: 60, device: "oxi-4") { _ in Vitals(heartRate: 95, spo2: 96, respiratoryRate: 18) }
        let score = try! #require(ward.scores.last)
        // SBP 95 (2) + oxygen (2) + pulse 95 (1): 5.
        #expect(score.isComplete && score.total == 5 && score.risk == .medium)

        // Fifteen minutes later the cart's values are stale: the score says so.
        ward.run(seconds: 15 * 60, device: "oxi-4") { _ in Vitals(heartRate: 95, spo2: 96, respiratoryRate: 18) }
        let later = try! #require(ward.scores.last)
        #expect(later.missing.members == [.supplementalOxygen, .systolicBP, .consciousness, .temperature])
        #expect(later.total == 1 && later.risk == .low && !later.isComplete)
        #expect(ward.engine.latestScore(patientID: "P1") == later)
    }

    @Test func aBackloggedOlderReadingNeverReplacesANewerValue() {
        let ward = Ward()
        ward.read(stable.with { $0.heartRate = 135 })
        let t = ward.now
        ward.advance(seconds: 10)
        let late = Reading(deviceID: "mon-1", patientID: "P1", seq: 99, time: t - 5000, receivedAt: ward.now,
                           vitals: stable)
        ward.send(.reading(late))
        #expect(ward.scores.last?[.pulse] == 3)
    }

    @Test func theNews2AlarmNeedsTheRiskToHoldThenFollowsItUp() {
        let ward = Ward()
        // RR 22 (2) + SpO2 95 (1) + pulse 95 (1) + SBP 105 (1): 5, medium.
        let medium = stable.with { $0.respiratoryRate = 22; $0.spo2 = 95; $0.heartRate = 95; $0.systolicBP = 105 }
        ward.run(seconds: 29) { _ in medium }
        #expect(ward.raised.isEmpty)
        ward.run(seconds: 2) { _ in medium }
        #expect(ward.raised == ["news2"])
        #expect(ward.open("news2")?.priority == .medium && ward.open("news2")?.value == 5)
        #expect(ward.open("news2")?.message == "NEWS2 5, medium clinical risk")
        ward.run(seconds: 60) { _ in stable }
        #expect(ward.resolved == ["news2"])
    }

    @Test func anIncompleteScoreCanRaiseButNeverClears() {
        let ward = Ward()
        // Only a pulse oximeter: pulse 135 (3) + SpO2 91 (3) is at least 6, medium.
        ward.run(seconds: 40, device: "oxi-4") { _ in Vitals(heartRate: 135, spo2: 91) }
        let alarm = try! #require(ward.open("news2"))
        #expect(alarm.priority == .medium && alarm.message.contains("missing"))
        // Recovered values, but five parameters unknown: no evidence the risk is low.
        ward.run(seconds: 120, device: "oxi-4") { _ in Vitals(heartRate: 80, spo2: 97) }
        #expect(ward.open("news2")?.conditionPresent == true)
        // A complete set of observations in the low band ends it.
        ward.run(seconds: 1, device: "oxi-4") { _ in stable }
        #expect(ward.open("news2") == nil)
    }

    @Test func scale2IsScoredForThePatientItIsSetFor() {
        let ward = Ward()
        ward.engine.setSpO2Scale(patientID: "P1", scale: .scale2)
        ward.read(stable.with { $0.spo2 = 89 })
        ward.read(stable.with { $0.spo2 = 89 }, patient: "P2", device: "mon-2")
        let scores = ward.scores
        #expect(scores[0].scale == .scale2 && scores[0][.oxygenSaturation] == 0)
        #expect(scores[1].scale == .scale1 && scores[1][.oxygenSaturation] == 3)
        #expect(ward.engine.spo2Scale(for: "P1") == .scale2)
    }
}

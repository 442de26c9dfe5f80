import Testing
import WardlineCore
@testable import WardlineEngine

@Suite struct ThresholdTests {
    /// SpO2 held at `value` for `seconds` (readings at 0, 1, …, seconds), then back to 97.
    func desaturation(to value: Double, for seconds: Int) -> Ward {
        let ward = Ward()
        ward.run(seconds: 60) { _ in stable }
        ward.run(seconds: seconds + 1) { _ in stable.with { $0.spo2 = value } }
        ward.run(seconds: 30) { _ in stable }
        return ward
    }

    @Test("Persistence: a breach alarms only once it has held for the band's delay", arguments: [
        // SpO2 < 90 is high after 10 s; < 92 medium after 15 s.
        (86.0, 1, [String]()), (86, 9, []), (86, 10, ["spo2.low"]),
        (91, 14, []), (91, 15, ["spo2.low"]),
    ])
    func persistence(_ value: Double, _ seconds: Int, _ expected: [String]) {
        #expect(desaturation(to: value, for: seconds).raised == expected)
    }

    @Test("Bands give the priority: the most severe band that has held", arguments: [
        (91.0, AlarmPriority.medium), (89, .high), (80, .high),
    ])
    func bandPriority(_ value: Double, _ priority: AlarmPriority) {
        let ward = Ward()
        ward.run(seconds: 20) { _ in stable.with { $0.spo2 = value } }
        #expect(ward.open("spo2.low")?.priority == priority)
    }

    @Test func aWorseningBreachRaisesThePriorityOfTheSameAlarm() {
        let ward = Ward()
        ward.run(seconds: 20) { _ in stable.with { $0.heartRate = 125 } }
        let first = try! #require(ward.open("hr.high"))
        #expect(first.priority == .medium)
        ward.run(seconds: 20) { _ in stable.with { $0.heartRate = 142 } }
        let now = try! #require(ward.open("hr.high"))
        #expect(now.id == first.id && now.priority == .high && now.latching)
        #expect(ward.raised == ["hr.high"])
        #expect(ward.transitions(of: "hr.high") == [.raised, .priorityRaised])
    }

    @Test func hysteresisHoldsTheAlarmUntilTheClearLevel() {
        let ward = Ward()
        ward.run(seconds: 20) { _ in stable.with { $0.spo2 = 91 } }
        #expect(ward.open("spo2.low")?.priority == .medium)
        // 92 is no longer below the limit but not yet back at the clear level (93).
        ward.run(seconds: 60) { _ in stable.with { $0.spo2 = 92 } }
        #expect(ward.open("spo2.low") != nil && ward.resolved.isEmpty)
        ward.run(seconds: 1) { _ in stable.with { $0.spo2 = 93 } }
        #expect(ward.open("spo2.low") == nil && ward.resolved == ["spo2.low"])
        let last = try! #require(ward.transitions.last)
        #expect(last.resolution == .conditionCleared && last.value == 93)
    }

    @Test func readingsTooFarApartDoNotProveABreachHeld() {
        let ward = Ward()
        ward.read(stable.with { $0.spo2 = 85 })
        ward.advance(seconds: 25)   // more than the 20 s evidence gap
        ward.read(stable.with { $0.spo2 = 85 })
        ward.advance(seconds: 5)
        ward.read(stable.with { $0.spo2 = 85 })
        #expect(ward.raised.isEmpty)
        ward.advance(seconds: 5)
        ward.read(stable.with { $0.spo2 = 85 })
        #expect(ward.raised == ["spo2.low"])
        #expect(ward.open("spo2.low")?.conditionSince == ward.now - 10_000)
    }

    @Test func intermittentBloodPressureAlarmsOnTheFirstReading() {
        let ward = Ward()
        ward.read(Vitals(systolicBP: 84, diastolicBP: 50))
        #expect(ward.raised == ["sbp.low", "map.low"])
        #expect(ward.open("sbp.low")?.priority == .medium)
        #expect(ward.open("map.low")?.value == 50 + 34.0 / 3)
    }

    @Test func aPatientsOverrideReplacesTheHospitalRule() throws {
        let ward = Ward()
        // A patient with chronic lung disease: SpO2 alarms only below 85.
        try ward.engine.setThresholdOverride(patientID: "P1", rule: ThresholdRule(
            .spo2, .below, bands: [ThresholdBand(limit: 85, priority: .high, persistence: 10_000)], clearAt: 87))
        ward.run(seconds: 30) { _ in stable.with { $0.spo2 = 88 } }
        #expect(ward.raised.isEmpty)
        ward.run(seconds: 11) { _ in stable.with { $0.spo2 = 84 } }
        #expect(ward.raised == ["spo2.low"])
        // Another patient keeps the hospital's limits.
        ward.run(seconds: 20, patient: "P2", device: "mon-2") { _ in stable.with { $0.spo2 = 88 } }
        #expect(ward.open("spo2.low", patient: "P2") != nil)
        ward.engine.removeThresholdOverride(patientID: "P1", ruleID: "spo2.low")
        #expect(ward.engine.thresholdRules(for: "P1") == ward.engine.configuration.thresholdRules)
    }

    @Test func disablingARuleClearsItsOpenAlarmOnTheNextReading() throws {
        let ward = Ward()
        ward.run(seconds: 20) { _ in stable.with { $0.heartRate = 125 } }
        #expect(ward.open("hr.high") != nil)
        try ward.engine.setThresholdOverride(patientID: "P1", rule: .disabled(.heartRate, .above))
        ward.run(seconds: 1) { _ in stable.with { $0.heartRate = 125 } }
        #expect(ward.open("hr.high") == nil)
    }

    @Test func scale2PatientsGetTheirTargetRangeLimits() {
        let ward = Ward()
        ward.engine.setSpO2Scale(patientID: "P1", scale: .scale2)
        ward.run(seconds: 60) { _ in stable.with { $0.spo2 = 89 } }
        #expect(ward.raised.isEmpty)
        #expect(ward.scores.last?[.oxygenSaturation] == 0)
        ward.run(seconds: 20) { _ in stable.with { $0.spo2 = 86 } }
        #expect(ward.open("spo2.low")?.priority == .medium)
    }

    @Test("Unsafe rules are refused", arguments: [
        // The clear level is beyond the limit: it could never clear.
        ThresholdRule(.spo2, .below, bands: [ThresholdBand(limit: 90, priority: .high)], clearAt: 88),
        // The more severe band has a lower priority.
        ThresholdRule(.heartRate, .above, bands: [ThresholdBand(limit: 120, priority: .high),
                                                 ThresholdBand(limit: 140, priority: .medium)], clearAt: 110),
        ThresholdRule(.heartRate, .above, bands: [ThresholdBand(limit: .nan, priority: .high)], clearAt: 110),
        ThresholdRule(.heartRate, .above, bands: [ThresholdBand(limit: 130, priority: .high, persistence: -1)], clearAt: 110),
    ])
    func unsafeRules(_ rule: ThresholdRule) {
        let engine = try! AlertEngine()
        #expect(throws: InvalidThresholdRule.self) { try engine.setThresholdOverride(patientID: "P1", rule: rule) }
    }

    @Test func theHospitalDefaultsAreSound() {
        #expect(EngineConfiguration().problems.isEmpty)
        var broken = EngineConfiguration()
        broken.evidenceGap = 0
        #expect(throws: InvalidConfiguration.self) { try AlertEngine(configuration: broken) }
    }
}

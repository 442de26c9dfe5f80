import Testing
import WardlineCore
@testable import WardlineEngine

/// Scripted clinical courses on the injected clock: what a nurse should and should not hear.
@Suite struct ClinicalScenarioTests {
    /// A bedside monitor at one reading a second: HR, SpO2 and RR continuously; temperature every
    /// five minutes; NIBP and the nurse's ACVPU and oxygen every fifteen.
    static func monitor(_ s: Int, hr: Double, spo2: Double, rr: Double, temp: Double, sbp: Double, dbp: Double,
                        acvpu: Consciousness = .alert, o2: Bool = false) -> Vitals {
        var v = Vitals(heartRate: hr, spo2: spo2, respiratoryRate: rr)
        if s % 300 == 0 { v.temperature = temp }
        if s % 900 == 0 {
            v.systolicBP = sbp
            v.diastolicBP = dbp
            v.consciousness = acvpu
            v.onOxygen = o2
        }
        return v
    }

    @Test func sepsisLikeDeteriorationRaisesTheExpectedAlarmsInOrderAsNEWS2Climbs() throws {
        let ward = Ward()
        // An hour of a stable post-operative patient.
        ward.run(seconds: 3600) { s in
            Self.monitor(s, hr: 78 + Double(s % 5) - 2, spo2: 97, rr: 14, temp: 37.0, sbp: 124, dbp: 78)
        }
        #expect(ward.alarmEvents.isEmpty)
        #expect(ward.scores.last?.risk == .low && ward.scores.last?.isComplete == true)

        // Then 40 minutes of sepsis: tachycardia and tachypnoea, fever, falling pressure and
        // saturation, and new confusion after half an hour. NIBP cycles every 5 minutes now.
        ward.run(seconds: 2400) { s in
            let f = Double(s) / 2400
            var v = Self.monitor(s, hr: 78 + 52 * f, spo2: 97 - 5 * f, rr: 14 + 14 * f, temp: 37.0 + 2.0 * f,
                                 sbp: 124 - 44 * f, dbp: 78 - 30 * f, acvpu: s >= 1800 ? .newConfusion : .alert)
            if s % 300 == 0 {
                v.systolicBP = 124 - 44 * f
                v.diastolicBP = 78 - 30 * f
                v.consciousness = s >= 1800 ? .newConfusion : .alert
                v.onOxygen = false
            }
            return v
        }
        let raised = ward.raised
        func first(_ rule: String) throws -> Int { try #require(raised.firstIndex(of: rule), "\(rule) in \(raised)") }

        // NEWS2 speaks first: the aggregate reaches 5 (urgent response) while every vital is still
        // inside its own limits, within 20 minutes of the first change.
        let firstAlarm = try #require(ward.alarmEvents.first?.alarm)
        #expect(firstAlarm.ruleID == "news2" && firstAlarm.priority == .medium)
        #expect(firstAlarm.raisedAt - Ward.start < (3600 + 20 * 60) * 1000)
        // The trends of HR and RR come before their limits do.
        #expect(try first("hr.rising") < first("hr.high"))
        #expect(try first("rr.rising") < first("rr.high"))
        // NEWS2 reaches high risk before the HR and RR limits alarm; its one alarm climbs from
        // medium to high, never duplicated.
        #expect(try first("news2") < first("rr.rising"))
        #expect(raised.filter { $0 == "news2" }.count == 1)
        let news2 = try #require(ward.open("news2"))
        #expect(news2.priority == .high && news2.latching)
        let news2History = ward.events.compactMap { e in e.alarm?.ruleID == "news2" ? e.transition : nil }
        let becameHigh = try #require(news2History.first { $0.kind == .priorityRaised })
        let hrHigh = try #require(ward.alarmEvents.first { $0.alarm?.ruleID == "hr.high" }?.transition)
        #expect(becameHigh.at < hrHigh.at)
        // Unacknowledged at high risk, it escalates two minutes after becoming high, not sooner.
        let escalated = try #require(news2History.first { $0.kind == .escalated })
        #expect(escalated.at - becameHigh.at == 120_000 && escalated.escalationLevel == 1)
        for rule in ["temp.high", "sbp.low", "map.low"] { #expect(raised.contains(rule)) }
        #expect(!raised.contains { $0.hasPrefix("device.") })

        // The risk in the scored readings climbs through every band and never goes back.
        let risks = ward.scores.map(\.risk)
        var bands: [News2Risk] = []
        for r in risks where bands.last != r { bands.append(r) }
        #expect(bands == [.low, .medium, .high] || bands == [.low, .lowMedium, .medium, .high])
    }

    @Test("A single artefact raises nothing", arguments: [
        Vitals(heartRate: 190, spo2: 70),
        Vitals(heartRate: 0, spo2: 0),
        Vitals(heartRate: 35, spo2: 99, respiratoryRate: 45),
    ])
    func singleArtefact(_ spike: Vitals) {
        let ward = Ward()
        ward.run(seconds: 3600) { _ in stable }
        // Motion artefact: three seconds of nonsense inside a steady signal.
        ward.run(seconds: 3) { _ in spike }
        ward.run(seconds: 600) { _ in stable }
        #expect(ward.alarmEvents.isEmpty)
    }

    @Test func aSustainedDesaturationIsNotMistakenForAnArtefact() {
        let ward = Ward()
        ward.run(seconds: 600) { _ in stable }
        ward.run(seconds: 30) { _ in stable.with { $0.spo2 = 85 } }
        #expect(ward.raised == ["spo2.low"])
        #expect(ward.open("spo2.low")?.priority == .high)
    }

    @Test func aProbeOffGapRaisesATechnicalAlarmNotAPhysiologicalOne() {
        let ward = Ward()
        ward.run(seconds: 900) { _ in stable }
        // The probe slips: the device's own alert, 20 s of junk values (long enough to pass any
        // persistence delay), then silence for 2 minutes.
        ward.deviceAlert("probe_off", .low)
        ward.run(seconds: 20) { _ in Vitals(heartRate: 0, spo2: 40) }
        ward.run(seconds: 120)
        // Back on the finger.
        ward.run(seconds: 600) { _ in stable }

        let raised = ward.raised
        #expect(raised == ["device.alert.probe_off", TechnicalRule.stale])
        #expect(ward.alarmEvents.allSatisfy { $0.alarm?.category == .technical })
        #expect(ward.engine.openAlarms().isEmpty)
        // The gap left the windows alone: the minute before it was normal, so no trend either.
        #expect(ward.engine.windowStatistics(patientID: "P1", vital: .spo2)?.lastMinute.mean == 97)
    }

    @Test func silenceWithoutAnyAlertIsAlsoOnlyTechnical() {
        let ward = Ward()
        ward.run(seconds: 900) { _ in stable }
        ward.run(seconds: 300)
        ward.run(seconds: 300) { _ in stable }
        #expect(ward.raised == [TechnicalRule.stale])
        #expect(ward.resolved == [TechnicalRule.stale])
    }

    @Test func recoveryResolvesNonLatchingAlarmsAndLeavesLatchingOnesUntilAcknowledged() throws {
        let ward = Ward()
        ward.run(seconds: 600) { _ in stable }
        ward.run(seconds: 30) { _ in stable.with { $0.spo2 = 87; $0.heartRate = 125 } }
        let spo2 = try #require(ward.open("spo2.low"))
        let hr = try #require(ward.open("hr.high"))
        #expect(spo2.priority == .high && spo2.latching)
        #expect(hr.priority == .medium && !hr.latching)

        ward.run(seconds: 60) { _ in stable }
        #expect(ward.open("hr.high") == nil)
        let latched = try #require(ward.open("spo2.low"))
        #expect(latched.state == .active && !latched.conditionPresent)
        #expect(ward.transitions(of: "spo2.low") == [.raised, .latched])

        let events = try ward.acknowledge(latched, by: "nurse.okafor")
        #expect(events.map { $0.transition?.kind } == [.acknowledged, .resolved])
        #expect(events.last?.transition?.by == "nurse.okafor")
        #expect(events.last?.transition?.resolution == .acknowledgedAfterRecovery)
        #expect(ward.engine.openAlarms().isEmpty)
        #expect(throws: AcknowledgementError.notOpen(alarmID: latched.id)) {
            try ward.engine.acknowledge(alarmID: latched.id, by: "nurse.okafor", now: ward.now)
        }
    }

    @Test func anUnacknowledgedCriticalAlarmEscalatesAtTheConfiguredTime() throws {
        var c = EngineConfiguration()
        c.escalation = EscalationPolicy(firstAfter: 90_000, repeatEvery: 120_000, maximumLevel: 2)
        let ward = Ward(c)
        ward.run(seconds: 60) { _ in stable }
        ward.run(seconds: 600) { _ in stable.with { $0.spo2 = 84 } }
        let alarm = try #require(ward.open("spo2.low"))
        let escalations = ward.events.compactMap { e -> (Int, Int64)? in
            if case .escalationDue(let a, let level, let t) = e, a.id == alarm.id { (level, t.at) } else { nil }
        }
        #expect(escalations.map(\.0) == [1, 2])
        #expect(escalations.map(\.1) == [alarm.raisedAt + 90_000, alarm.raisedAt + 210_000])
        #expect(alarm.escalationLevel == 2)
    }

    @Test func acknowledgingInTimeStopsEscalation() throws {
        let ward = Ward()
        ward.run(seconds: 60) { _ in stable }
        ward.run(seconds: 30) { _ in stable.with { $0.spo2 = 84 } }
        try ward.acknowledge(ward.open("spo2.low"))
        ward.run(seconds: 900) { _ in stable.with { $0.spo2 = 84 } }
        #expect(!ward.events.contains { if case .escalationDue = $0 { true } else { false } })
        #expect(ward.open("spo2.low")?.state == .acknowledged)
    }

    @Test func alarmsRestoredAfterARestartAreNotRaisedAgain() throws {
        let before = Ward()
        before.run(seconds: 30) { _ in stable.with { $0.spo2 = 86 } }
        let open = before.engine.openAlarms()
        #expect(open.map(\.ruleID) == ["spo2.low"])

        let after = Ward()
        after.engine.restore(openAlarms: open, now: after.now)
        after.run(seconds: 60) { _ in stable.with { $0.spo2 = 86 } }
        #expect(after.raised.isEmpty)
        #expect(after.engine.openAlarms().map(\.id) == open.map(\.id))
        after.run(seconds: 5) { _ in stable }
        #expect(after.transitions(of: "spo2.low") == [.latched])
    }

    @Test func theSameInputsGiveTheSameEvents() {
        func course() -> [EngineEvent] {
            let ward = Ward()
            ward.run(seconds: 300) { s in stable.with { $0.spo2 = s > 100 ? 86 : 97 } }
            ward.run(seconds: 60)
            return ward.events
        }
        #expect(course() == course())
    }

    @Test func dischargeResolvesEverythingAndForgetsThePatient() {
        let ward = Ward()
        ward.run(seconds: 30) { _ in stable.with { $0.spo2 = 86 } }
        let events = ward.engine.dischargePatient("P1", now: ward.now)
        #expect(events.map { $0.transition?.resolution } == [.patientDischarged])
        #expect(ward.engine.patientCount == 0 && ward.engine.openAlarmCount == 0)
        ward.run(seconds: 60)
        #expect(ward.raised == ["spo2.low"])
    }
}

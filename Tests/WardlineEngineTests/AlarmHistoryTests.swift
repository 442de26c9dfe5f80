import Testing
import WardlineCore
@testable import WardlineEngine

/// What the store receives: one record per transition, with who, when, the value and the limit.
@Suite struct AlarmHistoryTests {
    @Test func everyTransitionIsRecordedWithWhoWhenValueAndThreshold() throws {
        let ward = Ward()
        ward.run(seconds: 16) { _ in stable.with { $0.spo2 = 91 } }
        let raisedAt = ward.now
        ward.run(seconds: 20) { _ in stable.with { $0.spo2 = 89 } }
        let alarm = try #require(ward.open("spo2.low"))
        ward.advance(seconds: 5)
        try ward.acknowledge(alarm, by: "nurse.patel")
        let acknowledgedAt = ward.now
        ward.run(seconds: 3) { _ in stable }

        let history = ward.transitions.filter { $0.alarmID == alarm.id }
        #expect(history.map(\.kind) == [.raised, .priorityRaised, .acknowledged, .resolved])
        #expect(history.map(\.revision) == [1, 2, 3, 4])
        #expect(history.map(\.from) == [nil, .active, .active, .acknowledged])
        #expect(history.map(\.to) == [.active, .active, .acknowledged, .resolved])
        #expect(history.map(\.priority) == [.medium, .high, .high, .high])
        #expect(history[0].at == raisedAt && history[0].readingTime == raisedAt)
        #expect(history[0].value == 91 && history[0].threshold == 92)
        #expect(history[1].value == 89 && history[1].threshold == 90)
        #expect(history[2].by == "nurse.patel" && history[2].at == acknowledgedAt && history[2].value == 89)
        #expect(history[3].value == 97 && history[3].resolution == .conditionCleared && history[3].by == nil)
        #expect(alarm.id == "P1/spo2.low/\(raisedAt)")
    }

    @Test func acknowledgingAnUnknownOrAcknowledgedAlarmIsRefused() throws {
        let ward = Ward()
        #expect(throws: AcknowledgementError.notOpen(alarmID: "nope")) {
            try ward.engine.acknowledge(alarmID: "nope", by: "nurse", now: ward.now)
        }
        ward.run(seconds: 20) { _ in stable.with { $0.heartRate = 125 } }
        let alarm = try #require(ward.open("hr.high"))
        try ward.acknowledge(alarm)
        let acknowledged = try #require(ward.open("hr.high"))
        #expect(throws: AcknowledgementError.alreadyAcknowledged(acknowledged)) {
            try ward.engine.acknowledge(alarmID: alarm.id, by: "someone.else", now: ward.now)
        }
    }

    @Test func anAcknowledgedAlarmThatWorsensSoundsAgainAndEscalatesFromThen() throws {
        let ward = Ward()
        ward.run(seconds: 20) { _ in stable.with { $0.heartRate = 125 } }
        try ward.acknowledge(ward.open("hr.high"))
        ward.run(seconds: 60) { _ in stable.with { $0.heartRate = 125 } }
        ward.run(seconds: 11) { _ in stable.with { $0.heartRate = 145 } }
        let alarm = try #require(ward.open("hr.high"))
        #expect(alarm.state == .active && alarm.priority == .high && alarm.activeSince == ward.now)
        #expect(ward.transitions(of: "hr.high") == [.raised, .acknowledged, .reactivated])
        ward.run(seconds: 119) { _ in stable.with { $0.heartRate = 145 } }
        #expect(ward.transitions(of: "hr.high").last == .reactivated)
        ward.run(seconds: 1) { _ in stable.with { $0.heartRate = 145 } }
        #expect(ward.transitions(of: "hr.high").last == .escalated)
    }

    @Test func anInjectedIdMakerNamesEveryAlarm() throws {
        var n = 0
        let engine = try AlertEngine { seed in
            n += 1
            return "\(seed.ruleID)#\(n)"
        }
        let r = Reading(deviceID: "mon-1", patientID: "P1", seq: 1, time: Ward.start, receivedAt: Ward.start,
                        vitals: Vitals(systolicBP: 70, diastolicBP: 40))
        let ids = engine.process(.reading(r), now: Ward.start).compactMap(\.alarm?.id)
        #expect(ids == ["sbp.low#1", "map.low#2"])
    }
}

import Testing
import WardlineCore
@testable import WardlineEngine

/// Past one machine, a patient's partition moves to another engine node: the new owner continues
/// the open alarms from the store and rebuilds the rest from the replayed readings.
@Suite struct OwnershipTests {
    let desaturated = stable.with { $0.spo2 = 84 }

    @Test func theNewOwnerContinuesAnOpenAlarmAndNeverRaisesItAgain() {
        let first = Ward()
        first.run(seconds: 60) { _ in desaturated }
        let open = first.engine.openAlarms(patientID: "P1")
        #expect(first.raised.contains("spo2.low"))

        // The next owner: the store's open alarms first, then the readings from the floor on.
        let next = Ward()
        next.engine.restore(openAlarms: open, now: next.now)
        next.run(seconds: 60) { _ in desaturated }
        #expect(!next.raised.contains("spo2.low"))
        #expect(next.open("spo2.low")?.id == open.first { $0.ruleID == "spo2.low" }?.id)
        next.run(seconds: 120) { _ in stable }
        // The restored alarm still ends: it is latched until acknowledged, or it resolved.
        #expect(next.open("spo2.low").map { !$0.conditionPresent } ?? true)
    }

    @Test func aDeteriorationHalfSeenByTheDeadOwnerIsRaisedOnceByTheNext() {
        // The dead node saw 5 s below the limit and stored nothing; its floor is before them.
        let next = Ward()
        next.run(seconds: 60) { _ in desaturated }
        #expect(next.raised.filter { $0 == "spo2.low" }.count == 1)
    }

    @Test func forgettingAPartitionDropsItsPatientsOnly() {
        let w = Ward()
        w.run(seconds: 60, patient: "P1", device: "oxi-1") { _ in desaturated }
        w.run(seconds: 60, patient: "P2", device: "oxi-2") { _ in desaturated }
        #expect(w.engine.openAlarms(patientID: "P1").count > 0 && w.engine.openAlarms(patientID: "P2").count > 0)
        w.engine.forgetPatients { $0 == "P1" }
        #expect(w.engine.openAlarms(patientID: "P1").isEmpty)
        #expect(!w.engine.openAlarms(patientID: "P2").isEmpty)
        let id = w.engine.openAlarms(patientID: "P2")[0].id
        #expect(w.engine.alarm(id: id) != nil)
    }
}

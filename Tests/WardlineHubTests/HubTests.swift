import Foundation
import Testing
import WardlineCore
@testable import WardlineEngine
@testable import WardlineHub
import WardlineWard

private func decode(_ frame: [UInt8]) -> (String, [String: Any]) {
    let o = try! JSONSerialization.jsonObject(with: Data(frame)) as! [String: Any]
    return (o["event"] as! String, o["data"] as? [String: Any] ?? [:])
}

private func drain(_ hub: Hub, _ id: UInt64) -> [(String, [String: Any])] {
    var out: [(String, [String: Any])] = []
    while let f = hub.nextFrame(id) { out.append(decode(f)) }
    return out
}

private let ward = WardDirectory(
    places: ["P1": PatientPlace(patientID: "P1", ward: "4B", bed: "1"), "P2": PatientPlace(patientID: "P2", ward: "4B", bed: "2"),
             "P9": PatientPlace(patientID: "P9", ward: "7A", bed: "1")],
    careAssignments: ["n1": ["P1"]])

private func alarm(_ patient: String, priority: AlarmPriority = .high, state: AlarmState = .active) -> Alarm {
    Alarm(id: "a-\(patient)", patientID: patient, deviceID: "d", ruleID: "spo2.low", category: .physiological, vital: nil,
          priority: priority, state: state, latching: false, message: "SpO2 84 % < 90 %", value: 84, threshold: 90,
          conditionSince: 1, raisedAt: 1)
}

private func transition(_ kind: AlarmTransition.Kind) -> AlarmTransition {
    alarm("P1").raisedTransition(readingTime: nil)
}

private func reading(_ patient: String, hr: Double) -> EngineEvent {
    .scored(Reading(deviceID: "d-\(patient)", patientID: patient, seq: 1, time: 1, receivedAt: 1, vitals: Vitals(heartRate: hr)), News2Score())
}

@Suite struct WardDirectoryTests {
    @Test func nursesSeeTheirCareAssignmentsOnly() {
        let n1 = Principal(userID: "n1", role: .nurse, ward: "4B")
        #expect(ward.mayView(n1, "P1"))
        #expect(ward.check(n1, mayView: "P2") == .notInCare(patient: "P2"))
        #expect(ward.check(n1, mayView: "P9") == .otherWard(patient: "P9", ward: "4B"))
        #expect(ward.check(n1, mayView: "P404") == .unknownPatient("P404"))
    }

    @Test func wardWideAndHospitalWideRoles() {
        let charge = Principal(userID: "c1", role: .chargeNurse, ward: "4B")
        #expect(ward.visiblePatients(for: charge).map(\.patientID) == ["P1", "P2"])
        #expect(!ward.mayView(charge, "P9"))
        let admin = Principal(userID: "a", role: .admin, ward: "*")
        #expect(ward.visiblePatients(for: admin).count == 3)
        #expect(ward.mayView(admin, "P404"))
    }
}

@Suite struct OutboundQueueTests {
    @Test func vitalsCoalescePerPatientAndAlarmsComeFirst() {
        var q = OutboundQueue(alarmLimit: 4, otherLimit: 2)
        _ = q.push([1], kind: .vitals(patientID: "P1"))
        _ = q.push([2], kind: .vitals(patientID: "P2"))
        _ = q.push([3], kind: .vitals(patientID: "P1"))
        _ = q.push([9], kind: .alarm)
        #expect(q.pop() == [9])
        #expect(q.pop() == [3])  // P1's newest, in P1's original place
        #expect(q.pop() == [2])
        #expect(q.pop() == nil)
        #expect(q.coalesced == 1)
    }

    @Test func alarmsAreNeverDroppedButOverflowIsReported() {
        var q = OutboundQueue(alarmLimit: 3, otherLimit: 2)
        var accepted: [Bool] = []
        for i in 0..<4 { accepted.append(q.push([UInt8(i)], kind: .alarm)) }
        #expect(accepted == [true, true, true, false])
        var popped: [[UInt8]] = []
        while let f = q.pop() { popped.append(f) }
        #expect(popped == [[0], [1], [2], [3]])
    }

    @Test func otherUpdatesKeepTheNewest() {
        var q = OutboundQueue(alarmLimit: 3, otherLimit: 2)
        for i in 0..<5 { _ = q.push([UInt8(i)], kind: .other) }
        #expect(q.dropped == 3)
        let first = q.pop(), second = q.pop()
        #expect(first == [3] && second == [4])
    }
}

@Suite struct HubTests {
    @Test func sessionJoinsItsRoomsAndIsToldItsPatients() {
        let hub = Hub(directory: ward)
        hub.open(1, principal: Principal(userID: "n1", role: .nurse, ward: "4B"))
        #expect(hub.rooms(of: 1) == ["role:nurse", "user:n1"])
        let (event, data) = drain(hub, 1)[0]
        #expect(event == "session:ready")
        #expect((data["patients"] as! [[String: Any]]).map { $0["patient_id"] as! String } == ["P1"])
    }

    @Test func subscriptionsFollowAccessAndRefusalsSayWhy() {
        let hub = Hub(directory: ward)
        hub.open(1, principal: Principal(userID: "n1", role: .nurse, ward: "4B"))
        _ = drain(hub, 1)
        _ = hub.receive(1, text: Array(#"{"event":"subscribe:patient","data":{"patient_id":"P1"}}"#.utf8))
        _ = hub.receive(1, text: Array(#"{"event":"subscribe:patient","data":{"patient_id":"P9"}}"#.utf8))
        let frames = drain(hub, 1)
        #expect(frames[0].0 == "subscribed")
        #expect(frames[1].0 == "error" && frames[1].1["code"] as? String == "forbidden")
        #expect((frames[1].1["message"] as! String).contains("another ward"))
        #expect(hub.members(of: "patient:P1") == [1] && hub.members(of: "patient:P9").isEmpty)
    }

    @Test func malformedFramesGetAClearErrorAndChangeNothing() {
        let hub = Hub(directory: ward)
        hub.open(1, principal: Principal(userID: "n1", role: .nurse, ward: "4B"))
        _ = drain(hub, 1)
        #expect(hub.receive(1, text: Array("not json".utf8)) == nil)
        #expect(hub.receive(1, text: Array(#"{"event":"alert:acknowledge","data":{}}"#.utf8)) == nil)
        #expect(drain(hub, 1).map { $0.1["code"] as? String } == ["bad_request", "bad_request"])
        #expect(hub.badClientFrames == 2)
        let ack = hub.receive(1, text: Array(#"{"event":"alert:acknowledge","data":{"alarm_id":"a1"}}"#.utf8))
        #expect(ack == .acknowledge(alarmID: "a1", by: Principal(userID: "n1", role: .nurse, ward: "4B"), session: 1))
    }

    @Test func criticalAlarmsReachThePatientsRoomAndTheOnCallRolesOfThatWardOnly() {
        let hub = Hub(directory: ward)
        hub.open(1, principal: Principal(userID: "n1", role: .nurse, ward: "4B"))
        hub.open(2, principal: Principal(userID: "c1", role: .chargeNurse, ward: "4B"))
        hub.open(3, principal: Principal(userID: "c7", role: .chargeNurse, ward: "7A"))
        hub.open(4, principal: Principal(userID: "n2", role: .nurse, ward: "4B"))
        _ = hub.receive(1, text: Array(#"{"event":"subscribe:patient","data":{"patient_id":"P1"}}"#.utf8))
        for id in 1...4 { _ = drain(hub, UInt64(id)) }
        hub.deliver(.engine(.alarmRaised(alarm("P1"), transition(.raised))))
        hub.deliver(.engine(reading("P1", hr: 90)))
        #expect(drain(hub, 1).map(\.0) == ["alert:critical", "vitals:update"])
        #expect(drain(hub, 2).map(\.0) == ["alert:critical"])
        #expect(drain(hub, 3).isEmpty)  // another ward's charge nurse
        #expect(drain(hub, 4).isEmpty)  // a nurse of the same ward without the patient
    }

    @Test func aClientThatCannotTakeItsAlarmsIsDisconnectedWithAReason() {
        var limits = Hub.Limits()
        limits.alarmQueue = 3
        let hub = Hub(directory: ward, limits: limits)
        hub.open(1, principal: Principal(userID: "c1", role: .chargeNurse, ward: "4B"))
        hub.open(2, principal: Principal(userID: "c2", role: .chargeNurse, ward: "4B"))
        _ = drain(hub, 2)
        for _ in 0..<3 { hub.deliver(.engine(.alarmRaised(alarm("P1"), transition(.raised)))) }
        _ = drain(hub, 2)
        let evicted = hub.takeEvictions()
        #expect(evicted.map(\.0) == [1])
        #expect(evicted[0].1.contains("too slow"))
        #expect(!hub.isOpen(1) && hub.isOpen(2))
    }

    @Test func losingAccessLeavesThePatientsRoom() {
        let hub = Hub(directory: ward)
        hub.open(1, principal: Principal(userID: "n1", role: .nurse, ward: "4B"))
        _ = hub.receive(1, text: Array(#"{"event":"subscribe:patient","data":{"patient_id":"P1"}}"#.utf8))
        _ = drain(hub, 1)
        var changed = ward
        changed.careAssignments["n1"] = []
        hub.replaceDirectory(changed)
        #expect(drain(hub, 1).map(\.0) == ["unsubscribed", "patients:updated"])
        #expect(hub.members(of: "patient:P1").isEmpty)
        hub.deliver(.engine(reading("P1", hr: 90)))
        #expect(drain(hub, 1).isEmpty)
    }
}

@Suite struct DeviceStatusTests {
    @Test func aLateSubscriberLearnsThatADeviceIsAlreadyOffline() {
        let hub = Hub(directory: ward)
        hub.deliver(.deviceStatus(DeviceStatus(deviceID: "d1", state: .offline, receivedAt: 5), patientID: "P1"))
        hub.open(1, principal: Principal(userID: "n1", role: .nurse, ward: "4B"))
        _ = hub.receive(1, text: Array(#"{"event":"subscribe:patient","data":{"patient_id":"P1"}}"#.utf8))
        let frames = drain(hub, 1)
        #expect(frames.map(\.0) == ["session:ready", "subscribed", "device:status"])
        #expect(frames[2].1["state"] as? String == "offline")
    }
}

@Suite struct LateClientTests {
    @Test func aClientWhoseAlarmWaitsTooLongIsClosed() {
        let hub = Hub(directory: ward)
        hub.now = 1_000
        hub.open(1, principal: Principal(userID: "c1", role: .chargeNurse, ward: "4B"))
        hub.open(2, principal: Principal(userID: "c2", role: .chargeNurse, ward: "4B"))
        hub.deliver(.engine(.alarmRaised(alarm("P1"), transition(.raised))))
        _ = drain(hub, 2)  // client 2 reads; client 1 does not
        hub.now = 9_000
        hub.evictLateClients(maxWaitMillis: 10_000)
        #expect(hub.takeEvictions().isEmpty)
        hub.now = 11_500
        hub.evictLateClients(maxWaitMillis: 10_000)
        let evicted = hub.takeEvictions()
        #expect(evicted.map(\.0) == [1])
        #expect(evicted.first?.1.contains("waited 10 s") == true)
        #expect(hub.isOpen(2))
    }

    @Test func coalescedVitalsAreCounted() {
        let hub = Hub(directory: ward)
        hub.open(1, principal: Principal(userID: "n1", role: .nurse, ward: "4B"))
        _ = hub.receive(1, text: Array(#"{"event":"subscribe:patient","data":{"patient_id":"P1"}}"#.utf8))
        for hr in 60..<65 { hub.deliver(.engine(reading("P1", hr: Double(hr)))) }
        #expect(hub.vitalsCoalesced == 4)
        let vitals = drain(hub, 1).filter { $0.0 == "vitals:update" }
        #expect(vitals.count == 1 && (vitals[0].1["vitals"] as! [String: Any])["hr"] as? Double == 64)
    }
}

@Suite struct AlarmReceiptTests {
    @Test func aScreenThatDoesNotConfirmItsAlarmIsClosedAndColleaguesAreTold() {
        let hub = Hub(directory: ward)
        hub.now = 1_000
        hub.open(1, principal: Principal(userID: "c1", role: .chargeNurse, ward: "4B"), confirmsAlarms: true)
        hub.open(2, principal: Principal(userID: "c2", role: .chargeNurse, ward: "4B"), confirmsAlarms: true)
        hub.open(3, principal: Principal(userID: "d1", role: .physician, ward: "4B"))
        let a = alarm("P1")
        hub.deliver(.engine(.alarmRaised(a, transition(.raised))))
        for id: UInt64 in 1...3 { _ = drain(hub, id) }  // every socket takes it; only screen 2 confirms
        _ = hub.receive(2, text: Array(#"{"event":"alert:received","data":{"alarm_id":"\#(a.id)","revision":1}}"#.utf8))
        hub.now = 12_000
        hub.evictLateClients(maxWaitMillis: 10_000)
        let evicted = hub.takeEvictions()
        #expect(evicted.map(\.0) == [1])
        #expect(evicted[0].1.contains("not confirmed") && evicted[0].1.contains("frozen"))
        #expect(hub.isOpen(2) && hub.isOpen(3), "a screen that confirmed, and one that never promised to, stay")
        let told = drain(hub, 3).filter { $0.0 == "notification:new" }
        #expect(told.count == 1 && (told[0].1["message"] as! String).contains("c1's ward screen did not confirm"))
        #expect(hub.unconfirmedAlarmDisconnects == 1)
    }
}

@Suite struct SystemStatusFrameTests {
    @Test func everySocketGetsTheAlarmSystemsStateAndALaterOneGetsTheLatestProblem() {
        let hub = Hub(directory: ward)
        hub.open(1, principal: Principal(userID: "n1", role: .nurse, ward: "4B"))
        _ = drain(hub, 1)
        let failure = WireFormat.frame("system:status", ["ok": JSONValue.bool(false), "headline": .string("ALARM SYSTEM FAILURE: engine stalled for 16 s")])
        hub.deliver(.systemStatus(frame: failure, ok: false))
        #expect(drain(hub, 1).map(\.0) == ["system:status"])
        hub.open(2, principal: Principal(userID: "c1", role: .chargeNurse, ward: "4B"))
        let second = drain(hub, 2)
        #expect(second.map(\.0) == ["session:ready", "system:status"])
        #expect(second[1].1["ok"] as? Bool == false)
        hub.deliver(.systemStatus(frame: WireFormat.frame("system:status", ["ok": JSONValue.bool(true)]), ok: true))
        #expect(drain(hub, 1).map(\.0) == ["system:status"] && drain(hub, 2).map(\.0) == ["system:status"], "the all-clear too")
        hub.open(3, principal: Principal(userID: "c2", role: .chargeNurse, ward: "4B"))
        #expect(drain(hub, 3).map(\.0) == ["session:ready"], "all well: nothing to say to a new socket")
    }
}

/// What a `hub` node adds to the hub: scored readings as the readings topic carries them, and
/// the other hubs told to each page.
@Suite struct HubNodeTests {
    @Test func aCarriedScoredReadingIsTheFrameOneProcessSendsAndOnlyToItsRoom() throws {
        let hub = Hub(directory: ward)
        hub.open(1, principal: Principal(userID: "n1", role: .nurse, ward: "4B"))
        hub.open(2, principal: Principal(userID: "c1", role: .chargeNurse, ward: "4B"))
        _ = hub.receive(1, text: Array(#"{"event":"subscribe:patient","data":{"patient_id":"P1"}}"#.utf8))
        _ = hub.receive(2, text: Array(#"{"event":"subscribe:patient","data":{"patient_id":"P2"}}"#.utf8))
        _ = drain(hub, 1)
        _ = drain(hub, 2)
        let r = Reading(deviceID: "d-P1", patientID: "P1", seq: 4, time: 10, receivedAt: 11, vitals: Vitals(heartRate: 131, spo2: 89))
        let score = News2Score(respirationRate: nil, spo2: 89, onOxygen: false, systolicBP: nil, pulse: 131, consciousness: nil,
                               temperature: nil)
        let body = FrameEncoder().scoredReadingBody(r, score)
        hub.deliver(.scoredReading(patientID: "P1", body: body))
        let own = try #require(hub.nextFrame(1))
        #expect(hub.nextFrame(2) == nil)
        let a = try JSONSerialization.jsonObject(with: Data(own)) as! NSDictionary
        let b = try JSONSerialization.jsonObject(with: Data(FrameEncoder().scoredReading(r, score))) as! NSDictionary
        #expect(a == b)
        let headline = try JSONDecoder().decode(ScoredReadingHeadline.self, from: Data(body))
        #expect(headline.patient_id == "P1" && headline.device_id == "d-P1" && headline.time == 10)
        #expect(headline.news2.total == score.total)
    }

    @Test func sessionReadyNamesTheOtherHubsWhenThereAreAny() {
        let alone = Hub(directory: ward)
        alone.open(1, principal: Principal(userID: "n1", role: .nurse, ward: "4B"))
        #expect(drain(alone, 1)[0].1["hubs"] == nil)
        let peered = Hub(directory: ward, peers: ["http://127.0.0.1:18991"])
        peered.open(1, principal: Principal(userID: "n1", role: .nurse, ward: "4B"))
        #expect(drain(peered, 1)[0].1["hubs"] as? [String] == ["http://127.0.0.1:18991"])
    }
}

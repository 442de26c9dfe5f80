import Foundation
import Testing
import WardlineCore
@testable import WardlineEngine
@testable import WardlineServer
@testable import WardlineStore

/// The pure pieces of `--role hub`: alarm events read back off the topic, and acknowledgements
/// routed to the patient's partition of the device topic.
@Suite struct AlarmEventDecoderTests {
    static let acknowledged = Alarm(id: "P1/spo2.low/3", patientID: "P1", deviceID: "mon-7", ruleID: "spo2.low", category: .physiological,
                                    vital: .spo2, priority: .high, state: .acknowledged, latching: true, message: "SpO2 84.5 % < 90 % \"low\" é",
                                    value: 84.5, threshold: 90, conditionSince: 1_795_639_801_000, raisedAt: 1_795_639_801_000,
                                    acknowledgedAt: 1_795_639_811_000, acknowledgedBy: "n1", escalationLevel: 1, revision: 3)

    static func transition(_ a: Alarm, _ kind: AlarmTransition.Kind, from: AlarmState?, at: Int64, by: String? = nil,
                           resolution: AlarmTransition.Resolution? = nil) -> AlarmTransition {
        AlarmTransition(alarmID: a.id, revision: a.revision, kind: kind, from: from, to: a.state, priority: a.priority, at: at,
                        readingTime: nil, by: by, value: a.value, threshold: a.threshold, escalationLevel: a.escalationLevel,
                        resolution: resolution)
    }

    @Test func anAcknowledgementComesBackAsTheEngineEventOneProcessPosts() throws {
        let a = Self.acknowledged
        let t = Self.transition(a, .acknowledged, from: .active, at: 1_795_639_811_000, by: "n1")
        let (alarm, back) = try AlarmEventDecoder().decode(Array(AlarmEvent.json(a, t).utf8))
        #expect(alarm == a)
        #expect(back == t)
        #expect(EngineEvent(alarm, back) == .alarmUpdated(a, t))
    }

    @Test(arguments: [AlarmTransition.Kind.raised, .escalated, .latched, .resolved])
    func everyKindKeepsTheFieldsTheSocketShows(kind: AlarmTransition.Kind) throws {
        var a = Self.acknowledged
        a.acknowledgedAt = nil
        a.acknowledgedBy = nil
        a.state = kind == .resolved ? .resolved : .active
        a.conditionPresent = !(kind == .latched || kind == .resolved)
        a.resolvedAt = kind == .resolved ? 1_795_639_900_000 : nil
        let t = Self.transition(a, kind, from: kind == .raised ? nil : .active, at: 1_795_639_900_000,
                                resolution: kind == .resolved ? .conditionCleared : nil)
        let (alarm, back) = try AlarmEventDecoder().decode(Array(AlarmEvent.json(a, t).utf8))
        #expect(alarm == a)
        #expect(back == t)
    }

    @Test func aTechnicalAlarmOfAnUnassignedDevice() throws {
        let a = Alarm(id: "device/mon-7/offline", patientID: nil, deviceID: "mon-7", ruleID: "device.offline", category: .technical,
                      vital: nil, priority: .medium, latching: false, message: "offline", value: nil, threshold: nil,
                      conditionSince: 6, raisedAt: 6)
        let (alarm, back) = try AlarmEventDecoder().decode(Array(AlarmEvent.json(a, Self.transition(a, .raised, from: nil, at: 6)).utf8))
        #expect(alarm == a && back.kind == .raised && back.from == nil)
    }

    @Test(arguments: [
        "not json",
        #"{"event_type":"vitals.alert.raised"}"#,
        #"{"correlation_id":"x","event_type":"t","event_version":1,"source_service":"s","timestamp":"t","data":{"alert_id":"a","rule_id":"r","category":"physiological","priority":"urgent","state":"active","latching":false,"message":"m","raised_at":"2026-11-25T20:50:01.000Z","escalation_level":0,"revision":1,"transition":{"kind":"raised","to":"active","at":"2026-11-25T20:50:01.000Z"}}}"#,
        #"{"correlation_id":"x","event_type":"t","event_version":1,"source_service":"s","timestamp":"t","data":{"alert_id":"a","rule_id":"r","category":"physiological","priority":"high","state":"active","latching":false,"message":"m","raised_at":"yesterday","escalation_level":0,"revision":1,"transition":{"kind":"raised","to":"active","at":"2026-11-25T20:50:01.000Z"}}}"#,
    ])
    func aBadRecordIsRefusedNotGuessed(text: String) {
        #expect(throws: AlarmEventDecoder.Failure.self) { try AlarmEventDecoder().decode(Array(text.utf8)) }
    }
}

@Suite struct HubAcknowledgementRouteTests {
    @Test func anAcknowledgementGoesOnThePatientsKeyAndPartition() throws {
        let id = UUID(uuidString: "6f1c1c3e-7a55-4c1b-9d3f-2b1e0c9a4d21")!
        let r = HubAcknowledger.route(alarmID: "P1/spo2.low/3", by: "n1", patientID: "P1", deviceID: "mon-7", partitions: 12,
                                      requestID: id, now: 1_795_639_811_000)
        #expect(r.key == "P1")
        #expect(r.partition == PatientPartition.of(key: "P1", partitions: 12))
        let decoded = try DeviceTopicRecord(decoding: r.record.encoded())
        #expect(decoded.kind == .acknowledge && decoded.topic == "" && decoded.receivedAt == 1_795_639_811_000)
        #expect(decoded.payloadSize == decoded.body.count)
        let command = try JSONDecoder().decode(AcknowledgeCommand.self, from: Data(decoded.body))
        #expect(command == AcknowledgeCommand(requestID: "6f1c1c3e-7a55-4c1b-9d3f-2b1e0c9a4d21", alarmID: "P1/spo2.low/3", userID: "n1"))
    }

    @Test func anUnassignedDevicesAlarmGoesOnTheDevicesKey() {
        let r = HubAcknowledger.route(alarmID: "device/mon-7/offline", by: "n1", patientID: nil, deviceID: "mon-7", partitions: 5, now: 0)
        #expect(r.key == "device:mon-7" && r.partition == PatientPartition.of(key: "device:mon-7", partitions: 5))
    }
}

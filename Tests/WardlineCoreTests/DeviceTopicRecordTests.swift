import Foundation
import Testing
import WardlineCore

@Suite struct DeviceTopicRecordTests {
    @Test func aDeviceMessageRoundTripsWithItsOwnBytes() throws {
        let payload = Array(#"{"v":1,"seq":7,"spo2":84,"#.utf8)  // cut at the journal's bound
        let r = DeviceTopicRecord(kind: .deviceMessage, receivedAt: 1_795_484_300_123, topic: "devices/oxi-1/vitals",
                                  payloadSize: 70_000, body: payload)
        let back = try DeviceTopicRecord(decoding: r.encoded())
        #expect(back == r)
    }

    @Test func anAcknowledgementTravelsOnThePatientsKey() throws {
        let command = AcknowledgeCommand(requestID: UUID().uuidString, alarmID: "P1/spo2.low/1", userID: "nurse.jones")
        let body = try JSONEncoder().encode(command)
        let r = DeviceTopicRecord(kind: .acknowledge, receivedAt: 5, topic: "", payloadSize: body.count, body: [UInt8](body))
        let back = try DeviceTopicRecord(decoding: r.encoded())
        #expect(try JSONDecoder().decode(AcknowledgeCommand.self, from: Data(back.body)) == command)
        // The hub routes on the alarm's patient, the ingest node on the device's assignment: the same partition.
        let readings = PatientPartition.of(key: PatientPartition.key(patientID: "P1", deviceID: "oxi-1"), partitions: 12)
        let ack = PatientPartition.of(key: PatientPartition.key(patientID: "P1", deviceID: nil), partitions: 12)
        #expect(readings == ack)
        #expect(PatientPartition.key(patientID: nil, deviceID: "oxi-9") == "device:oxi-9")
    }

    @Test func damagedRecordsAreRefusedWithTheReason() {
        #expect(throws: DeviceTopicRecord.DecodeError.tooShort(3)) { try DeviceTopicRecord(decoding: [1, 2, 3]) }
        #expect(throws: DeviceTopicRecord.DecodeError.unknownKind(9)) {
            try DeviceTopicRecord(decoding: [9] + [UInt8](repeating: 0, count: 14))
        }
        var topicTooLong = DeviceTopicRecord(kind: .deviceMessage, receivedAt: 0, topic: "abc", payloadSize: 0, body: []).encoded()
        topicTooLong[13] = 200
        #expect(throws: DeviceTopicRecord.DecodeError.topicBeyondEnd) { try DeviceTopicRecord(decoding: topicTooLong) }
    }

    @Test func partitionsSpreadPatientsAndAreStable() {
        var counts = [Int](repeating: 0, count: 12)
        for i in 0..<12_000 { counts[Int(PatientPartition.of(key: "PAT-\(i)", partitions: 12))] += 1 }
        #expect(counts.allSatisfy { $0 > 800 && $0 < 1200 })
        // Fixed values: the Python test computes the same (test_roles.py partition_of).
        #expect(PatientPartition.of(key: "PAT-1", partitions: 12) == 4)
        #expect(PatientPartition.of(key: "device:oxi-9", partitions: 12) == 1)
        #expect(PatientPartition.of(key: "PAT-Z", partitions: 4096) == 3197)
    }
}

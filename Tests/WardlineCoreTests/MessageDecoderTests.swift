import Foundation
import Testing
import WardlineCore

@Suite struct MessageDecoderTests {
    static let now: Int64 = 1_795_484_315_123
    let registry = DeviceRegistry(["mon-7": "PAT-7"])

    func decode(_ topic: String, _ payload: String, registry: DeviceRegistry? = nil,
                payloadPatientID: PayloadPatientID = .refuse) -> [IngestEvent] {
        var limits = MessageDecoder.Limits()
        limits.payloadPatientID = payloadPatientID
        return MessageDecoder(registry: registry ?? self.registry, limits: limits)
            .decode(topic: topic, payload: Data(payload.utf8), receivedAt: Self.now)
    }

    func reasons(_ events: [IngestEvent]) -> [RejectReason] {
        events.compactMap { if case .rejected(let r) = $0 { r.reason } else { nil } }
    }

    @Test func decodesAFullReading() throws {
        let events = decode("devices/mon-1/vitals", """
            {"v":1,"seq":1042,"ts":\(Self.now),"patient_id":"PAT-12345","hr":72,"spo2":97,"temp":36.8,"rr":16,
             "sbp":121,"dbp":79,"o2":false,"acvpu":"A","tx_us":5}
            """, payloadPatientID: .unassigned)
        guard case .reading(let r) = try #require(events.first), events.count == 1 else {
            Issue.record("expected one reading, got \(events)"); return
        }
        #expect(r.deviceID == "mon-1" && r.patientID == "PAT-12345" && r.seq == 1042 && r.time == Self.now)
        #expect(r.vitals == Vitals(heartRate: 72, spo2: 97, temperature: 36.8, respiratoryRate: 16, systolicBP: 121,
                                   diastolicBP: 79, onOxygen: false, consciousness: .alert))
        #expect(r.sentAtMicros == 5)
        #expect(r.receivedAt == Self.now)
    }

    /// Staff's assignment decides whose reading it is; the payload may repeat it, never change it.
    @Test(arguments: [PayloadPatientID.refuse, .unassigned])
    func theAssignmentDecidesAndAPayloadThatDisagreesIsRefused(setting: PayloadPatientID) throws {
        let same = decode("devices/mon-7/vitals", #"{"seq":1,"ts":\#(Self.now),"patient_id":"PAT-7","hr":60}"#, payloadPatientID: setting)
        let none = decode("devices/mon-7/vitals", #"{"seq":2,"ts":\#(Self.now),"hr":60}"#, payloadPatientID: setting)
        for events in [same, none] {
            guard case .reading(let r) = try #require(events.first) else { Issue.record("\(events)"); return }
            #expect(r.patientID == "PAT-7")
        }
        let other = decode("devices/mon-7/vitals", #"{"seq":3,"ts":\#(Self.now),"patient_id":"PAT-OTHER","hr":60}"#, payloadPatientID: setting)
        guard case .rejected(let r) = try #require(other.first), other.count == 1 else { Issue.record("\(other)"); return }
        #expect(r.reason == .patientMismatch && r.deviceID == "mon-7")
        #expect(!r.detail.contains("PAT-"), "patient ids stay out of the detail (it is logged)")
    }

    @Test func byDefaultAnUnassignedDevicesPayloadPatientIsNotHonoured() throws {
        let payload = #"{"seq":1,"ts":\#(Self.now),"patient_id":"PAT-12345","hr":60}"#
        let refused = decode("devices/mon-1/vitals", payload)
        guard case .rejected(let r) = try #require(refused.first) else { Issue.record("\(refused)"); return }
        #expect(r.reason == .unknownDevice && r.detail.contains("not honoured") && r.detail.contains("/api/v1/devices/mon-1/assignment"))
        let demo = decode("devices/mon-1/vitals", payload, payloadPatientID: .unassigned)
        guard case .reading(let reading) = try #require(demo.first) else { Issue.record("\(demo)"); return }
        #expect(reading.patientID == "PAT-12345")
    }

    @Test func alertsFollowTheAssignmentOnly() throws {
        let events = decode("devices/mon-1/alerts", #"{"code":"probe_off","patient_id":"PAT-12345"}"#, payloadPatientID: .unassigned)
        guard case .deviceAlert(let a) = try #require(events.first) else { Issue.record("\(events)"); return }
        #expect(a.patientID == nil, "an alert names no patient: it serves whoever the device is assigned to")
    }

    @Test func pulseOximeterSendsOnlyTwoVitals() throws {
        let events = decode("devices/mon-7/vitals", #"{"seq":1,"ts":\#(Self.now),"hr":0,"spo2":88}"#)
        guard case .reading(let r) = try #require(events.first) else { Issue.record("\(events)"); return }
        #expect(r.vitals.heartRate == 0, "asystole is a reading, not an error")
        #expect(r.vitals.temperature == nil)
    }

    @Test(arguments: [
        ("devices/mon-1/vitals", "not json at all", RejectReason.malformedJSON),
        ("devices/mon-1/vitals", #"{"seq":1,"ts":1795484315123,"hr":72"#, .malformedJSON),
        ("devices/mon-1/vitals", #"{"seq":"1","ts":1795484315123,"patient_id":"P","hr":72}"#, .wrongType),
        ("devices/mon-1/vitals", #"{"seq":1,"ts":1795484315123,"patient_id":"P","hr":"72"}"#, .wrongType),
        ("devices/mon-1/vitals", #"{"seq":1,"ts":1795484315123,"patient_id":"P","o2":"yes"}"#, .wrongType),
        ("devices/mon-1/vitals", #"{"seq":1.5,"ts":1795484315123,"patient_id":"P","hr":72}"#, .wrongType),
        // A number that fits no field is a wrong type; a number no JSON reader takes is not JSON.
        ("devices/mon-1/vitals", #"{"seq":99999999999999999999,"ts":1795484315123,"patient_id":"P","hr":72}"#, .wrongType),
        ("devices/mon-1/vitals", #"{"seq":1e400,"ts":1795484315123,"patient_id":"P","hr":72}"#, .malformedJSON),
        ("devices/mon-1/vitals", #"{"seq":1,"ts":1795484315123,"patient_id":"P","hr":72,}"#, .unknownDevice),
        ("devices/mon-1/vitals", "5", .malformedJSON),
        ("devices/mon-1/vitals", "{}x", .malformedJSON),
        ("devices/mon-1/vitals", #"{"ts":1795484315123,"patient_id":"P","hr":72}"#, .missingField),
        ("devices/mon-1/vitals", #"{"seq":1,"patient_id":"P","hr":72}"#, .missingField),
        ("devices/mon-1/vitals", #"{"seq":1,"ts":1795484315123,"patient_id":"P"}"#, .missingField),
        ("devices/mon-1/vitals", #"{"seq":1,"ts":1795484315123,"patient_id":"P","spo2":101}"#, .impossibleValue),
        ("devices/mon-1/vitals", #"{"seq":1,"ts":1795484315123,"patient_id":"P","hr":-1}"#, .impossibleValue),
        ("devices/mon-1/vitals", #"{"seq":1,"ts":1795484315123,"patient_id":"P","temp":60}"#, .impossibleValue),
        ("devices/mon-1/vitals", #"{"seq":1,"ts":1795484315123,"patient_id":"P","acvpu":"X"}"#, .impossibleValue),
        ("devices/mon-1/vitals", #"{"seq":-4,"ts":1795484315123,"patient_id":"P","hr":70}"#, .impossibleValue),
        ("devices/mon-1/vitals", #"{"seq":1,"ts":1795484615124,"patient_id":"P","hr":70}"#, .futureTimestamp),
        ("devices/mon-1/vitals", #"{"seq":1,"ts":1000,"patient_id":"P","hr":70}"#, .invalidTimestamp),
        ("devices/mon-1/vitals", #"{"v":2,"seq":1,"ts":1795484315123,"patient_id":"P","hr":70}"#, .unsupportedVersion),
        ("devices/mon-1/vitals", #"{"seq":1,"ts":1795484315123,"hr":70}"#, .unknownDevice),
        ("devices/mon-1/vitals", "[]", .missingField),
        ("devices/mon-1/heartbeat", #"{"seq":1}"#, .unknownTopic),
        ("hospital/ward3", #"{"seq":1}"#, .unknownTopic),
        ("devices/mon 1/vitals", #"{"seq":1}"#, .badCharacters),
        ("devices//vitals", #"{"seq":1}"#, .malformedTopic),
        ("devices/mon-1/status", #"{"state":"asleep"}"#, .impossibleValue),
        ("devices/mon-1/status", #"{"state":"online","battery":140}"#, .impossibleValue),
        ("devices/mon-1/status", "sideways", .malformedJSON),
        ("devices/mon-1/alerts", #"{"code":"probe_off","priority":"urgent"}"#, .impossibleValue),
        ("devices/mon-1/alerts", #"{"priority":"high"}"#, .missingField),
    ])
    func rejectsBadInputWithItsReason(topic: String, payload: String, reason: RejectReason) throws {
        let events = decode(topic, payload)
        #expect(events.count == 1)
        guard case .rejected(let r) = try #require(events.first) else { Issue.record("accepted: \(events)"); return }
        #expect(r.reason == reason, "\(r.detail)")
        #expect(!r.detail.isEmpty)
        #expect(r.topic == topic)
        #expect(r.payload == payload)
    }

    @Test func rejectsOversizedPayloadKeepingOnlyAPrefix() throws {
        var limits = MessageDecoder.Limits()
        limits.maxPayloadBytes = 100
        limits.keptPayloadBytes = 10
        let big = #"{"seq":1,"ts":1795484315123,"hr":72,"pad":""# + String(repeating: "x", count: 200) + #""}"#
        let events = MessageDecoder(registry: registry, limits: limits)
            .decode(topic: "devices/mon-7/vitals", payload: Data(big.utf8), receivedAt: Self.now)
        guard case .rejected(let r) = try #require(events.first) else { Issue.record("\(events)"); return }
        #expect(r.reason == .oversizedPayload)
        #expect(r.payloadSize == big.utf8.count)
        #expect(r.payload.utf8.count == 10)
    }

    @Test func batchArrayKeepsGoodElementsBesideBadOnes() {
        let events = decode("devices/mon-7/vitals", """
            [{"seq":1,"ts":\(Self.now),"hr":70},{"seq":2,"ts":\(Self.now),"hr":"fast"},
             {"seq":3,"ts":\(Self.now),"spo2":120},{"seq":4,"ts":\(Self.now),"spo2":95}, 7]
            """)
        #expect(events.count == 5)
        let seqs = events.compactMap { if case .reading(let r) = $0 { r.seq } else { nil } }
        #expect(seqs == [1, 4])
        #expect(reasons(events) == [.wrongType, .impossibleValue, .wrongType])
        let indexes = events.compactMap { if case .rejected(let r) = $0 { r.elementIndex } else { nil } }
        #expect(indexes == [1, 2, 4])
    }

    @Test func statusAcceptsJSONAndBareWords() {
        let json = decode("devices/oxi-3/status", #"{"v":1,"state":"online","firmware":"2.4.1","battery":87}"#)
        #expect(json == [.deviceStatus(DeviceStatus(deviceID: "oxi-3", state: .online, firmware: "2.4.1", battery: 87,
                                                    receivedAt: Self.now))])
        let will = decode("devices/oxi-3/status", "offline")
        #expect(will == [.deviceStatus(DeviceStatus(deviceID: "oxi-3", state: .offline, receivedAt: Self.now))])
        #expect(decode("devices/oxi-3/status", "").isEmpty, "an empty retained message only clears the retained status")
    }

    @Test func deviceAlertCarriesAssignedPatient() throws {
        let events = decode("devices/mon-7/alerts", #"{"v":1,"ts":\#(Self.now),"code":"probe_off","priority":"low","message":"SpO2 probe off"}"#)
        guard case .deviceAlert(let a) = try #require(events.first) else { Issue.record("\(events)"); return }
        #expect(a.patientID == "PAT-7" && a.code == "probe_off" && a.priority == .low)
    }
}

import Foundation
import Testing
import WardlineCore

/// Every device-supplied string that can become part of an id, a rule, a message or an indexed
/// column is bounded at decode time (issue 12): at the limit it passes, one beyond it fails with
/// its own reason, and NUL, control characters and look-alike letters are refused.
@Suite struct DeviceTextTests {
    static let now: Int64 = 1_795_484_315_123
    let registry = DeviceRegistry(["mon-7": "PAT-7"])

    /// With payload patient ids honoured for unassigned devices (the demo setting): the id rule is
    /// what is tested here; the default (refuse) in MessageDecoderTests.
    func decode(_ topic: String, _ payload: String) -> [IngestEvent] {
        var limits = MessageDecoder.Limits()
        limits.payloadPatientID = .unassigned
        return MessageDecoder(registry: registry, limits: limits).decode(topic: topic, payload: Data(payload.utf8), receivedAt: Self.now)
    }

    func outcome(_ events: [IngestEvent]) -> RejectReason? {
        guard events.count == 1 else { return .unstorable }  // never expected: one message, one event here
        if case .rejected(let r) = events[0] { return r.reason }
        return nil
    }

    /// A JSON string literal for `s`, escaping what JSON needs escaped (control characters as \u).
    static func json(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    static let a64 = String(repeating: "a", count: 64)
    static let a65 = String(repeating: "a", count: 65)

    // MARK: device id in the topic

    @Test(arguments: [
        (a64, nil),
        (a65, RejectReason.fieldTooLong),
        (String(repeating: "b", count: 200), .fieldTooLong),
        ("mon\u{0}1", .badCharacters),
        ("mon\u{1}1", .badCharacters),
        ("mon\u{7F}", .badCharacters),
        ("m\u{043E}n-1", .badCharacters),       // Cyrillic о for o
        ("\u{FF4D}on-1", .badCharacters),       // fullwidth m
        ("mon-1\u{200B}", .badCharacters),      // zero-width space
        ("mon 1", .badCharacters),
        ("PAT:7_a.b-c", nil),
        ("", .malformedTopic),
    ] as [(String, RejectReason?)])
    func deviceIDInTopic(id: String, reason: RejectReason?) {
        let events = decode("devices/\(id)/vitals", #"{"seq":1,"ts":\#(Self.now),"patient_id":"PAT-1","hr":70}"#)
        #expect(outcome(events) == reason)
        if case .rejected(let r) = events.first, let hint = r.deviceID {
            // What is stored and logged for a refused id can never be mistaken for a real id.
            #expect(DeviceTopic.parse("devices/\(hint)/vitals").map(\.deviceID) != .success(hint))
            #expect(hint.unicodeScalars.count <= 49)
            #expect(!hint.unicodeScalars.contains { $0.value < 0x20 })
        }
    }

    @Test func aRefusedTopicIsStoredCutShort() throws {
        let topic = "devices/" + String(repeating: "x", count: 60_000) + "/vitals"
        let events = decode(topic, #"{"seq":1}"#)
        guard case .rejected(let r) = try #require(events.first) else { Issue.record("\(events)"); return }
        #expect(r.reason == .fieldTooLong)
        #expect(r.topic.utf8.count == 256)
        #expect(r.detail.utf8.count < 200)
    }

    // MARK: patient id in a reading

    @Test(arguments: [
        (a64, nil),
        (a65, RejectReason.fieldTooLong),
        (String(repeating: "P", count: 40_000), .fieldTooLong),
        ("PAT\u{0}1", .badCharacters),
        ("PAT\n1", .badCharacters),
        ("P\u{0410}T-1", .badCharacters),       // Cyrillic А
        ("PAT 1", .badCharacters),
        ("", .missingField),
    ] as [(String, RejectReason?)])
    func patientIDOfAnUnassignedDevice(id: String, reason: RejectReason?) {
        let events = decode("devices/mon-1/vitals", #"{"seq":1,"ts":\#(Self.now),"patient_id":\#(Self.json(id)),"hr":70}"#)
        #expect(outcome(events) == reason)
        if reason == nil, case .reading(let r) = events.first { #expect(r.patientID == id) }
    }

    @Test func anAssignedDeviceRefusesAnyOtherPayloadPatientID() throws {
        let events = decode("devices/mon-7/vitals", #"{"seq":1,"ts":\#(Self.now),"patient_id":\#(Self.json(Self.a65 + "\u{0}")),"hr":70}"#)
        guard case .rejected(let r) = try #require(events.first) else { Issue.record("\(events)"); return }
        #expect(r.reason == .patientMismatch)
        #expect(!r.detail.contains("\u{0}") && r.detail.utf8.count < 200)
    }

    @Test func aBatchKeepsItsGoodElementsBesideABadPatientID() {
        let events = decode("devices/mon-1/vitals", """
            [{"seq":1,"ts":\(Self.now),"patient_id":"PAT-1","hr":70},
             {"seq":2,"ts":\(Self.now),"patient_id":"\(Self.a65)","hr":71},
             {"seq":3,"ts":\(Self.now),"patient_id":"PAT-1","hr":72}]
            """)
        let seqs = events.compactMap { if case .reading(let r) = $0 { r.seq } else { nil } }
        let rejected = events.compactMap { if case .rejected(let r) = $0 { r } else { nil } }
        #expect(seqs == [1, 3])
        #expect(rejected.map(\.reason) == [.fieldTooLong] && rejected.map(\.elementIndex) == [1])
    }

    // MARK: alerts

    @Test(arguments: [
        (a64, nil),
        (a65, RejectReason.fieldTooLong),
        (String(repeating: "C", count: 40_000), .fieldTooLong),
        ("probe_off\u{0}", .badCharacters),
        ("probe_off\u{1B}[2J", .badCharacters),
        ("pr\u{043E}be_off", .badCharacters),   // Cyrillic о
        ("probe:off", .badCharacters),
        ("probe off", .badCharacters),
        ("lead.off-2_A", nil),
        ("", .missingField),
    ] as [(String, RejectReason?)])
    func alertCode(code: String, reason: RejectReason?) {
        #expect(outcome(decode("devices/mon-7/alerts", #"{"code":\#(Self.json(code)),"priority":"high"}"#)) == reason)
    }

    @Test(arguments: [
        (String(repeating: "m", count: 256), nil),
        (String(repeating: "\u{E9}", count: 256), nil),        // 256 characters, 512 bytes
        ("Sättigung niedrig – Sonde prüfen", nil),
        (String(repeating: "m", count: 257), RejectReason.fieldTooLong),
        (String(repeating: "\u{E9}", count: 257), .fieldTooLong),
        ("probe\u{0}off", .badCharacters),
        ("line one\nline two", .badCharacters),
        ("tab\there", .badCharacters),
        ("next line\u{85}", .badCharacters),                   // C1 control
        ("SpO2 \u{202E}97\u{202C}", .badCharacters),          // right-to-left override
        ("\u{2066}isolate\u{2069}", .badCharacters),
    ] as [(String, RejectReason?)])
    func alertMessage(message: String, reason: RejectReason?) throws {
        let events = decode("devices/mon-7/alerts", #"{"code":"probe_off","message":\#(Self.json(message))}"#)
        // The alarm always goes through: a bad text is refused on its own, never the alarm with it.
        guard case .deviceAlert(let a) = try #require(events.last) else { Issue.record("\(events)"); return }
        #expect(a.code == "probe_off")
        if let reason {
            #expect(events.count == 2 && a.message == nil)
            guard case .rejected(let r) = events[0] else { Issue.record("\(events)"); return }
            #expect(r.reason == reason && r.detail.hasSuffix("the alarm was raised without it"))
        } else {
            #expect(events.count == 1 && a.message == message)
        }
    }

    @Test func anEmptyAlertMessageIsNoMessage() throws {
        let events = decode("devices/mon-7/alerts", #"{"code":"probe_off","message":""}"#)
        guard case .deviceAlert(let a) = try #require(events.first) else { Issue.record("\(events)"); return }
        #expect(a.message == nil)
    }

    @Test func aHugeAlertCodeIsStoredWithABoundedSample() throws {
        let payload = #"{"code":"\#(String(repeating: "X", count: 40_000))","priority":"high"}"#
        let events = decode("devices/mon-7/alerts", payload)
        guard case .rejected(let r) = try #require(events.first) else { Issue.record("\(events)"); return }
        #expect(r.reason == .fieldTooLong)
        #expect(r.deviceID == "mon-7")
        #expect(r.payloadSize == payload.utf8.count)
        #expect(r.payload.utf8.count == MessageDecoder.Limits().keptPayloadBytes)
        #expect(r.detail == "alert code is 40000 bytes; the limit is 64")
    }

    // MARK: status

    @Test(arguments: [
        (a64, nil),
        ("2.4.1 (build 77) rc-1", nil),
        (a65, RejectReason.fieldTooLong),
        ("2.4\u{0}", .badCharacters),
        ("2.4\t1", .badCharacters),
        ("2.4.1-\u{E9}", .badCharacters),
    ] as [(String, RejectReason?)])
    func firmware(firmware: String, reason: RejectReason?) throws {
        let events = decode("devices/mon-7/status", #"{"state":"online","battery":9,"firmware":\#(Self.json(firmware))}"#)
        // The status (and its low battery) always counts; a bad firmware string is refused alone.
        guard case .deviceStatus(let st) = try #require(events.last) else { Issue.record("\(events)"); return }
        #expect(st.battery == 9)
        if let reason {
            #expect(events.count == 2 && st.firmware == nil)
            guard case .rejected(let r) = events[0] else { Issue.record("\(events)"); return }
            #expect(r.reason == reason)
        } else {
            #expect(events.count == 1 && st.firmware == firmware)
        }
    }

    // MARK: the rule itself

    @Test func limitsComeFromTheDecodersLimits() {
        var limits = MessageDecoder.Limits()
        limits.maxAlertCodeBytes = 8
        let decoder = MessageDecoder(registry: registry, limits: limits)
        let ok = decoder.decode(topic: "devices/mon-7/alerts", payload: Data(#"{"code":"12345678"}"#.utf8), receivedAt: Self.now)
        let long = decoder.decode(topic: "devices/mon-7/alerts", payload: Data(#"{"code":"123456789"}"#.utf8), receivedAt: Self.now)
        #expect(outcome(ok) == nil)
        #expect(outcome(long) == .fieldTooLong)
    }

    @Test func detailNamesTheCodePointNotTheValue() throws {
        let p = try #require(DeviceText.check("ab\u{0}cd", field: "alert code", kind: .code, maxLength: 64))
        #expect(p.reason == .badCharacters)
        #expect(p.detail == "alert code has U+0000 at position 2, outside A-Z a-z 0-9 . _ -")
    }
}

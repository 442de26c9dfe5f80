import Foundation
import Logging
import Testing
@testable import WardlineAPI
import WardlineCore
@testable import WardlineEngine
@testable import WardlineHub
@testable import WardlineStore
import WardlineWard
@testable import WardlineWeb

/// The exact JSON of frames and REST bodies, pinned: written against the dictionaries and
/// `JSONSerialization` they were first built with, kept unchanged when they became `Codable`.
///
/// Frames and REST bodies have no key order (JSONSerialization and JSONEncoder both write
/// dictionary order, which differs between runs), so these compare `canonical(_:)`: every token as
/// written — number formats, string escapes, `null` against absent — with only each object's keys
/// put in order.
enum CanonicalJSON {
    /// `bytes` with each object's members sorted by their key as written; nothing else changed.
    static func canonical(_ bytes: [UInt8]) -> String {
        var i = 0
        let text = Array(String(decoding: bytes, as: UTF8.self).unicodeScalars)
        func skip() { while i < text.count, " \t\r\n".unicodeScalars.contains(text[i]) { i += 1 } }
        func string() -> String {
            var s = String(text[i]); i += 1
            while text[i] != "\"" {
                if text[i] == "\\" { s.unicodeScalars.append(text[i]); i += 1 }
                s.unicodeScalars.append(text[i]); i += 1
            }
            i += 1
            return s + "\""
        }
        func value() -> String {
            skip()
            switch text[i] {
            case "{":
                i += 1
                var members: [(String, String)] = []
                skip()
                if text[i] == "}" { i += 1; return "{}" }
                while true {
                    skip()
                    let key = string()
                    skip(); i += 1 // :
                    members.append((key, value()))
                    skip()
                    let c = text[i]; i += 1
                    if c == "}" { break }
                }
                return "{" + members.sorted { $0.0 < $1.0 }.map { $0.0 + ":" + $0.1 }.joined(separator: ",") + "}"
            case "[":
                i += 1
                var items: [String] = []
                skip()
                if text[i] == "]" { i += 1; return "[]" }
                while true {
                    items.append(value())
                    skip()
                    let c = text[i]; i += 1
                    if c == "]" { break }
                }
                return "[" + items.joined(separator: ",") + "]"
            case "\"": return string()
            default:
                var s = ""
                while i < text.count, !",]} \t\r\n".unicodeScalars.contains(text[i]) { s.unicodeScalars.append(text[i]); i += 1 }
                return s
            }
        }
        return value()
    }

    /// A REST body's `timestamp` (the time of the answer) replaced by `T`, after checking its form.
    static func body(_ r: HTTPResponse) -> String {
        let c = canonical(r.body)
        let pattern = #/"timestamp":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"/#
        #expect(c.contains(pattern), "timestamp in ISO 8601 with milliseconds: \(c)")
        return c.replacing(pattern, with: #""timestamp":"T""#)
    }
}

/// Compares and, when they differ, prints the actual text so a pin can be written from it.
func pin(_ actual: String, _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) {
    if actual != expected, let dir = ProcessInfo.processInfo.environment["PIN_RECORD"] {
        try? actual.write(toFile: "\(dir)/\(sourceLocation.line)", atomically: true, encoding: .utf8)
    }
    #expect(actual == expected, sourceLocation: sourceLocation)
}

private let places = WardDirectory(
    places: ["P1": PatientPlace(patientID: "P1", ward: "4B", bed: "1"), "P2": PatientPlace(patientID: "P2", ward: "4B", bed: nil),
             "P9": PatientPlace(patientID: "P9", ward: "7A", bed: "1")],
    careAssignments: ["n1": ["P1"]])

private let reading = Reading(deviceID: "mon-7", patientID: "P1", seq: 123_456, time: 1_795_639_811_342, receivedAt: 1_795_639_811_345,
                              vitals: Vitals(heartRate: 88, spo2: 95, temperature: 36.6, respiratoryRate: 18.5, systolicBP: 118,
                                             diastolicBP: 76, onOxygen: false, consciousness: .alert),
                              sentAtMicros: 1_795_639_811_340_123)

private var score: News2Score {
    var s = News2Score(scale: .scale2)
    s[.respirationRate] = 0
    s[.pulse] = 1
    return s
}

private let alarm = Alarm(id: "P1/spo2.low/3", patientID: "P1", deviceID: "mon-7", ruleID: "spo2.low", category: .physiological,
                          vital: .spo2, priority: .high, state: .acknowledged, latching: true, conditionPresent: false,
                          message: "SpO2 84.5 % < 90 % \"low\" é", value: 84.5, threshold: 90, conditionSince: 1_795_639_800_000,
                          raisedAt: 1_795_639_801_000, acknowledgedAt: 1_795_639_811_000, acknowledgedBy: "n1", escalationLevel: 1,
                          revision: 3)

private let technical = Alarm(id: "device/mon-7/offline", patientID: nil, deviceID: "mon-7", ruleID: "device.offline",
                              category: .technical, vital: nil, priority: .medium, latching: false, message: "offline",
                              value: nil, threshold: nil, conditionSince: 5, raisedAt: 6)

@Suite struct FrameBytesTests {
    let encoder = FrameEncoder()

    @Test func vitalsUpdate() {
        pin(CanonicalJSON.canonical(encoder.scoredReading(reading, score)), #"""
            {"data":{"device_id":"mon-7","news2":{"complete":false,"missing":["SpO2","air or oxygen","systolic BP","consciousness","temperature"],"risk":"low","scale":2,"total":1},"patient_id":"P1","sent_at_us":1795639811340123,"seq":123456,"time":1795639811342,"vitals":{"consciousness":"A","dbp":76,"hr":88,"on_oxygen":false,"rr":18.5,"sbp":118,"spo2":95,"temp":36.6}},"event":"vitals:update"}
            """#)
        let sparse = Reading(deviceID: "d", patientID: "P2", seq: 1, time: 2, receivedAt: 3, vitals: Vitals(temperature: 37.2))
        pin(CanonicalJSON.canonical(encoder.scoredReading(sparse, News2Score())), #"""
            {"data":{"device_id":"d","news2":{"complete":false,"missing":["respiration rate","SpO2","air or oxygen","systolic BP","pulse","consciousness","temperature"],"risk":"low","scale":1,"total":0},"patient_id":"P2","seq":1,"time":2,"vitals":{"temp":37.2}},"event":"vitals:update"}
            """#)
        pin(CanonicalJSON.canonical(encoder.scoredReadingBody(sparse, News2Score())), #"""
            {"device_id":"d","news2":{"complete":false,"missing":["respiration rate","SpO2","air or oxygen","systolic BP","pulse","consciousness","temperature"],"risk":"low","scale":1,"total":0},"patient_id":"P2","seq":1,"time":2,"vitals":{"temp":37.2}}
            """#)
    }

    @Test func alarmFrames() {
        pin(CanonicalJSON.canonical(encoder.alarm("alert:updated", alarm, transition: "acknowledged")),
            #"{"data":{"acknowledged_at":1795639811000,"acknowledged_by":"n1","category":"physiological","condition_present":false,"condition_since":1795639800000,"device_id":"mon-7","escalation_level":1,"id":"P1/spo2.low/3","latching":true,"message":"SpO2 84.5 % < 90 % \"low\" é","patient_id":"P1","priority":"high","raised_at":1795639801000,"revision":3,"rule_id":"spo2.low","state":"acknowledged","threshold":90,"transition":"acknowledged","value":84.5,"vital":"spo2"},"event":"alert:updated"}"#)
        pin(CanonicalJSON.canonical(encoder.alarm("alert:critical", technical, transition: nil)),
            #"{"data":{"category":"technical","condition_present":true,"condition_since":5,"device_id":"mon-7","escalation_level":0,"id":"device/mon-7/offline","latching":false,"message":"offline","priority":"medium","raised_at":6,"revision":1,"rule_id":"device.offline","state":"active"},"event":"alert:critical"}"#)
    }

    @Test func controlFrames() {
        let hub = Hub(directory: places)
        hub.now = 1000
        hub.open(1, principal: Principal(userID: "c1", role: .chargeNurse, ward: "4B"))
        _ = hub.receive(1, text: Array(#"{"event":"subscribe:patient","data":{"patient_id":"P1"}}"#.utf8))
        _ = hub.receive(1, text: Array(#"{"event":"subscribe:patient","data":{"patient_id":"P9"}}"#.utf8))
        _ = hub.receive(1, text: Array(#"{"event":"ping","data":{"t":1712345678901,"x":1.5,"y":2.0,"n":null,"a":[1,"b/c",true,{}],"o":{"k":"\u00e9"}}}"#.utf8))
        _ = hub.receive(1, text: Array(#"{"event":"ping"}"#.utf8))
        _ = hub.receive(1, text: Array(#"[1]"#.utf8))
        _ = hub.receive(1, text: Array(#"{"event":"dance"}"#.utf8))
        _ = hub.receive(1, text: Array(#"{"event":"alert:received","data":{"alarm_id":"x"}}"#.utf8))
        _ = hub.receive(1, text: Array("5".utf8))
        _ = hub.receive(1, text: Array(#"{"event":"subscribe:patient","data":["P1"]}"#.utf8))
        _ = hub.receive(1, text: Array(#"{"event":"ping","data":[1]}"#.utf8))
        hub.deliver(.deviceStatus(DeviceStatus(deviceID: "mon-7", state: .online, time: 1_795_639_811_342, firmware: "fw/2.1",
                                               battery: 87.5, receivedAt: 1_795_639_811_345), patientID: "P1"))
        hub.deliver(.deviceStatus(DeviceStatus(deviceID: "mon-8", state: .offline, receivedAt: 44), patientID: "P1"))
        hub.deliver(.notification(id: "n/1", kind: "escalation", message: "Not acknowledged", patientID: "P1", time: 55))
        hub.deliver(.notification(id: "n2", kind: "system", message: "no patient", patientID: nil, time: 56))
        hub.heartbeat(now: 1_795_639_811_999)
        hub.replaceDirectory(WardDirectory(places: ["P2": PatientPlace(patientID: "P2", ward: "4B", bed: "9")]))
        var frames: [String] = []
        while let f = hub.nextFrame(1) { frames.append(CanonicalJSON.canonical(f)) }
        pin(frames.joined(separator: "\n"), #"""
            {"data":{"patients":[{"bed":"1","patient_id":"P1","ward":"4B"},{"patient_id":"P2","ward":"4B"}],"rooms":["user:c1","role:charge_nurse"],"user":{"id":"c1","role":"charge_nurse","ward":"4B"}},"event":"session:ready"}
            {"data":{"patient_id":"P1"},"event":"subscribed"}
            {"data":{"code":"forbidden","message":"patient P9 is on another ward than 4B","patient_id":"P9"},"event":"error"}
            {"data":{"a":[1,"b/c",true,{}],"n":null,"o":{"k":"é"},"t":1712345678901,"x":1.5,"y":2},"event":"pong"}
            {"data":{},"event":"pong"}
            {"data":{"code":"bad_request","message":"a frame must be a JSON object {\"event\": ..., \"data\": {...}}"},"event":"error"}
            {"data":{"code":"bad_request","message":"unknown event dance"},"event":"error"}
            {"data":{"code":"bad_request","message":"alert:received needs data.alarm_id and data.revision"},"event":"error"}
            {"data":{"code":"bad_request","message":"a frame must be a JSON object {\"event\": ..., \"data\": {...}}"},"event":"error"}
            {"data":{"code":"bad_request","message":"subscribe:patient needs data.patient_id"},"event":"error"}
            {"data":{},"event":"pong"}
            {"data":{"time":1795639811999},"event":"heartbeat"}
            {"data":{"patient_id":"P1","reason":"patient P1 is not admitted to any ward"},"event":"unsubscribed"}
            {"data":{"patients":[{"bed":"9","patient_id":"P2","ward":"4B"}]},"event":"patients:updated"}
            {"data":{"battery":87.5,"device_id":"mon-7","firmware":"fw/2.1","patient_id":"P1","state":"online","time":1795639811342},"event":"device:status"}
            {"data":{"device_id":"mon-8","patient_id":"P1","state":"offline","time":44},"event":"device:status"}
            {"data":{"id":"n/1","kind":"escalation","message":"Not acknowledged","patient_id":"P1","time":55},"event":"notification:new"}
            """#)
    }

    @Test func rateLimitedFrame() {
        let hub = Hub(directory: places)
        hub.open(1, principal: Principal(userID: "n1", role: .nurse, ward: "4B"))
        _ = hub.nextFrame(1)
        _ = hub.receive(1, text: Array(#"{"event":"ping"}"#.utf8), admit: { _, _ in 3 })
        _ = hub.receive(1, text: Array("garbage".utf8), admit: { _, _ in 1 })
        var frames: [String] = []
        while let f = hub.nextFrame(1) { frames.append(CanonicalJSON.canonical(f)) }
        pin(frames.joined(separator: "\n"), """
            {"data":{"code":"rate_limited","event":"ping","message":"too many frames: ping dropped; retry after 3 s","retry_after":3},"event":"error"}
            {"data":{"code":"rate_limited","event":"","message":"too many frames: frame dropped; retry after 1 s","retry_after":1},"event":"error"}
            """)
    }
}

@Suite struct RESTBytesTests {
    static let tokens = TokenAuthority(secret: "a-test-secret-of-some-length")
    static let api: WardAPI = {
        var context = APIContext(
            databaseURL: "", tokens: tokens, directory: DirectoryBox(places), acknowledge: { _, _ in .failure(APIError(503, "x", "x")) },
            publishCommand: { _, _ in }, directoryChanged: {}, settingsChanged: {},
            latestScore: { $0 == "P1" ? LatestScore(time: 1_795_639_811_342, deviceID: "mon-7", score: score) : nil },
            readiness: { [Readiness(component: "mqtt", ok: true, required: true, detail: "connected"),
                          Readiness(component: "kafka", ok: false, required: false, detail: "broker down")] },
            metrics: { "" })
        context.deviceCredentials = DeviceCredentials(provision: { _ in "s3cret/+=" }, revoke: { _ in })
        return WardAPI(context: context, logger: Logger(label: "test"))
    }()

    static func call(_ method: String, _ path: String, as who: Principal? = Principal(userID: "c1", role: .chargeNurse, ward: "4B"),
                     query: [String: String] = [:], body: String? = nil) -> String {
        var headers = ["x-request-id": "req-1"]
        if let who { headers["authorization"] = "Bearer " + tokens.mint(who, validFor: 600) }
        let r = api.answer(HTTPRequest(method: method, path: path, query: query, headers: headers, body: Array((body ?? "").utf8)), nil)
        return "\(r.status) " + CanonicalJSON.body(r)
    }

    static let admin = Principal(userID: "a", role: .admin, ward: "*")

    @Test func answers() {
        let answers = [
            Self.call("GET", "/health", as: nil),
            Self.call("GET", "/api/v1/me"),
            Self.call("GET", "/api/v1/patients"),
            Self.call("GET", "/api/v1/patients/P1/news2"),
            Self.call("POST", "/api/v1/devices/mon-7/credentials", as: Self.admin),
            Self.call("DELETE", "/api/v1/devices/mon-7/credentials", as: Self.admin),
        ]
        pin(answers.joined(separator: "\n"), #"""
            200 {"data":{"service":"wardline","status":"up"},"message":"ok","request_id":"req-1","status":200,"success":true,"timestamp":"T"}
            200 {"data":{"patients":[{"bed":"1","patient_id":"P1","ward":"4B"},{"patient_id":"P2","ward":"4B"}],"user":{"id":"c1","role":"charge_nurse","ward":"4B"}},"message":"ok","request_id":"req-1","status":200,"success":true,"timestamp":"T"}
            200 {"data":[{"bed":"1","patient_id":"P1","ward":"4B"},{"patient_id":"P2","ward":"4B"}],"message":"ok","request_id":"req-1","status":200,"success":true,"timestamp":"T"}
            200 {"data":{"device_id":"mon-7","news2":{"complete":false,"missing":["SpO2","air or oxygen","systolic BP","consciousness","temperature"],"risk":"low","scale":2,"total":1},"patient_id":"P1","time":1795639811342},"message":"ok","request_id":"req-1","status":200,"success":true,"timestamp":"T"}
            201 {"data":{"client_id":"mon-7","device_id":"mon-7","password":"s3cret/+=","topics":{"publish":["devices/mon-7/vitals","devices/mon-7/alerts","devices/mon-7/status"],"subscribe":["devices/mon-7/commands"]},"username":"mon-7"},"message":"device credentials issued; the password is shown only in this answer","request_id":"req-1","status":201,"success":true,"timestamp":"T"}
            200 {"data":{"device_id":"mon-7"},"message":"device credentials revoked; the device was disconnected","request_id":"req-1","status":200,"success":true,"timestamp":"T"}
            """#)
    }

    @Test func refusals() {
        let answers = [
            Self.call("GET", "/ready", as: nil),
            Self.call("GET", "/api/v1/alarms", as: nil),
            Self.call("GET", "/api/v1/nothing"),
            Self.call("PATCH", "/api/v1/patients/P1"),
            Self.call("GET", "/api/v1/alarms"),
            Self.call("GET", "/api/v1/patients/P9/news2"),
            Self.call("GET", "/api/v1/patients/P2/news2"),
            Self.call("GET", "/api/v1/patients/P1/vitals", query: ["bucket": "banana"]),
            Self.call("POST", "/api/v1/care-assignments", body: "{"),
            Self.call("POST", "/api/v1/care-assignments", body: "[1]"),
            Self.call("POST", "/api/v1/care-assignments", body: #"{"user_id":5}"#),
            Self.call("POST", "/api/v1/care-assignments", body: #"{"user_id":"n1"}"#),
            Self.call("PUT", "/api/v1/patients/P3", body: #"{"ward":"4B","bed":"no spaces"}"#),
            Self.call("POST", "/api/v1/devices/mon-7/commands", body: #"{"command":"launch"}"#),
            Self.call("POST", "/api/v1/devices/mon-7/commands", body: #"{"command":"silence","args":{"seconds":true}}"#),
            Self.call("POST", "/api/v1/devices/mon-7/commands", body: #"{"command":"silence","args":{"seconds":500}}"#),
            Self.call("POST", "/api/v1/devices/mon-7/commands", body: #"{"command":"identify"}"#),
            Self.call("PUT", "/api/v1/patients/P1/spo2-scale", as: Principal(userID: "d1", role: .physician, ward: "4B"), body: #"{"scale":true}"#),
            Self.call("PUT", "/api/v1/patients/P1/spo2-scale", as: Principal(userID: "d1", role: .physician, ward: "4B"), body: #"{"scale":2.0}"#),
            Self.call("PUT", "/api/v1/patients/P1/thresholds/spo2.low", as: Principal(userID: "d1", role: .physician, ward: "4B"),
                      body: #"{"rule_id":"other"}"#),
            Self.call("PUT", "/api/v1/patients/P1/thresholds/spo2.low", as: Principal(userID: "d1", role: .physician, ward: "4B"),
                      body: #"{"vital":"spo2","direction":"below","clear_at":"90"}"#),
            Self.call("PUT", "/api/v1/patients/P1/thresholds/spo2.low", as: Principal(userID: "d1", role: .physician, ward: "4B"),
                      body: #"{"vital":"spo2","direction":"below","clear_at":90,"bands":[{"limit":true,"priority":"high"}]}"#),
            Self.call("PUT", "/api/v1/patients/P1/thresholds/spo2.low", as: Principal(userID: "d1", role: .physician, ward: "4B"),
                      body: #"{"vital":"spo2","direction":"below","clear_at":90,"bands":[{"limit":88,"priority":"high","persistence_ms":1.5}]}"#),
            Self.call("PUT", "/api/v1/patients/P1/thresholds/spo2.low", as: Principal(userID: "d1", role: .physician, ward: "4B"),
                      body: #"{"vital":"spo2","direction":"below","clear_at":80,"bands":[{"limit":88,"priority":"high","persistence_ms":10000}]}"#),
            Self.call("PUT", "/api/v1/patients/P1/thresholds/spo2.low", as: Principal(userID: "d1", role: .physician, ward: "4B"),
                      body: #"{"vital":"spo2","direction":"below","clear_at":92.5,"bands":[{"limit":88,"priority":"high","persistence_ms":10000}]}"#),
        ]
        pin(answers.joined(separator: "\n"), #"""
            503 {"data":{"components":{"database":{"detail":"cannot reach the database","ok":false,"required":true},"kafka":{"detail":"broker down","ok":false,"required":false},"mqtt":{"detail":"connected","ok":true,"required":true}},"degraded":true,"ready":false},"error":{"code":"not_ready","details":[],"retry_after":5},"message":"not ready: database: cannot reach the database","request_id":"req-1","status":503,"success":false,"timestamp":"T"}
            401 {"error":{"code":"unauthorized","details":[]},"message":"no token: send Authorization: Bearer <token> (or ?token= on the WebSocket)","request_id":"req-1","status":401,"success":false,"timestamp":"T"}
            404 {"error":{"code":"not_found","details":[]},"message":"no route GET /api/v1/nothing","request_id":"req-1","status":404,"success":false,"timestamp":"T"}
            405 {"error":{"code":"method_not_allowed","details":[]},"message":"PATCH is not allowed on /api/v1/patients/P1; allowed: PUT, DELETE","request_id":"req-1","status":405,"success":false,"timestamp":"T"}
            503 {"error":{"code":"database_unavailable","details":[],"retry_after":5},"message":"the database is unreachable; try again shortly","request_id":"req-1","status":503,"success":false,"timestamp":"T"}
            403 {"error":{"code":"forbidden","details":[]},"message":"patient P9 is on another ward than 4B","request_id":"req-1","status":403,"success":false,"timestamp":"T"}
            404 {"error":{"code":"not_found","details":[]},"message":"no scored reading for patient P2 since Wardline started","request_id":"req-1","status":404,"success":false,"timestamp":"T"}
            400 {"error":{"code":"validation_error","details":[{"field":"bucket","problem":"must be a duration such as 30s, 5m or 1h, at most 1 day"}]},"message":"invalid bucket: must be a duration such as 30s, 5m or 1h, at most 1 day","request_id":"req-1","status":400,"success":false,"timestamp":"T"}
            400 {"error":{"code":"malformed_json","details":[]},"message":"the request body is not valid JSON","request_id":"req-1","status":400,"success":false,"timestamp":"T"}
            400 {"error":{"code":"validation_error","details":[{"field":"body","problem":"must be a JSON object"}]},"message":"invalid body: must be a JSON object","request_id":"req-1","status":400,"success":false,"timestamp":"T"}
            400 {"error":{"code":"validation_error","details":[{"field":"user_id","problem":"must be a string"}]},"message":"invalid user_id: must be a string","request_id":"req-1","status":400,"success":false,"timestamp":"T"}
            400 {"error":{"code":"validation_error","details":[{"field":"patient_id","problem":"is required"}]},"message":"invalid patient_id: is required","request_id":"req-1","status":400,"success":false,"timestamp":"T"}
            400 {"error":{"code":"validation_error","details":[{"field":"bed","problem":"must be 1–64 letters, digits, '-', '_', '.' or ':'"}]},"message":"invalid bed: must be 1–64 letters, digits, '-', '_', '.' or ':'","request_id":"req-1","status":400,"success":false,"timestamp":"T"}
            400 {"error":{"code":"validation_error","details":[{"field":"command","problem":"must be one of silence, identify, set_interval, reboot, calibrate"}]},"message":"invalid command: must be one of silence, identify, set_interval, reboot, calibrate","request_id":"req-1","status":400,"success":false,"timestamp":"T"}
            400 {"error":{"code":"validation_error","details":[{"field":"args","problem":"must be an object of whole-number arguments"}]},"message":"invalid args: must be an object of whole-number arguments","request_id":"req-1","status":400,"success":false,"timestamp":"T"}
            400 {"error":{"code":"validation_error","details":[{"field":"args.seconds","problem":"must be 0–120 for silence"}]},"message":"invalid args.seconds: must be 0–120 for silence","request_id":"req-1","status":400,"success":false,"timestamp":"T"}
            503 {"error":{"code":"database_unavailable","details":[],"retry_after":5},"message":"the database is unreachable; try again shortly","request_id":"req-1","status":503,"success":false,"timestamp":"T"}
            400 {"error":{"code":"validation_error","details":[{"field":"scale","problem":"must be 1 or 2"}]},"message":"invalid scale: must be 1 or 2","request_id":"req-1","status":400,"success":false,"timestamp":"T"}
            503 {"error":{"code":"database_unavailable","details":[],"retry_after":5},"message":"the database is unreachable; try again shortly","request_id":"req-1","status":503,"success":false,"timestamp":"T"}
            400 {"error":{"code":"validation_error","details":[{"field":"rule_id","problem":"must be the path's rule_id (spo2.low) or left out"}]},"message":"invalid rule_id: must be the path's rule_id (spo2.low) or left out","request_id":"req-1","status":400,"success":false,"timestamp":"T"}
            400 {"error":{"code":"validation_error","details":[{"field":"clear_at","problem":"must be a number"}]},"message":"invalid clear_at: must be a number","request_id":"req-1","status":400,"success":false,"timestamp":"T"}
            400 {"error":{"code":"validation_error","details":[{"field":"bands[0]","problem":"needs a numeric limit and a priority of high, medium or low"}]},"message":"invalid bands[0]: needs a numeric limit and a priority of high, medium or low","request_id":"req-1","status":400,"success":false,"timestamp":"T"}
            400 {"error":{"code":"validation_error","details":[{"field":"bands[0].persistence_ms","problem":"must be a whole number of milliseconds"}]},"message":"invalid bands[0].persistence_ms: must be a whole number of milliseconds","request_id":"req-1","status":400,"success":false,"timestamp":"T"}
            400 {"error":{"code":"validation_error","details":[{"field":"bands","problem":"clear level 80.0 is beyond the alarm limit 88.0; the alarm could never clear"}]},"message":"the alarm limits are not safe: clear level 80.0 is beyond the alarm limit 88.0; the alarm could never clear","request_id":"req-1","status":400,"success":false,"timestamp":"T"}
            503 {"error":{"code":"database_unavailable","details":[],"retry_after":5},"message":"the database is unreachable; try again shortly","request_id":"req-1","status":503,"success":false,"timestamp":"T"}
            """#)
    }

    /// A body must be a JSON object or array to be read at all: a bare `5` is not JSON here.
    @Test func fragmentsAreNotBodies() {
        let answers = ["5", #""x""#, "null", " {\"user_id\":\"n1\",\"patient_id\":null} "].map {
            Self.call("POST", "/api/v1/care-assignments", body: $0)
        }
        pin(answers.joined(separator: "\n"), #"""
            400 {"error":{"code":"malformed_json","details":[]},"message":"the request body is not valid JSON","request_id":"req-1","status":400,"success":false,"timestamp":"T"}
            400 {"error":{"code":"malformed_json","details":[]},"message":"the request body is not valid JSON","request_id":"req-1","status":400,"success":false,"timestamp":"T"}
            400 {"error":{"code":"malformed_json","details":[]},"message":"the request body is not valid JSON","request_id":"req-1","status":400,"success":false,"timestamp":"T"}
            400 {"error":{"code":"validation_error","details":[{"field":"patient_id","problem":"must be a string"}]},"message":"invalid patient_id: must be a string","request_id":"req-1","status":400,"success":false,"timestamp":"T"}
            """#)
    }

    @Test func builtBodies() {
        let rule = ThresholdRule(.spo2, .below, bands: [ThresholdBand(limit: 88.5, priority: .high, persistence: 10_000),
                                                        ThresholdBand(limit: 85, priority: .high)], clearAt: 90, id: "spo2.low")
        let device = DeviceRow(deviceID: "mon-7", state: "online", battery: 87.5, firmware: "fw/2", updatedAt: 1_795_639_811_342,
                               patientID: "P1", ward: "4B", bed: nil)
        let bare = DeviceRow(deviceID: "mon-8", state: nil, battery: nil, firmware: nil, updatedAt: nil, patientID: nil, ward: nil, bed: nil)
        let history = [
            AlarmHistoryRow(revision: 1, kind: "raised", fromState: nil, toState: "active", priority: "high", at: 1_795_639_801_000,
                            byUser: nil, value: 84.5, threshold: 90, escalationLevel: 0),
            AlarmHistoryRow(revision: 3, kind: "acknowledged", fromState: "active", toState: "acknowledged", priority: "high",
                            at: 1_795_639_811_000, byUser: "n1", value: nil, threshold: nil, escalationLevel: 1),
        ]
        let bucket = VitalsBucket(time: 1_795_639_800_000, count: 12,
                                  vitals: ["hr": VitalSpread(min: 80, avg: 88.41666666666667, max: 97), "temp": VitalSpread(min: 36.6, avg: 36.6, max: 36.6)])
        let bodies = [
            WireFormat.serialise(WardAPI.rule(rule)),
            WireFormat.serialise(WardAPI.device(device, clockOffset: -1500)),
            WireFormat.serialise(WardAPI.device(bare, clockOffset: nil)),
            WireFormat.serialise(WardAPI.assignment(device: "mon-7", patient: "P2", place: PatientPlace(patientID: "P2", ward: "4B", bed: nil))),
            WireFormat.serialise(WardAPI.assignment(device: "mon-7", patient: "P1", place: PatientPlace(patientID: "P1", ward: "4B", bed: "1"))),
            WireFormat.serialise(WardAPI.commandPayload(DeviceCommand(name: .silence, arguments: ["seconds": 60]), by: "n1",
                                                        requestID: "req/1", ts: 1_795_639_811_342)),
            WireFormat.serialise(WardAPI.commandPayload(DeviceCommand(name: .identify), by: "n1", requestID: "r", ts: 1)),
            WireFormat.serialise(WardAPI.alarmDetail(alarm, history: history)),
            WireFormat.serialise(WardAPI.vitalsHistory(patientID: "P1", bucketSeconds: 60, from: 1_795_639_000_000, to: 1_795_639_900_000,
                                                       buckets: [bucket])),
            WireFormat.serialise(WardAPI.vitalsHistory(patientID: "P1", bucketSeconds: 60, from: 1, to: 2, buckets: [])),
        ].map(CanonicalJSON.canonical)
        pin(bodies.joined(separator: "\n"), #"""
            {"bands":[{"limit":88.5,"persistence_ms":10000,"priority":"high"},{"limit":85,"persistence_ms":0,"priority":"high"}],"clear_at":90,"direction":"below","rule_id":"spo2.low","vital":"spo2"}
            {"battery":87.5,"clock_offset_ms":-1500,"device_id":"mon-7","firmware":"fw/2","patient_id":"P1","state":"online","updated_at":1795639811342,"ward":"4B"}
            {"device_id":"mon-8","state":"unknown"}
            {"bed":null,"device_id":"mon-7","patient_id":"P2","ward":"4B"}
            {"bed":"1","device_id":"mon-7","patient_id":"P1","ward":"4B"}
            {"args":{"seconds":60},"by":"n1","command":"silence","request_id":"req/1","ts":1795639811342}
            {"args":{},"by":"n1","command":"identify","request_id":"r","ts":1}
            {"acknowledged_at":1795639811000,"acknowledged_by":"n1","category":"physiological","condition_present":false,"condition_since":1795639800000,"device_id":"mon-7","escalation_level":1,"history":[{"at":1795639801000,"escalation_level":0,"kind":"raised","priority":"high","revision":1,"threshold":90,"to_state":"active","value":84.5},{"at":1795639811000,"by":"n1","escalation_level":1,"from_state":"active","kind":"acknowledged","priority":"high","revision":3,"to_state":"acknowledged"}],"id":"P1/spo2.low/3","latching":true,"message":"SpO2 84.5 % < 90 % \"low\" é","patient_id":"P1","priority":"high","raised_at":1795639801000,"revision":3,"rule_id":"spo2.low","state":"acknowledged","threshold":90,"value":84.5,"vital":"spo2"}
            {"bucket_seconds":60,"from":1795639000000,"patient_id":"P1","points":[{"count":12,"dbp":null,"hr":{"avg":88.41666666666667,"max":97,"min":80},"rr":null,"sbp":null,"spo2":null,"temp":{"avg":36.6,"max":36.6,"min":36.6},"time":1795639800000}],"to":1795639900000}
            {"bucket_seconds":60,"from":1,"patient_id":"P1","points":[],"to":2}
            """#)
    }

    @Test func edgeRefusalsInTheSameEnvelope() {
        let tooMany = EdgeRefusal(status: 429, code: "rate_limited", message: "too many requests", retryAfter: 2)
            .response(requestID: "req-1", correlationID: "corr-1")
        let noToken = EdgeRefusal(status: 401, code: "unauthorized", message: "a body this large needs a token")
            .response(requestID: "req-1", correlationID: nil)
        var immediate = WebServer.immediateResponse(status: 413, "body too large")
        immediate.body = Array(String(decoding: immediate.body, as: UTF8.self)
            .replacing(#/"request_id":"[0-9a-f-]{36}"/#, with: #""request_id":"U""#).utf8)
        let notFound = WebServer.immediateResponse(status: 404, "no such page: /x.html")
        #expect(notFound.headers.count == 1 && notFound.headers[0].0 == "x-request-id")
        pin([tooMany, noToken, immediate].map { "\($0.status) \($0.headers.map { "\($0.0)=\($0.1)" }.filter { !$0.hasPrefix("x-request-id") }) " + CanonicalJSON.body($0) }
            .joined(separator: "\n"), #"""
                429 ["x-correlation-id=corr-1", "retry-after=2"] {"error":{"code":"rate_limited","details":[],"retry_after":2},"message":"too many requests","request_id":"req-1","status":429,"success":false,"timestamp":"T"}
                401 ["x-correlation-id=req-1", "www-authenticate=Bearer"] {"error":{"code":"unauthorized","details":[]},"message":"a body this large needs a token","request_id":"req-1","status":401,"success":false,"timestamp":"T"}
                413 [] {"error":{"code":"payload_too_large","details":[]},"message":"body too large","request_id":"U","status":413,"success":false,"timestamp":"T"}
                """#)
    }
}

@Suite struct TokenBytesTests {
    @Test func mintedTokensAreByteForByteTheSame() throws {
        let plain = TokenAuthority(secret: "a-test-secret-of-some-length")
        let scoped = TokenAuthority(secret: "a-test-secret-of-some-length", issuer: "https://idp.example/realm", audience: "wardline")
        let who = Principal(userID: "n1", role: .nurse, ward: "4B")
        let tokens = [plain.mint(who, validFor: 3600, now: 1_795_639_811), scoped.mint(who, validFor: 60, now: 1_795_639_811)]
        pin(tokens.joined(separator: "\n"), #"""
            eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE3OTU2NDM0MTEsImlhdCI6MTc5NTYzOTgxMSwicm9sZSI6Im51cnNlIiwic3ViIjoibjEiLCJ3YXJkIjoiNEIifQ.gXfySxFuSyIxBXW9LSwC3kSDeqlx7RxJtANY51SFcak
            eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJ3YXJkbGluZSIsImV4cCI6MTc5NTYzOTg3MSwiaWF0IjoxNzk1NjM5ODExLCJpc3MiOiJodHRwczpcL1wvaWRwLmV4YW1wbGVcL3JlYWxtIiwicm9sZSI6Im51cnNlIiwic3ViIjoibjEiLCJ3YXJkIjoiNEIifQ.3DYbbUohhW2zd4gmAC0kypOrapWbt-DprSfOhWxY-SA
            """#)
        #expect(try plain.verify(tokens[0], now: 1_795_639_812) == who)
        #expect(try scoped.verify(tokens[1], now: 1_795_639_812) == who)
        let decoded = tokens.map { t in t.split(separator: ".").prefix(2).map { String(decoding: Base64URL.decode($0)!, as: UTF8.self) } }
        pin(decoded.map { $0.joined(separator: " ") }.joined(separator: "\n"), #"""
            {"alg":"HS256","typ":"JWT"} {"exp":1795643411,"iat":1795639811,"role":"nurse","sub":"n1","ward":"4B"}
            {"alg":"HS256","typ":"JWT"} {"aud":"wardline","exp":1795639871,"iat":1795639811,"iss":"https:\/\/idp.example\/realm","role":"nurse","sub":"n1","ward":"4B"}
            """#)
    }
}

import Foundation
import Testing
import Logging
@testable import WardlineAPI
import WardlineHub
import WardlineWeb

@Suite struct TokenAuthorityTests {
    let authority = TokenAuthority(secret: "a-test-secret-of-some-length")
    let nurse = Principal(userID: "n1", role: .nurse, ward: "4B")

    @Test func aMintedTokenVerifies() throws {
        #expect(try authority.verify(authority.mint(nurse, validFor: 60)) == nurse)
    }

    @Test func refusals() {
        #expect(throws: TokenRefusal.missing) { try authority.verify(nil) }
        let other = TokenAuthority(secret: "another-secret-entirely").mint(nurse, validFor: 60)
        #expect(throws: TokenRefusal.malformedOrBadSignature) { try authority.verify(other) }
        #expect(throws: TokenRefusal.malformedOrBadSignature) { try authority.verify("not.a.token") }
        let expired = authority.mint(nurse, validFor: 60, now: 1000)
        #expect(throws: TokenRefusal.expired) { try authority.verify(expired) }
        // alg "none": header {"alg":"none","typ":"JWT"} with a valid-looking payload and no signature.
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhIiwicm9sZSI6ImFkbWluIiwid2FyZCI6IioiLCJleHAiOjk5OTk5OTk5OTl9."
        #expect(throws: (any Error).self) { try authority.verify(none) }
    }
}

@Suite struct RouteTests {
    @Test func patternsBindNamedParts() {
        let r = Route("POST", "/api/v1/alarms/{alarm_id}/acknowledge", "ack")
        #expect(r.match("/api/v1/alarms/a-1/acknowledge".split(separator: "/")) == ["alarm_id": "a-1"])
        #expect(r.match("/api/v1/alarms/a-1".split(separator: "/")) == nil)
    }

    @Test func bucketsParse() throws {
        #expect(try WardAPI.seconds("60") == 60)
        #expect(try WardAPI.seconds("5m") == 300)
        #expect(try WardAPI.seconds("1h") == 3600)
        #expect(throws: APIError.self) { try WardAPI.seconds("0s") }
        #expect(throws: APIError.self) { try WardAPI.seconds("2d") }
    }

    @Test func answersWithoutADatabase() throws {
        let tokens = TokenAuthority(secret: "a-test-secret-of-some-length")
        let context = APIContext(databaseURL: "", tokens: tokens, directory: DirectoryBox(),
                                 acknowledge: { _, _ in .failure(APIError(503, "x", "x")) }, publishCommand: { _, _ in },
                                 directoryChanged: {}, settingsChanged: {}, latestScore: { _ in nil },
                                 readiness: { [] }, metrics: { "" })
        let api = WardAPI(context: context, logger: Logger(label: "test"))
        func status(_ r: HTTPRequest) -> (Int, [String: Any]) {
            let response = api.answer(r, nil)
            return (response.status, try! JSONSerialization.jsonObject(with: Data(response.body)) as! [String: Any])
        }
        let admin = "Bearer " + tokens.mint(Principal(userID: "a", role: .admin, ward: "*"), validFor: 60)
        #expect(status(HTTPRequest(method: "GET", path: "/api/v1/alarms")).0 == 401)
        #expect(status(HTTPRequest(method: "GET", path: "/api/v1/nothing", headers: ["authorization": admin])).0 == 404)
        #expect(status(HTTPRequest(method: "DELETE", path: "/api/v1/alarms", headers: ["authorization": admin])).0 == 405)
        let (code, body) = status(HTTPRequest(method: "GET", path: "/api/v1/patients/P1/vitals", query: ["bucket": "banana"],
                                              headers: ["authorization": admin, "x-request-id": "r-1"]))
        #expect(code == 400)
        #expect((body["error"] as! [String: Any])["code"] as? String == "validation_error")
        #expect(body["request_id"] as? String == "r-1")
        let malformed = HTTPRequest(method: "POST", path: "/api/v1/care-assignments", headers: ["authorization": admin], body: Array("{".utf8))
        #expect(status(malformed).0 == 400)
        #expect(status(HTTPRequest(method: "GET", path: "/health")).0 == 200)
        #expect(status(HTTPRequest(method: "GET", path: "/api/v1/alarms", headers: ["authorization": admin])).0 == 503)
    }
}

@Suite struct AlarmIDRouteTests {
    @Test func alarmIdsWithSlashesMatchRawOrEncoded() {
        let ack = Route("POST", "/api/v1/alarms/{alarm_id*}/acknowledge", "ack")
        let one = Route("GET", "/api/v1/alarms/{alarm_id*}", "alarm")
        #expect(ack.match("/api/v1/alarms/P1/spo2.low/17/acknowledge".split(separator: "/")) == ["alarm_id": "P1/spo2.low/17"])
        #expect(ack.match("/api/v1/alarms/P1%2Fspo2.low%2F17/acknowledge".split(separator: "/")) == ["alarm_id": "P1/spo2.low/17"])
        #expect(one.match("/api/v1/alarms/P1/spo2.low/17".split(separator: "/")) == ["alarm_id": "P1/spo2.low/17"])
        #expect(ack.match("/api/v1/alarms/acknowledge".split(separator: "/")) == nil)
    }
}

@Suite struct OpenAPIDocumentTests {
    /// Every route the server has is in the API description, and nothing else is.
    @Test func routesAndTheDescriptionAgree() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/WardlineAPI/openapi.yaml")
        let text = try String(contentsOf: file, encoding: .utf8)
        var documented = Set<String>()
        var path = ""
        for line in text.split(separator: "\n") {
            if line.hasPrefix("  /") { path = String(line.dropFirst(2).dropLast()) }
            for m in ["get", "put", "post", "delete"] where line == "    \(m):" && !path.isEmpty {
                documented.insert(m.uppercased() + " " + path)
            }
            if !line.hasPrefix(" ") { path = "" }
        }
        let routed = Set(WardAPI.routes.map { r in
            r.0.method + " /" + r.0.parts.joined(separator: "/").replacingOccurrences(of: "*}", with: "}")
        })
        #expect(routed == documented)
    }
}

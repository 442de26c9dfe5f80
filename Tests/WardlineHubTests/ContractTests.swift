import Foundation
import Logging
import Testing
@testable import WardlineAPI
import WardlineHub
import WardlineWeb
import WardlineWard

@Suite struct IdempotencyKeysTests {
    let answer = HTTPResponse(status: 202, body: Array("first".utf8))
    let body = IdempotencyKeys.fingerprint(method: "POST", path: "/api/v1/devices/d1/commands", body: Array(#"{"command":"identify"}"#.utf8))

    @Test func aRetryReplaysTheFirstAnswer() {
        let keys = IdempotencyKeys(ttlSeconds: 60)
        guard case .proceed = keys.claim(subject: "a", key: "k", fingerprint: body, nowSeconds: 0) else { Issue.record("first use"); return }
        guard case .refused(let busy) = keys.claim(subject: "a", key: "k", fingerprint: body, nowSeconds: 1) else { Issue.record("in flight"); return }
        #expect(busy.status == 409 && busy.retryAfter == 1)
        keys.finish(subject: "a", key: "k", answer: answer)
        guard case .replay(let again) = keys.claim(subject: "a", key: "k", fingerprint: body, nowSeconds: 2) else { Issue.record("replay"); return }
        #expect(again.body == answer.body && again.status == 202)
        // Another subject's identical key is another key.
        guard case .proceed = keys.claim(subject: "b", key: "k", fingerprint: body, nowSeconds: 2) else { Issue.record("other subject"); return }
    }

    @Test func theSameKeyForAnotherRequestIsRefused() {
        let keys = IdempotencyKeys(ttlSeconds: 60)
        _ = keys.claim(subject: "a", key: "k", fingerprint: body, nowSeconds: 0)
        keys.finish(subject: "a", key: "k", answer: answer)
        let other = IdempotencyKeys.fingerprint(method: "POST", path: "/api/v1/devices/d1/commands", body: Array(#"{"command":"reboot"}"#.utf8))
        guard case .refused(let e) = keys.claim(subject: "a", key: "k", fingerprint: other, nowSeconds: 1) else { Issue.record("refused"); return }
        #expect(e.status == 422 && e.code == "idempotency_key_reused")
    }

    @Test func refusalsAreForgottenAndKeysExpireAndAreBounded() {
        let keys = IdempotencyKeys(ttlSeconds: 60, capacity: 3)
        _ = keys.claim(subject: "a", key: "bad", fingerprint: body, nowSeconds: 0)
        keys.finish(subject: "a", key: "bad", answer: HTTPResponse(status: 400, body: []))
        guard case .proceed = keys.claim(subject: "a", key: "bad", fingerprint: body, nowSeconds: 1) else { Issue.record("freed"); return }
        keys.finish(subject: "a", key: "bad", answer: answer)
        for i in 0..<5 {
            _ = keys.claim(subject: "a", key: "k\(i)", fingerprint: body, nowSeconds: 2)
            keys.finish(subject: "a", key: "k\(i)", answer: answer)
        }
        #expect(keys.count == 3)
        guard case .proceed = keys.claim(subject: "a", key: "k0", fingerprint: body, nowSeconds: 3) else { Issue.record("oldest evicted"); return }
        guard case .replay = keys.claim(subject: "a", key: "k4", fingerprint: body, nowSeconds: 3) else { Issue.record("newest kept"); return }
        guard case .proceed = keys.claim(subject: "a", key: "k4", fingerprint: body, nowSeconds: 100) else { Issue.record("expired"); return }
    }

    @Test func wellFormedKeys() {
        #expect(IdempotencyKeys.isWellFormed("a-1_b.c:d"))
        #expect(!IdempotencyKeys.isWellFormed(""))
        #expect(!IdempotencyKeys.isWellFormed("two words"))
        #expect(!IdempotencyKeys.isWellFormed(String(repeating: "x", count: 256)))
    }
}

@Suite struct MethodAndIDTests {
    static let tokens = TokenAuthority(secret: "a-test-secret-of-some-length")
    static let api = WardAPI(context: APIContext(databaseURL: "", tokens: tokens, directory: DirectoryBox(),
                                                 acknowledge: { _, _ in .failure(APIError(503, "x", "x")) }, publishCommand: { _, _ in },
                                                 directoryChanged: {}, settingsChanged: {}, latestScore: { _ in nil },
                                                 readiness: { [] }, metrics: { "" }), logger: Logger(label: "test"))
    static let admin = "Bearer " + tokens.mint(Principal(userID: "a", role: .admin, ward: "*"), validFor: 60)

    func answer(_ method: String, _ path: String, query: [String: String] = [:]) -> HTTPResponse {
        Self.api.answer(HTTPRequest(method: method, path: path, query: query, headers: ["authorization": Self.admin]), nil)
    }

    @Test(arguments: [("PATCH", "/api/v1/patients/P1", "PUT, DELETE"), ("TRACE", "/health", "GET"),
                      ("GET", "/api/v1/alarms/P1/spo2.low/3/acknowledge", "POST"), ("PUT", "/api/v1/care-assignments", "GET, POST")])
    func undeclaredMethodsAre405WithAllow(method: String, path: String, allow: String) {
        let r = answer(method, path)
        #expect(r.status == 405)
        #expect(r.headers.first { $0.0 == "allow" }?.1 == allow)
    }

    @Test func headIsGet() { #expect(answer("HEAD", "/health").status == 200) }

    @Test func idsOutsideTheAlphabetAre400() {
        #expect(answer("GET", "/api/v1/patients/P%C3%A91/thresholds").status == 400)
        #expect(answer("GET", "/api/v1/alarms", query: ["patient_id": ""]).status == 400)
        #expect(answer("GET", "/api/v1/alarms/" + String(repeating: "a", count: 201)).status == 400)
        var unreadable = HTTPRequest(method: "GET", path: "/api/v1/alarms", headers: ["authorization": Self.admin])
        unreadable.unreadable = "control character"
        #expect(Self.api.answer(unreadable, nil).status == 400)
    }

    @Test func databaseDownSaysWhenToRetry() throws {
        let r = answer("GET", "/api/v1/alarms")
        #expect(r.status == 503)
        #expect(r.headers.first { $0.0 == "retry-after" }?.1 == "5")
        let body = try JSONSerialization.jsonObject(with: Data(r.body)) as! [String: Any]
        #expect((body["error"] as! [String: Any])["retry_after"] as? Int == 5)
    }
}

import Foundation
import Testing
@testable import WardlineHub
@testable import WardlineWeb
import WardlineWard

@Suite struct TokenBucketTests {
    @Test func aBurstThenTheRate() {
        var b = TokenBucket(ratePerSecond: 2, burst: 3, nowMillis: 1000)
        for _ in 0..<3 { #expect(b.take(nowMillis: 1000) == nil) }
        #expect(b.take(nowMillis: 1000) == 500, "one token comes back after 1/rate seconds")
        #expect(b.take(nowMillis: 1250) == 250)
        #expect(b.take(nowMillis: 1500) == nil)
        #expect(b.take(nowMillis: 1500) == 500)
    }

    @Test func refillsNoFurtherThanTheBurst() {
        var b = TokenBucket(ratePerSecond: 10, burst: 2, nowMillis: 0)
        #expect(b.take(nowMillis: 0) == nil)
        #expect(b.isFull(nowMillis: 100))
        for _ in 0..<2 { #expect(b.take(nowMillis: 3_600_000) == nil) }
        #expect(b.take(nowMillis: 3_600_000) != nil)
    }

    @Test func aClockThatStepsBackRefillsNothing() {
        var b = TokenBucket(ratePerSecond: 1, burst: 1, nowMillis: 10_000)
        #expect(b.take(nowMillis: 10_000) == nil)
        #expect(b.take(nowMillis: 5_000) != nil)
        #expect(b.take(nowMillis: 10_999) != nil)
        #expect(b.take(nowMillis: 11_000) == nil)
    }

    @Test func theLimiterKeepsOneBucketPerKeyAndForgetsIdleOnes() {
        var limiter = RateLimiter()
        let rule = RateLimiter.Rule(ratePerSecond: 1, burst: 2)
        #expect(limiter.take("rest:n1", rule, nowMillis: 0) == nil)
        #expect(limiter.take("rest:n1", rule, nowMillis: 0) == nil)
        #expect(limiter.take("rest:n1", rule, nowMillis: 0) == 1, "Retry-After in whole seconds, at least 1")
        #expect(limiter.take("rest:n2", rule, nowMillis: 0) == nil, "another subject is unaffected")
        #expect(limiter.count == 2)
        limiter.forgetIdle(nowMillis: 1000)
        #expect(limiter.count == 1, "n2 is full again after a second, n1 is not")
        limiter.forgetIdle(nowMillis: 3000)
        #expect(limiter.count == 0)
        let slow = RateLimiter.Rule(ratePerSecond: 0.1, burst: 1)
        #expect(limiter.take("x", slow, nowMillis: 0) == nil)
        #expect(limiter.take("x", slow, nowMillis: 100) == 10)
        #expect(limiter.take("y", RateLimiter.Rule(ratePerSecond: 0, burst: 1), nowMillis: 0) == nil, "rate 0: off")
    }
}

@Suite struct OriginPolicyTests {
    @Test(arguments: [
        ("http://127.0.0.1:18080", true), ("http://localhost:18080", true), ("HTTP://LocalHost:18080/", true),
        ("https://127.0.0.1:18080", false), ("http://127.0.0.1:18081", false), ("http://evil.example", false),
        ("http://127.0.0.1:18080.evil.example", false), ("null", false), ("", false),
    ])
    func loopbackDefaults(origin: String, allowed: Bool) {
        #expect(OriginPolicy.own(host: "127.0.0.1", port: 18080, tls: false).allows(origin) == allowed)
    }

    @Test func noOriginIsNotABrowser() {
        #expect(OriginPolicy.own(host: "127.0.0.1", port: 18080, tls: false).allows(nil))
        #expect(OriginPolicy(allowed: []).allows(nil))
    }

    @Test func overTLSAndOnOtherAddresses() {
        let tls = OriginPolicy.own(host: "127.0.0.1", port: 8443, tls: true)
        #expect(tls.allows("https://localhost:8443") && !tls.allows("http://localhost:8443"))
        let named = OriginPolicy.own(host: "ward.example.org", port: 443, tls: true)
        #expect(named.allows("https://ward.example.org") && named.allows("https://ward.example.org:443"))
        #expect(!named.allows("http://127.0.0.1:443"))
        #expect(OriginPolicy.own(host: "0.0.0.0", port: 18080, tls: false).allowed.isEmpty, "a wildcard address names no page")
        #expect(OriginPolicy(allowed: ["https://Ward.Example.org/"]).allows("https://ward.example.org"))
    }
}

@Suite struct HubRateLimitTests {
    private func frames(_ hub: Hub, _ id: UInt64) -> [[String: Any]] {
        var out: [[String: Any]] = []
        while let f = hub.nextFrame(id) { out.append(try! JSONSerialization.jsonObject(with: Data(f)) as! [String: Any]) }
        return out
    }

    @Test func aRefusedFrameIsDroppedWithAnErrorFrame() {
        let hub = Hub(directory: WardDirectory(places: ["P1": PatientPlace(patientID: "P1", ward: "4B", bed: "1")]))
        hub.open(1, principal: Principal(userID: "c1", role: .chargeNurse, ward: "4B"))
        _ = frames(hub, 1)
        var asked: [String] = []
        let request = hub.receive(1, text: Array(#"{"event":"alert:acknowledge","data":{"alarm_id":"a1"}}"#.utf8)) { who, event in
            asked.append("\(who.userID) \(event)")
            return 3
        }
        #expect(request == nil && asked == ["c1 alert:acknowledge"])
        _ = hub.receive(1, text: Array("garbage".utf8)) { _, event in event.isEmpty ? 1 : nil }
        let got = frames(hub, 1)
        #expect(got.count == 2)
        let data = got[0]["data"] as! [String: Any]
        #expect(got[0]["event"] as? String == "error" && data["code"] as? String == "rate_limited" && data["retry_after"] as? Int == 3)
        #expect(hub.rateLimitedFrames == 2 && hub.badClientFrames == 0, "garbage is limited before it is judged")
        #expect(hub.receive(1, text: Array(#"{"event":"alert:acknowledge","data":{"alarm_id":"a1"}}"#.utf8)) { _, _ in nil } != nil)
    }
}

@Suite struct QueryArgumentTests {
    @Test func aNulInAValueIsKeptAndMakesTheRequestUnreadable() {
        let (name, value) = WebServer.queryArgument(Array("patient_id=P\u{0}1".utf8))!
        #expect(name == "patient_id")
        #expect(value.utf8.count == 3, "the NUL does not end the value")
        #expect(WebServer.unreadable(path: "/api/v1/alarms", query: [name: value])?.contains("patient_id") == true)
    }

    @Test func theFirstEqualsSplitsABareNameHasNoValue() {
        #expect(WebServer.queryArgument(Array("filter=a=b".utf8)).map { [$0.0, $0.1] } == ["filter", "a=b"])
        #expect(WebServer.queryArgument(Array("flag".utf8)).map { [$0.0, $0.1] } == ["flag", ""])
        #expect(WebServer.queryArgument([]) == nil)
        #expect(WebServer.unreadable(path: "/api/v1/alarms", query: ["state": "open"]) == nil)
    }
}

/// `WARDLINE_HUB_PEERS`: base URLs become the origins a browser sends; only they are added.
@Suite struct HubPeerOriginTests {
    @Test(arguments: [
        ("http://127.0.0.1:18991", "http://127.0.0.1:18991"), ("http://127.0.0.1:18991/", "http://127.0.0.1:18991"),
        ("HTTPS://Ward-Hub.example:443/", "https://ward-hub.example"), ("http://hub-b.example:80", "http://hub-b.example"),
        ("https://hub-c.example:8443", "https://hub-c.example:8443"),
    ])
    func aBaseURLIsItsOrigin(url: String, origin: String) {
        #expect(OriginPolicy.origin(ofURL: url) == origin)
    }

    @Test(arguments: ["127.0.0.1:18991", "ftp://hub.example", "http://hub.example/ward", "http://user@hub.example", "http://", "*"])
    func notABaseURL(url: String) {
        #expect(OriginPolicy.origin(ofURL: url) == nil)
    }

    @Test func peersAreAllowedBesideTheServersOwnAndNothingElse() {
        let policy = OriginPolicy.own(host: "127.0.0.1", port: 18990, tls: false).adding(["http://127.0.0.1:18991"])
        #expect(policy.allows("http://127.0.0.1:18990") && policy.allows("http://127.0.0.1:18991"))
        #expect(!policy.allows("http://127.0.0.1:18992") && !policy.allows("null") && !policy.allows("http://evil.example"))
    }
}

import Testing
import WardlineTasks

@Suite struct CircuitBreakerTests {
    static let settings = CircuitBreaker.Settings(failureThreshold: 3, coolDownMillis: 10_000)

    @Test func opensAfterTheThresholdOfConsecutiveFailuresAndThenFailsFast() {
        var b = CircuitBreaker(settings: Self.settings)
        #expect(b.permission(now: 0) == .attempt)
        #expect(b.recordFailure("HTTP 503", now: 0) == nil)
        #expect(b.recordFailure("HTTP 503", now: 1000) == nil)
        #expect(b.failingSince == nil, "two failures are a blip, not an outage")
        #expect(b.recordFailure("refused", now: 2000) == .opened(failures: 3))
        #expect(b.state == .open(since: 2000, retryAt: 12_000) && b.lastFailure == "refused")
        #expect(b.permission(now: 5000) == .failFast(retryAt: 12_000))
        #expect(b.permission(now: 11_999) == .failFast(retryAt: 12_000))
    }

    @Test func aSuccessBetweenFailuresStartsTheCountAgain() {
        var b = CircuitBreaker(settings: Self.settings)
        _ = b.recordFailure("x", now: 0)
        _ = b.recordFailure("x", now: 1)
        #expect(b.recordSuccess(now: 2) == nil)
        _ = b.recordFailure("x", now: 3)
        _ = b.recordFailure("x", now: 4)
        #expect(b.state == .closed(consecutiveFailures: 2))
    }

    @Test func afterTheCoolDownOneProbeGoesAndOnlyOne() {
        var b = CircuitBreaker(settings: Self.settings)
        for t in 0..<3 { _ = b.recordFailure("x", now: Int64(t)) }
        #expect(b.permission(now: 10_002) == .probe)
        #expect(b.state == .halfOpen(since: 2, probing: true))
        #expect(b.permission(now: 10_003) == .failFast(retryAt: nil), "a second caller waits for the probe's answer")
    }

    @Test func aFailedProbeReopensForAnotherCoolDownKeepingTheOutagesStart() {
        var b = CircuitBreaker(settings: Self.settings)
        for t in 0..<3 { _ = b.recordFailure("x", now: Int64(t)) }
        _ = b.permission(now: 20_000)
        #expect(b.recordFailure("still down", now: 20_050) == .reopened)
        #expect(b.state == .open(since: 2, retryAt: 30_050))
        #expect(b.failingSince == 2 && b.lastFailure == "still down")
    }

    @Test func aSuccessfulProbeClosesAndSaysHowLongTheOutageLasted() {
        var b = CircuitBreaker(settings: Self.settings)
        for t in 0..<3 { _ = b.recordFailure("x", now: 1000 + Int64(t)) }
        _ = b.permission(now: 60_000)
        #expect(b.recordSuccess(now: 60_100) == .closed(outageMillis: 59_098))
        #expect(b.state == .closed(consecutiveFailures: 0) && b.lastFailure == nil && b.failingSince == nil)
        #expect(b.permission(now: 60_200) == .attempt)
    }

    @Test func aThresholdOfOneOpensOnTheFirstFailure() {
        var b = CircuitBreaker(settings: .init(failureThreshold: 0, coolDownMillis: 5))
        #expect(b.settings.failureThreshold == 1)
        #expect(b.recordFailure("x", now: 7) == .opened(failures: 1))
        #expect(b.permission(now: 12) == .probe)
    }
}

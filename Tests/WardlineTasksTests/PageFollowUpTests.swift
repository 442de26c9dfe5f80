import Testing
import WardlineTasks

@Suite struct PageFollowUpTests {
    static let policy = RetryPolicy(maxAttempts: 3, baseMillis: 500, capMillis: 3000)

    static func decide(_ attempt: Int, failedFast: Bool = false, hasFallback: Bool = true, fallbackDelivered: Bool = false,
                       _ standing: AlarmStanding) -> PageFollowUp {
        PageFollowUp.decide(attempt: attempt, policy: policy, primaryFailedFast: failedFast, hasFallback: hasFallback,
                            fallbackDelivered: fallbackDelivered, standing: standing)
    }

    @Test func earlyFailuresRetryOnThePrimaryWithoutLookingTheAlarmUp() {
        #expect(!PageFollowUp.needsStanding(attempt: 1, policy: Self.policy, primaryFailedFast: false))
        #expect(Self.decide(1, .notChecked) == PageFollowUp(sendFallback: false, next: .retry(afterMillis: 500, attempt: 2)))
        #expect(Self.decide(2, .notChecked) == PageFollowUp(sendFallback: false, next: .retry(afterMillis: 1000, attempt: 3)))
    }

    @Test func onceTheAttemptsAreSpentAnActiveAlarmsPageGoesToTheFallbackAndKeepsRetryingAtTheCap() {
        #expect(PageFollowUp.needsStanding(attempt: 3, policy: Self.policy, primaryFailedFast: false))
        #expect(Self.decide(3, .active) == PageFollowUp(sendFallback: true, next: .retry(afterMillis: 2000, attempt: 4)))
        #expect(Self.decide(4, fallbackDelivered: true, .active) == PageFollowUp(sendFallback: false, next: .retry(afterMillis: 3000, attempt: 5)))
        #expect(Self.decide(40, fallbackDelivered: true, .active).next == .retry(afterMillis: 3000, attempt: 41), "never given up")
    }

    @Test func aPrimaryKnownDownSendsTheFirstAttemptToTheFallbackAtOnce() {
        #expect(PageFollowUp.needsStanding(attempt: 1, policy: Self.policy, primaryFailedFast: true))
        #expect(Self.decide(1, failedFast: true, .active) == PageFollowUp(sendFallback: true, next: .retry(afterMillis: 500, attempt: 2)))
    }

    @Test func anUnknownStandingIsTreatedAsActive() {
        #expect(Self.decide(9, .unknown) == PageFollowUp(sendFallback: true, next: .retry(afterMillis: 3000, attempt: 10)))
    }

    @Test func onlyAnAnsweredAlarmsPageGoesToTheDeadLetters() {
        #expect(Self.decide(5, fallbackDelivered: true, .answered("acknowledged by nurse-kim"))
                == PageFollowUp(sendFallback: false, next: .deadLetter(reason: "alarm acknowledged by nurse-kim; the primary channel failed 5 attempt(s)")))
        #expect(Self.decide(3, hasFallback: false, .active).sendFallback == false, "no fallback configured: retries only")
    }

    @Test(arguments: [
        ("active", Int64(1000), nil, AlarmStanding.active),
        ("acknowledged", Int64(1000), "nurse-kim", .answered("acknowledged by nurse-kim")),
        ("resolved", Int64(1000), nil, .answered("resolved")),
        ("active", Int64(9000), nil, .answered("acknowledged and active again since")),
        (nil, nil, nil, .answered("alarm not found")),
    ] as [(String?, Int64?, String?, AlarmStanding)])
    func theStandingComesFromTheAlarmsRow(state: String?, since: Int64?, by: String?, expected: AlarmStanding) {
        let brief = AlarmBrief(alertID: "a", patientID: "P", deviceID: nil, ruleID: "spo2.low", priority: "high", message: "m",
                               value: nil, threshold: nil, raisedAt: 0, activeSince: 1000)
        let page = TaskJob(jobID: "j", kind: .page, createdAt: 0, alarm: brief, tier: .onCall)
        #expect(AlarmStanding.of(page, state: state, activeSince: since, acknowledgedBy: by) == expected)
    }

    @Test func pagesHaveADelayQueueForEveryPauseUpToTheCap() {
        #expect(Self.policy.pageDelays == [500, 1000, 2000, 3000])
        #expect(RetryPolicy(maxAttempts: 1, baseMillis: 1000, capMillis: 1000).pageDelays == [1000])
        let t = TaskTopology(escalationMillis: 120_000, retry: Self.policy)
        #expect(t.delays == [500, 1000, 2000, 3000, 120_000])
    }
}

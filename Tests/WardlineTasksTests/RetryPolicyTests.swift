import Testing
import WardlineTasks

@Suite struct RetryPolicyTests {
    @Test func backoffDoublesFromTheBaseUpToTheCap() {
        let p = RetryPolicy(maxAttempts: 8, baseMillis: 1000, capMillis: 10_000)
        #expect((2...8).map { p.delay(beforeAttempt: $0) } == [1000, 2000, 4000, 8000, 10_000, 10_000, 10_000])
        #expect(p.delays == [1000, 2000, 4000, 8000, 10_000], "one delay queue per distinct pause")
    }

    @Test func theLastAttemptGoesToTheDeadLetters() {
        let p = RetryPolicy(maxAttempts: 3, baseMillis: 300, capMillis: 60_000)
        #expect(p.afterFailure(attempt: 1) == .retry(afterMillis: 300, attempt: 2))
        #expect(p.afterFailure(attempt: 2) == .retry(afterMillis: 600, attempt: 3))
        #expect(p.afterFailure(attempt: 3) == .deadLetter)
        #expect(p.afterFailure(attempt: 7) == .deadLetter, "a redelivered job past its attempts is not retried")
    }

    @Test func oneAttemptMeansNoRetryAndNoDelayQueue() {
        let p = RetryPolicy(maxAttempts: 1, baseMillis: 1000, capMillis: 1000)
        #expect(p.afterFailure(attempt: 1) == .deadLetter)
        #expect(p.delays.isEmpty)
    }

    @Test func hugeAttemptCountsDoNotOverflow() {
        let p = RetryPolicy(maxAttempts: 50, baseMillis: 1000, capMillis: 60_000)
        #expect(p.delay(beforeAttempt: 50) == 60_000)
    }
}

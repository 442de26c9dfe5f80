import Testing
import WardlineTasks

@Suite struct ServeWatchTests {
    typealias Row = ServeWatch.Row

    @Test func aFreshHeartbeatIsQuiet() {
        var w = ServeWatch(silentAfterMillis: 10_000)
        #expect(w.observe([Row(instance: "serve-a", ageMillis: 1500)], now: 100_000).isEmpty)
    }

    @Test func aSilentServeIsOneFailureUntilItReportsAgainThenOneRecovery() {
        var w = ServeWatch(silentAfterMillis: 10_000)
        #expect(w.observe([Row(instance: "serve-a", ageMillis: 10_000)], now: 100_000).isEmpty, "at the bound, not past it")
        let owed = w.observe([Row(instance: "serve-a", ageMillis: 11_000)], now: 101_000)
        #expect(owed == [.failure(subject: "serve-a", reason: "no heartbeat for 11 s (hung, killed or cut off)", since: 90_000)])
        w.delivered(owed[0])
        #expect(w.observe([Row(instance: "serve-a", ageMillis: 14_000)], now: 104_000).isEmpty, "once per outage")
        let back = w.observe([Row(instance: "serve-a", ageMillis: 200)], now: 130_000)
        #expect(back == [.recovered(subject: "serve-a", how: "reporting again", outageMillis: 40_000)])
        w.delivered(back[0])
        #expect(w.owed.isEmpty && w.failing.isEmpty)
    }

    @Test func anUndeliveredNoticeStaysOwedUntilDelivered() {
        var w = ServeWatch(silentAfterMillis: 5000)
        let first = w.observe([Row(instance: "s", ageMillis: 6000)], now: 50_000)
        #expect(first.count == 1)
        #expect(w.observe([Row(instance: "s", ageMillis: 7000)], now: 51_000) == first, "every channel failed: tried again")
        let both = w.observe([Row(instance: "s", ageMillis: 100)], now: 52_000)
        #expect(both.count == 2 && both[0] == first[0], "in order: the failure, then the recovery")
    }

    @Test func aCleanStopIsNoOutageButEndsOne() {
        var w = ServeWatch(silentAfterMillis: 5000)
        #expect(w.observe([Row(instance: "s", ageMillis: 60_000, stopped: true)], now: 100_000).isEmpty)
        let owed = w.observe([Row(instance: "t", ageMillis: 9000)], now: 100_000)
        w.delivered(owed[0])
        #expect(w.observe([Row(instance: "t", ageMillis: 12_000, stopped: true)], now: 103_000)
                == [.recovered(subject: "t", how: "stopped by an operator", outageMillis: 12_000)])
    }

    @Test func aStallServeReportsIsAnOutageToo() {
        var w = ServeWatch(silentAfterMillis: 5000)
        let owed = w.observe([Row(instance: "s", ageMillis: 900, problems: "engine: stalled for 16 s")], now: 70_000)
        #expect(owed == [.failure(subject: "s", reason: "engine: stalled for 16 s", since: 70_000)])
        w.delivered(owed[0])
        #expect(w.observe([Row(instance: "s", ageMillis: 800)], now: 75_000) == [.recovered(subject: "s", how: "reporting again", outageMillis: 5000)])
    }

    @Test func unreadableHeartbeatsPastTheBoundAreADatabaseOutage() {
        var w = ServeWatch(silentAfterMillis: 5000)
        #expect(w.readFailed("connection refused", now: 10_000).isEmpty)
        #expect(w.readFailed("connection refused", now: 15_000).isEmpty)
        let owed = w.readFailed("connection refused", now: 15_001)
        #expect(owed == [.failure(subject: ServeWatch.database, reason: "cannot read serve's heartbeats: connection refused", since: 10_000)])
        w.delivered(owed[0])
        #expect(w.observe([], now: 20_000) == [.recovered(subject: "database", how: "readable again", outageMillis: 10_000)])
    }

    @Test func aShortReadFailureIsForgotten() {
        var w = ServeWatch(silentAfterMillis: 5000)
        _ = w.readFailed("timeout", now: 1000)
        #expect(w.observe([], now: 2000).isEmpty)
        #expect(w.readFailed("timeout", now: 8000).isEmpty, "the clock starts again at the next failure")
    }
}

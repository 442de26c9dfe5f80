import Testing
import WardlineRuntime
import WardlineServer

@Suite struct SystemStatusTests {
    typealias Worker = SystemStatus.WorkerBeat

    @Test func heartbeatsSayHowLongAPartHasBeenStuck() {
        let engine = Heartbeat("engine", kind: .loop)
        #expect(engine.stuckFor(now: 50_000) == 0, "not started yet")
        engine.beat(now: 10_000)
        #expect(engine.stuckFor(now: 26_000) == 16_000)
        let intake = Heartbeat("intake", kind: .onDemand)
        intake.begin(now: 1000)
        #expect(intake.stuckFor(now: 4000) == 3000)
        intake.end()
        #expect(intake.stuckFor(now: 99_000) == 0, "idle is not stuck")
    }

    @Test func aPartStuckPastTheBoundIsARequiredFailureNamedOnTheBanner() {
        let s = SystemStatus.assess(stuck: [("intake", 0), ("engine", 16_000), ("alarm_writer", 15_000)], workers: nil,
                                    boundMillis: 15_000, watchingMillis: 60_000)
        #expect(s.problems == [.init(component: "engine", severity: .failure, detail: "stalled for 16 s", required: true)])
        #expect(s.headline == "ALARM SYSTEM FAILURE: engine: stalled for 16 s")
        #expect(s.ownProblems == "engine: stalled for 16 s")
        #expect(SystemStatus.assess(stuck: [("engine", 15_000)], workers: nil, boundMillis: 15_000, watchingMillis: 1).ok)
    }

    @Test func noWorkerReportingIsAPagingFailureOnceTheBoundHasPassed() {
        #expect(SystemStatus.assess(stuck: [], workers: [], boundMillis: 15_000, watchingMillis: 10_000).ok, "a worker may still be starting")
        let never = SystemStatus.assess(stuck: [], workers: [], boundMillis: 15_000, watchingMillis: 16_000)
        #expect(never.problems.map(\.component) == ["paging"] && never.problems[0].severity == .failure && !never.problems[0].required)
        let gone = SystemStatus.assess(stuck: [], workers: [Worker(instance: "w", ageMillis: 40_000)], boundMillis: 15_000,
                                       watchingMillis: 60_000)
        #expect(gone.problems.first?.detail == "no wardline worker has reported for 40 s: pages are not being sent")
        #expect(gone.ownProblems == "", "paging is the worker's report, not serve's own: the worker does not page about itself")
        let stopped = SystemStatus.assess(stuck: [], workers: [Worker(instance: "w", ageMillis: 1, stopped: true)],
                                          boundMillis: 15_000, watchingMillis: 60_000)
        #expect(!stopped.ok)
    }

    @Test func aWorkerFailingOverIsDegradedNotFailed() {
        let s = SystemStatus.assess(stuck: [], workers: [Worker(instance: "w1", ageMillis: 900),
                                                         Worker(instance: "w2", ageMillis: 800, problems: "webhook failing since 12:00")],
                                    boundMillis: 15_000, watchingMillis: 60_000)
        #expect(s.problems == [.init(component: "paging", severity: .degraded, detail: "w2: webhook failing since 12:00", required: false)])
        #expect(s.headline == "ALARM SYSTEM DEGRADED: paging: w2: webhook failing since 12:00")
        #expect(SystemStatus.assess(stuck: [], workers: [Worker(instance: "w1", ageMillis: 900)], boundMillis: 15_000,
                                    watchingMillis: 60_000).ok)
    }
}

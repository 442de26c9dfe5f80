import Testing
import WardlineCore
@testable import WardlineEngine

@Suite struct WindowTests {
    /// A deterministic pseudo-random sequence (no global generator: tests must repeat exactly).
    struct Noise {
        var state: UInt64
        mutating func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
    }

    @Test func runningTotalsMatchARecountOverEveryWindowThroughGapsAndWraps() {
        var ring = BucketRing(width: 10_000, count: 36, spans: [6, 30, 36])
        var noise = Noise(state: 42)
        var history: [(bucket: Int64, value: Double)] = []
        var t: Int64 = 1_000_000_000
        for step in 0..<20_000 {
            // Mostly one reading a second, with occasional silences of up to ten minutes.
            t += noise.next() < 0.002 ? Int64(noise.next() * 600_000) : 1000
            let v = 60 + 40 * noise.next()
            _ = ring.add(v, at: t)
            history.append((t / 10_000, v))
            guard step % 997 == 0 else { continue }
            let openBucket = t / 10_000
            for (s, length) in [6, 30, 36].enumerated() {
                let inSpan = history.filter { $0.bucket < openBucket && $0.bucket >= openBucket - Int64(length) }.map(\.value)
                let got = ring.span(s).summary
                #expect(got.count == inSpan.count)
                guard let mean = got.mean, !inSpan.isEmpty else { continue }
                let m = inSpan.reduce(0, +) / Double(inSpan.count)
                #expect(abs(mean - m) < 1e-4)
                if inSpan.count > 1, let sd = got.standardDeviation {
                    let v = inSpan.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(inSpan.count - 1)
                    #expect(abs(sd - v.squareRoot()) < 1e-2)
                }
            }
        }
    }

    @Test func aLateReadingIsRefusedNotMisfiled() {
        var ring = BucketRing(width: 10_000, count: 6, spans: [6])
        #expect(ring.add(1, at: 100_000) == .inOpenBucket)
        #expect(ring.add(1, at: 110_000) == .closedBuckets)
        #expect(ring.add(1, at: 95_000) == .tooOld)
        #expect(ring.span(0).count == 1)
    }

    @Test func memoryIsFixedWhateverTheReadingRate() {
        #expect(MemoryLayout<BucketRing.Bucket>.stride == 12)
        var w = VitalWindow()
        for i in 0..<100_000 { _ = w.add(80, at: Int64(i) * 100, ewmaTimeConstant: 60_000) }
        // 10 readings a second for 10,000 s: still 36 + 30 buckets, the hour holds the last 60 minutes.
        #expect(w.lastHour.count == 36_000)
        #expect(w.lastMinute.count == 600)
    }

    @Test func changeOverFiveMinutesFollowsALinearFall() {
        var w = VitalWindow()
        // SpO2 97 for 10 minutes, then falling 1 point a minute.
        for s in 0..<(20 * 60) {
            let minutes = Double(s) / 60
            let v = minutes < 10 ? 97 : 97 - (minutes - 10)
            _ = w.add(v, at: Int64(s) * 1000, ewmaTimeConstant: 60_000)
        }
        let change = try! #require(w.change(overMinutes: 5, minimumSamples: 3))
        #expect(abs(change - -5) < 0.05)
        #expect(w.statistics.changeOverFiveMinutes.map { abs($0 - change) < 1e-9 } == true)
    }

    @Test func changeNeedsDataInBothMinutes() {
        var w = VitalWindow()
        for s in 0..<120 { _ = w.add(97, at: Int64(s) * 1000, ewmaTimeConstant: 60_000) }
        #expect(w.change(overMinutes: 5, minimumSamples: 3) == nil)
    }

    @Test func theEWMAReachesAboutTwoThirdsOfAStepAfterOneTimeConstant() {
        var w = VitalWindow()
        for s in 0...60 { _ = w.add(80, at: Int64(s) * 1000, ewmaTimeConstant: 60_000) }
        for s in 61...120 { _ = w.add(110, at: Int64(s) * 1000, ewmaTimeConstant: 60_000) }
        let fraction = (w.ewma - 80) / 30
        #expect(fraction > 0.6 && fraction < 0.66)
        // After a silence of more than five time constants it starts again from the new value.
        _ = w.add(70, at: 1_000_000, ewmaTimeConstant: 60_000)
        #expect(w.ewma == 70)
    }

    @Test func aSpO2FallOfFourPointsInFiveMinutesAlarmsWhileStillAboveTheLimit() {
        let ward = Ward()
        ward.run(seconds: 600) { _ in stable }
        // 97 → 93 over five minutes: never below 92, so no threshold alarm.
        ward.run(seconds: 360) { s in stable.with { $0.spo2 = max(93, 97 - Double(s) / 75) } }
        #expect(ward.raised == ["spo2.falling"])
        let alarm = try! #require(ward.open("spo2.falling"))
        #expect(alarm.priority == .medium && alarm.category == .physiological)
        #expect(alarm.message.hasPrefix("SpO2 fell"))
        // Stable again at 93: the fall is over and the alarm clears once the windows see it.
        ward.run(seconds: 400) { _ in stable.with { $0.spo2 = 93 } }
        #expect(ward.open("spo2.falling") == nil)
        #expect(ward.resolved == ["spo2.falling"])
    }

    @Test func aFallOfThreePointsInFiveMinutesIsNotEnough() {
        let ward = Ward()
        ward.run(seconds: 600) { _ in stable }
        ward.run(seconds: 900) { s in stable.with { $0.spo2 = max(94, 97 - Double(s) / 100) } }
        #expect(ward.raised.isEmpty)
    }

    @Test func heartRateThirtyPercentOverItsHourlyBaselineAlarms() {
        let ward = Ward()
        ward.run(seconds: 3600) { _ in stable.with { $0.heartRate = 70 } }
        // 70 → 95 bpm: +36 %, still under the 120 limit.
        ward.run(seconds: 300) { _ in stable.with { $0.heartRate = 95 } }
        #expect(ward.raised == ["hr.rising"])
        #expect(ward.open("hr.rising")?.message.contains("60-min baseline") == true)
    }

    @Test func aDepartureOfSeveralStandardDeviationsFromTheHourAlarmsWhenConfigured() throws {
        var c = EngineConfiguration()
        c.anomalyRules = [AnomalyRule(id: "hr.deviation", vital: .heartRate,
                                      measure: .deviationsFromHourlyBaseline(minimumDeviation: 2), direction: .above,
                                      raiseAt: 2.5, clearAt: 1.5, priority: .low)]
        let ward = Ward(c)
        ward.run(seconds: 3600) { s in stable.with { $0.heartRate = s % 2 == 0 ? 68 : 72 } }
        let hour = try #require(ward.engine.windowStatistics(patientID: "P1", vital: .heartRate)?.lastHour)
        #expect(abs((hour.mean ?? 0) - 70) < 0.01 && abs((hour.standardDeviation ?? 0) - 2) < 0.01)
        ward.run(seconds: 300) { _ in stable.with { $0.heartRate = 85 } }
        #expect(ward.raised == ["hr.deviation"])
        #expect(ward.open("hr.deviation")?.message.contains("SD from its 60-min baseline") == true)
    }

    @Test func noBaselineAlarmWithoutHalfAnHourOfBaseline() {
        let ward = Ward()
        ward.run(seconds: 20 * 60) { _ in stable.with { $0.heartRate = 70 } }
        ward.run(seconds: 300) { _ in stable.with { $0.heartRate = 100 } }
        #expect(ward.raised.isEmpty)
        #expect(ward.engine.windowStatistics(patientID: "P1", vital: .heartRate)?.minutesCoveredInLastHour ?? 0 < 30)
    }

    @Test func aTrendAlarmWaitsWhileTheThresholdAlarmSaysMore() {
        let ward = Ward()
        ward.run(seconds: 600) { _ in stable }
        // Straight down to 89: the SpO2 low alarm, not also "falling".
        ward.run(seconds: 400) { _ in stable.with { $0.spo2 = 89 } }
        #expect(ward.raised == ["spo2.low"])
    }
}

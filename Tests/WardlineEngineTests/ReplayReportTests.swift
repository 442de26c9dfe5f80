import Testing
import WardlineCore
@testable import WardlineEngine
import WardlineReplay

/// The replay's comparison, on episodes made by hand, and a run on a scripted patient.
@Suite struct ReplayReportTests {
    func episode(_ patient: String, _ rule: String, raised: Int64, cleared: Int64?, high: Int64? = nil,
                 priority: AlarmPriority = .medium) -> AlarmEpisode {
        AlarmEpisode(id: "\(patient)/\(rule)/\(raised)", patientID: patient, deviceID: "d", ruleID: rule, category: .physiological,
                     raisedAt: raised, raisedReadingTime: raised, priority: high == nil ? priority : .high, highAt: high,
                     highReadingTime: high, clearedAt: cleared, value: 85, threshold: 90)
    }

    @Test func aMissedAndALaterHighAlarmComeFirstWithTheirDelay() {
        let current = [episode("P1", "spo2.low", raised: 1_000, cleared: 60_000, high: 1_000),
                       episode("P2", "spo2.low", raised: 5_000, cleared: 9_000, high: 5_000),
                       episode("P3", "hr.high", raised: 2_000, cleared: 3_000)]
        let candidate = [episode("P1", "spo2.low", raised: 31_000, cleared: 60_000, high: 31_000)]
        let report = ReplayReport(current: .init(name: "in force", version: "a", episodes: current),
                                  candidate: .init(name: "candidate", version: "b", episodes: candidate),
                                  patientDays: 3, from: 0, end: 100_000)
        let fates = report.highAlarmFates
        #expect(fates.count == 2)
        #expect(fates.first { $0.current.patientID == "P1" }?.delayMillis == 30_000)
        #expect(fates.first { $0.current.patientID == "P2" }?.candidate == nil)
        let text = report.text()
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("!!! HIGH-PRIORITY ALARMS THE CANDIDATE MISSES OR RAISES LATER: 1 missed, 1 later (of 2)"))
        #expect(lines[1].hasPrefix("!!! MISSED  P2"))
        #expect(lines[2].hasPrefix("!!! LATER   P1") && lines[2].hasSuffix("by 30.0 s of patient time"))
        #expect(report.onlyIn(report.current, not: report.candidate).map(\.patientID) == ["P2", "P3"])
        #expect(report.selfEnding(report.current) == 2)  // P2 (4 s) and P3 (1 s)
        #expect(ReplayReport.percentile([1, 2, 3, 4, 100], 0.5) == 3)
        #expect(ReplayReport.percentile([1, 2, 3, 4, 100], 0.9) == 100)
    }

    @Test func nothingMissedSaysSo() {
        let same = [episode("P1", "spo2.low", raised: 1_000, cleared: 60_000, high: 1_000)]
        let report = ReplayReport(current: .init(name: "in force", version: "a", episodes: same),
                                  candidate: .init(name: "candidate", version: "a", episodes: same),
                                  patientDays: 1, from: 0, end: 100_000)
        #expect(report.text().hasPrefix("High-priority alarms: the candidate raises every one of the 1"))
    }

    @Test func aRunRaisesWhatTheLiveEngineRaisesAtTheSameMoment() throws {
        // The same readings through the engine directly and through a replay run: the same alarms, same ids.
        let live = Ward()
        live.run(seconds: 60, patient: "P1", device: "oxi-1") { s in s < 20 ? stable : stable.with { $0.spo2 = 84 } }
        let run = try ReplayRun(configuration: EngineConfiguration())
        var seq: Int64 = 0
        var now = Ward.start
        for s in 0..<60 {
            now += 1000
            seq += 1
            let v = s < 20 ? stable : stable.with { $0.spo2 = 84 }
            run.feed(Reading(deviceID: "oxi-1", patientID: "P1", seq: seq, time: now, receivedAt: now, vitals: v))
        }
        run.tick(until: now + 1000)
        let liveRaised = live.events.compactMap { if case .alarmRaised(let a, _) = $0 { a.id } else { nil } }
        #expect(!liveRaised.isEmpty)
        #expect(run.episodes.map(\.id) == liveRaised)
        #expect(run.episodes.first { $0.ruleID == "spo2.low" }?.highAt != nil)
    }

    @Test func aDevicesOwnAlertsAreReplayedBesideTheReadings() throws {
        // A ventilator's apnoea alarm is the device's word, not a threshold: without its recorded
        // alert a replay could not raise it. Fed in receipt order with the readings, it is raised
        // for the patient the device serves, at the alert's receipt.
        let comparison = try ReplayComparison(inForce: EngineConfiguration(), candidate: EngineConfiguration())
        let t = Ward.start
        comparison.feed([
            .reading(Reading(deviceID: "vent-1", patientID: "P1", seq: 1, time: t, receivedAt: t, vitals: stable)),
            .deviceAlert(DeviceAlert(deviceID: "vent-1", patientID: nil, code: "apnea", priority: .high, message: nil,
                                     time: t + 500, receivedAt: t + 700)),
            .deviceStatus(DeviceStatus(deviceID: "vent-1", state: .online, battery: 80, receivedAt: t + 900)),
        ])
        let stored = [(id: "P1/device.alert.apnea@vent-1/\(t + 700)", ruleSet: String?.none)]
        let outcome = comparison.finish(period: t...(t + 5_000), stored: stored)
        #expect(outcome.readings == 1 && outcome.deviceEvents == 2)
        let apnoea = outcome.report.current.episodes.first { $0.ruleID == "device.alert.apnea" }
        #expect(apnoea?.patientID == "P1" && apnoea?.raisedAt == t + 700 && apnoea?.highAt == t + 700)
        #expect(outcome.liveCheck.reproduced == 1 && outcome.liveCheck.compared == 1)
    }

    @Test func twoAlarmsOfOneMillisecondCountAsReproducedWhicheverGotTheSerial() {
        #expect(ReplayComparison.moment(of: "P1/spo2.low/1796175306216-1") == "P1/spo2.low/1796175306216")
        #expect(ReplayComparison.moment(of: "P1/spo2.low/1796175306216") == "P1/spo2.low/1796175306216")
        #expect(ReplayComparison.moment(of: "P1/device.stale@oxi-3/1796175306216-2") == "P1/device.stale@oxi-3/1796175306216")
        #expect(ReplayComparison.moment(of: "P1/device.stale@oxi-3/17") == "P1/device.stale@oxi-3/17")
    }
}

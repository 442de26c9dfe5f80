import Foundation
import Testing
@testable import WardlineEngine
import WardlineTasks

@Suite struct TaskJobTests {
    static let brief = AlarmBrief(alertID: "a-1", patientID: "PAT-7", deviceID: "oxi-7", ruleID: "spo2.low", priority: "high",
                                  message: "SpO2 84 % < 85 %", value: 84, threshold: 85, raisedAt: 1_700_000_000_000,
                                  activeSince: 1_700_000_000_000)

    @Test func jobJSONUsesTheHospitalsSnakeCaseAndRoundTrips() throws {
        let job = TaskJob(jobID: "j-1", kind: .escalationCheck, createdAt: 5, alarm: Self.brief, tier: .chargeNurse)
        let object = try JSONSerialization.jsonObject(with: Data(job.json())) as! [String: Any]
        #expect(object["kind"] as? String == "escalation_check" && object["tier"] as? String == "charge_nurse")
        #expect((object["alarm"] as? [String: Any])?["alert_id"] as? String == "a-1")
        #expect(try TaskJob.decode(job.json()) == job)
        #expect(job.route == .escalation && job.route.queue == "wardline.escalation")
    }

    @Test func tiersEscalateInOrderAndStopAfterRapidResponse() {
        #expect(CareTier.onCall.next == .chargeNurse)
        #expect(CareTier.chargeNurse.next == .physician)
        #expect(CareTier.physician.next == .rapidResponse)
        #expect(CareTier.rapidResponse.next == nil)
        #expect(CareTier.allCases.map(\.level) == [0, 1, 2, 3])
        #expect(OnCallRoster.list(" a, b,,c ") == ["a", "b", "c"])
    }

    @Test func aHighAlarmRaisedMakesAPageAndATimerWithStableIDs() {
        let alarm = Alarm(id: "a-1", patientID: "PAT-7", deviceID: nil, ruleID: "spo2.low", category: .physiological,
                          vital: nil, priority: .high, latching: true, message: "SpO2 84", value: 84, threshold: 85,
                          conditionSince: 1, raisedAt: 2)
        let t = AlarmTransition(alarmID: "a-1", revision: 1, kind: .raised, from: nil, to: .active, priority: .high, at: 2,
                                readingTime: 1, by: nil, value: 84, threshold: 85, escalationLevel: 0, resolution: nil)
        let jobs = AlarmTasks(escalationMillis: 120_000).jobs(for: alarm, t)
        #expect(jobs.map(\.job.kind) == [.page, .escalationCheck])
        #expect(jobs.map(\.job.tier) == [.onCall, .chargeNurse])
        #expect(jobs.map(\.delayMillis) == [0, 120_000])
        #expect(AlarmTasks(escalationMillis: 120_000).jobs(for: alarm, t).map(\.job.jobID) == jobs.map(\.job.jobID),
                "writing the same transition twice makes the same job ids")
        var medium = alarm
        medium.priority = .medium
        #expect(AlarmTasks(escalationMillis: 1).jobs(for: medium, t).isEmpty, "only high-priority alarms page")
        var ack = t
        ack.kind = .acknowledged
        #expect(AlarmTasks(escalationMillis: 1).jobs(for: alarm, ack).isEmpty)
    }

    @Test(arguments: [
        ("active", Int64(1_700_000_000_000), nil, EscalationDecision.page(.chargeNurse)),
        ("acknowledged", Int64(1_700_000_000_000), "nurse-kim", .cancelled(reason: "acknowledged by nurse-kim")),
        ("resolved", Int64(1_700_000_000_000), nil, .cancelled(reason: "resolved")),
        ("active", Int64(1_700_000_900_000), "nurse-kim", .cancelled(reason: "acknowledged by nurse-kim and active again since")),
    ] as [(String, Int64, String?, EscalationDecision)])
    func anEscalationTimerPagesOnlyAnUnansweredAlarm(state: String, activeSince: Int64, by: String?, expected: EscalationDecision) {
        let job = TaskJob(jobID: "j", kind: .escalationCheck, createdAt: 0, alarm: Self.brief, tier: .chargeNurse)
        #expect(EscalationDecision.decide(job: job, state: state, activeSince: activeSince, acknowledgedBy: by) == expected)
        #expect(EscalationDecision.decide(job: job, state: nil, activeSince: nil, acknowledgedBy: nil) == .cancelled(reason: "alarm not found"))
    }

    @Test func topologyHasOneDelayQueuePerPauseDeadLetteringIntoTheWorkExchange() {
        let t = TaskTopology(escalationMillis: 3000, retry: RetryPolicy(maxAttempts: 3, baseMillis: 1000, capMillis: 8000))
        #expect(t.delays == [1000, 2000, 3000, 4000, 8000], "a page of an active alarm goes on past its attempts, up to the cap")
        let delay = t.queues.first { $0.name == "wardline.delay.3000" }
        #expect(delay?.arguments["x-dead-letter-exchange"] == .string("wardline.notify"))
        #expect(delay?.bindingKey == "3000.#")
        #expect(TaskTopology.delayedKey(.escalation, millis: 3000) == "3000.escalation")
        let page = t.queues.first { $0.name == "wardline.page" }
        #expect(page?.bindingKey == "#.page" && page?.arguments["x-max-priority"] == .int(9))
        #expect(page?.arguments["x-dead-letter-exchange"] == .string("wardline.dead"))
    }

    @Test func endpointsComeFromAMQPURLsAndNeverShowThePassword() throws {
        let e = try AMQPEndpoint(url: "amqp://ward:s3cret@10.0.0.5:5673/icu")
        #expect(e.host == "10.0.0.5" && e.port == 5673 && e.user == "ward" && e.password == "s3cret" && e.vhost == "icu")
        #expect(!e.description.contains("s3cret"))
        #expect(try AMQPEndpoint(url: "amqp://h").vhost == "/")
        #expect(try AMQPEndpoint(url: "amqp://u:p@h/%2F").vhost == "/")
        #expect(throws: AMQPEndpointError.self) { try AMQPEndpoint(url: "http://h") }
    }
}

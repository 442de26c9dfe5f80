import Testing
import WardlineCore
@testable import WardlineEngine

/// The lifecycle state machine on its own: each event, each state, what it records.
@Suite struct AlarmLifecycleTests {
    func alarm(_ priority: AlarmPriority, latching: Bool) -> Alarm {
        Alarm(id: "A", patientID: "P1", deviceID: "mon-1", ruleID: "spo2.low", category: .physiological, vital: .spo2,
              priority: priority, latching: latching, message: "SpO2 low", value: 88, threshold: 90,
              conditionSince: 0, raisedAt: 1000)
    }

    @Test("When the condition clears", arguments: [
        // (latching, acknowledged first, expected state, expected record)
        (false, false, AlarmState.resolved, AlarmTransition.Kind.resolved),
        (true, false, .active, .latched),
        (false, true, .resolved, .resolved),
        (true, true, .resolved, .resolved),
    ])
    func conditionClears(_ latching: Bool, _ acknowledged: Bool, _ state: AlarmState, _ kind: AlarmTransition.Kind) throws {
        var a = alarm(latching ? .high : .medium, latching: latching)
        if acknowledged { _ = try a.acknowledge(by: "nurse", at: 2000) }
        let tResult = a.conditionCleared(value: 95, readingTime: 2500, at: 3000)

        let t = try #require(tResult)
        #expect(a.state == state && t.kind == kind && t.to == state)
        #expect(!a.conditionPresent && t.value == 95 && t.threshold == 90)
    }

    @Test func aLatchedAlarmResolvesOnlyWhenAcknowledged() throws {
        var a = alarm(.high, latching: true)
        _ = a.conditionCleared(value: 96, readingTime: nil, at: 2000)
        #expect(a.state == .active)
        let ack = try a.acknowledge(by: "nurse.jones", at: 5000)
        #expect(ack.kind == .acknowledged && ack.by == "nurse.jones" && ack.at == 5000)
        let resolvedResult = a.resolve(.acknowledgedAfterRecovery, by: "nurse.jones", at: 5000)

        let resolved = try #require(resolvedResult)
        #expect(resolved.resolution == .acknowledgedAfterRecovery && a.state == .resolved && a.resolvedAt == 5000)
    }

    @Test func aLatchedConditionThatReturnsIsRecorded() throws {
        var a = alarm(.high, latching: true)
        _ = a.conditionCleared(value: 96, readingTime: nil, at: 2000)
        let tResult = a.conditionConfirmed(priority: .high, latching: true, value: 87, threshold: 90, message: nil,
                                                  readingTime: 2900, at: 3000)

        let t = try #require(tResult)
        #expect(t.kind == .conditionReturned && a.conditionPresent && a.state == .active)
        // Holding again changes nothing and records nothing.
        let again = a.conditionConfirmed(priority: .high, latching: true, value: 86, threshold: 90, message: nil,
                                         readingTime: 3900, at: 4000)
        #expect(again == nil)
    }

    @Test func anAcknowledgedAlarmThatWorsensBecomesActiveAgain() throws {
        var a = alarm(.medium, latching: false)
        _ = try a.acknowledge(by: "nurse", at: 2000)
        let tResult = a.conditionConfirmed(priority: .high, latching: true, value: 85, threshold: 90,
                                                  message: "SpO2 85", readingTime: nil, at: 3000)

        let t = try #require(tResult)
        #expect(t.kind == .reactivated && t.from == .acknowledged && t.to == .active)
        #expect(a.priority == .high && a.latching && a.activeSince == 3000 && a.message == "SpO2 85")
    }

    @Test func acknowledgingTwiceOrAfterResolutionIsRefused() throws {
        var a = alarm(.medium, latching: false)
        _ = try a.acknowledge(by: "nurse", at: 2000)
        let snapshot = a
        #expect(throws: AcknowledgementError.alreadyAcknowledged(snapshot)) { var b = snapshot; _ = try b.acknowledge(by: "other", at: 2500) }
        _ = a.conditionCleared(value: 96, readingTime: nil, at: 3000)
        let resolved = a
        #expect(throws: AcknowledgementError.notOpen(alarmID: "A")) { var b = resolved; _ = try b.acknowledge(by: "other", at: 3500) }
    }

    @Test("Escalation steps", arguments: [
        // (now, expected level) with first after 120 s and then every 180 s, at most 3.
        (Int64(120_999), 0), (121_000, 1), (300_999, 1), (301_000, 2), (481_000, 3), (10_000_000, 3),
    ])
    func escalation(_ now: Int64, _ level: Int) {
        var a = alarm(.high, latching: true)
        while a.escalate(at: now, policy: EscalationPolicy()) != nil {}
        #expect(a.escalationLevel == level)
    }

    @Test func onlyActiveHighPriorityAlarmsEscalate() throws {
        var medium = alarm(.medium, latching: false)
        let mediumEscalation = medium.escalate(at: 1_000_000, policy: EscalationPolicy())
        #expect(mediumEscalation == nil)
        var acknowledged = alarm(.high, latching: true)
        _ = try acknowledged.acknowledge(by: "nurse", at: 2000)
        let acknowledgedEscalation = acknowledged.escalate(at: 1_000_000, policy: EscalationPolicy())
        #expect(acknowledgedEscalation == nil)
    }

    @Test func everyTransitionCountsARevision() throws {
        var a = alarm(.medium, latching: false)
        let raised = a.raisedTransition(readingTime: nil)
        let priorityResult = a.conditionConfirmed(priority: .high, latching: true, value: 85, threshold: 90,
                                                         message: nil, readingTime: nil, at: 2000)

        let priority = try #require(priorityResult)
        let ack = try a.acknowledge(by: "nurse", at: 3000)
        let endResult = a.conditionCleared(value: 96, readingTime: nil, at: 4000)

        let end = try #require(endResult)
        #expect([raised, priority, ack, end].map(\.revision) == [1, 2, 3, 4])
        #expect(a.revision == 4)
    }
}

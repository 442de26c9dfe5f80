import Testing
import WardlineCore
@testable import WardlineEngine

@Suite struct TechnicalAlarmTests {
    @Test func aSilentAssignedDeviceRaisesNoDataAfterThirtySeconds() {
        let ward = Ward()
        ward.run(seconds: 10) { _ in stable }
        ward.run(seconds: 30)
        #expect(ward.raised.isEmpty)
        ward.run(seconds: 1)
        #expect(ward.raised == [TechnicalRule.stale])
        let alarm = try! #require(ward.open(TechnicalRule.stale))
        #expect(alarm.category == .technical && alarm.deviceID == "mon-1" && alarm.priority == .medium)
        ward.run(seconds: 1) { _ in stable }
        #expect(ward.resolved == [TechnicalRule.stale])
    }

    @Test func anOfflineBlipShorterThanTheGraceRaisesNothing() {
        let ward = Ward()
        ward.run(seconds: 5) { _ in stable }
        ward.status(.offline)
        ward.run(seconds: 5)
        ward.status(.online)
        ward.run(seconds: 5) { _ in stable }
        #expect(ward.alarmEvents.isEmpty)
    }

    @Test func anOfflineDeviceAlarmsAfterTheGraceAndReplacesNoData() {
        let ward = Ward()
        ward.run(seconds: 5) { _ in stable }
        ward.run(seconds: 40)
        #expect(ward.raised == [TechnicalRule.stale])
        // The last will arrives late: offline says more than "no data".
        ward.status(.offline)
        ward.run(seconds: 10)
        #expect(ward.raised == [TechnicalRule.stale, TechnicalRule.offline])
        #expect(ward.resolved == [TechnicalRule.stale])
        ward.status(.online)
        #expect(ward.resolved == [TechnicalRule.stale, TechnicalRule.offline])
        // Back online, it has a fresh 30 s to send its first reading.
        ward.run(seconds: 30)
        #expect(ward.raised.count == 2)
    }

    @Test func anUnassignedDeviceAlarmsNobody() {
        let ward = Ward()
        ward.status(.offline, device: "spare-3", battery: 5)
        ward.run(seconds: 60)
        #expect(ward.alarmEvents.isEmpty)
    }

    @Test("Battery", arguments: [
        (25.0, nil as AlarmPriority?), (20, nil), (19, .low), (10, .low), (9.5, .medium),
    ])
    func battery(_ level: Double, _ priority: AlarmPriority?) {
        let ward = Ward()
        ward.read(stable)
        ward.status(.online, battery: level)
        #expect(ward.open(TechnicalRule.battery)?.priority == priority)
    }

    @Test func batteryHysteresis() {
        let ward = Ward()
        ward.read(stable)
        ward.status(.online, battery: 15)
        ward.status(.online, battery: 8)
        ward.status(.online, battery: 22)
        #expect(ward.open(TechnicalRule.battery)?.priority == .medium)
        ward.status(.online, battery: 80)
        #expect(ward.transitions(of: TechnicalRule.battery) == [.raised, .priorityRaised, .resolved])
    }

    @Test func aDeviceAlertRepeatedIsOneAlarmAndClearsWhenItGoesQuiet() {
        let ward = Ward()
        ward.read(stable)
        for _ in 0..<5 {
            ward.deviceAlert("PROBE_OFF", .low)
            ward.run(seconds: 10) { _ in stable }
        }
        #expect(ward.raised == ["device.alert.probe_off"])
        #expect(ward.open("device.alert.probe_off")?.category == .technical)
        ward.run(seconds: 60) { _ in stable }
        #expect(ward.resolved == ["device.alert.probe_off"])
    }

    @Test func aHighPriorityDeviceAlertLatchesUntilAcknowledged() throws {
        let ward = Ward()
        ward.read(stable)
        ward.deviceAlert("asystole", .high)
        let alarm = try #require(ward.open("device.alert.asystole"))
        #expect(alarm.category == .physiological && alarm.latching)
        ward.run(seconds: 120) { _ in stable }
        #expect(ward.open("device.alert.asystole")?.conditionPresent == false)
        try ward.acknowledge(ward.open("device.alert.asystole"))
        #expect(ward.open("device.alert.asystole") == nil)
    }

    @Test func aDeviceAlertWithoutAPatientIsStillRaised() {
        let ward = Ward()
        ward.deviceAlert("battery_fault", .medium, patient: nil, device: "pump-9")
        let alarm = try! #require(ward.engine.openAlarms().first)
        #expect(alarm.patientID == nil && alarm.deviceID == "pump-9")
        #expect(alarm.id == "-/device.alert.battery_fault@pump-9/\(ward.now)")
    }

    @Test func movingADeviceEndsItsTechnicalAlarmsOnTheFormerPatient() {
        let ward = Ward()
        ward.read(stable)
        ward.run(seconds: 31)
        #expect(ward.open(TechnicalRule.stale) != nil)
        ward.read(stable, patient: "P2")
        #expect(ward.open(TechnicalRule.stale) == nil)
        let last = try! #require(ward.transitions.last)
        #expect(last.resolution == .deviceUnassigned)
        // Unassigned, it is silent on purpose.
        ward.send(.rejected(RejectedMessage(topic: "x", payload: "", payloadSize: 0, reason: .malformedJSON, detail: "",
                                            receivedAt: ward.now)))
        _ = ward.engine.assign(device: "mon-1", to: nil, now: ward.now)
        ward.run(seconds: 60)
        #expect(ward.raised == [TechnicalRule.stale])
    }
}

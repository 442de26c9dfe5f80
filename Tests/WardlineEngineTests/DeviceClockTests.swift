import Testing
import WardlineCore
@testable import WardlineEngine

/// Device clocks are wrong by minutes, forged readings run ahead, backlogs arrive late, and two
/// devices disagree: none of it may hide a desaturation. SpO2 80 holds the high band (< 90, 10 s),
/// so with a reading a second the alarm is due on the 11th reading; each case allows one more.
@Suite struct DeviceClockTests {
    static let desaturated = Vitals(spo2: 80)
    /// Readings allowed before `spo2.low` must be open: the band's 10 s persistence plus one reading.
    static let allowance = 12

    /// A monitor sending HR/RR/BP (no SpO2) with its clock at `monitorOffset`, and an oximeter at
    /// `oximeterOffset`, on one patient; the monitor speaks first, then the oximeter desaturates.
    /// Returns the number of oximeter readings until `spo2.low` was open, or nil.
    func readingsUntilAlarm(monitorOffset: Int64, oximeterOffset: Int64, monitorSpO2: Double? = nil) -> Int? {
        let ward = Ward()
        let monitor = Vitals(heartRate: 88, spo2: monitorSpO2, respiratoryRate: 18, systolicBP: 118)
        ward.read(monitor, device: "mon-1", clockOffset: monitorOffset)
        for n in 1...40 {
            ward.advance(seconds: 1)
            ward.read(monitor, device: "mon-1", clockOffset: monitorOffset)
            ward.read(Self.desaturated, device: "oxi-1", clockOffset: oximeterOffset)
            ward.tick()
            if ward.open("spo2.low") != nil { return n }
        }
        return nil
    }

    @Test("Two devices with clocks minutes apart: the desaturation alarms on time", arguments: [
        // (monitor, oximeter) clock offsets in ms: the issue's case first (monitor 120 s fast).
        (Int64(120_000), Int64(0)), (120_000, -180_000), (-180_000, 120_000), (0, -180_000), (0, 0),
    ])
    func skewedClocks(_ monitor: Int64, _ oximeter: Int64) throws {
        let n = try #require(readingsUntilAlarm(monitorOffset: monitor, oximeterOffset: oximeter))
        #expect(n <= Self.allowance)
    }

    @Test("Two devices disagreeing (80 vs 97): the worse one alarms and a technical alarm says so")
    func disagreeingDevices() throws {
        let n = try #require(readingsUntilAlarm(monitorOffset: 120_000, oximeterOffset: -180_000, monitorSpO2: 97))
        #expect(n <= Self.allowance)
        let ward = Ward()
        ward.run(seconds: 30) { _ in nil }
        for _ in 0..<30 {
            ward.advance(seconds: 1)
            ward.read(Vitals(spo2: 97), device: "mon-1", clockOffset: 120_000)
            ward.read(Self.desaturated, device: "oxi-1", clockOffset: -180_000)
            ward.tick()
        }
        let alarm = try #require(ward.open("spo2.low"))
        #expect(alarm.priority == .high && alarm.conditionPresent)
        #expect(!ward.resolved.contains("spo2.low"))
        let disagreement = try #require(ward.open("disagree.spo2"))
        #expect(disagreement.category == .technical)
        // Once they agree again, the technical alarm clears.
        for _ in 0..<5 {
            ward.advance(seconds: 1)
            ward.read(Vitals(spo2: 96), device: "mon-1", clockOffset: 120_000)
            ward.read(Vitals(spo2: 95), device: "oxi-1", clockOffset: -180_000)
        }
        #expect(ward.open("disagree.spo2") == nil)
    }

    @Test("A forged reading far ahead, from another device id or from the device itself, hides nothing",
          arguments: ["rogue-7", "oxi-1"])
    func forgedFutureReading(_ forger: String) throws {
        let ward = Ward()
        for _ in 0..<5 { ward.advance(seconds: 1); ward.read(stable, device: "oxi-1", clockOffset: 0) }
        // Five minutes ahead (the decoder's default future limit), with reassuring values.
        ward.read(stable, device: forger, clockOffset: 300_000)
        var n = 0
        while ward.open("spo2.low") == nil, n < 40 {
            n += 1
            ward.advance(seconds: 1)
            ward.read(Self.desaturated, device: "oxi-1", clockOffset: 0)
            ward.tick()
        }
        #expect(ward.open("spo2.low") != nil)
        #expect(n <= Self.allowance, "alarm after \(n) readings")
    }

    @Test("A backlog array arriving mid-desaturation is history: the live alarm is on time", arguments: ["oxi-1", "mon-9"])
    func backlogMidDesaturation(_ sender: String) throws {
        let ward = Ward()
        for _ in 0..<5 { ward.advance(seconds: 1); ward.read(stable, device: "oxi-1", clockOffset: 0) }
        var n = 0
        while ward.open("spo2.low") == nil, n < 40 {
            n += 1
            ward.advance(seconds: 1)
            if n == 4 {
                // Five minutes of normal readings from before, stamped on the device's clock.
                let start = ward.now - 300_000
                ward.backlog((0..<60).map { (start + Int64($0) * 5000, stable) }, device: sender)
            }
            ward.read(Self.desaturated, device: "oxi-1", clockOffset: 0)
            ward.tick()
        }
        #expect(n <= Self.allowance, "alarm after \(n) readings")
        // The backlog resolved nothing, and the alarm stays while the desaturation goes on.
        #expect(ward.resolved.isEmpty)
        for _ in 0..<5 { ward.advance(seconds: 1); ward.read(Self.desaturated, device: "oxi-1", clockOffset: 0) }
        #expect(ward.open("spo2.low")?.conditionPresent == true)
    }

    @Test func aDelayedSingleReadingIsHistoryAndHidesNothing() throws {
        let ward = Ward()
        var n = 0
        while ward.open("spo2.low") == nil, n < 40 {
            n += 1
            ward.advance(seconds: 1)
            ward.read(Self.desaturated, device: "oxi-1", clockOffset: 0)
            // A message from 30 s ago, delayed on its way, with a normal value.
            if n == 5 { ward.read(stable, device: "oxi-1", clockOffset: -30_000) }
            ward.tick()
        }
        #expect(n <= 11, "alarm after \(n) readings")
    }

    @Test("Redelivered messages (QoS 1 after a reconnect) change nothing, even older normal ones")
    func redeliveryChangesNothing() throws {
        let ward = Ward()
        func reading(_ seq: Int64, _ vitals: Vitals) -> Reading {
            Reading(deviceID: "oxi-1", patientID: "P1", seq: seq, time: Ward.start + seq * 1000, receivedAt: ward.now, vitals: vitals)
        }
        for seq in Int64(1)...40 {
            ward.advance(seconds: 1)
            ward.send(.reading(reading(seq, seq <= 3 ? stable : Self.desaturated)))
            // After the alarm, the broker hands the three normal messages over again, in order.
            if seq == 20 { for old in Int64(1)...3 { ward.send(.reading(reading(old, stable))) } }
            ward.tick()
        }
        #expect(ward.transitions(of: "spo2.low") == [.raised], "\(ward.transitions(of: "spo2.low"))")
    }

    @Test("Readings the broker held while Wardline was away arrive in a burst: judged as live, in order")
    func aBurstAfterAnOutageIsJudgedByItsOrder() throws {
        let ward = Ward()
        let start = ward.now
        // Thirty seconds of desaturation stamped a second apart, all received in the same millisecond.
        ward.advance(seconds: 30)
        for i in 0..<30 {
            ward.send(.reading(Reading(deviceID: "oxi-1", patientID: "P1", seq: Int64(i + 1), time: start + Int64(i) * 1000,
                                       receivedAt: ward.now, vitals: Self.desaturated)))
        }
        #expect(ward.transitions(of: "spo2.low") == [.raised])
        // Then back to normal: the high alarm latches once.
        for i in 30..<40 {
            ward.advance(seconds: 1)
            ward.send(.reading(Reading(deviceID: "oxi-1", patientID: "P1", seq: Int64(i + 1), time: start + Int64(i) * 1000,
                                       receivedAt: ward.now, vitals: stable)))
        }
        #expect(ward.transitions(of: "spo2.low") == [.raised, .latched])
    }

    @Test func aClockThatJumpsBackMidDesaturationStillAlarms() throws {
        let ward = Ward()
        var offset: Int64 = 0
        var n = 0
        while ward.open("spo2.low") == nil, n < 40 {
            n += 1
            ward.advance(seconds: 1)
            if n == 5 { offset = -600_000 }
            ward.read(Self.desaturated, device: "oxi-1", clockOffset: offset)
            ward.tick()
        }
        // The first reading on the new clock is taken as a delayed message; from the next one the
        // breach's persistence runs again on the new clock.
        #expect(n <= 5 + 1 + Self.allowance, "alarm after \(n) readings")
    }

    @Test("Each device's clock offset is measured; beyond the bound it is a technical alarm")
    func clockOffsetAlarm() throws {
        let ward = Ward()
        for _ in 0..<6 {
            ward.advance(seconds: 1)
            ward.read(stable, device: "mon-fast", clockOffset: 120_000)
            ward.read(stable, device: "oxi-ok", clockOffset: -150)
        }
        let offsets = ward.engine.deviceClockOffsets()
        #expect(offsets["mon-fast"] == 120_000)
        #expect(offsets["oxi-ok"] == -150)
        let alarm = try #require(ward.open(TechnicalRule.clock))
        #expect(alarm.deviceID == "mon-fast" && alarm.category == .technical && alarm.priority == .low)
        #expect(alarm.message == "mon-fast clock 120 s fast")
        #expect(ward.raised.filter { $0 == TechnicalRule.clock }.count == 1)
        // Set right, the alarm clears once the median has moved.
        for _ in 0..<4 { ward.advance(seconds: 1); ward.read(stable, device: "mon-fast", clockOffset: 100) }
        #expect(ward.open(TechnicalRule.clock) == nil)
    }

    @Test func oneForgedTimestampIsNoClockAlarm() {
        let ward = Ward()
        for i in 0..<10 {
            ward.advance(seconds: 1)
            ward.read(stable, device: "oxi-1", clockOffset: i == 5 ? 300_000 : 0)
        }
        #expect(ward.open(TechnicalRule.clock) == nil)
        #expect(ward.engine.deviceClockOffsets()["oxi-1"] == 0)
    }

    @Test func aBacklogNeverMeasuresTheClock() {
        let ward = Ward()
        ward.advance(seconds: 1)
        ward.backlog((0..<10).map { (ward.now - 600_000 + Int64($0) * 1000, stable) }, device: "oxi-1")
        #expect(ward.engine.deviceClockOffsets()["oxi-1"] == nil)
        #expect(ward.open(TechnicalRule.clock) == nil)
    }

    @Test func aClockOffsetBoundOfZeroTurnsTheAlarmOff() {
        var c = EngineConfiguration()
        c.clockOffsetAlarmAbove = 0
        let ward = Ward(c)
        for _ in 0..<6 { ward.advance(seconds: 1); ward.read(stable, device: "mon-fast", clockOffset: 900_000) }
        #expect(ward.open(TechnicalRule.clock) == nil)
        #expect(ward.engine.deviceClockOffsets()["mon-fast"] == 900_000)
    }

    @Test("NEWS2 freshness: a monitor 70 minutes slow does not make its own values look stale beside an oximeter")
    func news2AcrossClocks() throws {
        let ward = Ward()
        ward.read(stable.with { $0.spo2 = nil; $0.heartRate = nil }, device: "mon-1", clockOffset: -4_200_000)
        ward.advance(seconds: 1)
        ward.read(Vitals(heartRate: 76, spo2: 97), device: "oxi-1", clockOffset: 0)
        let score = try #require(ward.scores.last)
        #expect(score.isComplete, "\(score)")
    }
}

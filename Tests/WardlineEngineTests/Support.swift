import Testing
import WardlineCore
@testable import WardlineEngine

/// A scripted ward for the engine: an injected clock, devices sending readings, and every event
/// the engine emitted. The device clock runs with the engine's clock (an accelerated simulator
/// accelerates both), so hours of a patient's course run in milliseconds.
final class Ward {
    static let start: Int64 = 1_795_484_300_000

    let engine: AlertEngine
    private(set) var now: Int64 = Ward.start
    private(set) var events: [EngineEvent] = []
    private var seq: [String: Int64] = [:]

    init(_ configuration: EngineConfiguration = EngineConfiguration()) {
        engine = try! AlertEngine(configuration: configuration)
    }

    /// Minutes and seconds since the scenario began.
    var elapsed: Int64 { (now - Ward.start) / 1000 }

    @discardableResult
    func read(_ vitals: Vitals, patient: String = "P1", device: String = "mon-1") -> [EngineEvent] {
        let s = (seq[device] ?? 0) + 1
        seq[device] = s
        let r = Reading(deviceID: device, patientID: patient, seq: s, time: now, receivedAt: now, vitals: vitals)
        return record(engine.process(.reading(r), now: now))
    }

    /// A reading from a device whose clock is `clockOffset` ms ahead of the engine's (negative: behind).
    @discardableResult
    func read(_ vitals: Vitals, patient: String = "P1", device: String, clockOffset: Int64) -> [EngineEvent] {
        let s = (seq[device] ?? 0) + 1
        seq[device] = s
        let r = Reading(deviceID: device, patientID: patient, seq: s, time: now + clockOffset, receivedAt: now, vitals: vitals)
        return record(engine.process(.reading(r), now: now))
    }

    /// A backlog array arriving now: readings stamped at the given device times, in order.
    @discardableResult
    func backlog(_ readings: [(time: Int64, vitals: Vitals)], patient: String = "P1", device: String) -> [EngineEvent] {
        var out: [EngineEvent] = []
        for (time, vitals) in readings {
            let s = (seq[device] ?? 0) + 1
            seq[device] = s
            let r = Reading(deviceID: device, patientID: patient, seq: s, time: time, receivedAt: now, vitals: vitals,
                            isBacklog: true)
            out += record(engine.process(.reading(r), now: now))
        }
        return out
    }

    @discardableResult
    func send(_ event: IngestEvent) -> [EngineEvent] { record(engine.process(event, now: now)) }

    @discardableResult
    func status(_ state: DeviceStatus.State, device: String = "mon-1", battery: Double? = nil) -> [EngineEvent] {
        send(.deviceStatus(DeviceStatus(deviceID: device, state: state, battery: battery, receivedAt: now)))
    }

    @discardableResult
    func deviceAlert(_ code: String, _ priority: AlarmPriority, patient: String? = "P1", device: String = "mon-1") -> [EngineEvent] {
        send(.deviceAlert(DeviceAlert(deviceID: device, patientID: patient, code: code, priority: priority, message: nil,
                                      time: now, receivedAt: now)))
    }

    @discardableResult
    func acknowledge(_ alarm: Alarm?, by user: String = "nurse.jones") throws -> [EngineEvent] {
        let id = try #require(alarm?.id)
        return record(try engine.acknowledge(alarmID: id, by: user, now: now))
    }

    /// Advances the clock by `seconds`, one second at a time: each second the script may send a
    /// reading (nil: the device is silent) and the engine's timers tick.
    func run(seconds: Int, patient: String = "P1", device: String = "mon-1", _ script: (Int) -> Vitals? = { _ in nil }) {
        for s in 0..<seconds {
            now += 1000
            if let v = script(s) { read(v, patient: patient, device: device) }
            record(engine.tick(now: now))
        }
    }

    /// Advances the clock without readings or ticks.
    func advance(seconds: Int64) { now += seconds * 1000 }

    func tick() { record(engine.tick(now: now)) }

    @discardableResult
    private func record(_ new: [EngineEvent]) -> [EngineEvent] {
        events += new
        return new
    }

    func clearEvents() { events = [] }

    // MARK: What happened

    var alarmEvents: [EngineEvent] { events.filter { $0.alarm != nil } }
    /// Rule ids of raised alarms, in order.
    var raised: [String] { events.compactMap { if case .alarmRaised(let a, _) = $0 { a.ruleID } else { nil } } }
    var resolved: [String] { events.compactMap { if case .alarmResolved(let a, _) = $0 { a.ruleID } else { nil } } }
    var transitions: [AlarmTransition] { events.compactMap(\.transition) }
    var scores: [News2Score] { events.compactMap { if case .scored(_, let s) = $0 { s } else { nil } } }

    func open(_ rule: String, patient: String = "P1") -> Alarm? {
        engine.openAlarms(patientID: patient).first { $0.ruleID == rule }
    }

    func transitions(of rule: String) -> [AlarmTransition.Kind] {
        events.compactMap { e in e.alarm?.ruleID == rule ? e.transition?.kind : nil }
    }
}

/// A stable adult on a general ward: every NEWS2 parameter scores 0.
let stable = Vitals(heartRate: 76, spo2: 97, temperature: 36.9, respiratoryRate: 15, systolicBP: 124, diastolicBP: 78,
                    onOxygen: false, consciousness: .alert)

extension Vitals {
    func with(_ change: (inout Vitals) -> Void) -> Vitals {
        var v = self
        change(&v)
        return v
    }
}

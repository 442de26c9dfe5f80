import WardlineCore

/// One device's contribution to one patient: its own persistence trackers, windows and NEWS2
/// observations, all on that device's own clock.
///
/// Why per device: device clocks are wrong by seconds to minutes, and a tracker shared by two
/// devices compares one clock with another (a monitor 2 minutes fast makes an oximeter's readings
/// look 2 minutes old, and they were ignored). Within one device, time is consistent whatever its
/// offset. The engine combines the sources into one alarm per patient and rule on its own clock
/// (`heardAt`, Wardline's receive time): any source that confirms a breach raises the alarm, and it
/// clears only when no source still heard from holds it — so two devices that disagree never cancel
/// each other, and the worse one alarms.
final class ReadingSource {
    let deviceID: String
    /// Indexed like the patient's threshold rules.
    var trackers: [BreachTracker]
    /// Indexed like the engine's windowed vitals.
    var windows: [VitalWindow]
    /// Indexed like the engine's anomaly rules.
    var anomalyTrackers: [BreachTracker]
    var news2Tracker = BreachTracker()
    var observations = News2Observations()
    /// Engine clock of this device's last reading for the patient.
    var heardAt: Int64
    /// Device clock of its newest live reading (`.min` before the first).
    var newestTime: Int64 = .min
    /// Device clock of the single reading before this one (what "in order" is judged against).
    var previousTime: Int64 = .min
    /// The (seq, time) of its last 32 readings, to know a redelivered message: after a crash the
    /// broker hands over again what was journalled but whose PUBACK had not yet gone out — the
    /// newest few messages, well inside 32 of any one device.
    // Two plain arrays and a loop: SIMD32<Int64>'s compare, reduce and lane store were compiled
    // lane by lane through the generic SIMD protocols and took half of the engine's time
    // (`perf record … wardline-bench engine --patients 50`: 57 % in isRepeat).
    private var recentSeq = [Int64](repeating: .min, count: ReadingSource.recentCount)
    private var recentTime = [Int64](repeating: .min, count: ReadingSource.recentCount)
    private var recentNext = 0
    static let recentCount = 32
    /// The newest live value of each vital (lane `Vital.index`) and when it came (engine clock), for
    /// telling when two devices disagree. SIMD lanes: no allocation, no reference counting.
    var latest = SIMD8<Double>(repeating: .nan)
    var latestAt = SIMD8<Int64>(repeating: .min)

    init(deviceID: String, ruleCount: Int, windowCount: Int, anomalyRuleCount: Int, now: Int64) {
        self.deviceID = deviceID
        trackers = Array(repeating: BreachTracker(), count: ruleCount)
        windows = Array(repeating: VitalWindow(), count: windowCount)
        anomalyTrackers = Array(repeating: BreachTracker(), count: anomalyRuleCount)
        heardAt = now
    }

    /// Whether this (seq, time) came in the last 32 readings; remembers it if not.
    func isRepeat(seq: Int64, time: Int64) -> Bool {
        for i in 0..<Self.recentCount where recentSeq[i] == seq && recentTime[i] == time { return true }
        recentSeq[recentNext] = seq
        recentTime[recentNext] = time
        recentNext = (recentNext + 1) & (Self.recentCount - 1)
        return false
    }

    /// Remembers a live reading's values for comparison with the patient's other devices.
    @inline(__always)
    func remember(_ v: Vitals, at now: Int64) {
        @inline(__always) func note(_ value: Double?, _ vital: Vital) {
            guard let value, !value.isNaN else { return }
            latest[vital.index] = value
            latestAt[vital.index] = now
        }
        note(v.heartRate, .heartRate)
        note(v.spo2, .spo2)
        note(v.temperature, .temperature)
        note(v.respiratoryRate, .respiratoryRate)
        note(v.systolicBP, .systolicBP)
        note(v.diastolicBP, .diastolicBP)
    }

    /// Still speaking for the patient: heard from within `window` of engine time.
    @inline(__always)
    func isCurrent(at now: Int64, window: Int64) -> Bool { now - heardAt <= window }

    /// How old an observation this device made at `time` (its clock) is at engine time `now`: its age
    /// on the device's own clock when the device last spoke, plus the silence since (engine clock).
    @inline(__always)
    func age(of time: Int64, at now: Int64) -> Int64 {
        max(0, newestTime - time) + max(0, now - heardAt)
    }
}

/// One set of vital signs measured by one bedside device at one moment.
///
/// A reading is identified by (`deviceID`, `seq`, `time`): QoS 1 may deliver it twice, and it is
/// stored once. Every vital is optional (a pulse oximeter sends only `hr` and `spo2`).
public struct Reading: Sendable, Equatable {
    public var deviceID: String
    public var patientID: String
    /// The device's monotonically increasing message counter.
    public var seq: Int64
    /// Measurement time, epoch milliseconds (device clock).
    public var time: Int64
    /// When Wardline received the message, epoch milliseconds (Wardline's clock).
    public var receivedAt: Int64
    public var vitals: Vitals
    /// The device's wall-clock send time in epoch microseconds, when it gives one (load tests).
    public var sentAtMicros: Int64?
    /// Part of a backlog array (several readings in one message, sent after a reconnect): history,
    /// stored and windowed in order, but never the reason a live reading is ignored, and never a
    /// measurement of the device's clock.
    public var isBacklog: Bool

    public init(deviceID: String, patientID: String, seq: Int64, time: Int64, receivedAt: Int64,
                vitals: Vitals, sentAtMicros: Int64? = nil, isBacklog: Bool = false) {
        self.deviceID = deviceID
        self.patientID = patientID
        self.seq = seq
        self.time = time
        self.receivedAt = receivedAt
        self.vitals = vitals
        self.sentAtMicros = sentAtMicros
        self.isBacklog = isBacklog
    }
}

/// The vital signs of one reading, in bpm, %, °C, breaths/min and mmHg.
public struct Vitals: Sendable, Equatable {
    public var heartRate: Double?
    public var spo2: Double?
    public var temperature: Double?
    public var respiratoryRate: Double?
    public var systolicBP: Double?
    public var diastolicBP: Double?
    /// On supplemental oxygen (feeds NEWS2).
    public var onOxygen: Bool?
    public var consciousness: Consciousness?

    public init(heartRate: Double? = nil, spo2: Double? = nil, temperature: Double? = nil,
                respiratoryRate: Double? = nil, systolicBP: Double? = nil, diastolicBP: Double? = nil,
                onOxygen: Bool? = nil, consciousness: Consciousness? = nil) {
        self.heartRate = heartRate
        self.spo2 = spo2
        self.temperature = temperature
        self.respiratoryRate = respiratoryRate
        self.systolicBP = systolicBP
        self.diastolicBP = diastolicBP
        self.onOxygen = onOxygen
        self.consciousness = consciousness
    }

    /// Mean arterial pressure, derived as DBP + (SBP − DBP) / 3 when both pressures are present.
    public var meanArterialPressure: Double? {
        guard let s = systolicBP, let d = diastolicBP else { return nil }
        return d + (s - d) / 3
    }
}

/// ACVPU level of consciousness, as NEWS2 uses it.
public enum Consciousness: String, Sendable, Equatable, CaseIterable {
    case alert = "A"
    case newConfusion = "C"
    case voice = "V"
    case pain = "P"
    case unresponsive = "U"
}

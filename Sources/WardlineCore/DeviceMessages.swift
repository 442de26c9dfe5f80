/// What a device says about itself on `devices/{id}/status` (retained; the last will says offline).
public struct DeviceStatus: Sendable, Equatable {
    public enum State: String, Sendable, Equatable { case online, offline }
    public var deviceID: String
    public var state: State
    /// Device-reported time, epoch ms, when it gives one.
    public var time: Int64?
    public var firmware: String?
    /// Battery charge in percent, when the device reports it.
    public var battery: Double?
    public var receivedAt: Int64

    public init(deviceID: String, state: State, time: Int64? = nil, firmware: String? = nil,
                battery: Double? = nil, receivedAt: Int64) {
        self.deviceID = deviceID
        self.state = state
        self.time = time
        self.firmware = firmware
        self.battery = battery
        self.receivedAt = receivedAt
    }
}

/// An alarm raised by the device itself on `devices/{id}/alerts` (technical or physiological).
public struct DeviceAlert: Sendable, Equatable {
    public var deviceID: String
    /// The patient the device is assigned to, when known.
    public var patientID: String?
    public var code: String
    public var priority: AlarmPriority
    public var message: String?
    public var time: Int64
    public var receivedAt: Int64

    public init(deviceID: String, patientID: String?, code: String, priority: AlarmPriority,
                message: String?, time: Int64, receivedAt: Int64) {
        self.deviceID = deviceID
        self.patientID = patientID
        self.code = code
        self.priority = priority
        self.message = message
        self.time = time
        self.receivedAt = receivedAt
    }
}

/// Alarm priority in IEC 60601-1-8 vocabulary.
public enum AlarmPriority: String, Sendable, Equatable, Comparable, CaseIterable {
    case low, medium, high

    private var rank: Int {
        switch self {
        case .low: 0
        case .medium: 1
        case .high: 2
        }
    }

    public static func < (a: AlarmPriority, b: AlarmPriority) -> Bool { a.rank < b.rank }
}

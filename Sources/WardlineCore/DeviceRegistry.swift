import Synchronization

/// Which patient each device is admitted to (the `device_assignments` table), readable from any
/// thread. The store refreshes it; the decoder reads it on every reading.
public final class DeviceRegistry: Sendable {
    private let assignments: Mutex<[String: String]>

    public init(_ assignments: [String: String] = [:]) {
        self.assignments = Mutex(assignments)
    }

    /// The patient the device is assigned to, or nil when it has no active assignment.
    public func patient(forDevice deviceID: String) -> String? {
        assignments.withLock { $0[deviceID] }
    }

    /// Replaces every assignment at once (a fresh read of the database).
    public func replaceAll(_ new: [String: String]) {
        assignments.withLock { $0 = new }
    }

    public func assign(device: String, to patientID: String?) {
        assignments.withLock { $0[device] = patientID }
    }

    public var count: Int { assignments.withLock { $0.count } }
}

/// Whether a reading's own `patient_id` may decide whose reading it is (`WARDLINE_PAYLOAD_PATIENT_ID`).
public enum PayloadPatientID: String, Sendable, CaseIterable {
    /// Only a device assignment makes a reading a patient's; an unassigned device's readings are rejected.
    case refuse
    /// A device with no assignment may name its patient (the demo, the simulator's load tests).
    case unassigned
}

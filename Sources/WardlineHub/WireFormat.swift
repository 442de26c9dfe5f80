import Foundation
import WardlineCore
import WardlineEngine
import WardlineWard

/// The small shapes the socket and REST share (a patient's place, a user, a device's status) and
/// the JSON text they are written as. The per-event shapes (alarms, scored readings) are
/// `FrameEncoder`'s.
public enum WireFormat {
    public static func riskName(_ r: News2Risk) -> String {
        switch r {
        case .low: "low"
        case .lowMedium: "low_medium"
        case .medium: "medium"
        case .high: "high"
        }
    }

    /// A patient's ward and bed, as `session:ready` and `/api/v1/patients` give it (no bed: absent).
    package struct Place: Encodable, Sendable {
        let patient_id: String
        let ward: String
        let bed: String?
    }

    package static func place(_ p: PatientPlace) -> Place { Place(patient_id: p.patientID, ward: p.ward, bed: p.bed) }

    /// Who a token says the caller is, as `session:ready` and `/api/v1/me` give it.
    package struct User: Encodable, Sendable {
        let id: String
        let role: String
        let ward: String

        package init(_ p: Principal) {
            id = p.userID
            role = p.role.rawValue
            ward = p.ward
        }
    }

    /// A `device:status` frame's data.
    package struct DeviceStatusBody: Encodable, Sendable {
        let device_id: String
        let state: String
        let time: Int64
        let patient_id: String?
        let battery: Double?
        let firmware: String?
    }

    package static func deviceStatus(_ s: DeviceStatus, patientID: String?) -> DeviceStatusBody {
        DeviceStatusBody(device_id: s.deviceID, state: s.state.rawValue, time: s.time ?? s.receivedAt, patient_id: patientID,
                         battery: s.battery, firmware: s.firmware)
    }

    /// One `{"event", "data"}` frame, UTF-8 (off the socket thread; the hub has its own encoder).
    package static func frame<D: Encodable>(_ event: String, _ data: D) -> [UInt8] {
        serialise(Frame(event: event, data: data))
    }

    /// A frame or REST body: keys in no particular order, `/` as it is.
    package static func serialise<T: Encodable>(_ value: T) -> [UInt8] { JSONText.encode(value, .unordered) }
}

import Foundation
import WardlineCore
import WardlineEngine
import WardlineWard

/// Small JSON pieces built as dictionaries: control frames (rare), a device's status, the REST
/// envelope. The per-event shapes (alarms, scored readings) are `FrameEncoder`'s.
public enum WireFormat {
    public static func riskName(_ r: News2Risk) -> String {
        switch r {
        case .low: "low"
        case .lowMedium: "low_medium"
        case .medium: "medium"
        case .high: "high"
        }
    }

    /// A patient's ward and bed, as `session:ready` and `/api/v1/patients` give it.
    public static func place(_ p: PatientPlace) -> [String: Any] {
        var d: [String: Any] = ["patient_id": p.patientID, "ward": p.ward]
        d["bed"] = p.bed
        return d
    }

    public static func deviceStatus(_ s: DeviceStatus, patientID: String?) -> [String: Any] {
        var d: [String: Any] = ["device_id": s.deviceID, "state": s.state.rawValue, "time": s.time ?? s.receivedAt]
        d["patient_id"] = patientID
        d["battery"] = s.battery
        d["firmware"] = s.firmware
        return d
    }

    /// One `{"event", "data"}` frame, UTF-8.
    public static func frame(_ event: String, _ data: Any) -> [UInt8] {
        serialise(["event": event, "data": data])
    }

    public static func serialise(_ object: Any) -> [UInt8] {
        // Every value put in these dictionaries is a JSON type, so this cannot fail; an empty object
        // would still be valid JSON if it ever did.
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.fragmentsAllowed, .withoutEscapingSlashes]) else { return Array("{}".utf8) }
        return [UInt8](data)
    }
}

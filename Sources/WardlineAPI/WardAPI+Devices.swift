import Foundation
import WardlineCore
import WardlineHub
import WardlineStore
import WardlineWard

/// Devices: their status, admission to a patient, and commands sent to them over MQTT.
extension WardAPI {
    func devices(_ c: Call, _ db: PostgresConnection?) throws -> HTTPResult {
        let p = who(c)
        var directory = context.directory.current
        let all = try HistoryQueries(db: try need(db)).devices()
        // The rows were read just now; the directory snapshot may be a refresh behind (a patient
        // admitted a moment ago), so the rows' own places count too.
        for d in all {
            if let patient = d.patientID, let ward = d.ward, directory.places[patient] == nil {
                directory.places[patient] = PatientPlace(patientID: patient, ward: ward, bed: d.bed)
            }
        }
        let rows = all.filter { d in
            let current = d.patientID.map { PatientPlace(patientID: $0, ward: d.ward ?? "", bed: d.bed) }
            return context.policy.allows(p, .viewDevice(current: current), in: directory)
        }
        return .data(rows.map { Self.device($0, clockOffset: context.clockOffset($0.deviceID)) })
    }

    /// One device as `GET /api/v1/devices` lists it (what is not known is left out).
    struct Device: Encodable {
        let device_id: String
        let state: String
        let battery: Double?
        let firmware: String?
        let updated_at: Int64?
        let patient_id: String?
        let ward: String?
        let bed: String?
        let clock_offset_ms: Int64?
    }

    static func device(_ d: DeviceRow, clockOffset: Int64?) -> Device {
        Device(device_id: d.deviceID, state: d.state ?? "unknown", battery: d.battery, firmware: d.firmware, updated_at: d.updatedAt,
               patient_id: d.patientID, ward: d.ward, bed: d.bed, clock_offset_ms: clockOffset)
    }

    /// Checked against the ward of the patient the device serves now and of the one it is to serve.
    func assignDevice(_ c: Call, _ db: PostgresConnection?) throws -> HTTPResult {
        let device = c.param("device_id")
        try checkID(device, "device_id")
        let b = try body(c)
        let patient = try idField(b, "patient_id")!
        let conn = try need(db)
        guard let place = try WardStore(db: conn).patient(patient) else {
            throw APIError(409, "patient_not_admitted", "patient \(patient) must be admitted to a ward before a device is assigned")
        }
        let queries = HistoryQueries(db: conn)
        try authorise(c, .assignDevice(current: try queries.currentPlace(ofDevice: device), target: place))
        try queries.assignDevice(device, to: patient)
        context.settingsChanged()
        return .data(Self.assignment(device: device, patient: patient, place: place), message: "device assigned")
    }

    /// A device's new assignment; `bed` is null (not absent) when the patient has none.
    struct Assignment: Encodable {
        let device_id: String
        let patient_id: String
        let ward: String
        let bed: String?

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: NamedKey.self)
            try c.encode(device_id, forKey: NamedKey("device_id"))
            try c.encode(patient_id, forKey: NamedKey("patient_id"))
            try c.encode(ward, forKey: NamedKey("ward"))
            try c.encode(bed, forKey: NamedKey("bed"))
        }
    }

    static func assignment(device: String, patient: String, place: PatientPlace) -> Assignment {
        Assignment(device_id: device, patient_id: patient, ward: place.ward, bed: place.bed)
    }

    func unassignDevice(_ c: Call, _ db: PostgresConnection?) throws -> HTTPResult {
        let device = c.param("device_id")
        try checkID(device, "device_id")
        let queries = HistoryQueries(db: try need(db))
        try authorise(c, .unassignDevice(current: try queries.currentPlace(ofDevice: device)))
        try queries.assignDevice(device, to: nil)
        context.settingsChanged()
        return .data(["device_id": device], message: "device unassigned")
    }

    /// Publishes `{"command", "args", "by", "request_id", "ts"}` to `devices/{id}/commands` (QoS 1):
    /// an allowlisted command with bounded arguments, from a role the hospital grants it to, on a
    /// device whose patient the caller may see.
    func command(_ c: Call, _ db: PostgresConnection?) throws -> HTTPResult {
        let device = c.param("device_id")
        try checkID(device, "device_id")
        _ = try body(c)
        let command: DeviceCommand
        do throws(DeviceCommand.Problem) { command = try DeviceCommand.parse(json: c.request.body) } catch {
            throw APIError.validation(error.field, error.problem)
        }
        let current = try HistoryQueries(db: try need(db)).currentPlace(ofDevice: device)
        try authorise(c, .commandDevice(command.name, current: current))
        let p = who(c)
        let requestID = Envelope(c.request).requestID
        let payload = Self.commandPayload(command, by: p.userID, requestID: requestID, ts: Int64(Date().timeIntervalSince1970 * 1000))
        do { try context.publishCommand(device, WireFormat.serialise(payload)) } catch {
            throw APIError(503, "broker_unavailable", "the command could not be published: \(error)", retryAfter: 5)
        }
        return .data(["device_id": device, "command": command.name.rawValue, "topic": "devices/\(device)/commands"], status: 202,
                     message: "command published")
    }

    /// What a device is sent on `devices/{id}/commands`.
    struct CommandPayload: Encodable {
        let command: String
        let args: [String: Int]
        let by: String
        let request_id: String
        let ts: Int64
    }

    static func commandPayload(_ command: DeviceCommand, by user: String, requestID: String, ts: Int64) -> CommandPayload {
        CommandPayload(command: command.name.rawValue, args: command.arguments, by: user, request_id: requestID, ts: ts)
    }
}

import Foundation
import WardlineCore
import WardlineEngine

/// A row the database refused for its data, as an operator reads it back from `put_aside`.
public struct PutAsideRow: Sendable {
    /// The writer that met it ("vitals", "alarms").
    public var writer: String
    /// What it is ("reading", "rejected_message", "device_status", "device_alert", "alarm_transition").
    public var kind: String
    /// Its identity in its own table, so putting the same row aside twice (a retried batch, a
    /// journal replay) keeps one row.
    public var key: String
    /// The row itself, as JSON text.
    public var row: String

    public static func reading(_ r: Reading) -> Self {
        let v = r.vitals
        let fields = ReadingFields(device_id: r.deviceID, patient_id: r.patientID, seq: r.seq, time: r.time, received_at: r.receivedAt,
                                   hr: v.heartRate, spo2: v.spo2, temp: v.temperature, rr: v.respiratoryRate, sbp: v.systolicBP,
                                   dbp: v.diastolicBP, o2: v.onOxygen, acvpu: v.consciousness?.rawValue)
        return Self(writer: "vitals", kind: "reading", key: "\(r.deviceID)/\(r.seq)/\(r.time)", row: JSONText.string(fields, .sorted))
    }

    public static func rejected(_ row: RejectedRow) -> Self {
        let m = row.message
        let fields = RejectedFields(topic: m.topic, reason: m.reason.rawValue, detail: m.detail, payload: m.payload,
                                    payload_size: m.payloadSize, received_at: m.receivedAt, device_id: m.deviceID,
                                    element_index: m.elementIndex)
        return Self(writer: "vitals", kind: "rejected_message",
                    key: "\(row.journalID)/\(row.journalPosition)/\(m.elementIndex ?? -1)", row: JSONText.string(fields, .sorted))
    }

    public static func status(_ s: DeviceStatus) -> Self {
        let fields = StatusFields(device_id: s.deviceID, state: s.state.rawValue, received_at: s.receivedAt, time: s.time,
                                  firmware: s.firmware, battery: s.battery)
        return Self(writer: "vitals", kind: "device_status", key: "\(s.deviceID)@\(s.receivedAt)", row: JSONText.string(fields, .sorted))
    }

    public static func alert(_ a: DeviceAlert) -> Self {
        let fields = AlertFields(device_id: a.deviceID, patient_id: a.patientID, code: a.code, priority: a.priority.rawValue,
                                 message: a.message, time: a.time, received_at: a.receivedAt)
        return Self(writer: "vitals", kind: "device_alert", key: "\(a.deviceID)@\(a.receivedAt)/\(a.code)", row: JSONText.string(fields, .sorted))
    }

    /// An alarm transition, as the DomainEvent it would have published.
    public static func transition(_ a: Alarm, _ t: AlarmTransition) -> Self {
        Self(writer: "alarms", kind: "alarm_transition", key: "\(t.alarmID)#\(t.revision)", row: AlarmEvent.json(a, t))
    }

    // The rows as stored, the columns' names as keys; what is not known is left out.

    struct AlertFields: Encodable {
        let device_id: String
        let patient_id: String?
        let code: String
        let priority: String
        let message: String?
        let time: Int64
        let received_at: Int64
    }

    struct ReadingFields: Encodable {
        let device_id: String
        let patient_id: String
        let seq: Int64
        let time: Int64
        let received_at: Int64
        let hr, spo2, temp, rr, sbp, dbp: Double?
        let o2: Bool?
        let acvpu: String?
    }

    struct RejectedFields: Encodable {
        let topic: String
        let reason: String
        let detail: String
        let payload: String
        let payload_size: Int
        let received_at: Int64
        let device_id: String?
        let element_index: Int?
    }

    struct StatusFields: Encodable {
        let device_id: String
        let state: String
        let received_at: Int64
        let time: Int64?
        let firmware: String?
        let battery: Double?
    }
}

/// `put_aside`: rows a writer could not store because the database refused them, so that one bad
/// row never stops a writer and is never silently dropped either.
public enum PutAsideStore {
    /// Longest row text kept: enough to read any real row, bounded for a hostile one.
    static let maxRowCharacters = 65_536

    /// Records `row` with the error that refused it; returns false when it was already there.
    /// Outside the failed transaction (which has rolled back), on the writer's own connection.
    @discardableResult
    public static func insert(_ row: PutAsideRow, error: PostgresError, db: PostgresConnection) throws -> Bool {
        let sql = """
            INSERT INTO put_aside (writer, kind, row_key, error_sqlstate, error_message, row)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (writer, row_key) DO NOTHING
            """
        let message = clean(error.message, limit: 4000)
        do {
            return try db.execute(sql, [row.writer, row.kind, clean(row.key, limit: 1000), error.sqlState ?? "",
                                        message, clean(row.row, limit: maxRowCharacters)]).affectedRows == 1
        } catch let again as PostgresError where again.isDataError {
            // The row text itself is refused (should not happen once cleaned): keep its identity at least.
            return try db.execute(sql, [row.writer, row.kind, String(row.key.unicodeScalars.filter(\.isASCII).prefix(200)),
                                        error.sqlState ?? "", message,
                                        JSONText.string(["unstorable": again.sqlState ?? ""], .sorted)]).affectedRows == 1
        }
    }

    /// PostgreSQL text cannot hold NUL; the bound keeps one row from being huge.
    static func clean(_ s: String, limit: Int) -> String {
        var out = s.contains("\u{0}") ? s.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : s
        if out.count > limit { out = String(out.prefix(limit)) + "…" }
        return out
    }
}

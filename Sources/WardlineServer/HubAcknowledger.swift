import Foundation
import WardlineAPI
import WardlineCore
import WardlineEngine
import WardlineRuntime
import WardlineStore
import WardlineWard

/// Acknowledgements on a `hub` node, which has no engine: the alarm is looked up in the store,
/// the clinician checked against its patient (the same `AccessPolicy` as one process), and the
/// command appended to the device-message topic on the patient's key, so the engine node that
/// owns the patient applies it in order with the patient's readings. The caller waits (a REST
/// worker or a background queue, never the socket thread) for that engine's answer in
/// `engine_command_results`, for up to 5 s.
final class HubAcknowledger: Sendable {
    /// One acknowledgement on its way: the record, and where it goes.
    struct Routed: Equatable {
        var requestID: UUID
        var key: String
        var partition: Int32
        var record: DeviceTopicRecord
    }

    private let databaseURL: String
    private let partitions: Int
    private let append: @Sendable (DeviceTopicRecord, _ key: String, _ partition: Int32) throws -> Void
    private let authorise: @Sendable (Principal, StaffAction) -> AccessRefusal?
    private let counters: PipelineCounters
    private let waitMillis: Int64

    init(databaseURL: String, partitions: Int, counters: PipelineCounters, waitMillis: Int64 = 5000,
         authorise: @escaping @Sendable (Principal, StaffAction) -> AccessRefusal?,
         append: @escaping @Sendable (DeviceTopicRecord, String, Int32) throws -> Void) {
        self.databaseURL = databaseURL
        self.partitions = partitions
        self.counters = counters
        self.waitMillis = waitMillis
        self.authorise = authorise
        self.append = append
    }

    /// The record for one acknowledgement and its partition: the same key ingest uses for the
    /// patient's readings (the device's, for an alarm of an unassigned device).
    static func route(alarmID: String, by userID: String, patientID: String?, deviceID: String?, partitions: Int,
                      requestID: UUID = UUID(), now: Int64) -> Routed {
        let body = JSONText.encode(AcknowledgeCommand(requestID: requestID.uuidString.lowercased(), alarmID: alarmID, userID: userID),
                                   .sorted)
        let key = PatientPartition.key(patientID: patientID, deviceID: deviceID)
        return Routed(requestID: requestID, key: key, partition: PatientPartition.of(key: key, partitions: partitions),
                      record: DeviceTopicRecord(kind: .acknowledge, receivedAt: now, topic: "", payloadSize: body.count, body: body))
    }

    func acknowledge(_ alarmID: String, by who: Principal) -> Result<Alarm, APIError> {
        do {
            // Its own connection: acknowledgements are rare, and this runs on whichever thread asked.
            let db = try PostgresConnection(url: databaseURL)
            let rows = try db.execute("SELECT patient_id, device_id, state FROM alerts WHERE id = $1", [alarmID]).rows
            guard let row = rows.first else { return .failure(.notFound("no alarm \(alarmID)")) }
            if let refusal = authorise(who, .acknowledgeAlarm(patientID: row[0])) {
                return .failure(.forbidden(refusal.description))
            }
            // Resolved is final: no engine could acknowledge it.
            if row[2] == AlarmState.resolved.rawValue {
                return .failure(APIError(409, "not_open", "alarm \(alarmID) is no longer open"))
            }
            let routed = Self.route(alarmID: alarmID, by: who.userID, patientID: row[0], deviceID: row[1], partitions: partitions,
                                    now: wallClockMillis())
            do { try append(routed.record, routed.key, routed.partition) } catch {
                return .failure(APIError(503, "engine_unreachable", "the acknowledgement could not be sent to the alarm engine: \(error)",
                                         retryAfter: 1))
            }
            guard let answer = try waitForAnswer(routed.requestID, db) else {
                return .failure(APIError(503, "engine_busy", "the alarm engine did not answer within \(waitMillis / 1000) s; try again"))
            }
            guard answer.status == 200 else { return .failure(APIError(answer.status, answer.code, answer.message)) }
            guard let alarm = try HistoryQueries(db: db).alarm(id: answer.alarmID ?? alarmID) else {
                return .failure(.notFound("no alarm \(alarmID)"))
            }
            counters.acknowledgements.add()
            return .success(alarm)
        } catch {
            return .failure(.databaseUnavailable("\(error)"))
        }
    }

    private struct Answer { var status: Int; var code: String; var message: String; var alarmID: String? }

    /// Polls every 20 ms: the engine writes the row in the transaction that stores the transition.
    private func waitForAnswer(_ requestID: UUID, _ db: PostgresConnection) throws -> Answer? {
        let deadline = wallClockMillis() + waitMillis
        let id = requestID.uuidString.lowercased()
        while true {
            if let r = try db.execute("SELECT status, code, message, alarm_id FROM engine_command_results WHERE request_id = $1::uuid",
                                      [id]).rows.first, let status = r[0].flatMap(Int.init) {
                return Answer(status: status, code: r[1] ?? "", message: r[2] ?? "", alarmID: r[3])
            }
            if wallClockMillis() >= deadline { return nil }
            usleep(20_000)
        }
    }
}

import WardlineCore

/// What one committed batch did.
public struct BatchOutcome: Sendable, Equatable {
    public var readingsInserted: Int
    /// Readings already stored (QoS 1 redeliveries, journal replays): kept out by the unique key.
    public var readingsDuplicate: Int
    public var rejectedInserted: Int

    public init(readingsInserted: Int = 0, readingsDuplicate: Int = 0, rejectedInserted: Int = 0) {
        self.readingsInserted = readingsInserted
        self.readingsDuplicate = readingsDuplicate
        self.rejectedInserted = rejectedInserted
    }
}

/// A rejected message with the journal position that identifies it across replays.
public struct RejectedRow: Sendable {
    public var message: RejectedMessage
    public var journalID: String
    public var journalPosition: UInt64
    public init(message: RejectedMessage, journalID: String, journalPosition: UInt64) {
        self.message = message
        self.journalID = journalID
        self.journalPosition = journalPosition
    }
}

/// Wardline's writes and reads of the ingest tables, over one `PostgresConnection`.
///
/// Batches go through COPY into per-connection staging tables and then
/// `INSERT … SELECT … ON CONFLICT DO NOTHING`, in one transaction, so a batch is all or nothing
/// and a redelivered reading is stored once.
public final class VitalsStore {
    public let db: PostgresConnection
    private var staged = false

    public init(db: PostgresConnection) { self.db = db }

    /// Writes one batch in one transaction.
    ///
    /// - Parameter duplicatesLikely: false for live traffic, where a QoS 1 redelivery is rare: the
    ///   readings go in with a plain INSERT (about 30 % less database work than ON CONFLICT), and
    ///   only a batch that meets a stored reading is written again with ON CONFLICT DO NOTHING.
    ///   True for journal replays, which go straight to ON CONFLICT.
    ///   Device alerts and status messages are appended to `device_events` (once each: a repeat
    ///   is skipped by its key), and each device's latest status kept in `device_status`.
    public func write(readings: [Reading], rejected: [RejectedRow], statuses: [DeviceStatus], alerts: [DeviceAlert] = [],
                      duplicatesLikely: Bool = true) throws -> BatchOutcome {
        try prepareStaging()
        let encoded = readings.isEmpty ? [] : Self.encode(readings)
        if !duplicatesLikely && !readings.isEmpty {
            do {
                return try write(encoded, count: readings.count, rejected: rejected, statuses: statuses, alerts: alerts, skipDuplicates: false)
            } catch let error as PostgresError where error.sqlState == "23505" {
                // A reading in the batch is already stored; the transaction rolled back. Again, de-duplicating.
            }
        }
        return try write(encoded, count: readings.count, rejected: rejected, statuses: statuses, alerts: alerts, skipDuplicates: true)
    }

    private func write(_ encoded: [UInt8], count: Int, rejected: [RejectedRow], statuses: [DeviceStatus], alerts: [DeviceAlert],
                       skipDuplicates: Bool) throws -> BatchOutcome {
        try db.transaction {
            var outcome = BatchOutcome(readingsInserted: 0, readingsDuplicate: 0, rejectedInserted: 0)
            if count > 0 {
                try db.copy("COPY vitals_staging FROM STDIN", data: encoded)
                outcome.readingsInserted = try db.execute("""
                    INSERT INTO vitals (time, device_id, patient_id, seq, hr, spo2, temp, rr, sbp, dbp, o2, acvpu,
                                        received_at, sent_at_us)
                    SELECT timestamptz 'epoch' + time_ms * interval '1 millisecond', device_id, patient_id, seq,
                           hr, spo2, temp, rr, sbp, dbp, o2, acvpu,
                           timestamptz 'epoch' + received_ms * interval '1 millisecond', sent_at_us
                    FROM vitals_staging
                    """ + (skipDuplicates ? " ON CONFLICT DO NOTHING" : "")).affectedRows
                outcome.readingsDuplicate = count - outcome.readingsInserted
            }
            if !rejected.isEmpty {
                try db.copy("COPY rejected_staging FROM STDIN", data: Self.encode(rejected))
                outcome.rejectedInserted = try db.execute("""
                    INSERT INTO rejected_messages (journal_id, journal_position, element_index, received_at, topic,
                                                   device_id, reason, detail, payload, payload_size)
                    SELECT journal_id, journal_position, element_index, timestamptz 'epoch' + received_ms * interval '1 millisecond',
                           topic, device_id, reason, detail, payload, payload_size
                    FROM rejected_staging
                    ON CONFLICT DO NOTHING
                    """).affectedRows
            }
            for status in statuses { try append(status) }
            for alert in alerts { try append(alert) }
            for status in Self.latestPerDevice(statuses) { try upsert(status) }
            return outcome
        }
    }

    /// The open device → patient assignments.
    public func loadAssignments() throws -> [String: String] {
        let rows = try db.execute("SELECT device_id, patient_id FROM device_assignments WHERE discharged_at IS NULL").rows
        var map: [String: String] = [:]
        for row in rows { if let d = row[0], let p = row[1] { map[d] = p } }
        return map
    }

    /// Forgets per-connection state; call after the connection was re-established.
    public func connectionWasReset() { staged = false }

    private func prepareStaging() throws {
        guard !staged else { return }
        try db.execute("""
            CREATE TEMP TABLE IF NOT EXISTS vitals_staging (
                time_ms bigint, device_id text, patient_id text, seq bigint, hr real, spo2 real, temp real,
                rr real, sbp real, dbp real, o2 boolean, acvpu char(1), received_ms bigint, sent_at_us bigint
            ) ON COMMIT DELETE ROWS;
            CREATE TEMP TABLE IF NOT EXISTS rejected_staging (
                journal_id uuid, journal_position bigint, element_index integer, received_ms bigint, topic text, device_id text,
                reason text, detail text, payload text, payload_size integer
            ) ON COMMIT DELETE ROWS;
            """)
        staged = true
    }

    private func upsert(_ s: DeviceStatus) throws {
        try db.execute("""
            INSERT INTO device_status (device_id, state, firmware, battery, device_time, updated_at)
            VALUES ($1, $2, $3, $4::real, timestamptz 'epoch' + $5::bigint * interval '1 millisecond',
                    timestamptz 'epoch' + $6::bigint * interval '1 millisecond')
            ON CONFLICT (device_id) DO UPDATE SET
                state = excluded.state,
                firmware = coalesce(excluded.firmware, device_status.firmware),
                battery = coalesce(excluded.battery, device_status.battery),
                device_time = coalesce(excluded.device_time, device_status.device_time),
                updated_at = excluded.updated_at
            WHERE device_status.updated_at <= excluded.updated_at
            """, [s.deviceID, s.state.rawValue, s.firmware, s.battery.map { String($0) },
                  s.time.map { String($0) }, String(s.receivedAt)])
    }

    private func append(_ s: DeviceStatus) throws {
        try db.execute("""
            INSERT INTO device_events (received_at, device_id, kind, device_time, state, firmware, battery)
            VALUES (timestamptz 'epoch' + $1::bigint * interval '1 millisecond', $2, 'status',
                    timestamptz 'epoch' + $3::bigint * interval '1 millisecond', $4, $5, $6::real)
            ON CONFLICT DO NOTHING
            """, [String(s.receivedAt), s.deviceID, s.time.map { String($0) }, s.state.rawValue, s.firmware, s.battery.map { String($0) }])
    }

    private func append(_ a: DeviceAlert) throws {
        try db.execute("""
            INSERT INTO device_events (received_at, device_id, kind, code, device_time, patient_id, priority, message)
            VALUES (timestamptz 'epoch' + $1::bigint * interval '1 millisecond', $2, 'alert', $3,
                    timestamptz 'epoch' + $4::bigint * interval '1 millisecond', $5, $6, $7)
            ON CONFLICT DO NOTHING
            """, [String(a.receivedAt), a.deviceID, a.code, String(a.time), a.patientID, a.priority.rawValue, a.message])
    }

    static func latestPerDevice(_ statuses: [DeviceStatus]) -> [DeviceStatus] {
        var latest: [String: DeviceStatus] = [:]
        for s in statuses { latest[s.deviceID] = s }
        return latest.values.sorted { $0.deviceID < $1.deviceID }
    }

    static func encode(_ readings: [Reading]) -> [UInt8] {
        var out = CopyText(reserving: readings.count * 96)
        for r in readings {
            let v = r.vitals
            out.column(r.time)
            out.column(r.deviceID)
            out.column(r.patientID)
            out.column(r.seq)
            out.column(v.heartRate)
            out.column(v.spo2)
            out.column(v.temperature)
            out.column(v.respiratoryRate)
            out.column(v.systolicBP)
            out.column(v.diastolicBP)
            out.column(v.onOxygen)
            out.column(v.consciousness?.rawValue)
            out.column(r.receivedAt)
            out.column(r.sentAtMicros)
            out.endRow()
        }
        return out.bytes
    }

    static func encode(_ rows: [RejectedRow]) -> [UInt8] {
        var out = CopyText(reserving: rows.count * 256)
        for row in rows {
            let m = row.message
            out.column(row.journalID)
            out.column(Int64(bitPattern: row.journalPosition))
            out.column(Int64(m.elementIndex ?? -1))
            out.column(m.receivedAt)
            out.column(m.topic)
            out.column(m.deviceID)
            out.column(m.reason.rawValue)
            out.column(m.detail)
            out.column(m.payload)
            out.column(Int64(m.payloadSize))
            out.endRow()
        }
        return out.bytes
    }
}

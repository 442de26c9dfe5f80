import WardlineCore

/// What was stored for a period, in the order Wardline received it, in batches: the readings and
/// the devices' own alerts and status (`device_events`), merged by receipt time (a reading first
/// at the same millisecond). What `wardline replay` runs through the engine again. Memory stays
/// bounded by the batch: server-side cursors in one read-only snapshot hold the rest (one sort of
/// the period each, streamed).
public final class RecordedHistory {
    private let db: PostgresConnection
    private var open = false
    public let batchSize: Int
    private var readings = Stream()
    private var devices = Stream()
    public private(set) var readingCount = 0
    public private(set) var deviceEventCount = 0

    private struct Stream {
        var pending: [IngestEvent] = []
        var index = 0
        var done = false
        var head: IngestEvent? { index < pending.count ? pending[index] : nil }
    }

    /// `ward`: only the patients the `patients` table places on that ward now, and the alerts and
    /// status of the devices that sent their readings in the period.
    public init(db: PostgresConnection, from: Int64, to: Int64, ward: String?, batchSize: Int = 20_000) throws {
        self.db = db
        self.batchSize = batchSize
        // The device-time bound lets TimescaleDB skip the chunks outside the period (a day either
        // way covers wrong device clocks and backlogs); the order is by receipt.
        let received = """
            received_at >= timestamptz 'epoch' + $1::bigint * interval '1 millisecond'
               AND received_at <  timestamptz 'epoch' + $2::bigint * interval '1 millisecond'
            """
        let deviceTime = """
            time >= timestamptz 'epoch' + $1::bigint * interval '1 millisecond' - interval '1 day'
               AND time <  timestamptz 'epoch' + $2::bigint * interval '1 millisecond' + interval '1 day'
            """
        let wardPatients = "patient_id IN (SELECT patient_id FROM patients WHERE ward = $3)"
        var readingsSQL = """
            DECLARE recorded_readings NO SCROLL CURSOR FOR
            SELECT device_id, patient_id, seq, (extract(epoch FROM time) * 1000)::bigint,
                   (extract(epoch FROM received_at) * 1000)::bigint, hr, spo2, temp, rr, sbp, dbp, o2, acvpu
              FROM vitals WHERE \(received) AND \(deviceTime)
            """
        var devicesSQL = """
            DECLARE recorded_devices NO SCROLL CURSOR FOR
            SELECT device_id, kind, (extract(epoch FROM received_at) * 1000)::bigint, (extract(epoch FROM device_time) * 1000)::bigint,
                   code, patient_id, priority, message, state, firmware, battery
              FROM device_events WHERE \(received)
            """
        var parameters = [String(from), String(to)]
        if let ward {
            readingsSQL += " AND " + wardPatients
            devicesSQL += " AND device_id IN (SELECT DISTINCT device_id FROM vitals WHERE \(received) AND \(deviceTime) AND \(wardPatients))"
            parameters.append(ward)
        }
        readingsSQL += " ORDER BY received_at, device_id, seq"
        devicesSQL += " ORDER BY received_at, device_id, kind, code"
        try db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        open = true
        try db.execute(readingsSQL, parameters)
        try db.execute(devicesSQL, parameters)
    }

    deinit { close() }

    private func close() {
        if open { _ = try? db.execute("ROLLBACK") }
        open = false
    }

    /// The next batch (up to `batchSize` events), in receipt order; empty once the period is read.
    public func next() throws -> [IngestEvent] {
        var out: [IngestEvent] = []
        out.reserveCapacity(batchSize)
        while out.count < batchSize {
            if readings.head == nil, !readings.done { try refill(&readings, cursor: "recorded_readings", Self.reading) }
            if devices.head == nil, !devices.done { try refill(&devices, cursor: "recorded_devices", Self.deviceEvent) }
            switch (readings.head, devices.head) {
            case (nil, nil):
                close()
                return out
            case (let r?, nil):
                out.append(r); readings.index += 1; readingCount += 1
            case (nil, let d?):
                out.append(d); devices.index += 1; deviceEventCount += 1
            case (let r?, let d?):
                if r.receivedAt <= d.receivedAt {
                    out.append(r); readings.index += 1; readingCount += 1
                } else {
                    out.append(d); devices.index += 1; deviceEventCount += 1
                }
            }
        }
        return out
    }

    private func refill(_ s: inout Stream, cursor: String, _ decode: ([String?]) -> IngestEvent?) throws {
        let rows = try db.execute("FETCH \(batchSize) FROM \(cursor)").rows
        s.done = rows.count < batchSize
        s.pending = rows.compactMap(decode)
        s.index = 0
    }

    static func deviceEvent(_ r: [String?]) -> IngestEvent? {
        guard let device = r[0], let kind = r[1], let received = r[2].flatMap(Int64.init) else { return nil }
        let time = r[3].flatMap(Int64.init)
        switch kind {
        case "status":
            guard let state = r[8].flatMap(DeviceStatus.State.init(rawValue:)) else { return nil }
            return .deviceStatus(DeviceStatus(deviceID: device, state: state, time: time, firmware: r[9],
                                              battery: r[10].flatMap(Double.init), receivedAt: received))
        case "alert":
            guard let code = r[4], let priority = r[6].flatMap(AlarmPriority.init(rawValue:)) else { return nil }
            return .deviceAlert(DeviceAlert(deviceID: device, patientID: r[5], code: code, priority: priority, message: r[7],
                                            time: time ?? received, receivedAt: received))
        default:
            return nil
        }
    }

    static func reading(_ r: [String?]) -> IngestEvent? { readingRow(r).map(IngestEvent.reading) }

    static func readingRow(_ r: [String?]) -> Reading? {
        guard let device = r[0], let patient = r[1], let seq = r[2].flatMap(Int64.init), let time = r[3].flatMap(Int64.init),
              let received = r[4].flatMap(Int64.init) else { return nil }
        let vitals = Vitals(heartRate: r[5].flatMap(Double.init), spo2: r[6].flatMap(Double.init), temperature: r[7].flatMap(Double.init),
                            respiratoryRate: r[8].flatMap(Double.init), systolicBP: r[9].flatMap(Double.init),
                            diastolicBP: r[10].flatMap(Double.init), onOxygen: r[11].map { $0 == "t" },
                            consciousness: r[12].flatMap(Consciousness.init(rawValue:)))
        return Reading(deviceID: device, patientID: patient, seq: seq, time: time, receivedAt: received, vitals: vitals)
    }

    /// The physiological alarms the live run stored for the period: what a replay with the rules
    /// in force must raise again.
    public static func storedAlarms(db: PostgresConnection, from: Int64, to: Int64, ward: String?) throws -> [(id: String, ruleSet: String?)] {
        var sql = """
            SELECT id, rule_set FROM alerts WHERE category = 'physiological'
               AND raised_at >= timestamptz 'epoch' + $1::bigint * interval '1 millisecond'
               AND raised_at <  timestamptz 'epoch' + $2::bigint * interval '1 millisecond'
            """
        var parameters = [String(from), String(to)]
        if let ward {
            sql += " AND patient_id IN (SELECT patient_id FROM patients WHERE ward = $3)"
            parameters.append(ward)
        }
        return try db.execute(sql, parameters).rows.compactMap { r in r[0].map { ($0, r[1]) } }
    }
}

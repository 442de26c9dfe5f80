import WardlineCore

/// The readings stored for a period, in the order Wardline received them, in batches: what
/// `wardline replay` runs through the engine again. Memory stays bounded by the batch: a
/// server-side cursor holds the rest (one sort of the period, streamed).
public final class RecordedReadings {
    private let db: PostgresConnection
    private var opened = false
    private var done = false
    public let batchSize: Int

    /// `ward`: only the patients the `patients` table places on that ward now.
    public init(db: PostgresConnection, from: Int64, to: Int64, ward: String?, batchSize: Int = 20_000) throws {
        self.db = db
        self.batchSize = batchSize
        // The device-time bound lets TimescaleDB skip the chunks outside the period (a day either
        // way covers wrong device clocks and backlogs); the order is by receipt.
        var sql = """
            DECLARE recorded NO SCROLL CURSOR FOR
            SELECT device_id, patient_id, seq, (extract(epoch FROM time) * 1000)::bigint,
                   (extract(epoch FROM received_at) * 1000)::bigint, hr, spo2, temp, rr, sbp, dbp, o2, acvpu
              FROM vitals
             WHERE received_at >= timestamptz 'epoch' + $1::bigint * interval '1 millisecond'
               AND received_at <  timestamptz 'epoch' + $2::bigint * interval '1 millisecond'
               AND time >= timestamptz 'epoch' + $1::bigint * interval '1 millisecond' - interval '1 day'
               AND time <  timestamptz 'epoch' + $2::bigint * interval '1 millisecond' + interval '1 day'
            """
        var parameters = [String(from), String(to)]
        if let ward {
            sql += " AND patient_id IN (SELECT patient_id FROM patients WHERE ward = $3)"
            parameters.append(ward)
        }
        sql += " ORDER BY received_at, device_id, seq"
        try db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        opened = true
        try db.execute(sql, parameters)
    }

    deinit { if opened { _ = try? db.execute("ROLLBACK") } }

    /// The next batch, in receipt order; empty once the period is read.
    public func next() throws -> [Reading] {
        guard !done else { return [] }
        let rows = try db.execute("FETCH \(batchSize) FROM recorded").rows
        if rows.count < batchSize {
            done = true
            _ = try? db.execute("ROLLBACK")
            opened = false
        }
        return rows.compactMap(Self.reading)
    }

    static func reading(_ r: [String?]) -> Reading? {
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

import WardlineCore
import WardlineEngine

/// One vital's mean over one hour from one device, and how many readings it is of.
public struct HourlyVital: Sendable, Equatable {
    public var mean: Double
    public var readings: Int
    public var min: Double
    public var max: Double
}

/// One device's readings of one patient in one hour.
public struct DeviceHour: Sendable {
    public var hourStart: Int64
    public var deviceID: String
    /// hr, spo2, rr, temp, sbp, dbp → mean (absent when no reading in the hour had it).
    public var vitals: [String: HourlyVital]
}

/// The FHIR export's reads: a patient's readings in key order from a page's start, or hourly means.
/// Each is one query over `vitals_patient_time`; the caller bounds the range and the page.
public final class ObservationQueries {
    public let db: PostgresConnection
    /// The columns a reading's Observations come from (and the only names a filter may use).
    public static let columns = ["hr", "spo2", "temp", "rr", "sbp", "dbp", "o2", "acvpu"]

    public init(db: PostgresConnection) { self.db = db }

    /// Up to `limit` readings of `patientID` in [from, to), ordered by (time, device, seq) from
    /// `after` on (inclusive), keeping those where every column of at least one group is present.
    public func readings(patientID: String, fromMillis: Int64, toMillis: Int64, startingAt after: (time: Int64, deviceID: String, seq: Int64)?,
                         anyOf groups: [[String]], limit: Int) throws -> [Reading] {
        var params: [String?] = [patientID, String(fromMillis), String(toMillis), String(limit)]
        var start = ""
        if let after {
            params += [String(after.time), after.deviceID, String(after.seq)]
            start = "AND (time, device_id, seq) >= (timestamptz 'epoch' + $5::bigint * interval '1 millisecond', $6, $7::bigint)"
        }
        let rows = try db.execute("""
            SELECT \(AlarmStore.millis("time")), device_id, seq, hr, spo2, temp, rr, sbp, dbp, o2, acvpu, \(AlarmStore.millis("received_at"))
            FROM vitals
            WHERE patient_id = $1
              AND time >= timestamptz 'epoch' + $2::bigint * interval '1 millisecond'
              AND time <  timestamptz 'epoch' + $3::bigint * interval '1 millisecond'
              \(start) AND (\(Self.present(groups)))
            ORDER BY time, device_id, seq LIMIT $4::int
            """, params).rows
        return rows.compactMap { r in
            guard let t = r[0].flatMap(Int64.init), let device = r[1], let seq = r[2].flatMap(Int64.init) else { return nil }
            let v = Vitals(heartRate: r[3].flatMap(Double.init), spo2: r[4].flatMap(Double.init), temperature: r[5].flatMap(Double.init),
                           respiratoryRate: r[6].flatMap(Double.init), systolicBP: r[7].flatMap(Double.init),
                           diastolicBP: r[8].flatMap(Double.init), onOxygen: r[9].map { $0 == "t" },
                           consciousness: r[10].flatMap(Consciousness.init(rawValue:)))
            return Reading(deviceID: device, patientID: patientID, seq: seq, time: t, receivedAt: r[11].flatMap(Int64.init) ?? t, vitals: v)
        }
    }

    /// TimescaleDB `time_bucket` means per hour and device, ordered by (hour, device) from `after`
    /// on (inclusive), for hours where one of `columns` has a reading. The first and last hours
    /// hold only the readings inside [from, to).
    public func hourlyMeans(patientID: String, fromMillis: Int64, toMillis: Int64, startingAt after: (hour: Int64, deviceID: String)?,
                            columns: [String], limit: Int) throws -> [DeviceHour] {
        let vitals = HistoryQueries.vitalColumns.filter(columns.contains)
        guard !vitals.isEmpty else { return [] }
        // Rows before the page's hour cannot be in it: start the scan there.
        let from = max(fromMillis, after?.hour ?? fromMillis)
        var params: [String?] = [patientID, String(from), String(toMillis), String(limit),
                                 try RollupStore(db: db).watermark().map { String($0) }]
        var start = ""
        // From the minute rollups where complete, raw readings elsewhere (`RollupMinutes`): a
        // long range no longer reads every reading, and outlives the raw retention.
        if let after {
            params += [String(after.hour), after.deviceID]
            start = "AND (time_bucket(interval '1 hour', t), device_id) >= (timestamptz 'epoch' + $6::bigint * interval '1 millisecond', $7)"
        }
        let present = vitals.map { "sum(\($0)_n) > 0" }.joined(separator: " OR ")
        let rows = try db.execute("""
            WITH \(RollupMinutes.cte(watermark: 5))
            SELECT \(AlarmStore.millis("time_bucket(interval '1 hour', t)")) AS hour, device_id,
                   \(vitals.map { RollupMinutes.spread($0) }.joined(separator: ", "))
            FROM minutes
            GROUP BY time_bucket(interval '1 hour', t), device_id
            HAVING (\(present)) \(start)
            ORDER BY 1, 2 LIMIT $4::int
            """, params).rows
        return rows.compactMap { r in
            guard let hour = r[0].flatMap(Int64.init), let device = r[1] else { return nil }
            var means: [String: HourlyVital] = [:]
            for (i, name) in vitals.enumerated() {
                let at = 2 + i * 4
                guard let n = r[at].flatMap(Int.init), n > 0, let lo = r[at + 1].flatMap(Double.init),
                      let avg = r[at + 2].flatMap(Double.init), let hi = r[at + 3].flatMap(Double.init) else { continue }
                means[name] = HourlyVital(mean: avg, readings: n, min: lo, max: hi)
            }
            return DeviceHour(hourStart: hour, deviceID: device, vitals: means)
        }
    }

    /// The SpO2 scale the patient is scored on now (scale 1 unless a clinician set scale 2).
    public func spo2Scale(patientID: String) throws -> SpO2Scale {
        let scale = try db.execute("SELECT spo2_scale FROM patient_settings WHERE patient_id = $1", [patientID]).rows.first?[0]
        return scale.flatMap(Int.init).flatMap(SpO2Scale.init(rawValue:)) ?? .scale1
    }

    /// `(a IS NOT NULL AND b IS NOT NULL) OR (…)`, from the fixed column names only.
    static func present(_ groups: [[String]]) -> String {
        let clauses = groups.map { group in
            group.filter(columns.contains).map { "\($0) IS NOT NULL" }.joined(separator: " AND ")
        }.filter { !$0.isEmpty }
        return clauses.isEmpty ? "false" : clauses.map { "(\($0))" }.joined(separator: " OR ")
    }
}

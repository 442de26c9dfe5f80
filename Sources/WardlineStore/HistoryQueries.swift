import Foundation
import WardlineEngine
import WardlineWard

/// min / avg / max of one vital over one time bucket.
public struct VitalSpread: Sendable, Equatable {
    public var min: Double
    public var avg: Double
    public var max: Double
}

/// One `time_bucket` of a patient's vitals.
public struct VitalsBucket: Sendable {
    public var time: Int64
    public var count: Int
    /// hr, spo2, rr, temp, sbp, dbp → spread (absent when no reading in the bucket had it).
    public var vitals: [String: VitalSpread]
}

/// A device, its latest status and the patient it is admitted to.
public struct DeviceRow: Sendable {
    public var deviceID: String
    public var state: String?
    public var battery: Double?
    public var firmware: String?
    public var updatedAt: Int64?
    public var patientID: String?
    public var ward: String?
    public var bed: String?
}

/// One record of an alarm's history.
public struct AlarmHistoryRow: Sendable {
    public var revision: Int
    public var kind: String
    public var fromState: String?
    public var toState: String
    public var priority: String
    public var at: Int64
    public var byUser: String?
    public var value: Double?
    public var threshold: Double?
    public var escalationLevel: Int
}

/// The REST API's reads: history in buckets, alarms by filter, devices. Each is one query.
public final class HistoryQueries {
    public let db: PostgresConnection
    public static let vitalColumns = ["hr", "spo2", "rr", "temp", "sbp", "dbp"]

    public init(db: PostgresConnection) { self.db = db }

    private static func millis(_ column: String) -> String { AlarmStore.millis(column) }

    /// Ranges longer than this (with a bucket of whole minutes) are read from the minute rollups.
    public static let rollupBeyondMillis: Int64 = 6 * 3600 * 1000

    /// Whether `vitals` reads the minute rollups: the bucket is whole minutes (so minutes nest in
    /// it) and the range is longer than 6 hours, or starts more than a day ago (the shortest raw
    /// retention allowed, so raw chunks may be gone).
    public static func readsRollups(fromMillis: Int64, toMillis: Int64, bucketSeconds: Int, nowMillis: Int64) -> Bool {
        bucketSeconds >= 60 && bucketSeconds % 60 == 0
            && (toMillis - fromMillis > rollupBeyondMillis || fromMillis < nowMillis - 86_400_000)
    }

    /// TimescaleDB `time_bucket` min/avg/max of each vital, oldest first. Long ranges come from
    /// the minute rollups (`RollupMinutes`), the mean weighted by each minute's readings.
    public func vitals(patientID: String, fromMillis: Int64, toMillis: Int64, bucketSeconds: Int,
                       nowMillis: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) throws -> [VitalsBucket] {
        let rows: [[String?]]
        if Self.readsRollups(fromMillis: fromMillis, toMillis: toMillis, bucketSeconds: bucketSeconds, nowMillis: nowMillis) {
            let watermark = try RollupStore(db: db).watermark().map { String($0) }
            rows = try db.execute("""
                WITH \(RollupMinutes.cte(watermark: 5))
                SELECT \(Self.millis("time_bucket(make_interval(secs => $4::int), t)")) AS b, sum(n),
                       \(Self.vitalColumns.map { RollupMinutes.spread($0) }.joined(separator: ", "))
                FROM minutes GROUP BY b ORDER BY b
                """, [patientID, String(fromMillis), String(toMillis), String(bucketSeconds), watermark]).rows
        } else {
            rows = try rawVitals(patientID: patientID, fromMillis: fromMillis, toMillis: toMillis, bucketSeconds: bucketSeconds)
        }
        return rows.compactMap { r in
            guard let t = r[0].flatMap(Int64.init) else { return nil }
            var vitals: [String: VitalSpread] = [:]
            for (i, name) in Self.vitalColumns.enumerated() {
                let at = 2 + i * 4
                if let n = r[at].flatMap(Int.init), n > 0, let lo = r[at + 1].flatMap(Double.init),
                   let avg = r[at + 2].flatMap(Double.init), let hi = r[at + 3].flatMap(Double.init) {
                    vitals[name] = VitalSpread(min: lo, avg: avg, max: hi)
                }
            }
            return VitalsBucket(time: t, count: r[1].flatMap(Int.init) ?? 0, vitals: vitals)
        }
    }

    private func rawVitals(patientID: String, fromMillis: Int64, toMillis: Int64, bucketSeconds: Int) throws -> [[String?]] {
        let aggregates = Self.vitalColumns.map { "count(\($0)), min(\($0)), avg(\($0)), max(\($0))" }.joined(separator: ", ")
        return try db.execute("""
            SELECT \(Self.millis("time_bucket(make_interval(secs => $4::int), time)")) AS b, count(*), \(aggregates)
            FROM vitals
            WHERE patient_id = $1
              AND time >= timestamptz 'epoch' + $2::bigint * interval '1 millisecond'
              AND time <  timestamptz 'epoch' + $3::bigint * interval '1 millisecond'
            GROUP BY b ORDER BY b
            """, [patientID, String(fromMillis), String(toMillis), String(bucketSeconds)]).rows
    }

    public struct AlarmFilter: Sendable {
        /// open (active or acknowledged), active, acknowledged, resolved, or nil for all.
        public var state: String?
        public var patientIDs: [String]?
        public var priority: String?
        public var limit = 200
        public init() {}
    }

    public func alarms(_ f: AlarmFilter) throws -> [Alarm] {
        var conditions: [String] = []
        var params: [String?] = []
        switch f.state {
        case "open"?: conditions.append("state <> 'resolved'")
        case let s?:
            params.append(s)
            conditions.append("state = $\(params.count)")
        case nil: break
        }
        if let ids = f.patientIDs {
            params.append("{" + ids.map { "\"" + $0.replacingOccurrences(of: "\"", with: "") + "\"" }.joined(separator: ",") + "}")
            conditions.append("patient_id = ANY($\(params.count)::text[])")
        }
        if let p = f.priority {
            params.append(p)
            conditions.append("priority = $\(params.count)")
        }
        params.append(String(f.limit))
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try db.execute("""
            SELECT \(AlarmStore.selectColumns) FROM alerts \(whereClause)
            ORDER BY raised_at DESC LIMIT $\(params.count)::int
            """, params).rows.compactMap(AlarmStore.alarm)
    }

    public func alarm(id: String) throws -> Alarm? {
        try db.execute("SELECT \(AlarmStore.selectColumns) FROM alerts WHERE id = $1", [id]).rows.first.flatMap(AlarmStore.alarm)
    }

    public func alarmHistory(id: String) throws -> [AlarmHistoryRow] {
        try db.execute("""
            SELECT revision, kind, from_state, to_state, priority, \(Self.millis("at")), by_user, value, threshold, escalation_level
            FROM alert_transitions WHERE alert_id = $1 ORDER BY revision
            """, [id]).rows.compactMap { r in
            guard let rev = r[0].flatMap(Int.init), let kind = r[1], let to = r[3], let pr = r[4], let at = r[5].flatMap(Int64.init)
            else { return nil }
            return AlarmHistoryRow(revision: rev, kind: kind, fromState: r[2], toState: to, priority: pr, at: at, byUser: r[6],
                                   value: r[7].flatMap(Double.init), threshold: r[8].flatMap(Double.init),
                                   escalationLevel: r[9].flatMap(Int.init) ?? 0)
        }
    }

    /// Every device that reported a status or has an open assignment.
    public func devices() throws -> [DeviceRow] {
        try db.execute("""
            SELECT coalesce(s.device_id, a.device_id), s.state, s.battery, s.firmware, \(Self.millis("s.updated_at")),
                   a.patient_id, p.ward, coalesce(p.bed, a.bed)
            FROM device_status s
            FULL JOIN (SELECT * FROM device_assignments WHERE discharged_at IS NULL) a ON a.device_id = s.device_id
            LEFT JOIN patients p ON p.patient_id = a.patient_id
            ORDER BY 1
            """).rows.compactMap { r in
            guard let id = r[0] else { return nil }
            return DeviceRow(deviceID: id, state: r[1], battery: r[2].flatMap(Double.init), firmware: r[3],
                             updatedAt: r[4].flatMap(Int64.init), patientID: r[5], ward: r[6], bed: r[7])
        }
    }

    /// The patient a device serves now, where they lie (the ward recorded with the assignment
    /// when the patient has left the ward; "" when even that is unknown); nil when unassigned.
    public func currentPlace(ofDevice deviceID: String) throws -> PatientPlace? {
        try db.execute("""
            SELECT a.patient_id, coalesce(p.ward, a.ward, ''), coalesce(p.bed, a.bed)
            FROM device_assignments a LEFT JOIN patients p ON p.patient_id = a.patient_id
            WHERE a.device_id = $1 AND a.discharged_at IS NULL
            """, [deviceID]).rows.first.flatMap { r in
            guard let patient = r[0], let ward = r[1] else { return nil }
            return PatientPlace(patientID: patient, ward: ward, bed: r[2])
        }
    }

    /// Admits a device to a patient (closing its previous assignment), or discharges it (nil).
    public func assignDevice(_ deviceID: String, to patientID: String?) throws {
        try db.transaction {
            try db.execute("UPDATE device_assignments SET discharged_at = now() WHERE device_id = $1 AND discharged_at IS NULL", [deviceID])
            if let patientID {
                try db.execute("""
                    INSERT INTO device_assignments (device_id, patient_id, ward, bed)
                    SELECT $1, $2, p.ward, p.bed FROM (SELECT 1) x LEFT JOIN patients p ON p.patient_id = $2
                    """, [deviceID, patientID])
            }
        }
    }
}

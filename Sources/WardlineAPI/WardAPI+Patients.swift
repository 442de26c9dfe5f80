import Foundation
import WardlineCore
import WardlineHub
import WardlineStore
import WardlineWard

/// Patients: who the caller may see, admission to a ward and bed, history, NEWS2, care assignments.
extension WardAPI {
    func me(_ c: Call) throws -> HTTPResult {
        let p = who(c)
        return .data(Me(user: WireFormat.User(p), patients: context.directory.current.visiblePatients(for: p).map(WireFormat.place)))
    }

    func patients(_ c: Call) throws -> HTTPResult {
        .data(context.directory.current.visiblePatients(for: who(c)).map(WireFormat.place))
    }

    func admit(_ c: Call, _ db: PostgresConnection?) throws -> HTTPResult {
        let id = c.param("patient_id")
        try checkID(id, "patient_id")
        let b = try body(c)
        let ward = try idField(b, "ward")!
        let bed = try idField(b, "bed", required: false)
        let store = WardStore(db: try need(db))
        try authorise(c, .admit(to: PatientPlace(patientID: id, ward: ward, bed: bed), from: try store.patient(id)))
        try store.admit(PatientPlace(patientID: id, ward: ward, bed: bed), by: who(c).userID)
        context.directoryChanged()
        return .data(WireFormat.place(PatientPlace(patientID: id, ward: ward, bed: bed)), message: "patient admitted")
    }

    func discharge(_ c: Call, _ db: PostgresConnection?) throws -> HTTPResult {
        let id = c.param("patient_id")
        let store = WardStore(db: try need(db))
        guard let current = try store.patient(id) else { throw APIError.notFound("patient \(id) is not admitted") }
        try authorise(c, .discharge(current))
        try store.discharge(id)
        context.directoryChanged()
        return .data(["patient_id": id], message: "patient discharged")
    }

    func vitalsHistory(_ c: Call, _ db: PostgresConnection?) throws -> HTTPResult {
        let id = c.param("patient_id")
        try requireView(c, id)
        let q = c.request.query
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let to = try q["to"].map { s in
            guard let v = ISO8601.parse(s.removingPercentEncoding ?? s) else { throw APIError.validation("to", "must be ISO 8601 or epoch milliseconds") }
            return v
        } ?? now
        let from = try q["from"].map { s in
            guard let v = ISO8601.parse(s.removingPercentEncoding ?? s) else { throw APIError.validation("from", "must be ISO 8601 or epoch milliseconds") }
            return v
        } ?? (to - 3_600_000)
        guard from < to else { throw APIError.validation("from", "must be before to") }
        guard to - from <= 31 * 86_400_000 else { throw APIError.validation("from", "a query spans at most 31 days") }
        let bucket = try q["bucket"].map(Self.seconds) ?? max(1, Int((to - from) / 1000 / 240))
        guard (to - from) / 1000 / Int64(bucket) <= 10_000 else {
            throw APIError.validation("bucket", "too small for the range: at most 10,000 buckets")
        }
        let buckets = try HistoryQueries(db: try need(db)).vitals(patientID: id, fromMillis: from, toMillis: to, bucketSeconds: bucket)
        return .data(Self.vitalsHistory(patientID: id, bucketSeconds: bucket, from: from, to: to, buckets: buckets))
    }

    static func vitalsHistory(patientID id: String, bucketSeconds bucket: Int, from: Int64, to: Int64, buckets: [VitalsBucket]) -> VitalsHistory {
        VitalsHistory(patient_id: id, bucket_seconds: bucket, from: from, to: to, points: buckets.map(VitalsHistory.Point.init))
    }

    /// `time_bucket` min/avg/max per vital; a vital with no reading in a bucket is null.
    struct VitalsHistory: Encodable {
        struct Spread: Encodable {
            let min, avg, max: Double
        }

        struct Point: Encodable {
            let bucket: VitalsBucket

            init(_ b: VitalsBucket) { bucket = b }

            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: NamedKey.self)
                try c.encode(bucket.time, forKey: NamedKey("time"))
                try c.encode(bucket.count, forKey: NamedKey("count"))
                for name in HistoryQueries.vitalColumns {
                    try c.encode(bucket.vitals[name].map { Spread(min: $0.min, avg: $0.avg, max: $0.max) }, forKey: NamedKey(name))
                }
            }
        }

        let patient_id: String
        let bucket_seconds: Int
        let from: Int64
        let to: Int64
        let points: [Point]
    }

    /// `60`, `60s`, `5m`, `1h`.
    static func seconds(_ s: String) throws -> Int {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600]
        var digits = Substring(s)
        var factor = 1
        if let last = s.last, let f = units[last] { factor = f; digits = s.dropLast() }
        guard let n = Int(digits), n > 0, n * factor <= 86_400 else {
            throw APIError.validation("bucket", "must be a duration such as 30s, 5m or 1h, at most 1 day")
        }
        return n * factor
    }

    func news2(_ c: Call) throws -> HTTPResult {
        let id = c.param("patient_id")
        try requireView(c, id)
        guard let latest = context.latestScore(id) else { throw APIError.notFound("no scored reading for patient \(id) since Wardline started") }
        return .data(LatestNews2(patient_id: id, time: latest.time, device_id: latest.deviceID, news2: latest.news2))
    }

    func careAssignments(_ c: Call, _ db: PostgresConnection?) throws -> HTTPResult {
        let p = who(c)
        let filterUser = c.request.query["user_id"]
        let directory = context.directory.current
        let rows = try WardStore(db: try need(db)).careAssignments().filter { row in
            (filterUser == nil || row.user == filterUser) && (row.user == p.userID || directory.mayView(p, row.patient))
        }
        return .data(rows.map { ["user_id": $0.user, "patient_id": $0.patient] })
    }

    func assignCare(_ c: Call, _ db: PostgresConnection?) throws -> HTTPResult {
        let b = try body(c)
        let user = try idField(b, "user_id")!
        let patient = try idField(b, "patient_id")!
        let store = WardStore(db: try need(db))
        guard let place = try store.patient(patient) else {
            throw APIError(409, "patient_not_admitted", "patient \(patient) must be admitted to a ward before care can be assigned")
        }
        try authorise(c, .manageCare(place))
        try store.assignCare(user: user, patient: patient, by: who(c).userID)
        context.directoryChanged()
        return .data(["user_id": user, "patient_id": patient], status: 201, message: "care assigned")
    }

    func endCare(_ c: Call, _ db: PostgresConnection?) throws -> HTTPResult {
        let store = WardStore(db: try need(db))
        let patient = c.param("patient_id")
        try authorise(c, .manageCare(try store.patient(patient)))
        guard try store.endCare(user: c.param("user_id"), patient: patient) else {
            throw APIError.notFound("no care assignment of \(patient) to \(c.param("user_id"))")
        }
        context.directoryChanged()
        return .data(["user_id": c.param("user_id"), "patient_id": patient], message: "care assignment ended")
    }

    struct Me: Encodable {
        let user: WireFormat.User
        let patients: [WireFormat.Place]
    }

    struct LatestNews2: Encodable {
        let patient_id: String
        let time: Int64
        let device_id: String
        let news2: News2Body
    }
}

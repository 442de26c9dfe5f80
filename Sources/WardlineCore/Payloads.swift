/// The wire shapes of device payloads (DESIGN "MQTT contract"). Field names are the contract's.
struct VitalsPayload: Decodable, Equatable {
    let v: Int?
    let seq: Int64
    let ts: Int64
    let patient_id: String?
    let hr: Double?
    let spo2: Double?
    let temp: Double?
    let rr: Double?
    let sbp: Double?
    let dbp: Double?
    let o2: Bool?
    let acvpu: String?
    let tx_us: Int64?

    struct Problem: Error { let reason: RejectReason; let detail: String }

    func timeProblem(receivedAt: Int64, maxFutureSkew: Int64) -> (RejectReason, String)? {
        if ts < PlausibleRange.earliestTime { return (.invalidTimestamp, "ts \(ts) is before 2000-01-01: device clock not set") }
        if ts > receivedAt + maxFutureSkew {
            return (.futureTimestamp, "ts is \((ts - receivedAt) / 1000) s ahead of Wardline's clock (limit \(maxFutureSkew / 1000) s)")
        }
        return nil
    }

    func vitals() -> Result<Vitals, Problem> {
        let checks: [(String, Double?, ClosedRange<Double>)] = [
            ("hr", hr, PlausibleRange.heartRate), ("spo2", spo2, PlausibleRange.spo2),
            ("temp", temp, PlausibleRange.temperature), ("rr", rr, PlausibleRange.respiratoryRate),
            ("sbp", sbp, PlausibleRange.systolicBP), ("dbp", dbp, PlausibleRange.diastolicBP),
        ]
        for (name, value, range) in checks {
            if let value, !range.contains(value) {
                return .failure(Problem(reason: .impossibleValue,
                                        detail: "\(name) \(plain(value)) is outside \(plain(range.lowerBound))-\(plain(range.upperBound))"))
            }
        }
        var consciousness: Consciousness?
        if let acvpu {
            guard let level = Consciousness(rawValue: acvpu) else {
                return .failure(Problem(reason: .impossibleValue, detail: "acvpu '\(DeviceText.hint(acvpu, keep: 8))' is not one of A, C, V, P, U"))
            }
            consciousness = level
        }
        if hr == nil, spo2 == nil, temp == nil, rr == nil, sbp == nil, dbp == nil, o2 == nil, acvpu == nil {
            return .failure(Problem(reason: .missingField, detail: "reading carries no vital sign"))
        }
        return .success(Vitals(heartRate: hr, spo2: spo2, temperature: temp, respiratoryRate: rr,
                               systolicBP: sbp, diastolicBP: dbp, onOxygen: o2, consciousness: consciousness))
    }
}

struct StatusPayload: Decodable {
    let v: Int?
    let state: String
    let ts: Int64?
    let firmware: String?
    let battery: Double?
}

struct AlertPayload: Decodable {
    let v: Int?
    let ts: Int64?
    let code: String
    let priority: String?
    let message: String?
}

/// 101 rather than 101.0 in messages people read.
func plain(_ v: Double) -> String {
    v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
}

import Foundation
import WardlineEngine
import WardlineHub
import WardlineStore

/// Alarms: the list (by state, patient, priority), one alarm with its history, acknowledgement.
extension WardAPI {
    func alarms(_ c: Call, _ db: PostgresConnection?) throws -> HTTPResult {
        let q = c.request.query
        var f = HistoryQueries.AlarmFilter()
        if let s = q["state"] {
            guard ["open", "active", "acknowledged", "resolved", "all"].contains(s) else {
                throw APIError.validation("state", "must be open, active, acknowledged, resolved or all")
            }
            f.state = s == "all" ? nil : s
        } else {
            f.state = "open"
        }
        if let p = q["priority"] {
            guard ["high", "medium", "low"].contains(p) else { throw APIError.validation("priority", "must be high, medium or low") }
            f.priority = p
        }
        if let l = q["limit"] {
            guard let n = Int(l), (1...1000).contains(n) else { throw APIError.validation("limit", "must be 1…1000") }
            f.limit = n
        }
        let p = who(c)
        let directory = context.directory.current
        if let patient = q["patient_id"] {
            try requireView(c, patient)
            f.patientIDs = [patient]
        } else if p.role.reach != .hospital {
            f.patientIDs = directory.visiblePatients(for: p).map(\.patientID)
        }
        let rows = try HistoryQueries(db: try need(db)).alarms(f).filter { a in
            context.policy.allows(p, .viewAlarm(patientID: a.patientID), in: directory)
        }
        return .data(rows.map { AlarmBody($0) })
    }

    func alarm(_ c: Call, _ db: PostgresConnection?) throws -> HTTPResult {
        let queries = HistoryQueries(db: try need(db))
        guard let a = try queries.alarm(id: c.param("alarm_id")) else { throw APIError.notFound("no alarm \(c.param("alarm_id"))") }
        try authorise(c, .viewAlarm(patientID: a.patientID))
        return .data(Self.alarmDetail(a, history: try queries.alarmHistory(id: a.id)))
    }

    /// One alarm as the socket describes it, with its history.
    static func alarmDetail(_ a: Alarm, history: [AlarmHistoryRow]) -> AlarmDetail {
        AlarmDetail(alarm: AlarmBody(a), history: history.map(AlarmDetail.Entry.init))
    }

    /// The alarm's own fields and `history` beside them.
    struct AlarmDetail: Encodable {
        struct Entry: Encodable {
            let revision: Int
            let kind: String
            let from_state: String?
            let to_state: String
            let priority: String
            let at: Int64
            let by: String?
            let value: Double?
            let threshold: Double?
            let escalation_level: Int

            init(_ h: AlarmHistoryRow) {
                revision = h.revision
                kind = h.kind
                from_state = h.fromState
                to_state = h.toState
                priority = h.priority
                at = h.at
                by = h.byUser
                value = h.value
                threshold = h.threshold
                escalation_level = h.escalationLevel
            }
        }

        let alarm: AlarmBody
        let history: [Entry]

        enum CodingKeys: String, CodingKey { case history }

        func encode(to encoder: any Encoder) throws {
            try alarm.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(history, forKey: .history)
        }
    }

    func acknowledge(_ c: Call, _ db: PostgresConnection?) throws -> HTTPResult {
        let id = c.param("alarm_id")
        guard let stored = try HistoryQueries(db: try need(db)).alarm(id: id) else { throw APIError.notFound("no alarm \(id)") }
        // Checked here against the stored alarm, and again by the engine's thread against the
        // open one (the path the WebSocket's acknowledgements take too).
        try authorise(c, .acknowledgeAlarm(patientID: stored.patientID))
        switch context.acknowledge(id, who(c)) {
        case .success(let a): return .data(AlarmBody(a), message: "alarm acknowledged")
        case .failure(let e): throw e
        }
    }
}

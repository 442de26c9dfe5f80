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
        let encoder = FrameEncoder()
        return .data(rows.map(encoder.alarmObject))
    }

    func alarm(_ c: Call, _ db: PostgresConnection?) throws -> HTTPResult {
        let queries = HistoryQueries(db: try need(db))
        guard let a = try queries.alarm(id: c.param("alarm_id")) else { throw APIError.notFound("no alarm \(c.param("alarm_id"))") }
        try authorise(c, .viewAlarm(patientID: a.patientID))
        return .data(Self.alarmDetail(a, history: try queries.alarmHistory(id: a.id)))
    }

    /// One alarm as the socket describes it, with its history.
    static func alarmDetail(_ a: Alarm, history: [AlarmHistoryRow]) -> Any {
        var d = FrameEncoder().alarmObject(a) as? [String: Any] ?? [:]
        d["history"] = history.map { h -> [String: Any] in
            var e: [String: Any] = ["revision": h.revision, "kind": h.kind, "to_state": h.toState, "priority": h.priority,
                                    "at": h.at, "escalation_level": h.escalationLevel]
            e["from_state"] = h.fromState
            e["by"] = h.byUser
            e["value"] = h.value
            e["threshold"] = h.threshold
            return e
        }
        return d
    }

    func acknowledge(_ c: Call, _ db: PostgresConnection?) throws -> HTTPResult {
        let id = c.param("alarm_id")
        guard let stored = try HistoryQueries(db: try need(db)).alarm(id: id) else { throw APIError.notFound("no alarm \(id)") }
        // Checked here against the stored alarm, and again by the engine's thread against the
        // open one (the path the WebSocket's acknowledgements take too).
        try authorise(c, .acknowledgeAlarm(patientID: stored.patientID))
        switch context.acknowledge(id, who(c)) {
        case .success(let a): return .data(FrameEncoder().alarmObject(a), message: "alarm acknowledged")
        case .failure(let e): throw e
        }
    }
}

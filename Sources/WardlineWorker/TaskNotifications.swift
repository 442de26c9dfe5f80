import Foundation
import WardlineNotify
import WardlineStore
import WardlineTasks

/// What the delivery channels send: the page a gateway turns into pager messages, and the ward
/// summary. JSON with snake_case keys; `job_id` lets the gateway drop a repeated delivery.
package enum TaskNotifications {
    package static func page(_ job: TaskJob, roster: OnCallRoster, now: Int64) -> ClinicalNotice {
        let tier = job.tier ?? .onCall
        let a = job.alarm
        let who = a?.patientID.map { "patient \($0)" } ?? a?.deviceID.map { "device \($0)" } ?? "unknown patient"
        let text = tier == .onCall
            ? "\(a?.priority.uppercased() ?? "") ALARM \(who): \(a?.message ?? "")"
            : "ESCALATION to \(tier.rawValue): unacknowledged \(a?.priority ?? "") alarm \(who): \(a?.message ?? "")"
        var body: [String: Any] = [
            "job_id": job.jobID, "kind": "page", "tier": tier.rawValue, "level": tier.level,
            "recipients": roster.recipients(tier), "text": text, "sent_at": now,
        ]
        if let a, let alarm = try? JSONSerialization.jsonObject(with: JSONEncoder().encode(a)) { body["alarm"] = alarm }
        let logLine = "\(a?.priority.uppercased() ?? "") alarm \(a?.alertID ?? "-") (\(a?.ruleID ?? "-")) \(who) to \(tier.rawValue): "
            + roster.recipients(tier).joined(separator: ", ")
        return ClinicalNotice(jobID: job.jobID, kind: "page", text: text, logLine: logLine, json: json(body))
    }

    /// A page to the technical on-call about the alarm system itself (serve silent or stalled, its
    /// heartbeats unreadable), and the message when it works again. No patient data.
    package static func system(_ notice: ServeWatch.Notice, recipients: [String], now: Int64) -> ClinicalNotice {
        var body: [String: Any] = ["kind": "system_alarm", "role": "technical_on_call", "recipients": recipients,
                                   "subject": notice.subject, "sent_at": now]
        let text: String
        let key: String
        switch notice {
        case .failure(let subject, let reason, let since):
            text = "ALARM SYSTEM FAILURE: \(subject == ServeWatch.database ? "the database" : "wardline serve \(subject)"): \(reason). "
                + "Alarms may not be raised, shown or paged: watch the bedside monitors."
            body["state"] = "failure"
            body["reason"] = reason
            body["since"] = since
            key = "failure#\(since)"
        case .recovered(let subject, let how, let outage):
            text = "Alarm system recovered: \(subject == ServeWatch.database ? "the database" : "wardline serve \(subject)") \(how) after \(outage / 1000) s."
            body["state"] = "recovered"
            body["how"] = how
            body["outage_ms"] = outage
            key = "recovered#\(now - outage)"
        }
        let jobID = AlarmTasks.id("system#\(notice.subject)#\(key)")
        body["job_id"] = jobID
        body["text"] = text
        return ClinicalNotice(jobID: jobID, kind: "system_alarm", text: text, logLine: text, json: json(body))
    }

    package static func summary(_ job: TaskJob, lines: [TaskQueries.WardLine], end: Int64) -> ClinicalNotice {
        let raised = lines.reduce(0) { $0 + $1.raised }
        let acknowledged = lines.reduce(0) { $0 + $1.acknowledged }
        let text = "Ward summary, 24 h to \(Date(timeIntervalSince1970: Double(end) / 1000)): \(raised) alarms, \(acknowledged) acknowledged"
        let wards = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(lines))) ?? []
        return ClinicalNotice(jobID: job.jobID, kind: "ward_summary", text: text, logLine: text,
                            json: json(["job_id": job.jobID, "kind": "ward_summary", "period_end": end, "period_hours": 24,
                                        "text": text, "wards": wards]))
    }

    private static func json(_ object: [String: Any]) -> [UInt8] {
        Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))
    }
}

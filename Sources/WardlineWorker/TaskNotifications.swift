import Foundation
import WardlineCore
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
        let body = Page(job_id: job.jobID, tier: tier.rawValue, level: tier.level, recipients: roster.recipients(tier), text: text,
                        sent_at: now, alarm: a)
        let logLine = "\(a?.priority.uppercased() ?? "") alarm \(a?.alertID ?? "-") (\(a?.ruleID ?? "-")) \(who) to \(tier.rawValue): "
            + roster.recipients(tier).joined(separator: ", ")
        return ClinicalNotice(jobID: job.jobID, kind: "page", text: text, logLine: logLine, json: JSONText.encode(body, .sorted))
    }

    /// A page to the technical on-call about the alarm system itself (serve silent or stalled, its
    /// heartbeats unreadable), and the message when it works again. No patient data.
    package static func system(_ notice: ServeWatch.Notice, recipients: [String], now: Int64) -> ClinicalNotice {
        var body = SystemAlarm(recipients: recipients, subject: notice.subject, sent_at: now)
        let text: String
        let key: String
        switch notice {
        case .failure(let subject, let reason, let since):
            text = "ALARM SYSTEM FAILURE: \(subject == ServeWatch.database ? "the database" : "wardline serve \(subject)"): \(reason). "
                + "Alarms may not be raised, shown or paged: watch the bedside monitors."
            body.state = "failure"
            body.reason = reason
            body.since = since
            key = "failure#\(since)"
        case .recovered(let subject, let how, let outage):
            text = "Alarm system recovered: \(subject == ServeWatch.database ? "the database" : "wardline serve \(subject)") \(how) after \(outage / 1000) s."
            body.state = "recovered"
            body.how = how
            body.outage_ms = outage
            key = "recovered#\(now - outage)"
        }
        let jobID = AlarmTasks.id("system#\(notice.subject)#\(key)")
        body.job_id = jobID
        body.text = text
        return ClinicalNotice(jobID: jobID, kind: "system_alarm", text: text, logLine: text, json: JSONText.encode(body, .sorted))
    }

    package static func summary(_ job: TaskJob, lines: [TaskQueries.WardLine], end: Int64) -> ClinicalNotice {
        let raised = lines.reduce(0) { $0 + $1.raised }
        let acknowledged = lines.reduce(0) { $0 + $1.acknowledged }
        let text = "Ward summary, 24 h to \(Date(timeIntervalSince1970: Double(end) / 1000)): \(raised) alarms, \(acknowledged) acknowledged"
        let body = Summary(job_id: job.jobID, period_end: end, text: text, wards: lines.map { SummaryWard(line: $0, end: end) })
        return ClinicalNotice(jobID: job.jobID, kind: "ward_summary", text: text, logLine: text, json: JSONText.encode(body, .sorted))
    }

    // What the channels deliver, keys sorted; what is not known is left out.

    struct Page: Encodable {
        let job_id: String
        var kind = "page"
        let tier: String
        let level: Int
        let recipients: [String]
        let text: String
        let sent_at: Int64
        let alarm: AlarmBrief?
    }

    /// A `system_alarm`: `state` failure (with `reason`, `since`) or recovered (`how`, `outage_ms`).
    struct SystemAlarm: Encodable {
        var kind = "system_alarm"
        var role = "technical_on_call"
        let recipients: [String]
        let subject: String
        let sent_at: Int64
        var job_id = ""
        var text = ""
        var state = ""
        var reason: String?
        var since: Int64?
        var how: String?
        var outage_ms: Int64?
    }

    struct Summary: Encodable {
        let job_id: String
        var kind = "ward_summary"
        let period_end: Int64
        var period_hours = 24
        let text: String
        let wards: [SummaryWard]
    }

    /// A ward's line with where to read its alarm-burden report for the same 24 hours: the page
    /// (`report`, relative to the ward page's origin) and the REST path (`report_api`). None for
    /// "unassigned", which is no ward.
    struct SummaryWard: Encodable {
        let line: TaskQueries.WardLine
        let end: Int64

        enum CodingKeys: String, CodingKey { case report, report_api }

        /// RFC 3986's unreserved characters, ASCII only: what a query value may carry unescaped.
        static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

        func encode(to encoder: any Encoder) throws {
            try line.encode(to: encoder)
            guard line.ward != "unassigned" else { return }
            // Ward ids are id characters already (admission checks them); escaped anyway, as a link.
            let ward = line.ward.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? ""
            let query = "ward=\(ward)&from=\(end - 86_400_000)&to=\(end)"
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode("/reports.html?" + query, forKey: .report)
            try c.encode("/api/v1/reports/alarm-burden?" + query, forKey: .report_api)
        }
    }
}

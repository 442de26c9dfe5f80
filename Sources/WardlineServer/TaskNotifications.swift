import Foundation
import WardlineNotify
import WardlineStore
import WardlineTasks

/// What the delivery channels send: the page a gateway turns into pager messages, and the ward
/// summary. JSON with snake_case keys; `job_id` lets the gateway drop a repeated delivery.
enum TaskNotifications {
    static func page(_ job: TaskJob, roster: OnCallRoster, now: Int64) -> ClinicalNotice {
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
        return ClinicalNotice(jobID: job.jobID, kind: "page", text: text, json: json(body))
    }

    static func summary(_ job: TaskJob, lines: [TaskQueries.WardLine], end: Int64) -> ClinicalNotice {
        let raised = lines.reduce(0) { $0 + $1.raised }
        let acknowledged = lines.reduce(0) { $0 + $1.acknowledged }
        let text = "Ward summary, 24 h to \(Date(timeIntervalSince1970: Double(end) / 1000)): \(raised) alarms, \(acknowledged) acknowledged"
        let wards = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(lines))) ?? []
        return ClinicalNotice(jobID: job.jobID, kind: "ward_summary", text: text,
                            json: json(["job_id": job.jobID, "kind": "ward_summary", "period_end": end, "period_hours": 24,
                                        "text": text, "wards": wards]))
    }

    private static func json(_ object: [String: Any]) -> [UInt8] {
        Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))
    }
}

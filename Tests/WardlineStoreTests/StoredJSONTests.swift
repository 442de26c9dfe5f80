import Foundation
import Testing
import WardlineCore
@testable import WardlineEngine
@testable import WardlineServer
@testable import WardlineStore
import WardlineTasks
@testable import WardlineWorker

/// The exact bytes of what Wardline stores and publishes with sorted keys — `put_aside` rows, the
/// alarm events on Kafka, the pages and summaries the worker delivers — pinned against the
/// `JSONSerialization` dictionaries they were first built with, kept when they became `Codable`.
/// (`system:status` has no key order, so it is compared with its keys sorted.)
@Suite struct StoredJSONTests {
    static let alarm = Alarm(id: "P1/spo2.low/3", patientID: "P1", deviceID: "mon-7", ruleID: "spo2.low", category: .physiological,
                             vital: .spo2, priority: .high, state: .acknowledged, latching: true, message: "SpO2 84.5 % < 90 % \"low\" é",
                             value: 84.5, threshold: 90, conditionSince: 1_795_639_800_000, raisedAt: 1_795_639_801_000,
                             acknowledgedAt: 1_795_639_811_000, acknowledgedBy: "n1", escalationLevel: 1, revision: 3)

    static func pin(_ actual: String, _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) {
        if actual != expected, let dir = ProcessInfo.processInfo.environment["PIN_RECORD"] {
        try? actual.write(toFile: "\(dir)/\(sourceLocation.line)", atomically: true, encoding: .utf8)
    }
        #expect(actual == expected, sourceLocation: sourceLocation)
    }

    @Test func putAsideRows() {
        let reading = Reading(deviceID: "mon-7", patientID: "P1", seq: 123_456, time: 1_795_639_811_342, receivedAt: 1_795_639_811_345,
                              vitals: Vitals(heartRate: 88, spo2: 95, temperature: 36.6, respiratoryRate: 18.5, systolicBP: 118,
                                             diastolicBP: 76, onOxygen: true, consciousness: .voice))
        let sparse = Reading(deviceID: "d", patientID: "P2", seq: 1, time: 2, receivedAt: 3, vitals: Vitals(temperature: 37.2))
        let rejected = RejectedMessage(topic: "devices/mon-7/vitals", payload: #"{"seq": 1.5, "x": "é/\u0001"}"#, payloadSize: 29,
                                       reason: .wrongType, detail: "element 2: seq is not a whole number", elementIndex: 2,
                                       deviceID: "mon-7", receivedAt: 1_795_639_811_345)
        let bare = RejectedMessage(topic: "x", payload: "not json", payloadSize: 8, reason: .malformedJSON, detail: "d", receivedAt: 9)
        let rows = [
            PutAsideRow.reading(reading).row,
            PutAsideRow.reading(sparse).row,
            PutAsideRow.rejected(RejectedRow(message: rejected, journalID: "j", journalPosition: 7)).row,
            PutAsideRow.rejected(RejectedRow(message: bare, journalID: "j", journalPosition: 8)).row,
            PutAsideRow.status(DeviceStatus(deviceID: "mon-7", state: .offline, time: 1_795_639_811_342, firmware: "fw/2.1",
                                            battery: 12.5, receivedAt: 1_795_639_811_345)).row,
            PutAsideRow.status(DeviceStatus(deviceID: "mon-8", state: .online, receivedAt: 4)).row,
        ]
        Self.pin(rows.joined(separator: "\n"), #"""
            {"acvpu":"V","dbp":76,"device_id":"mon-7","hr":88,"o2":true,"patient_id":"P1","received_at":1795639811345,"rr":18.5,"sbp":118,"seq":123456,"spo2":95,"temp":36.6,"time":1795639811342}
            {"device_id":"d","patient_id":"P2","received_at":3,"seq":1,"temp":37.2,"time":2}
            {"detail":"element 2: seq is not a whole number","device_id":"mon-7","element_index":2,"payload":"{\"seq\": 1.5, \"x\": \"é\/\\u0001\"}","payload_size":29,"reason":"wrong_type","received_at":1795639811345,"topic":"devices\/mon-7\/vitals"}
            {"detail":"d","payload":"not json","payload_size":8,"reason":"malformed_json","received_at":9,"topic":"x"}
            {"battery":12.5,"device_id":"mon-7","firmware":"fw\/2.1","received_at":1795639811345,"state":"offline","time":1795639811342}
            {"device_id":"mon-8","received_at":4,"state":"online"}
            """#)
    }

    @Test func alarmEvents() {
        let acknowledged = AlarmTransition(alarmID: Self.alarm.id, revision: 3, kind: .acknowledged, from: .active, to: .acknowledged,
                                           priority: .high, at: 1_795_639_811_000, readingTime: nil, by: "n1", value: 84.5, threshold: 90,
                                           escalationLevel: 1, resolution: nil)
        let technical = Alarm(id: "device/mon-7/offline", patientID: nil, deviceID: "mon-7", ruleID: "device.offline", category: .technical,
                              vital: nil, priority: .medium, state: .resolved, latching: false, message: "offline", value: nil,
                              threshold: nil, conditionSince: 5, raisedAt: 6)
        let resolved = AlarmTransition(alarmID: technical.id, revision: 2, kind: .resolved, from: .active, to: .resolved, priority: .medium,
                                       at: 7, readingTime: 7, by: nil, value: nil, threshold: nil, escalationLevel: 0,
                                       resolution: .conditionCleared)
        let events = [AlarmEvent.json(Self.alarm, acknowledged), AlarmEvent.json(technical, resolved),
                      PutAsideRow.transition(technical, resolved).row]
        Self.pin(events.joined(separator: "\n"), #"""
            {"correlation_id":"P1\/spo2.low\/3","data":{"acknowledged_by":"n1","alert_id":"P1\/spo2.low\/3","category":"physiological","device_id":"mon-7","escalation_level":1,"latching":true,"message":"SpO2 84.5 % < 90 % \"low\" é","patient_id":"P1","priority":"high","raised_at":"2026-11-25T20:50:01.000Z","revision":3,"rule_id":"spo2.low","state":"acknowledged","threshold":90,"transition":{"at":"2026-11-25T20:50:11.000Z","by":"n1","from":"active","kind":"acknowledged","to":"acknowledged"},"value":84.5,"vital":"spo2"},"event_type":"vitals.alert.acknowledged","event_version":1,"source_service":"wardline","timestamp":"2026-11-25T20:50:11.000Z"}
            {"correlation_id":"device\/mon-7\/offline","data":{"alert_id":"device\/mon-7\/offline","category":"technical","device_id":"mon-7","escalation_level":0,"latching":false,"message":"offline","priority":"medium","raised_at":"1970-01-01T00:00:00.006Z","revision":2,"rule_id":"device.offline","state":"resolved","transition":{"at":"1970-01-01T00:00:00.007Z","from":"active","kind":"resolved","resolution":"condition_cleared","to":"resolved"}},"event_type":"vitals.alert.resolved","event_version":1,"source_service":"wardline","timestamp":"1970-01-01T00:00:00.007Z"}
            {"correlation_id":"device\/mon-7\/offline","data":{"alert_id":"device\/mon-7\/offline","category":"technical","device_id":"mon-7","escalation_level":0,"latching":false,"message":"offline","priority":"medium","raised_at":"1970-01-01T00:00:00.006Z","revision":2,"rule_id":"device.offline","state":"resolved","transition":{"at":"1970-01-01T00:00:00.007Z","from":"active","kind":"resolved","resolution":"condition_cleared","to":"resolved"}},"event_type":"vitals.alert.resolved","event_version":1,"source_service":"wardline","timestamp":"1970-01-01T00:00:00.007Z"}
            """#)
    }

    @Test func pagesAndSummaries() {
        let brief = AlarmBrief(alertID: "P1/spo2.low/3", patientID: "P1", deviceID: "mon-7", ruleID: "spo2.low", priority: "high",
                               message: "SpO2 84.5 % < 90 %", value: 84.5, threshold: 90, raisedAt: 1_795_639_801_000,
                               activeSince: 1_795_639_801_000)
        let roster = OnCallRoster(pagers: [.onCall: ["pager-1", "pager/2"], .chargeNurse: ["cn-1"]])
        let page = TaskJob(jobID: "job-1", kind: .page, createdAt: 1, alarm: brief, tier: .onCall)
        let escalation = TaskJob(jobID: "job-2", kind: .page, createdAt: 1,
                                 alarm: AlarmBrief(alertID: "a", patientID: nil, deviceID: nil, ruleID: "r", priority: "high", message: "m",
                                                   value: nil, threshold: nil, raisedAt: 1, activeSince: 2), tier: .chargeNurse)
        let empty = TaskJob(jobID: "job-3", kind: .page, createdAt: 1)
        let lines = [TaskQueries.WardLine(ward: "4B", raised: 12, high: 3, acknowledged: 10, escalated: 1, medianSecondsToAcknowledge: 42.25),
                     TaskQueries.WardLine(ward: "unassigned", raised: 1, high: 0, acknowledged: 0, escalated: 0, medianSecondsToAcknowledge: nil)]
        let notices = [
            TaskNotifications.page(page, roster: roster, now: 1_795_639_811_342),
            TaskNotifications.page(escalation, roster: roster, now: 5),
            TaskNotifications.page(empty, roster: roster, now: 6),
            TaskNotifications.system(.failure(subject: "serve-1", reason: "no heartbeat for 30 s", since: 1_795_639_800_000),
                                     recipients: ["tech-1"], now: 1_795_639_811_342),
            TaskNotifications.system(.recovered(subject: "database", how: "reporting again", outageMillis: 61_000),
                                     recipients: [], now: 1_795_639_811_342),
            TaskNotifications.summary(TaskJob(jobID: "sum-1", kind: .wardSummary, createdAt: 1, periodEnd: 1_795_639_811_342),
                                      lines: lines, end: 1_795_639_811_342),
            TaskNotifications.summary(TaskJob(jobID: "sum-2", kind: .wardSummary, createdAt: 1), lines: [], end: 0),
        ]
        Self.pin(notices.map { String(decoding: $0.json, as: UTF8.self) }.joined(separator: "\n"), #"""
            {"alarm":{"active_since":1795639801000,"alert_id":"P1\/spo2.low\/3","device_id":"mon-7","message":"SpO2 84.5 % < 90 %","patient_id":"P1","priority":"high","raised_at":1795639801000,"rule_id":"spo2.low","threshold":90,"value":84.5},"job_id":"job-1","kind":"page","level":0,"recipients":["pager-1","pager\/2"],"sent_at":1795639811342,"text":"HIGH ALARM patient P1: SpO2 84.5 % < 90 %","tier":"on_call"}
            {"alarm":{"active_since":2,"alert_id":"a","message":"m","priority":"high","raised_at":1,"rule_id":"r"},"job_id":"job-2","kind":"page","level":1,"recipients":["cn-1"],"sent_at":5,"text":"ESCALATION to charge_nurse: unacknowledged high alarm unknown patient: m","tier":"charge_nurse"}
            {"job_id":"job-3","kind":"page","level":0,"recipients":["pager-1","pager\/2"],"sent_at":6,"text":" ALARM unknown patient: ","tier":"on_call"}
            {"job_id":"5e0640e5-31bf-606c-d845-fd5d20a0d0c3","kind":"system_alarm","reason":"no heartbeat for 30 s","recipients":["tech-1"],"role":"technical_on_call","sent_at":1795639811342,"since":1795639800000,"state":"failure","subject":"serve-1","text":"ALARM SYSTEM FAILURE: wardline serve serve-1: no heartbeat for 30 s. Alarms may not be raised, shown or paged: watch the bedside monitors."}
            {"how":"reporting again","job_id":"0f3c5ce0-c2a7-8b3a-418a-d5f5e630f134","kind":"system_alarm","outage_ms":61000,"recipients":[],"role":"technical_on_call","sent_at":1795639811342,"state":"recovered","subject":"database","text":"Alarm system recovered: the database reporting again after 61 s."}
            {"job_id":"sum-1","kind":"ward_summary","period_end":1795639811342,"period_hours":24,"text":"Ward summary, 24 h to 2026-11-25 20:50:11 +0000: 13 alarms, 10 acknowledged","wards":[{"acknowledged":10,"escalated":1,"high":3,"median_s_to_ack":42.25,"raised":12,"report":"\/reports.html?ward=4B&from=1795553411342&to=1795639811342","report_api":"\/api\/v1\/reports\/alarm-burden?ward=4B&from=1795553411342&to=1795639811342","ward":"4B"},{"acknowledged":0,"escalated":0,"high":0,"raised":1,"ward":"unassigned"}]}
            {"job_id":"sum-2","kind":"ward_summary","period_end":0,"period_hours":24,"text":"Ward summary, 24 h to 1970-01-01 00:00:00 +0000: 0 alarms, 0 acknowledged","wards":[]}
            """#)
    }

    @Test func systemStatusFrame() {
        let failing = SystemStatus(problems: [.init(component: "engine", severity: .failure, detail: "stalled for 16 s", required: true),
                                              .init(component: "paging", severity: .degraded, detail: "fallback/log", required: false)])
        let frames = [AlarmSystemWatch.frame(failing, now: 1_795_639_811_342), AlarmSystemWatch.frame(SystemStatus(), now: 5)]
        Self.pin(frames.map { sortedKeys($0) }.joined(separator: "\n"), #"""
            {"data":{"headline":"ALARM SYSTEM FAILURE: engine: stalled for 16 s","ok":false,"problems":[{"component":"engine","detail":"stalled for 16 s","severity":"failure"},{"component":"paging","detail":"fallback/log","severity":"degraded"}],"time":1795639811342},"event":"system:status"}
            {"data":{"ok":true,"problems":[],"time":5},"event":"system:status"}
            """#)
    }

    /// Keys sorted, every value as written (numbers here are integers, strings have no escapes).
    func sortedKeys(_ bytes: [UInt8]) -> String {
        let object = try! JSONSerialization.jsonObject(with: Data(bytes))
        return String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }
}

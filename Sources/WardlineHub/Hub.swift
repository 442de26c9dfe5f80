import Foundation
import WardlineCore
import WardlineEngine
import WardlineWard

/// What the hub fans out.
public enum HubEvent: Sendable {
    case engine(EngineEvent)
    /// A scored reading as the readings topic carries it (`FrameEncoder.scoredReadingBody`), on a
    /// `hub` node: the body becomes the `vitals:update` frame's data unchanged, so its frame is
    /// the one a single process sends, without decoding the score back into a `News2Score`.
    case scoredReading(patientID: String, body: [UInt8])
    case deviceStatus(DeviceStatus, patientID: String?)
    case notification(id: String, kind: String, message: String, patientID: String?, time: Int64)
    /// The alarm system's own state (a `system:status` frame, already encoded): to every socket
    /// now, and — while it is not `ok` — to each socket that opens later.
    case systemStatus(frame: [UInt8], ok: Bool)
}

/// What a client asked for that the hub cannot do alone.
public enum ClientRequest: Sendable, Equatable {
    case acknowledge(alarmID: String, by: Principal, session: UInt64)
}

/// The WebSocket hub's state: sessions, rooms (`user:`, `role:`, `patient:`) and what each socket
/// is still to be sent. Confined to the server's one service thread, so it needs no locks; the
/// server asks it which sockets have frames waiting and which must be closed.
public final class Hub {
    public struct Limits: Sendable {
        public var alarmQueue = 1024
        public var otherQueue = 256
        public init() {}
    }

    struct Session {
        var principal: Principal
        var queue: OutboundQueue
        var patients: Set<String> = []
        /// The client promised to confirm every alarm frame it has shown (`alert:received`).
        var confirmsAlarms = false
        /// Alarm frames sent and not yet confirmed: "id#revision" → when queued, and the alarm.
        var unconfirmed: [String: (since: Int64, alarm: Alarm)] = [:]
    }

    public private(set) var directory: WardDirectory
    private let limits: Limits
    private let encoder = FrameEncoder()
    private var sessions: [UInt64: Session] = [:]
    private var rooms: [String: Set<UInt64>] = [:]
    private var ready: Set<UInt64> = []
    private var evictions: [(UInt64, String)] = []
    /// Each patient's devices' latest status frame, so a client subscribing later learns that a
    /// device is already offline.
    private var deviceStatus: [String: [String: [UInt8]]] = [:]
    /// The latest `system:status` frame while it reports a problem, for sockets that open later.
    private var systemStatus: [UInt8]?
    /// The socket thread's clock (epoch ms), set before each round; queue ages are measured on it.
    public var now: Int64 = 0
    public private(set) var framesQueued = 0
    public private(set) var vitalsCoalesced = 0
    public private(set) var slowClientsDisconnected = 0
    public private(set) var unconfirmedAlarmDisconnects = 0
    public private(set) var refusedSubscriptions = 0
    public private(set) var badClientFrames = 0
    /// Client frames dropped by the rate limit (`admit` in `receive`).
    public private(set) var rateLimitedFrames = 0

    /// The other nodes serving the ward page, told to every socket so a page can move to one.
    private let peers: [String]

    public init(directory: WardDirectory = WardDirectory(), limits: Limits = Limits(), peers: [String] = []) {
        self.directory = directory
        self.limits = limits
        self.peers = peers
    }

    public var sessionCount: Int { sessions.count }
    public func isOpen(_ id: UInt64) -> Bool { sessions[id] != nil }

    public func members(of room: String) -> Set<UInt64> { rooms[room] ?? [] }
    public func rooms(of id: UInt64) -> [String] { rooms.filter { $0.value.contains(id) }.map(\.key).sorted() }

    // MARK: sessions

    /// `confirmsAlarms`: the client answers every alarm frame with `alert:received` once it has
    /// shown it (the ward page does). Pings are answered by the browser even when the page's
    /// script is frozen; a receipt is not, so only receipts tell a frozen screen from a live one.
    public func open(_ id: UInt64, principal: Principal, confirmsAlarms: Bool = false) {
        var session = Session(principal: principal, queue: OutboundQueue(alarmLimit: limits.alarmQueue, otherLimit: limits.otherQueue))
        session.confirmsAlarms = confirmsAlarms
        sessions[id] = session
        let own = ["user:" + principal.userID, "role:" + principal.role.rawValue]
        for room in own { rooms[room, default: []].insert(id) }
        send(id, "session:ready", SessionReady(user: WireFormat.User(principal), rooms: own,
                                               patients: directory.visiblePatients(for: principal).map(WireFormat.place),
                                               hubs: peers.isEmpty ? nil : peers), kind: .control)
        if let systemStatus { enqueue(id, systemStatus, kind: .control) }
    }

    public func close(_ id: UInt64) {
        guard let s = sessions.removeValue(forKey: id) else { return }
        leave(id, "user:" + s.principal.userID)
        leave(id, "role:" + s.principal.role.rawValue)
        for p in s.patients { leave(id, "patient:" + p) }
        ready.remove(id)
    }

    /// The next frame for a socket, or nil when it has nothing waiting.
    public func nextFrame(_ id: UInt64) -> [UInt8]? { sessions[id]?.queue.pop() }

    public func hasFrames(_ id: UInt64) -> Bool { !(sessions[id]?.queue.isEmpty ?? true) }

    /// Sockets that got frames since the last call (to be asked for a writable callback).
    public func takeReady() -> Set<UInt64> { defer { ready.removeAll(keepingCapacity: true) }; return ready }

    /// Sockets too slow to take their alarms, with the close reason to send them.
    public func takeEvictions() -> [(UInt64, String)] { defer { evictions.removeAll() }; return evictions }

    // MARK: client frames

    /// Handles one text frame from a client; returns what the hub cannot do by itself.
    ///
    /// `admit` is asked first, with the sender and the frame's event: a number it returns is the
    /// seconds to wait, and the frame is dropped with an `error` frame (`rate_limited`,
    /// `retry_after`). Frames to the client are never held back by it.
    public func receive(_ id: UInt64, text: [UInt8], admit: (Principal, String) -> Int? = { _, _ in nil }) -> ClientRequest? {
        guard let session = sessions[id] else { return nil }
        let object = JSONValue.document(text)?.object
        let named = object?["event"]?.string
        // Counted before a malformed frame is answered: garbage is no way around the limit.
        if let retryAfter = admit(session.principal, named ?? "") {
            rateLimitedFrames += 1
            // Sent as an ordinary update, not a control frame: a flood of refusals never
            // stands in the queue that alarms share (only the newest are kept).
            send(id, "error", ErrorBody(code: "rate_limited", message: "too many frames: \(named ?? "frame") dropped; retry after \(retryAfter) s",
                                        event: named ?? "", retryAfter: retryAfter), kind: .other)
            return nil
        }
        guard let object, let event = named else {
            badClientFrames += 1
            sendError(id, "bad_request", "a frame must be a JSON object {\"event\": ..., \"data\": {...}}")
            return nil
        }
        let data = object["data"]?.object ?? [:]
        switch event {
        case "subscribe:patient", "unsubscribe:patient":
            guard let patient = data["patient_id"]?.string, !patient.isEmpty else {
                badClientFrames += 1
                sendError(id, "bad_request", "\(event) needs data.patient_id")
                return nil
            }
            if event == "unsubscribe:patient" {
                unsubscribe(id, patient)
                send(id, "unsubscribed", PatientBody(patient_id: patient), kind: .control)
            } else if let refusal = directory.check(session.principal, mayView: patient) {
                refusedSubscriptions += 1
                sendError(id, "forbidden", refusal.description, extra: ["patient_id": patient])
            } else {
                sessions[id]?.patients.insert(patient)
                rooms["patient:" + patient, default: []].insert(id)
                send(id, "subscribed", PatientBody(patient_id: patient), kind: .control)
                for frame in deviceStatus[patient]?.values ?? [:].values { enqueue(id, frame, kind: .other) }
            }
        case "alert:acknowledge":
            guard let alarm = data["alarm_id"]?.string, !alarm.isEmpty else {
                badClientFrames += 1
                sendError(id, "bad_request", "alert:acknowledge needs data.alarm_id")
                return nil
            }
            return .acknowledge(alarmID: alarm, by: session.principal, session: id)
        case "alert:received":
            guard let alarm = data["alarm_id"]?.string, let revision = data["revision"]?.integer else {
                badClientFrames += 1
                sendError(id, "bad_request", "alert:received needs data.alarm_id and data.revision")
                return nil
            }
            // A receipt for a revision confirms every earlier one of the same alarm too.
            let still = session.unconfirmed.filter { _, value in !(value.alarm.id == alarm && value.alarm.revision <= revision) }
            sessions[id]?.unconfirmed = still
        case "ping":
            send(id, "pong", data, kind: .control)
        default:
            badClientFrames += 1
            sendError(id, "bad_request", "unknown event \(event)")
        }
        return nil
    }

    /// Tells one client its request failed (an acknowledgement of an unknown alarm, say).
    /// `extra` adds string fields to the frame's data (the patient or alarm it was about).
    public func sendError(_ id: UInt64, _ code: String, _ message: String, extra: [String: String] = [:]) {
        send(id, "error", ErrorBody(code: code, message: message, extra: extra), kind: .control)
    }

    // MARK: fan-out

    public func deliver(_ event: HubEvent) {
        switch event {
        case .engine(.scored(let reading, let score)):
            guard let members = rooms["patient:" + reading.patientID], !members.isEmpty else { return }
            let frame = encoder.scoredReading(reading, score)
            for id in members { enqueue(id, frame, kind: .vitals(patientID: reading.patientID)) }
        case .scoredReading(let patientID, let body):
            guard let members = rooms["patient:" + patientID], !members.isEmpty else { return }
            let frame = Self.vitalsFramePrefix + body + [0x7D]
            for id in members { enqueue(id, frame, kind: .vitals(patientID: patientID)) }
        case .engine(let e):
            guard let alarm = e.alarm, let transition = e.transition else { return }
            deliverAlarm(alarm, transition)
        case .deviceStatus(let status, let patient):
            guard let patient else { return }
            let frame = encoder.frame("device:status", WireFormat.deviceStatus(status, patientID: patient))
            deviceStatus[patient, default: [:]][status.deviceID] = frame
            for id in rooms["patient:" + patient] ?? [] { enqueue(id, frame, kind: .other) }
        case .notification(let nid, let kind, let message, let patient, let time):
            let frame = encoder.frame("notification:new", NotificationBody(id: nid, kind: kind, message: message, time: time, patient_id: patient))
            let targets = patient.map { recipients(patient: $0, onCall: true) } ?? members(of: "role:admin")
            for id in targets { enqueue(id, frame, kind: .other) }
        case .systemStatus(let frame, let ok):
            systemStatus = ok ? nil : frame
            for id in sessions.keys { enqueue(id, frame, kind: .control) }
        }
    }

    private static let vitalsFramePrefix = Array(#"{"event":"vitals:update","data":"#.utf8)

    /// Everyone in the patient's room, plus (for critical alarms) the on-call roles who may see them.
    private func deliverAlarm(_ alarm: Alarm, _ t: AlarmTransition) {
        let critical = alarm.priority == .high
        let rising: Set<AlarmTransition.Kind> = [.raised, .priorityRaised, .reactivated, .conditionReturned]
        let name = critical && rising.contains(t.kind) ? "alert:critical" : "alert:updated"
        let frame = encoder.alarm(name, alarm, transition: t.kind.rawValue)
        let targets = alarm.patientID.map { recipients(patient: $0, onCall: critical) } ?? members(of: "role:admin")
        for id in targets {
            enqueue(id, frame, kind: .alarm)
            if sessions[id]?.confirmsAlarms == true {
                sessions[id]?.unconfirmed["\(alarm.id)#\(alarm.revision)"] = (now, alarm)
            }
        }
        if t.kind == .escalated, let patient = alarm.patientID {
            // Nobody acknowledged in time: tell the on-call roles as well as the room.
            deliver(.notification(id: "\(alarm.id)#\(alarm.revision)", kind: "escalation",
                                  message: "Not acknowledged: \(alarm.message) (escalation \(alarm.escalationLevel))",
                                  patientID: patient, time: t.at))
        }
    }

    private func recipients(patient: String, onCall: Bool) -> Set<UInt64> {
        var targets = rooms["patient:" + patient] ?? []
        if onCall {
            for role in Role.allCases where role.isOnCallForCriticalAlarms {
                for id in rooms["role:" + role.rawValue] ?? [] where sessions[id].map({ directory.mayView($0.principal, patient) }) == true {
                    targets.insert(id)
                }
            }
        }
        return targets
    }

    /// Closes every socket whose oldest alarm (or control frame) has waited longer than
    /// `maxWaitMillis`: a client that cannot take its alarms in time must not look connected.
    public func evictLateClients(maxWaitMillis: Int64) {
        var unseen: [(Principal, Alarm)] = []
        for (id, s) in sessions {
            if let since = s.queue.oldestUrgentSince, now - since > maxWaitMillis {
                slowClientsDisconnected += 1
                evictions.append((id, "too slow to receive alarms: one waited \((now - since) / 1000) s"))
                close(id)
            } else if let late = s.unconfirmed.values.min(by: { $0.since < $1.since }), now - late.since > maxWaitMillis {
                unconfirmedAlarmDisconnects += 1
                evictions.append((id, "alarm \(late.alarm.id) not confirmed within \(maxWaitMillis / 1000) s: this screen may be frozen"))
                unseen.append((s.principal, late.alarm))
                close(id)
            }
        }
        // Somebody else must know that a screen did not show an alarm.
        for (who, alarm) in unseen {
            guard let patient = alarm.patientID else { continue }
            deliver(.notification(id: "unconfirmed:\(alarm.id)#\(alarm.revision):\(who.userID)", kind: "alarm_not_shown",
                                  message: "\(who.userID)'s ward screen did not confirm an alarm within \(maxWaitMillis / 1000) s: \(alarm.message)",
                                  patientID: patient, time: now))
        }
    }

    /// A `heartbeat` to every socket, so a page can tell a quiet ward from a dead connection.
    public func heartbeat(now: Int64) {
        let frame = encoder.frame("heartbeat", TimeBody(time: now))
        for id in sessions.keys { enqueue(id, frame, kind: .control) }
    }

    // MARK: directory

    /// Replaces who-lies-where; sockets lose the patients they may no longer see, and are told,
    /// and every socket gets its new list of patients.
    public func replaceDirectory(_ new: WardDirectory) {
        guard new != directory else { return }
        directory = new
        for (id, s) in sessions {
            for p in s.patients {
                if let refusal = new.check(s.principal, mayView: p) {
                    unsubscribe(id, p)
                    send(id, "unsubscribed", PatientBody(patient_id: p, reason: refusal.description), kind: .control)
                }
            }
            send(id, "patients:updated", PatientsBody(patients: new.visiblePatients(for: s.principal).map(WireFormat.place)), kind: .control)
        }
    }

    // MARK: internals

    private func send<D: Encodable>(_ id: UInt64, _ event: String, _ data: D, kind: OutboundQueue.Kind) {
        enqueue(id, encoder.frame(event, data), kind: kind)
    }

    private func enqueue(_ id: UInt64, _ frame: [UInt8], kind: OutboundQueue.Kind) {
        guard sessions[id] != nil else { return }
        framesQueued += 1
        let coalescedBefore = sessions[id]!.queue.coalesced
        defer { if let s = sessions[id] { vitalsCoalesced += s.queue.coalesced - coalescedBefore } }
        if !sessions[id]!.queue.push(frame, kind: kind, now: now) {
            slowClientsDisconnected += 1
            evictions.append((id, "too slow to receive alarms: \(sessions[id]!.queue.count) frames waiting"))
            close(id)
            return
        }
        ready.insert(id)
    }

    private func unsubscribe(_ id: UInt64, _ patient: String) {
        sessions[id]?.patients.remove(patient)
        leave(id, "patient:" + patient)
    }

    private func leave(_ id: UInt64, _ room: String) {
        rooms[room]?.remove(id)
        if rooms[room]?.isEmpty == true { rooms[room] = nil }
    }
}

// The hub's own frames' data (alarms and scored readings are `FrameEncoder`'s).

struct SessionReady: Encodable {
    let user: WireFormat.User
    let rooms: [String]
    let patients: [WireFormat.Place]
    /// The other hubs' origins (`WARDLINE_HUB_PEERS`); absent when there are none.
    let hubs: [String]?
}

struct PatientsBody: Encodable {
    let patients: [WireFormat.Place]
}

/// `subscribed`, `unsubscribed` (with why, when Wardline ended it).
struct PatientBody: Encodable {
    let patient_id: String
    var reason: String?
}

struct NotificationBody: Encodable {
    let id: String
    let kind: String
    let message: String
    let time: Int64
    let patient_id: String?
}

struct TimeBody: Encodable {
    let time: Int64
}

/// An `error` frame's data: `code`, `message`, and what the refusal was about (`extra`'s string
/// fields, or the rate limit's `event` and `retry_after`).
struct ErrorBody: Encodable {
    let code: String
    let message: String
    var extra: [String: String] = [:]
    var event: String?
    var retryAfter: Int?

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: NamedKey.self)
        for (key, value) in extra where key != "code" && key != "message" { try c.encode(value, forKey: NamedKey(key)) }
        try c.encode(code, forKey: NamedKey("code"))
        try c.encode(message, forKey: NamedKey("message"))
        try c.encodeIfPresent(event, forKey: NamedKey("event"))
        try c.encodeIfPresent(retryAfter, forKey: NamedKey("retry_after"))
    }
}

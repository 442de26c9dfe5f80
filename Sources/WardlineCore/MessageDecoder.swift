import Foundation

/// Turns one MQTT message into validated ingest events: readings, device status, device alerts,
/// and a `RejectedMessage` (with a clear reason) for everything that cannot be accepted.
///
/// Never throws and never drops: every input yields at least one event, and the valid elements of
/// a batch array go through beside the rejected ones. Not thread-safe (it reuses one JSON decoder);
/// give each thread its own.
public final class MessageDecoder {
    public struct Limits: Sendable {
        /// Payloads above this many bytes are rejected as `oversized_payload`.
        public var maxPayloadBytes: Int = 64 * 1024
        /// Readings stamped further than this ahead of Wardline's clock are `future_timestamp`.
        public var maxFutureSkewMillis: Int64 = 5 * 60 * 1000
        /// How much of a rejected payload is kept in `rejected_messages`.
        public var keptPayloadBytes: Int = 4096
        /// How much of a rejected message's topic is kept (a topic may be 64 kB).
        public var keptTopicBytes: Int = 256
        /// Device ids (in the topic) and patient ids: 1 to this many bytes of `A–Z a–z 0–9 . _ : -`.
        /// Longer is `field_too_long`, another character (NUL, a Cyrillic look-alike) `bad_characters`.
        public var maxIDBytes: Int = 64
        /// Alert codes (they become rule and alarm ids): 1 to this many bytes of `A–Z a–z 0–9 . _ -`.
        public var maxAlertCodeBytes: Int = 64
        /// Alert messages (shown to nurses, stored with the alarm): at most this many Unicode
        /// scalars, no control or bidirectional-override characters.
        public var maxMessageCharacters: Int = 256
        /// Firmware versions: at most this many bytes of printable ASCII.
        public var maxFirmwareBytes: Int = 64
        /// Whether a reading's own `patient_id` may say whose reading it is (never over an assignment).
        public var payloadPatientID: PayloadPatientID = .refuse
        public init() {}
    }

    public let limits: Limits
    private let registry: DeviceRegistry
    private let json = JSONDecoder()

    public init(registry: DeviceRegistry, limits: Limits = Limits()) {
        self.registry = registry
        self.limits = limits
    }

    /// Decodes a message. `payloadSize` is the size as received (a journal may keep only a prefix
    /// of an oversized payload); `receivedAt` is Wardline's clock, epoch milliseconds.
    public func decode(topic: String, payload: Data, payloadSize: Int? = nil, receivedAt: Int64) -> [IngestEvent] {
        let size = payloadSize ?? payload.count
        let context = Context(topic: String(decoding: topic.utf8.prefix(limits.keptTopicBytes), as: UTF8.self),
                              payload: payload, payloadSize: size, receivedAt: receivedAt, keptBytes: limits.keptPayloadBytes)
        let parsed: DeviceTopic
        switch DeviceTopic.parse(topic, maxDeviceIDBytes: limits.maxIDBytes) {
        case .success(let t): parsed = t
        case .failure(.unknown):
            return [context.reject(.unknownTopic, "topic is not devices/{device_id}/vitals|alerts|status")]
        case .failure(.emptyDeviceID):
            return [context.reject(.malformedTopic, "the topic's device id is empty")]
        case .failure(.badDeviceID(let problem, let hint)):
            // The hint (never a real id: it carries `?` or `…`) lets operators find the device.
            return [context.with(deviceID: hint).reject(problem.reason, problem.detail)]
        }
        let ctx = context.with(deviceID: parsed.deviceID)
        guard size <= limits.maxPayloadBytes else {
            return [ctx.reject(.oversizedPayload, "payload is \(size) bytes; the limit is \(limits.maxPayloadBytes)")]
        }
        switch parsed.channel {
        case .vitals: return decodeVitals(ctx)
        case .status: return decodeStatus(ctx)
        case .alerts: return decodeAlert(ctx)
        }
    }

    // MARK: vitals

    private func decodeVitals(_ ctx: Context) -> [IngestEvent] {
        switch firstSignificantByte(ctx.payload) {
        case UInt8(ascii: "["):
            let elements: [LenientElement<VitalsPayload>]
            do { elements = try json.decode([LenientElement<VitalsPayload>].self, from: ctx.payload) } catch {
                return [ctx.reject(.malformedJSON, "payload is not valid JSON: \(Self.describe(error))")]
            }
            if elements.isEmpty { return [ctx.reject(.missingField, "empty reading array")] }
            let backlog = elements.count > 1
            return elements.enumerated().map { index, element in
                var event = reading(from: element.result, ctx.with(elementIndex: index))
                if backlog, case .reading(var r) = event { r.isBacklog = true; event = .reading(r) }
                return event
            }
        case UInt8(ascii: "{"):
            if let fast = ctx.payload.withUnsafeBytes({ FastVitalsParser.parse($0) }) {
                return [reading(from: .success(fast), ctx)]
            }
            let result = Result { try json.decode(VitalsPayload.self, from: ctx.payload) }
            return [reading(from: result, ctx)]
        default:
            return [ctx.reject(.malformedJSON, "payload is not a JSON object or array")]
        }
    }

    private func reading(from result: Result<VitalsPayload, any Error>, _ ctx: Context) -> IngestEvent {
        let p: VitalsPayload
        switch result {
        case .success(let value): p = value
        case .failure(let error): return ctx.reject(error)
        }
        if let v = p.v, v != 1 { return ctx.reject(.unsupportedVersion, "payload version \(v) is not supported (expected 1)") }
        if let problem = p.timeProblem(receivedAt: ctx.receivedAt, maxFutureSkew: limits.maxFutureSkewMillis) {
            return ctx.reject(problem.0, problem.1)
        }
        if p.seq < 0 { return ctx.reject(.impossibleValue, "seq \(p.seq) is negative") }
        let vitals: Vitals
        switch p.vitals() {
        case .success(let v): vitals = v
        case .failure(let problem): return ctx.reject(problem.reason, problem.detail)
        }
        // Staff decide whose reading it is (a device assignment). A payload's patient id that
        // disagrees is refused, never followed; without an assignment it counts only where the
        // hospital allows it (the demo), and only then must it meet the id rule.
        let device = ctx.deviceID!
        let patientID: String
        switch (registry.patient(forDevice: device), p.patient_id) {
        case (let assigned?, nil):
            patientID = assigned
        case (let assigned?, let named?):
            guard named == assigned else {
                return ctx.reject(.patientMismatch, "the reading names another patient than device \(device) is assigned to; "
                                  + "it was stored for neither (a reading follows its device's assignment)")
            }
            patientID = assigned
        case (nil, let named?) where limits.payloadPatientID == .unassigned:
            if let problem = DeviceText.check(named, field: "patient_id", kind: .identifier, maxLength: limits.maxIDBytes) {
                return ctx.reject(problem.reason, problem.detail)
            }
            patientID = named
        case (nil, _?):
            return ctx.reject(.unknownDevice, "device \(device) is not assigned to a patient; a reading's own patient_id is not "
                              + "honoured (WARDLINE_PAYLOAD_PATIENT_ID=refuse): assign the device (PUT /api/v1/devices/\(device)/assignment)")
        case (nil, nil):
            return ctx.reject(.unknownDevice, "device \(device) is not assigned to a patient and the reading names none")
        }
        return .reading(Reading(deviceID: ctx.deviceID!, patientID: patientID, seq: p.seq, time: p.ts,
                                receivedAt: ctx.receivedAt, vitals: vitals, sentAtMicros: p.tx_us))
    }

    // MARK: status and alerts

    private func decodeStatus(_ ctx: Context) -> [IngestEvent] {
        let text = String(decoding: ctx.payload, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        // An empty retained message clears the retained status: nothing to record.
        if text.isEmpty { return [] }
        if let bare = DeviceStatus.State(rawValue: text) {
            return [.deviceStatus(DeviceStatus(deviceID: ctx.deviceID!, state: bare, receivedAt: ctx.receivedAt))]
        }
        guard firstSignificantByte(ctx.payload) == UInt8(ascii: "{") else {
            return [ctx.reject(.malformedJSON, "status is neither JSON nor 'online'/'offline'")]
        }
        let p: StatusPayload
        do { p = try json.decode(StatusPayload.self, from: ctx.payload) } catch { return [ctx.reject(error)] }
        guard let state = DeviceStatus.State(rawValue: p.state) else {
            return [ctx.reject(.impossibleValue, "status state '\(DeviceText.hint(p.state, keep: 40))' is not online or offline")]
        }
        if let b = p.battery, !PlausibleRange.battery.contains(b) {
            return [ctx.reject(.impossibleValue, "battery \(plain(b)) is outside 0-100 %")]
        }
        var firmware = p.firmware.flatMap { $0.isEmpty ? nil : $0 }
        // A bad firmware string is refused on its own: the status (online, battery) still counts.
        var refused: [IngestEvent] = []
        if let f = firmware, let problem = DeviceText.check(f, field: "firmware", kind: .printable, maxLength: limits.maxFirmwareBytes) {
            refused.append(ctx.reject(problem.reason, problem.detail + "; the status was kept without it"))
            firmware = nil
        }
        return refused + [.deviceStatus(DeviceStatus(deviceID: ctx.deviceID!, state: state, time: p.ts, firmware: firmware,
                                                     battery: p.battery, receivedAt: ctx.receivedAt))]
    }

    private func decodeAlert(_ ctx: Context) -> [IngestEvent] {
        guard firstSignificantByte(ctx.payload) == UInt8(ascii: "{") else {
            return [ctx.reject(.malformedJSON, "alert payload is not a JSON object")]
        }
        let p: AlertPayload
        do { p = try json.decode(AlertPayload.self, from: ctx.payload) } catch { return [ctx.reject(error)] }
        if let problem = DeviceText.check(p.code, field: "alert code", kind: .code, maxLength: limits.maxAlertCodeBytes) {
            return [ctx.reject(problem.reason, problem.detail)]
        }
        // A bad message text is refused on its own; the device's alarm is still raised, with the
        // text Wardline makes from the device and code (a missed alarm is worse than a lost text).
        var refused: [IngestEvent] = []
        var message = p.message.flatMap { $0.isEmpty ? nil : $0 }
        if let m = message, let problem = DeviceText.check(m, field: "alert message", kind: .text, maxLength: limits.maxMessageCharacters) {
            refused.append(ctx.reject(problem.reason, problem.detail + "; the alarm was raised without it"))
            message = nil
        }
        let priority: AlarmPriority
        if let raw = p.priority {
            guard let known = AlarmPriority(rawValue: raw) else {
                return [ctx.reject(.impossibleValue, "alert priority '\(DeviceText.hint(raw, keep: 40))' is not low, medium or high")]
            }
            priority = known
        } else {
            priority = .medium
        }
        let time = p.ts ?? ctx.receivedAt
        if time > ctx.receivedAt + limits.maxFutureSkewMillis {
            return [ctx.reject(.futureTimestamp, "alert ts \(time) is more than \(limits.maxFutureSkewMillis / 1000) s ahead")]
        }
        return refused + [.deviceAlert(DeviceAlert(deviceID: ctx.deviceID!, patientID: registry.patient(forDevice: ctx.deviceID!),
                                                   code: p.code, priority: priority, message: message,
                                                   time: time, receivedAt: ctx.receivedAt))]
    }

    private func firstSignificantByte(_ data: Data) -> UInt8? {
        data.first(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D })
    }

    /// A short, patient-data-free description of a decoding error.
    static func describe(_ error: any Error) -> String {
        guard let e = error as? DecodingError else { return "\(error)" }
        switch e {
        case .typeMismatch(let type, let c): return "\(path(c)): expected \(typeName(type))"
        case .valueNotFound(let type, let c): return "\(path(c)): expected \(typeName(type)), found null"
        case .keyNotFound(let key, _): return "missing field '\(key.stringValue)'"
        case .dataCorrupted(let c): return c.codingPath.isEmpty ? "not valid JSON" : "\(path(c)): value does not fit"
        @unknown default: return "undecodable"
        }
    }

    private static func path(_ c: DecodingError.Context) -> String {
        c.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Double.Type, is Int64.Type, is Int.Type: "a number"
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        default: "\(type)"
        }
    }
}

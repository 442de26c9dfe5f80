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
        let context = Context(topic: topic, payload: payload, payloadSize: size, receivedAt: receivedAt,
                              keptBytes: limits.keptPayloadBytes)
        let parsed: DeviceTopic
        switch DeviceTopic.parse(topic) {
        case .success(let t): parsed = t
        case .failure(.unknown):
            return [context.reject(.unknownTopic, "topic is not devices/{device_id}/vitals|alerts|status")]
        case .failure(.malformedDeviceID(let id)):
            // Keep the raw id (cut short) so operators can still find the misbehaving device.
            return [context.with(deviceID: String(id.prefix(64))).reject(.malformedTopic, "device id '\(id.prefix(80))' is not 1-64 characters of A-Z a-z 0-9 . _ : -")]
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
        guard let patientID = registry.patient(forDevice: ctx.deviceID!) ?? p.patient_id.flatMap(Self.validPatientID) else {
            return ctx.reject(.unknownDevice, "device \(ctx.deviceID!) is not assigned to a patient and the reading names none")
        }
        return .reading(Reading(deviceID: ctx.deviceID!, patientID: patientID, seq: p.seq, time: p.ts,
                                receivedAt: ctx.receivedAt, vitals: vitals, sentAtMicros: p.tx_us))
    }

    private static func validPatientID(_ id: String) -> String? {
        (1...64).contains(id.utf8.count) && !id.contains(where: { $0.isWhitespace || $0.isNewline }) ? id : nil
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
            return [ctx.reject(.impossibleValue, "status state '\(p.state.prefix(40))' is not online or offline")]
        }
        if let b = p.battery, !PlausibleRange.battery.contains(b) {
            return [ctx.reject(.impossibleValue, "battery \(plain(b)) is outside 0-100 %")]
        }
        return [.deviceStatus(DeviceStatus(deviceID: ctx.deviceID!, state: state, time: p.ts, firmware: p.firmware,
                                           battery: p.battery, receivedAt: ctx.receivedAt))]
    }

    private func decodeAlert(_ ctx: Context) -> [IngestEvent] {
        guard firstSignificantByte(ctx.payload) == UInt8(ascii: "{") else {
            return [ctx.reject(.malformedJSON, "alert payload is not a JSON object")]
        }
        let p: AlertPayload
        do { p = try json.decode(AlertPayload.self, from: ctx.payload) } catch { return [ctx.reject(error)] }
        let priority: AlarmPriority
        if let raw = p.priority {
            guard let known = AlarmPriority(rawValue: raw) else {
                return [ctx.reject(.impossibleValue, "alert priority '\(raw.prefix(40))' is not low, medium or high")]
            }
            priority = known
        } else {
            priority = .medium
        }
        let time = p.ts ?? ctx.receivedAt
        if time > ctx.receivedAt + limits.maxFutureSkewMillis {
            return [ctx.reject(.futureTimestamp, "alert ts \(time) is more than \(limits.maxFutureSkewMillis / 1000) s ahead")]
        }
        return [.deviceAlert(DeviceAlert(deviceID: ctx.deviceID!, patientID: registry.patient(forDevice: ctx.deviceID!),
                                         code: p.code, priority: priority, message: p.message,
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

/// Why an incoming message (or one element of a batch array) was not accepted.
///
/// Each reason has its own counter and its own row in `rejected_messages`; none stops the pipeline.
public enum RejectReason: String, Sendable, Equatable, CaseIterable {
    case malformedJSON = "malformed_json"
    case wrongType = "wrong_type"
    case missingField = "missing_field"
    case impossibleValue = "impossible_value"
    case futureTimestamp = "future_timestamp"
    case invalidTimestamp = "invalid_timestamp"
    case oversizedPayload = "oversized_payload"
    case unknownTopic = "unknown_topic"
    case malformedTopic = "malformed_topic"
    case unknownDevice = "unknown_device"
    /// The reading's `patient_id` is not the patient its device is assigned to.
    case patientMismatch = "patient_mismatch"
    case unsupportedVersion = "unsupported_version"
    /// A device-supplied string (device id in the topic, patient id, alert code, alert message,
    /// firmware) is longer than its limit (`MessageDecoder.Limits`).
    case fieldTooLong = "field_too_long"
    /// A device-supplied string has a character outside its field's set (control characters, NUL,
    /// look-alike letters from other scripts in ids; see `DeviceText`).
    case badCharacters = "bad_characters"
    /// Valid to Wardline but refused by the database (kept here rather than lost).
    case unstorable = "unstorable"
}

/// A message Wardline could not accept, kept with its reason so nothing disappears silently.
public struct RejectedMessage: Sendable, Equatable {
    public var topic: String
    /// The payload as received (cut to a bound for oversized payloads), lossily decoded as UTF-8.
    public var payload: String
    /// The payload's full size in bytes.
    public var payloadSize: Int
    public var reason: RejectReason
    /// A clear, human-readable explanation ("spo2 104 is above 100").
    public var detail: String
    /// Index within a batch array, when the message was one.
    public var elementIndex: Int?
    public var deviceID: String?
    public var receivedAt: Int64

    public init(topic: String, payload: String, payloadSize: Int, reason: RejectReason, detail: String,
                elementIndex: Int? = nil, deviceID: String? = nil, receivedAt: Int64) {
        self.topic = topic
        self.payload = payload
        self.payloadSize = payloadSize
        self.reason = reason
        self.detail = detail
        self.elementIndex = elementIndex
        self.deviceID = deviceID
        self.receivedAt = receivedAt
    }
}

/// One thing that came in over MQTT, after validation.
public enum IngestEvent: Sendable, Equatable {
    case reading(Reading)
    case deviceStatus(DeviceStatus)
    case deviceAlert(DeviceAlert)
    case rejected(RejectedMessage)
}

extension IngestEvent {
    /// When Wardline received the message (its clock, epoch ms), as the journal recorded it: the
    /// engine's `now` for this event, so a replay after a restart gives the same alarms at the same times.
    package var receivedAt: Int64 {
        switch self {
        case .reading(let r): r.receivedAt
        case .deviceStatus(let s): s.receivedAt
        case .deviceAlert(let a): a.receivedAt
        case .rejected(let m): m.receivedAt
        }
    }
}

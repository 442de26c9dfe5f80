import Foundation

/// One record of the device-message topic (`WARDLINE_KAFKA_DEVICE_TOPIC`), between the roles:
/// an `ingest` node appends each journalled MQTT message, a `hub` node appends a clinician's
/// acknowledgement on the alarm's patient key, and the `engine` node that owns the partition
/// reads both in order.
///
/// A small binary layout rather than JSON: the payload is the device's own bytes (JSON text,
/// possibly malformed or cut at the journal's bound), carried untouched so the engine decodes
/// and rejects exactly as one process would. Little-endian:
/// `kind u8 | received_at i64 | payload_size u32 | topic_len u16 | topic | body`.
public struct DeviceTopicRecord: Sendable, Equatable {
    public enum Kind: UInt8, Sendable { case deviceMessage = 1, acknowledge = 2 }

    public var kind: Kind
    /// When the ingest node received the message (epoch ms): the engine's clock for it.
    public var receivedAt: Int64
    /// The MQTT topic (`devices/{id}/…`); empty for a command.
    public var topic: String
    /// The message's size as received (the body may be cut at the journal's bound).
    public var payloadSize: Int
    /// The device's payload, or the command's JSON.
    public var body: [UInt8]

    public init(kind: Kind, receivedAt: Int64, topic: String, payloadSize: Int, body: [UInt8]) {
        self.kind = kind
        self.receivedAt = receivedAt
        self.topic = topic
        self.payloadSize = payloadSize
        self.body = body
    }

    public static let headerBytes = 1 + 8 + 4 + 2

    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        let topicBytes = Array(topic.utf8.prefix(Int(UInt16.max)))
        out.reserveCapacity(Self.headerBytes + topicBytes.count + body.count)
        out.append(kind.rawValue)
        withUnsafeBytes(of: receivedAt.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(clamping: payloadSize).littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt16(topicBytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: topicBytes)
        out.append(contentsOf: body)
        return out
    }

    public enum DecodeError: Error, Equatable, CustomStringConvertible {
        case tooShort(Int)
        case unknownKind(UInt8)
        case topicBeyondEnd
        public var description: String {
            switch self {
            case .tooShort(let n): "device-topic record of \(n) bytes is shorter than its header"
            case .unknownKind(let k): "device-topic record of unknown kind \(k)"
            case .topicBeyondEnd: "device-topic record's topic runs past its end"
            }
        }
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        guard bytes.count >= Self.headerBytes else { throw .tooShort(bytes.count) }
        guard let kind = Kind(rawValue: bytes[0]) else { throw .unknownKind(bytes[0]) }
        func int<T: FixedWidthInteger>(_ at: Int, _: T.Type) -> T {
            var v: T = 0
            for i in 0..<MemoryLayout<T>.size { v |= T(truncatingIfNeeded: bytes[at + i]) << (8 * i) }
            return v
        }
        let topicLength = Int(int(13, UInt16.self))
        guard Self.headerBytes + topicLength <= bytes.count else { throw .topicBeyondEnd }
        self.kind = kind
        receivedAt = int(1, Int64.self)
        payloadSize = Int(int(9, UInt32.self))
        topic = String(decoding: bytes[Self.headerBytes..<(Self.headerBytes + topicLength)], as: UTF8.self)
        body = Array(bytes[(Self.headerBytes + topicLength)...])
    }
}

/// A clinician's acknowledgement, sent by a hub on the alarm's patient key so the owning engine
/// applies it in order with that patient's readings; the answer goes to `engine_command_results`.
public struct AcknowledgeCommand: Codable, Sendable, Equatable {
    public var requestID: String
    public var alarmID: String
    public var userID: String

    public init(requestID: String, alarmID: String, userID: String) {
        self.requestID = requestID
        self.alarmID = alarmID
        self.userID = userID
    }

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id", alarmID = "alarm_id", userID = "user_id"
    }
}

/// Which partition of the device-message topic holds a patient's records: FNV-1a of the key,
/// modulo the partition count. Wardline picks the partition itself (rather than the client
/// library's partitioner) so every role computes the same answer: ingest to append, the engine
/// to know whose state a partition holds, a hub to route an acknowledgement.
public enum PatientPartition {
    /// The key of a patient's records: the patient id, or `device:<id>` for an unassigned device.
    public static func key(patientID: String?, deviceID: String?) -> String {
        if let patientID { return patientID }
        return "device:" + (deviceID ?? "")
    }

    public static func of(key: String, partitions: Int) -> Int32 {
        precondition(partitions > 0)
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Int32(hash % UInt64(partitions))
    }
}

import Foundation

/// What the decoder knows about the message being decoded, and how it builds a rejection.
struct Context {
    var topic: String
    var payload: Data
    var payloadSize: Int
    var receivedAt: Int64
    var keptBytes: Int
    var deviceID: String?
    var elementIndex: Int?

    func with(deviceID: String) -> Context { var c = self; c.deviceID = deviceID; return c }
    func with(elementIndex: Int) -> Context { var c = self; c.elementIndex = elementIndex; return c }

    func reject(_ reason: RejectReason, _ detail: String) -> IngestEvent {
        let where_ = elementIndex.map { "element \($0): " } ?? ""
        return .rejected(RejectedMessage(
            topic: topic, payload: String(decoding: payload.prefix(keptBytes), as: UTF8.self),
            payloadSize: payloadSize, reason: reason, detail: where_ + detail,
            elementIndex: elementIndex, deviceID: deviceID, receivedAt: receivedAt))
    }

    /// Classifies a decoding error: bad JSON, a wrong type or a missing field.
    func reject(_ error: any Error) -> IngestEvent {
        let detail = MessageDecoder.describe(error)
        switch error as? DecodingError {
        case .keyNotFound?: return reject(.missingField, detail)
        case .typeMismatch?, .valueNotFound?: return reject(.wrongType, detail)
        case .dataCorrupted(let c)?:
            // Foundation reports a number that does not fit its field (seq 1.5) as "not valid JSON"
            // with no path; tell the two apart by reading the payload as plain JSON.
            if !c.codingPath.isEmpty || elementIndex != nil || JSONValue.parse(payload) != nil {
                return reject(.wrongType, c.codingPath.isEmpty ? "a number does not fit its field (fraction or out of range)" : detail)
            }
            return reject(.malformedJSON, detail)
        default: return reject(.malformedJSON, detail)
        }
    }
}

/// Decodes one element of a batch array without failing the whole array.
struct LenientElement<T: Decodable>: Decodable {
    let result: Result<T, any Error>
    init(from decoder: any Decoder) throws { result = Result { try T(from: decoder) } }
}

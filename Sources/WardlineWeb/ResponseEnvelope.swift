import Foundation
import WardlineCore
import WardlineHub

/// The seed's response envelope, the one shape of every JSON answer, the REST API's and the web
/// server's own refusals alike: `status, success, message, data | error{code, details[,
/// retry_after]}, timestamp, request_id` (`data` may stand beside `error`: `/ready`'s components).
package struct ResponseEnvelope: Encodable {
    package struct Failure: Encodable {
        let code: String
        let details: [[String: String]]
        let retry_after: Int?

        package init(code: String, details: [[String: String]] = [], retryAfter: Int? = nil) {
            self.code = code
            self.details = details
            retry_after = retryAfter
        }
    }

    package let status: Int
    package let success: Bool
    package let message: String
    package let data: (any Encodable)?
    package let error: Failure?
    package let timestamp: String
    package let request_id: String

    package init(status: Int, message: String, data: (any Encodable)? = nil, error: Failure? = nil, requestID: String,
                 at time: Date = Date()) {
        self.status = status
        success = error == nil
        self.message = message
        self.data = data
        self.error = error
        timestamp = Self.timestamp(time)
        request_id = requestID
    }

    /// ISO 8601 UTC with milliseconds: `2026-12-01T17:48:11.123Z`.
    package static func timestamp(_ d: Date) -> String {
        d.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    /// A request or correlation id a client sent, if it may be echoed into a header: printable
    /// ASCII, at most 128 bytes (otherwise a fresh one is made).
    package static func echoableID(_ s: String) -> String? {
        guard !s.isEmpty, s.utf8.count <= 128, s.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return s
    }

    package var bytes: [UInt8] { WireFormat.serialise(self) }

    enum CodingKeys: String, CodingKey { case status, success, message, data, error, timestamp, request_id }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(status, forKey: .status)
        try c.encode(success, forKey: .success)
        try c.encode(message, forKey: .message)
        if let data { try c.encode(data, forKey: .data) }
        try c.encodeIfPresent(error, forKey: .error)
        try c.encode(timestamp, forKey: .timestamp)
        try c.encode(request_id, forKey: .request_id)
    }
}

import Foundation
import WardlineHub
import WardlineWeb

/// The seed's response envelope: `status, success, message, data | error{code, details},
/// timestamp, request_id`, with the request and correlation ids echoed as headers.
struct Envelope {
    let requestID: String
    let correlationID: String

    init(_ request: HTTPRequest) {
        requestID = request.headers["x-request-id"].flatMap { Self.safeID($0) } ?? UUID().uuidString.lowercased()
        correlationID = request.headers["x-correlation-id"].flatMap { Self.safeID($0) } ?? requestID
    }

    func success(_ data: Any, status: Int = 200, message: String = "ok") -> HTTPResponse {
        respond(status, ["status": status, "success": true, "message": message, "data": data])
    }

    func failure(_ e: APIError, data: Any? = nil) -> HTTPResponse {
        var error: [String: Any] = ["code": e.code]
        error["details"] = e.details
        error["retry_after"] = e.retryAfter
        var extra: [(String, String)] = []
        if e.status == 401 { extra.append(("www-authenticate", "Bearer")) }
        if let seconds = e.retryAfter { extra.append(("retry-after", String(seconds))) }
        var body: [String: Any] = ["status": e.status, "success": false, "message": e.message, "error": error]
        body["data"] = data
        return respond(e.status, body, extra: extra)
    }

    private func respond(_ status: Int, _ body: [String: Any], extra: [(String, String)] = []) -> HTTPResponse {
        var b = body
        b["timestamp"] = ISO8601.format(Date())
        b["request_id"] = requestID
        return HTTPResponse(status: status, headers: [("x-request-id", requestID), ("x-correlation-id", correlationID)] + extra,
                            body: WireFormat.serialise(b))
    }

    /// Ids are echoed into headers: printable ASCII only, bounded, or a fresh one is made.
    private static func safeID(_ s: String) -> String? {
        guard !s.isEmpty, s.utf8.count <= 128, s.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return s
    }
}

enum ISO8601 {
    static func format(_ d: Date) -> String {
        d.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    static func format(millis: Int64) -> String { format(Date(timeIntervalSince1970: Double(millis) / 1000)) }

    /// ISO 8601 with or without fractional seconds, or epoch milliseconds.
    static func parse(_ s: String) -> Int64? {
        if let ms = Int64(s) { return ms }
        let plain = Date.ISO8601FormatStyle()
        let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        if let d = try? fractional.parse(s) { return Int64(d.timeIntervalSince1970 * 1000) }
        if let d = try? plain.parse(s) { return Int64(d.timeIntervalSince1970 * 1000) }
        return nil
    }
}

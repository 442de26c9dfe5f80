import Foundation
import WardlineHub

/// A request the web server refuses itself, before any handler sees it (a 429, a body too big
/// to read without a token, a refused WebSocket handshake): answered in the seed's error envelope
/// `{status, success: false, message, error: {code, details[, retry_after]}, timestamp, request_id}`
/// like the REST API's own errors, with `Retry-After` when waiting helps.
struct EdgeRefusal {
    var status: Int
    var code: String
    var message: String
    /// Seconds after which the same request may succeed.
    var retryAfter: Int?

    func response(requestID: String?, correlationID: String?) -> HTTPResponse {
        let id = requestID.flatMap(Self.safeID) ?? UUID().uuidString.lowercased()
        var error: [String: Any] = ["code": code, "details": [[String: String]]()]
        var headers = [("x-request-id", id), ("x-correlation-id", correlationID.flatMap(Self.safeID) ?? id)]
        if let retryAfter {
            error["retry_after"] = retryAfter
            headers.append(("retry-after", String(retryAfter)))
        }
        if status == 401 { headers.append(("www-authenticate", "Bearer")) }
        let timestamp = Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
        let body: [String: Any] = ["status": status, "success": false, "message": message, "error": error,
                                   "timestamp": timestamp, "request_id": id]
        return HTTPResponse(status: status, headers: headers, body: WireFormat.serialise(body))
    }

    /// Ids are echoed into headers: printable ASCII only, bounded (as the REST API's envelope).
    private static func safeID(_ s: String) -> String? {
        guard !s.isEmpty, s.utf8.count <= 128, s.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return s
    }
}

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
        let id = requestID.flatMap(ResponseEnvelope.echoableID) ?? UUID().uuidString.lowercased()
        var headers = [("x-request-id", id), ("x-correlation-id", correlationID.flatMap(ResponseEnvelope.echoableID) ?? id)]
        if let retryAfter { headers.append(("retry-after", String(retryAfter))) }
        if status == 401 { headers.append(("www-authenticate", "Bearer")) }
        let body = ResponseEnvelope(status: status, message: message, error: .init(code: code, retryAfter: retryAfter), requestID: id)
        return HTTPResponse(status: status, headers: headers, body: body.bytes)
    }
}

import Foundation
import WardlineHub
import WardlineWeb

/// The seed's response envelope (`ResponseEnvelope`) for one request, with the request and
/// correlation ids echoed as headers.
struct Envelope {
    let requestID: String
    let correlationID: String

    init(_ request: HTTPRequest) {
        requestID = request.headers["x-request-id"].flatMap(ResponseEnvelope.echoableID) ?? UUID().uuidString.lowercased()
        correlationID = request.headers["x-correlation-id"].flatMap(ResponseEnvelope.echoableID) ?? requestID
    }

    func success(_ data: any Encodable, status: Int = 200, message: String = "ok") -> HTTPResponse {
        respond(ResponseEnvelope(status: status, message: message, data: data, requestID: requestID))
    }

    func failure(_ e: APIError, data: (any Encodable)? = nil) -> HTTPResponse {
        var extra: [(String, String)] = []
        if e.status == 401 { extra.append(("www-authenticate", "Bearer")) }
        if let seconds = e.retryAfter { extra.append(("retry-after", String(seconds))) }
        let error = ResponseEnvelope.Failure(code: e.code, details: e.details, retryAfter: e.retryAfter)
        return respond(ResponseEnvelope(status: e.status, message: e.message, data: data, error: error, requestID: requestID), extra: extra)
    }

    private func respond(_ body: ResponseEnvelope, extra: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(status: body.status, headers: [("x-request-id", requestID), ("x-correlation-id", correlationID)] + extra,
                     body: body.bytes)
    }
}

enum ISO8601 {
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

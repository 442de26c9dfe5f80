/// A refused request: the HTTP status, a stable code for programs, a sentence for people, and
/// for validation errors which field was wrong and how; where trying again later makes sense, how
/// many seconds to wait (`error.retry_after` and a `Retry-After` header).
public struct APIError: Error, Sendable {
    public var status: Int
    public var code: String
    public var message: String
    public var details: [[String: String]]
    public var retryAfter: Int?

    public init(_ status: Int, _ code: String, _ message: String, details: [[String: String]] = [], retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.retryAfter = retryAfter
    }

    public static func validation(_ field: String, _ problem: String) -> APIError {
        APIError(400, "validation_error", "invalid \(field): \(problem)", details: [["field": field, "problem": problem]])
    }

    public static func notFound(_ what: String) -> APIError { APIError(404, "not_found", what) }
    public static func forbidden(_ why: String) -> APIError { APIError(403, "forbidden", why) }

    /// The database did not answer: nothing was done, and the same request may be sent again.
    public static func databaseUnavailable(_ why: String) -> APIError {
        APIError(503, "database_unavailable", why, retryAfter: 5)
    }
}

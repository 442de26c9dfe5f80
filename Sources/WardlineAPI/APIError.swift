/// A refused request: the HTTP status, a stable code for programs, a sentence for people, and
/// for validation errors which field was wrong and how.
public struct APIError: Error, Sendable {
    public var status: Int
    public var code: String
    public var message: String
    public var details: [[String: String]]

    public init(_ status: Int, _ code: String, _ message: String, details: [[String: String]] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
    }

    public static func validation(_ field: String, _ problem: String) -> APIError {
        APIError(400, "validation_error", "invalid \(field): \(problem)", details: [["field": field, "problem": problem]])
    }

    public static func notFound(_ what: String) -> APIError { APIError(404, "not_found", what) }
    public static func forbidden(_ why: String) -> APIError { APIError(403, "forbidden", why) }
}

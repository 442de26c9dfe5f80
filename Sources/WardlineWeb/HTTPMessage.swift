/// One HTTP request as the REST layer sees it: no socket, no library type.
public struct HTTPRequest: Sendable {
    public var method: String
    public var path: String
    public var query: [String: String]
    /// The query's arguments in order, a repeated name as often as it came (FHIR's `date=ge…&date=le…`);
    /// `query` keeps the last of each.
    public var queryItems: [(name: String, value: String)]
    /// Lower-case names: `authorization`, `x-request-id`, `x-correlation-id`, `content-type`.
    public var headers: [String: String]
    public var body: [UInt8]
    /// Why the path or query could not be read as text (invalid UTF-8, a control character); the
    /// API answers such a request 400 without routing it.
    public var unreadable: String?

    public init(method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        queryItems = query.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
        self.headers = headers
        self.body = body
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, contentType: String = "application/json", headers: [(String, String)] = [], body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }
}

/// Answers REST calls off the socket thread (they may wait on the database) and says when done.
public protocol HTTPHandler: AnyObject, Sendable {
    func handle(_ request: HTTPRequest, respond: @escaping @Sendable (HTTPResponse) -> Void)
}

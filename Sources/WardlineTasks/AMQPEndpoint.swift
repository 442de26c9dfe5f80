import Foundation

/// Where the broker is and who Wardline logs in as, from `amqp://user:password@host:port/vhost`
/// (vhost percent-encoded, so `/` is `%2F`; an empty path is the default vhost `/`).
public struct AMQPEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var vhost: String

    public init(url: String) throws {
        guard let c = URLComponents(string: url), c.scheme == "amqp", let host = c.host, !host.isEmpty else {
            throw AMQPEndpointError(description: "\(Self.redacted(url)) is not an amqp://user:password@host:port/vhost URL")
        }
        self.host = host
        port = c.port ?? 5672
        user = c.percentEncodedUser.flatMap { $0.removingPercentEncoding } ?? "guest"
        password = c.percentEncodedPassword.flatMap { $0.removingPercentEncoding } ?? "guest"
        let path = c.percentEncodedPath
        vhost = path.isEmpty || path == "/" ? "/" : String(path.dropFirst()).removingPercentEncoding ?? String(path.dropFirst())
    }

    /// For logs: never the password.
    public var description: String { "amqp://\(user)@\(host):\(port)/\(vhost == "/" ? "" : vhost)" }

    public static func redacted(_ url: String) -> String {
        url.replacingOccurrences(of: #":[^:@/]*@"#, with: ":***@", options: .regularExpression)
    }
}

public struct AMQPEndpointError: Error, CustomStringConvertible {
    public let description: String
}

import Foundation

/// Which web pages may open a WebSocket here, by the `Origin` header of the handshake.
///
/// A browser always sends `Origin` on a WebSocket handshake and scripts cannot forge it, so
/// checking it is what stops another site's page from riding a nurse's token (cross-site
/// WebSocket hijacking). A handshake with no `Origin` comes from a program, not a page (a
/// monitoring tool, the tests' clients): it is let through, because the token it must present is
/// the whole of its authority and no browser can send such a handshake. `Origin: null`
/// (sandboxed frames, `file:` pages) is refused.
public struct OriginPolicy: Sendable, Equatable {
    public let allowed: Set<String>

    public init(allowed: [String]) {
        self.allowed = Set(allowed.map(Self.normalise))
    }

    /// The server's own origins: `scheme://host:port` for the address it listens on, and for
    /// `127.0.0.1` and `localhost` when that is a loopback address. A wildcard address (`0.0.0.0`)
    /// names no page: such a server must be given its public origins (WARDLINE_WS_ORIGINS).
    public static func own(host: String, port: Int32, tls: Bool) -> OriginPolicy {
        let scheme = tls ? "https" : "http"
        var hosts: [String] = []
        if host != "0.0.0.0" && host != "::" && !host.isEmpty { hosts.append(host.contains(":") ? "[\(host)]" : host) }
        if host == "localhost" || host == "::1" || host.hasPrefix("127.") { hosts += ["127.0.0.1", "localhost"] }
        var origins = hosts.map { "\(scheme)://\($0):\(port)" }
        if port == (tls ? 443 : 80) { origins += hosts.map { "\(scheme)://\($0)" } }
        return OriginPolicy(allowed: origins)
    }

    /// The same policy allowing these origins too (the ward page's other hubs).
    public func adding(_ origins: [String]) -> OriginPolicy { OriginPolicy(allowed: Array(allowed) + origins) }

    /// `scheme://host[:port]` of a base URL (`http://127.0.0.1:18991/`), as a browser writes the
    /// `Origin` of a page served from it; nil when it is not an http(s) URL with a host.
    public static func origin(ofURL url: String) -> String? {
        guard let c = URLComponents(string: url.trimmingCharacters(in: .whitespaces)), let scheme = c.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = c.host, !host.isEmpty, c.user == nil,
              c.query == nil, c.fragment == nil, c.path.isEmpty || c.path == "/" else { return nil }
        let defaultPort = scheme == "https" ? 443 : 80
        let port = c.port.map { $0 == defaultPort ? "" : ":\($0)" } ?? ""
        return normalise("\(scheme)://\(host.contains(":") ? "[\(host)]" : host)\(port)")
    }

    /// Whether a handshake with this `Origin` header (nil: none sent) may proceed.
    public func allows(_ origin: String?) -> Bool {
        guard let origin else { return true }
        return allowed.contains(Self.normalise(origin))
    }

    /// Scheme and host are case-insensitive; a trailing slash is not part of an origin.
    static func normalise(_ s: String) -> String {
        var t = s.trimmingCharacters(in: .whitespaces).lowercased()
        while t.hasSuffix("/") { t.removeLast() }
        return t
    }
}

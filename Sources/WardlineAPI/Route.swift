import Foundation
/// A route pattern such as `/api/v1/alarms/{id}/acknowledge`; matching yields the named parts.
struct Route: Sendable {
    let method: String
    let parts: [Substring]
    let name: String
    /// How many parts are fixed words rather than `{names}`: the more, the more specific the route.
    var literalCount: Int { parts.filter { !$0.hasPrefix("{") }.count }

    init(_ method: String, _ pattern: String, _ name: String) {
        self.method = method
        parts = pattern.split(separator: "/")
        self.name = name
    }

    /// A `{name*}` part takes one or more segments (alarm ids contain slashes); every part is
    /// percent-decoded after splitting, so `%2F` works as well as a raw slash.
    func match(_ path: [Substring]) -> [String: String]? {
        var params: [String: String] = [:]
        guard let star = parts.firstIndex(where: { $0.hasSuffix("*}") }) else {
            guard path.count == parts.count else { return nil }
            return Self.bind(parts[...], path[...], &params) ? params : nil
        }
        let after = parts.count - star - 1
        guard path.count >= parts.count else { return nil }
        guard Self.bind(parts[..<star], path[..<star], &params),
              Self.bind(parts[(star + 1)...], path[(path.count - after)...], &params) else { return nil }
        let name = String(parts[star].dropFirst().dropLast(2))
        params[name] = path[star..<(path.count - after)].map { String($0).removingPercentEncoding ?? String($0) }.joined(separator: "/")
        return params
    }

    private static func bind(_ pattern: ArraySlice<Substring>, _ path: ArraySlice<Substring>, _ params: inout [String: String]) -> Bool {
        for (p, s) in zip(pattern, path) {
            let segment = String(s).removingPercentEncoding ?? String(s)
            if p.hasPrefix("{") { params[String(p.dropFirst().dropLast())] = segment } else if p != segment { return false }
        }
        return true
    }
}

/// What a handler is given: the request, who sent it, and the path's named parts.
struct Call {
    let request: HTTPRequestView
    let principal: Principal?
    let params: [String: String]

    func param(_ name: String) -> String { params[name] ?? "" }
}

import WardlineHub
import WardlineWeb
import WardlineWard

typealias HTTPRequestView = HTTPRequest

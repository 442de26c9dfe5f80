/// A route pattern such as `/api/v1/alarms/{id}/acknowledge`; matching yields the named parts.
struct Route: Sendable {
    let method: String
    let parts: [Substring]
    let name: String

    init(_ method: String, _ pattern: String, _ name: String) {
        self.method = method
        parts = pattern.split(separator: "/")
        self.name = name
    }

    func match(_ path: [Substring]) -> [String: String]? {
        guard path.count == parts.count else { return nil }
        var params: [String: String] = [:]
        for (p, s) in zip(parts, path) {
            if p.hasPrefix("{") { params[String(p.dropFirst().dropLast())] = String(s) } else if p != s { return nil }
        }
        return params
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

typealias HTTPRequestView = HTTPRequest

import Foundation
import WardlineCore
import WardlineHub
import WardlineStore
import WardlineWard

/// Who may do what, and reading request bodies and parameters.
extension WardAPI {
    func need(_ db: PostgresConnection?) throws -> PostgresConnection {
        guard let db else { throw APIError.databaseUnavailable("the database is unreachable; try again shortly") }
        return db
    }

    func who(_ c: Call) -> Principal { c.principal! }

    /// Every REST action is decided by the one `AccessPolicy` (the WebSocket's acknowledgements too).
    func authorise(_ c: Call, _ action: StaffAction) throws {
        if let refusal = context.policy.check(who(c), action, in: context.directory.current) {
            throw APIError.forbidden(refusal.description)
        }
    }

    func requireView(_ c: Call, _ patientID: String) throws { try authorise(c, .viewPatient(patientID)) }

    /// A request body is read field by field, so that each refusal names its field and says what is
    /// wrong with it; a body that is not a JSON document is `malformed_json`.
    func body(_ c: Call) throws -> [String: JSONValue] {
        if c.request.body.isEmpty { return [:] }
        guard let document = JSONValue.document(c.request.body) else {
            throw APIError(400, "malformed_json", "the request body is not valid JSON")
        }
        guard let object = document.object else { throw APIError.validation("body", "must be a JSON object") }
        return object
    }

    func string(_ body: [String: JSONValue], _ key: String, required: Bool = true) throws -> String? {
        guard let v = body[key], v != .null else {
            if required { throw APIError.validation(key, "is required") }
            return nil
        }
        guard let s = v.string, !s.isEmpty, s.utf8.count <= 128 else { throw APIError.validation(key, "must be a non-empty string of at most 128 bytes") }
        return s
    }

    /// A JSON number, never `true`/`false`.
    static func number(_ v: JSONValue?) -> Double? {
        guard let d = v?.double, d.isFinite else { return nil }
        return d
    }

    /// A JSON whole number (`2` or `2.0`), never a boolean.
    static func integer(_ v: JSONValue?) -> Int? {
        guard let d = number(v), d == d.rounded(), abs(d) < 1e15 else { return nil }
        return Int(d)
    }

    /// An id in a body (`ward`, `bed`, `patient_id`, `user_id`): as `checkID`.
    func idField(_ body: [String: JSONValue], _ key: String, required: Bool = true) throws -> String? {
        guard let v = body[key] else {
            if required { throw APIError.validation(key, "is required") }
            return nil
        }
        guard let s = v.string else { throw APIError.validation(key, "must be a string") }
        try checkID(s, key)
        return s
    }

    /// The path's named parts and the id filters in the query, checked before any handler runs.
    func checkIDs(_ c: Call) throws {
        for (name, value) in c.params.sorted(by: { $0.key < $1.key }) {
            if name == "alarm_id" {
                let parts = value.split(separator: "/", omittingEmptySubsequences: false)
                let ok = value.utf8.count <= 200 && (1...4).contains(parts.count) && parts.allSatisfy { part in
                    !part.isEmpty && part.utf8.allSatisfy { c in c == 0x40 || Self.isIDByte(c) }
                }
                guard ok else {
                    throw APIError.validation(name, "must be up to four parts of letters, digits, '-', '_', '.', ':' or '@' joined by '/', at most 200 bytes")
                }
            } else {
                try checkID(value, name)
            }
        }
        for name in ["patient_id", "user_id"] { if let v = c.request.query[name] { try checkID(v, name) } }
    }

    static func isIDByte(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F || c == 0x2E || c == 0x3A
    }

    /// Ids in paths: what devices and hospitals use, nothing that could surprise a log or a topic.
    func checkID(_ value: String, _ name: String) throws {
        let ok = !value.isEmpty && value.utf8.count <= 64 && value.utf8.allSatisfy(Self.isIDByte)
        if !ok { throw APIError.validation(name, "must be 1–64 letters, digits, '-', '_', '.' or ':'") }
    }
}

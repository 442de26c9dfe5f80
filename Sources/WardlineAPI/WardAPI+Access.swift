import Foundation
import WardlineHub
import WardlineStore

/// Who may do what, and reading request bodies and parameters.
extension WardAPI {
    func need(_ db: PostgresConnection?) throws -> PostgresConnection {
        guard let db else { throw APIError(503, "database_unavailable", "the database is unreachable; try again shortly") }
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

    func body(_ c: Call) throws -> [String: Any] {
        if c.request.body.isEmpty { return [:] }
        guard let object = try? JSONSerialization.jsonObject(with: Data(c.request.body)) else {
            throw APIError(400, "malformed_json", "the request body is not valid JSON")
        }
        guard let dict = object as? [String: Any] else { throw APIError.validation("body", "must be a JSON object") }
        return dict
    }

    func string(_ body: [String: Any], _ key: String, required: Bool = true) throws -> String? {
        guard let v = body[key], !(v is NSNull) else {
            if required { throw APIError.validation(key, "is required") }
            return nil
        }
        guard let s = v as? String, !s.isEmpty, s.utf8.count <= 128 else { throw APIError.validation(key, "must be a non-empty string of at most 128 bytes") }
        return s
    }

    /// Ids in paths: what devices and hospitals use, nothing that could surprise a log or a topic.
    func checkID(_ value: String, _ name: String) throws {
        let ok = !value.isEmpty && value.utf8.count <= 64 && value.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F || c == 0x2E || c == 0x3A
        }
        if !ok { throw APIError.validation(name, "must be 1–64 letters, digits, '-', '_', '.' or ':'") }
    }
}

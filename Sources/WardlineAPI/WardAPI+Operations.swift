import Foundation
import WardlineStore

/// `/health` (the process answers), `/ready` (its dependencies answer too).
extension WardAPI {
    func health(_ c: Call) throws -> HTTPResult {
        .data(["service": "wardline", "status": "up"])
    }

    func ready(_ c: Call, _ db: PostgresConnection?) throws -> HTTPResult {
        var parts = context.readiness()
        let databaseOK = db.map { (try? $0.execute("SELECT 1")) != nil } ?? false
        parts.append(Readiness(component: "database", ok: databaseOK, required: true,
                               detail: databaseOK ? "ok" : "cannot reach the database"))
        let ready = parts.allSatisfy { $0.ok || !$0.required }
        let components = Dictionary(parts.map { ($0.component, ["ok": $0.ok, "required": $0.required, "detail": $0.detail] as [String: Any]) },
                                    uniquingKeysWith: { a, _ in a })
        let data: [String: Any] = ["ready": ready, "components": components]
        if ready { return .data(data, message: "ready") }
        let failing = parts.filter { !$0.ok && $0.required }.map { "\($0.component): \($0.detail)" }.joined(separator: "; ")
        throw APIErrorWithData(error: APIError(503, "not_ready", "not ready: " + failing), data: data)
    }
}

/// An error that still carries data (the `/ready` components when not ready).
struct APIErrorWithData: Error, @unchecked Sendable {
    let error: APIError
    let data: [String: Any]
}

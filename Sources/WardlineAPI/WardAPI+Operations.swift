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
        let components = Dictionary(parts.map { ($0.component, ReadyBody.Component(ok: $0.ok, required: $0.required, detail: $0.detail)) },
                                    uniquingKeysWith: { a, _ in a })
        // Optional parts (Kafka, RabbitMQ) down: still ready to ingest and alarm, but degraded, and said.
        let degraded = parts.contains { !$0.ok && !$0.required }
        let data = ReadyBody(ready: ready, degraded: degraded, components: components)
        if ready {
            let down = parts.filter { !$0.ok }.map { "\($0.component): \($0.detail)" }.joined(separator: "; ")
            return .data(data, message: degraded ? "ready, degraded: " + down : "ready")
        }
        let failing = parts.filter { !$0.ok && $0.required }.map { "\($0.component): \($0.detail)" }.joined(separator: "; ")
        throw APIErrorWithData(error: APIError(503, "not_ready", "not ready: " + failing, retryAfter: 5), data: data)
    }
}

/// What `/ready` says of each part, ready or not.
struct ReadyBody: Encodable, Sendable {
    struct Component: Encodable, Sendable {
        let ok: Bool
        let required: Bool
        let detail: String
    }

    let ready: Bool
    let degraded: Bool
    let components: [String: Component]
}

/// An error that still carries data (the `/ready` components when not ready).
struct APIErrorWithData: Error, Sendable {
    let error: APIError
    let data: ReadyBody
}

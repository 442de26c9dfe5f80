import Foundation
import Logging
import Synchronization
import WardlineHub
import WardlineStore
import WardlineWard
import WardlineWeb

/// The REST API under `/api/v1`, plus `/health`, `/ready` and `/metrics`.
///
/// Requests come from the socket thread and are answered on a small pool of worker threads, each
/// with its own database connection, so a slow query never holds up a WebSocket frame.
public final class WardAPI: HTTPHandler, @unchecked Sendable {
    typealias Handler = @Sendable (WardAPI, Call, PostgresConnection?) throws -> HTTPResult

    let context: APIContext
    let logger: Logger
    /// First answers to POSTs sent with an `Idempotency-Key`, replayed to a retry.
    let idempotency: IdempotencyKeys
    private let jobs = Mutex<[@Sendable (PostgresConnection?) -> Void]>([])
    private let available = DispatchSemaphore(value: 0)
    private let workers: Int

    static let routes: [(Route, Bool, Handler)] = [
        // (route, needs a token, handler)
        (Route("GET", "/health", "health"), false, { api, c, _ in try api.health(c) }),
        (Route("GET", "/ready", "ready"), false, { api, c, db in try api.ready(c, db) }),
        (Route("GET", "/metrics", "metrics"), false, { api, _, _ in .text(api.context.metrics()) }),
        (Route("GET", "/api/v1/me", "me"), true, { api, c, _ in try api.me(c) }),
        (Route("GET", "/api/v1/patients", "patients"), true, { api, c, _ in try api.patients(c) }),
        (Route("PUT", "/api/v1/patients/{patient_id}", "admit"), true, { api, c, db in try api.admit(c, db) }),
        (Route("DELETE", "/api/v1/patients/{patient_id}", "discharge"), true, { api, c, db in try api.discharge(c, db) }),
        (Route("GET", "/api/v1/patients/{patient_id}/vitals", "vitals"), true, { api, c, db in try api.vitalsHistory(c, db) }),
        (Route("GET", "/api/v1/patients/{patient_id}/news2", "news2"), true, { api, c, _ in try api.news2(c) }),
        (Route("PUT", "/api/v1/patients/{patient_id}/spo2-scale", "spo2 scale"), true, { api, c, db in try api.setScale(c, db) }),
        (Route("GET", "/api/v1/patients/{patient_id}/thresholds", "thresholds"), true, { api, c, db in try api.thresholds(c, db) }),
        (Route("PUT", "/api/v1/patients/{patient_id}/thresholds/{rule_id}", "set threshold"), true, { api, c, db in try api.setThreshold(c, db) }),
        (Route("DELETE", "/api/v1/patients/{patient_id}/thresholds/{rule_id}", "remove threshold"), true, { api, c, db in try api.removeThreshold(c, db) }),
        (Route("GET", "/api/v1/alarms", "alarms"), true, { api, c, db in try api.alarms(c, db) }),
        (Route("GET", "/api/v1/alarms/{alarm_id*}", "alarm"), true, { api, c, db in try api.alarm(c, db) }),
        (Route("POST", "/api/v1/alarms/{alarm_id*}/acknowledge", "acknowledge"), true, { api, c, db in try api.acknowledge(c, db) }),
        (Route("GET", "/api/v1/devices", "devices"), true, { api, c, db in try api.devices(c, db) }),
        (Route("PUT", "/api/v1/devices/{device_id}/assignment", "assign device"), true, { api, c, db in try api.assignDevice(c, db) }),
        (Route("DELETE", "/api/v1/devices/{device_id}/assignment", "unassign device"), true, { api, c, db in try api.unassignDevice(c, db) }),
        (Route("POST", "/api/v1/devices/{device_id}/commands", "command"), true, { api, c, db in try api.command(c, db) }),
        (Route("GET", "/api/v1/care-assignments", "care assignments"), true, { api, c, db in try api.careAssignments(c, db) }),
        (Route("POST", "/api/v1/care-assignments", "assign care"), true, { api, c, db in try api.assignCare(c, db) }),
        (Route("DELETE", "/api/v1/care-assignments/{user_id}/{patient_id}", "end care"), true, { api, c, db in try api.endCare(c, db) }),
        (Route("GET", "/api/v1/reports/alarm-burden", "alarm burden"), true, { api, c, db in try api.alarmBurden(c, db) }),
        // FHIR R4 for the health record (WardAPI+FHIR.swift); its refusals are OperationOutcomes.
        (Route("GET", "/fhir/Observation", "fhir observations"), true, { api, c, db in try api.fhirObservations(c, db) }),
    ]

    /// Every route: the list above and those kept beside their handlers (`credentialRoutes`, `replayRoutes`).
    static let allRoutes: [(Route, Bool, Handler)] = routes + credentialRoutes + replayRoutes

    public init(context: APIContext, workers: Int = 4, idempotency: IdempotencyKeys = IdempotencyKeys(), logger: Logger) {
        self.context = context
        self.logger = logger
        self.idempotency = idempotency
        self.workers = workers
    }

    public func start() {
        for i in 0..<workers {
            let t = Thread { [self] in work() }
            t.name = "wardline-api-\(i)"
            t.start()
        }
    }

    public func handle(_ request: HTTPRequest, respond: @escaping @Sendable (HTTPResponse) -> Void) {
        jobs.withLock { $0.append({ [self] db in respond(answer(request, db)) }) }
        available.signal()
    }

    private func work() {
        var db: PostgresConnection?
        while true {
            available.wait()
            guard let job = jobs.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { continue }
            if db == nil { db = try? PostgresConnection(url: context.databaseURL) }
            job(db)
            // A broken connection is replaced before the next request (no round trip to check it).
            if let c = db, !c.isConnected { db = nil }
        }
    }

    /// Routes, authenticates and runs one request; every failure becomes an enveloped error (under
    /// `/fhir/`, an OperationOutcome: an EHR's FHIR client reads no other kind of refusal).
    func answer(_ request: HTTPRequest, _ db: PostgresConnection?) -> HTTPResponse {
        let envelope = Envelope(request)
        let fhir = request.path.hasPrefix("/fhir/")
        func refuse(_ e: APIError) -> HTTPResponse { fhir ? FHIRAnswer.outcome(e, envelope) : envelope.failure(e) }
        if let why = request.unreadable { return refuse(APIError(400, "bad_request", why)) }
        let path = request.path.split(separator: "/")
        // HEAD is GET without the body (the web server leaves it out).
        let method = request.method == "HEAD" ? "GET" : request.method
        // A path such as /alarms/{id}/acknowledge also fits /alarms/{alarm_id*}; the route with the
        // most fixed parts owns it, so its methods alone decide 405 and `Allow`.
        let fits = Self.allRoutes.compactMap { entry in entry.0.match(path).map { (entry, $0) } }
        let specific = fits.map(\.0.0.literalCount).max()
        let owners = fits.filter { $0.0.0.literalCount == specific }
        guard !owners.isEmpty else { return refuse(.notFound("no route \(request.method) \(request.path)")) }
        guard let ((route, needsToken, handler), params) = owners.first(where: { $0.0.0.method == method }) else {
            let allow = owners.map(\.0.0.method).joined(separator: ", ")
            var refusal = refuse(APIError(405, "method_not_allowed", "\(request.method) is not allowed on \(request.path); allowed: \(allow)"))
            refusal.headers.append(("allow", allow))
            return refusal
        }
        var principal: Principal?
        if needsToken {
            do throws(TokenRefusal) {
                principal = try context.tokens.verify(Self.bearer(request))
            } catch {
                return refuse(APIError(401, "unauthorized", error.description))
            }
        }
        let call = Call(request: request, principal: principal, params: params)
        guard route.method == "POST", let key = request.headers["idempotency-key"], let subject = principal?.userID else {
            return run(route, handler, call, db, envelope, fhir: fhir)
        }
        guard IdempotencyKeys.isWellFormed(key) else {
            return envelope.failure(.validation("Idempotency-Key", "must be 1–255 printable ASCII characters"))
        }
        let target = request.path + "?" + request.query.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
        let fingerprint = IdempotencyKeys.fingerprint(method: request.method, path: target, body: request.body)
        switch idempotency.claim(subject: subject, key: key, fingerprint: fingerprint, nowSeconds: Int64(Date().timeIntervalSince1970)) {
        case .replay(var first):
            first.headers.append(("idempotent-replayed", "true"))
            return first
        case .refused(let e):
            return envelope.failure(e)
        case .proceed:
            let response = run(route, handler, call, db, envelope)
            idempotency.finish(subject: subject, key: key, answer: response)
            return response
        }
    }

    private func run(_ route: Route, _ handler: Handler, _ call: Call, _ db: PostgresConnection?, _ envelope: Envelope,
                     fhir: Bool = false) -> HTTPResponse {
        func refuse(_ e: APIError) -> HTTPResponse { fhir ? FHIRAnswer.outcome(e, envelope) : envelope.failure(e) }
        do {
            try checkIDs(call)
            switch try handler(self, call, db) {
            case .data(let data, let status, let message): return envelope.success(data, status: status, message: message)
            case .text(let text):
                return HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(text.utf8))
            case .raw(var response):
                if fhir { response.headers += [("x-request-id", envelope.requestID), ("x-correlation-id", envelope.correlationID)] }
                return response
            }
        } catch let e as APIError {
            return refuse(e)
        } catch let e as APIErrorWithData {
            return envelope.failure(e.error, data: e.data)
        } catch {
            logger.error("request failed", metadata: ["route": "\(route.name)", "error": "\(error)"])
            return refuse(.databaseUnavailable("the database did not answer: \(error)"))
        }
    }

    private static func bearer(_ r: HTTPRequest) -> String? {
        guard let auth = r.headers["authorization"], auth.lowercased().hasPrefix("bearer ") else { return nil }
        return String(auth.dropFirst(7)).trimmingCharacters(in: .whitespaces)
    }
}

enum HTTPResult {
    case data(any Encodable, status: Int = 200, message: String = "ok")
    case text(String)
    case raw(HTTPResponse)
}

import Foundation
import WardlineCore
import WardlineFHIR
import WardlineStore
import WardlineWeb

/// `GET /fhir/Observation`: a patient's readings for the electronic health record as a FHIR R4
/// `searchset` Bundle, with the same tokens and ward scoping as the REST API.
extension WardAPI {
    func fhirObservations(_ c: Call, _ db: PostgresConnection?) throws -> HTTPResult {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let search: ObservationSearch
        do throws(SearchRefusal) {
            search = try ObservationSearch.parse(c.request.queryItems, now: now)
        } catch {
            throw APIError.validation(error.parameter, error.problem)
        }
        try requireView(c, search.patientID)
        let queries = ObservationQueries(db: try need(db))
        // One row more than a page: each row gives at least one Observation, so a page that fills
        // knows whether anything follows it.
        let limit = search.count + 1
        // A cursor is a key, and only one inside the range (or its first hour) reaches the query:
        // every row comes after one before it, none after one beyond it.
        let start = search.cursor.flatMap { $0.time < search.from - 3_600_000 ? nil : $0 }
        let rows: [SearchPage.Row]
        if let c = search.cursor, c.time >= search.to {
            rows = []
        } else if search.isHourly {
            let hours = try queries.hourlyMeans(patientID: search.patientID, fromMillis: search.from, toMillis: search.to,
                                                startingAt: start.map { ($0.time, $0.deviceID) },
                                                columns: search.kinds.flatMap(\.columnGroups).flatMap { $0 }, limit: limit)
            rows = hours.map { h in
                let hour = HourOfReadings(hourStart: h.hourStart, deviceID: h.deviceID, means: h.vitals.mapValues {
                    HourlyMean(mean: $0.mean, readings: $0.readings, min: $0.min, max: $0.max)
                })
                return SearchPage.Row(key: PageCursor(time: h.hourStart, deviceID: h.deviceID, seq: 0, skip: 0),
                                      observations: VitalSignsMapping.observations(of: hour, patientID: search.patientID, kinds: search.kinds,
                                                                                   from: search.from, to: search.to))
            }
        } else {
            let scale = search.kinds.contains(.news2) ? try queries.spo2Scale(patientID: search.patientID) : .scale1
            let readings = try queries.readings(patientID: search.patientID, fromMillis: search.from, toMillis: search.to,
                                                startingAt: start.map { ($0.time, $0.deviceID, $0.seq) },
                                                anyOf: search.kinds.flatMap(\.columnGroups), limit: limit)
            rows = readings.map { r in
                SearchPage.Row(key: PageCursor(time: r.time, deviceID: r.deviceID, seq: r.seq, skip: 0),
                               observations: VitalSignsMapping.observations(of: r, kinds: search.kinds, scale: scale))
            }
        }
        let (page, found) = SearchPage.page(rows, from: search.cursor, count: search.count)
        var next = found
        if next == nil, rows.count == limit, let last = rows.last {
            // Rows that gave nothing (a stored consciousness level no chart knows): go on past them.
            next = PageCursor(time: last.key.time, deviceID: last.key.deviceID, seq: last.key.seq, skip: last.observations.count)
        }
        // Links relative to this server: Wardline does not build absolute URLs from a Host header
        // anyone can send.
        let base = "/fhir/Observation?"
        let bundle = SearchBundle(observations: page, selfURL: base + search.query(cursor: search.cursor),
                                  nextURL: next.map { base + search.query(cursor: $0) })
        return .raw(FHIRAnswer.resource(bundle, status: 200))
    }
}

/// FHIR's media type on every answer under `/fhir/`, success or refusal.
enum FHIRAnswer {
    static let contentType = "application/fhir+json"

    static func resource(_ body: some Encodable, status: Int, headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, contentType: contentType, headers: headers, body: JSONText.encode(body, .unordered))
    }

    /// A refusal as an OperationOutcome, with the envelope's ids and the same `WWW-Authenticate`
    /// and `Retry-After` the REST API sends.
    static func outcome(_ e: APIError, _ envelope: Envelope) -> HTTPResponse {
        var headers = [("x-request-id", envelope.requestID), ("x-correlation-id", envelope.correlationID)]
        if e.status == 401 { headers.append(("www-authenticate", "Bearer")) }
        if let seconds = e.retryAfter { headers.append(("retry-after", String(seconds))) }
        return resource(OperationOutcome(status: e.status, diagnostics: e.message), status: e.status, headers: headers)
    }
}

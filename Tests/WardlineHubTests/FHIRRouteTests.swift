import Foundation
import Logging
import Testing
@testable import WardlineAPI
import WardlineCore
import WardlineWard
import WardlineWeb

/// `/fhir/…` refuses the FHIR way, before any database: an OperationOutcome in
/// `application/fhir+json` for a bad token, a bad parameter, a forbidden patient, an unknown path.
@Suite struct FHIRRouteTests {
    static let tokens = MethodAndIDTests.tokens
    static let api = MethodAndIDTests.api
    static let nurse = "Bearer " + tokens.mint(Principal(userID: "n", role: .nurse, ward: "4B"), validFor: 60)

    func answer(_ path: String, _ items: [(String, String)] = [], token: String? = MethodAndIDTests.admin) -> (Int, String, String?) {
        var r = HTTPRequest(method: "GET", path: path, headers: token.map { ["authorization": $0] } ?? [:])
        r.queryItems = items.map { (name: $0.0, value: $0.1) }
        let response = Self.api.answer(r, nil)
        let issue = JSONValue.parse(response.body)?["issue"]?.array?.first?["code"]?.string
        #expect(response.contentType == "application/fhir+json")
        #expect(JSONValue.parse(response.body)?["resourceType"]?.string == "OperationOutcome")
        return (response.status, issue ?? "", response.headers.first { $0.0 == "www-authenticate" }?.1)
    }

    @Test func refusalsAreOperationOutcomes() {
        #expect(answer("/fhir/Observation", [("patient", "P1")], token: nil) == (401, "login", "Bearer"))
        #expect(answer("/fhir/Observation", [("patient", "P1"), ("date", "ge2025-12-01"), ("date", "le2025-11-01")]).0 == 400)
        #expect(answer("/fhir/Observation", [("date", "ge2025-12-01")]) == (400, "invalid", nil))
        #expect(answer("/fhir/Observation", [("patient", "P1")], token: Self.nurse) == (403, "forbidden", nil))
        #expect(answer("/fhir/Patient", [("patient", "P1")]) == (404, "not-found", nil))
        // Past every check, the database is down: 503, still an OperationOutcome.
        #expect(answer("/fhir/Observation", [("patient", "P1")]) == (503, "transient", nil))
    }
}

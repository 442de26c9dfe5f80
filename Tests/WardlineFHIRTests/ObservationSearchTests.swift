import Testing
import WardlineCore
@testable import WardlineFHIR

/// The search parameters an EHR sends: dates at every precision with their zones, codes as
/// tokens, bounded pages, and every refusal naming its parameter.
@Suite struct ObservationSearchTests {
    static let now: Int64 = 1_764_624_724_123

    func parse(_ q: [(String, String)]) throws(SearchRefusal) -> ObservationSearch {
        try ObservationSearch.parse(q.map { (name: $0.0, value: $0.1) }, now: Self.now)
    }

    func refused(_ q: [(String, String)]) -> String? {
        do { _ = try parse(q); return nil } catch { return error.parameter }
    }

    @Test("Date precision and zones", arguments: [
        ("2025-12-01", 1_764_547_200_000, 1_764_633_600_000),
        ("2025-12-01T10:15Z", 1_764_584_100_000, 1_764_584_160_000),
        ("2025-12-01T10:15:30+01:00", 1_764_580_530_000, 1_764_580_531_000),
        ("2025-12-01T10:15:30.25-00:30", 1_764_585_930_250, 1_764_585_930_260),
        ("2024-02-29T00:00:00.123456Z", 1_709_164_800_123, 1_709_164_800_124),
    ])
    func dates(_ s: String, _ start: Int64, _ end: Int64) {
        #expect(FHIRTime.interval(s).map { [$0.start, $0.end] } == [start, end])
    }

    @Test("Not a search date", arguments: ["2025", "2025-12", "2025-13-01", "2025-02-29", "2025-12-01T10:15", "2025-12-01T24:00Z",
                                            "2025-12-01T10:15:30", "2025-12-01T10:15:30+1:00", "yesterday", "2025-12-01T10:15:30.Z", ""])
    func badDates(_ s: String) {
        #expect(FHIRTime.interval(s) == nil)
    }

    @Test func writtenTimesReadBack() {
        for t in [Self.now, 0, 951_782_400_000, -1] {
            #expect(FHIRTime.interval(FHIRTime.dateTime(t))?.start == t)
        }
        #expect(FHIRTime.dateTime(-1) == "1969-12-31T23:59:59.999+00:00")
    }

    @Test func prefixesBoundTheRangeAndTheDefaultIsTheLastDay() throws {
        let s = try parse([("patient", "Patient/PAT-1"), ("date", "ge2025-12-01T00:00:00Z"), ("date", "lt2025-12-01T06:00:00Z")])
        #expect(s.patientID == "PAT-1" && s.from == 1_764_547_200_000 && s.to == 1_764_547_200_000 + 6 * 3_600_000)
        #expect(!s.isHourly && s.kinds == ObservationKind.allCases && s.count == 50)
        let day = try parse([("patient", "PAT-1"), ("date", "2025-12-01")])
        #expect(day.to - day.from == 86_400_000 && !day.isHourly)
        let unbounded = try parse([("patient", "PAT-1")])
        #expect(unbounded.to == Self.now && unbounded.from == Self.now - 86_400_000)
        let week = try parse([("patient", "PAT-1"), ("date", "ge2025-11-24"), ("date", "le2025-12-01")])
        #expect(week.isHourly)
        // A '+' sent unencoded arrives as a space.
        #expect(try parse([("patient", "PAT-1"), ("date", "ge2025-12-01T10:15:30 01:00")]).from == 1_764_580_530_000)
    }

    @Test func refusalsNameTheirParameter() {
        #expect(refused([]) == "patient")
        #expect(refused([("patient", "a/b")]) == "patient")
        #expect(refused([("patient", String(repeating: "p", count: 65))]) == "patient")
        #expect(refused([("patient", "P1"), ("patient", "P2")]) == "patient")
        #expect(refused([("patient", "P1"), ("date", "ge2025-12-01T10:15")]) == "date")
        #expect(refused([("patient", "P1"), ("date", "xx2025-12-01")]) == "date")
        #expect(refused([("patient", "P1"), ("date", "ge2025-12-02"), ("date", "lt2025-12-01")]) == "date")
        #expect(refused([("patient", "P1"), ("date", "ge2025-10-01"), ("date", "lt2025-12-01")]) == "date")
        #expect(refused([("patient", "P1"), ("_count", "0")]) == "_count")
        #expect(refused([("patient", "P1"), ("_count", "101")]) == "_count")
        #expect(refused([("patient", "P1"), ("_count", "ten")]) == "_count")
        #expect(refused([("patient", "P1"), ("_cursor", "12~1~0")]) == "_cursor")
        #expect(refused([("patient", "P1"), ("code", "a b")]) == "code")
        #expect(refused([("patient", "P1"), ("code", Array(repeating: "8867-4", count: 13).joined(separator: ","))]) == "code")
        #expect(refused([("patient", "P1"), ("whatever", "ignored")]) == nil)
    }

    @Test func codesAreTokensOred() throws {
        func kinds(_ c: String) throws -> [ObservationKind] { try parse([("patient", "P1"), ("code", c)]).kinds }
        #expect(try kinds("http://loinc.org|8867-4") == [.heartRate])
        #expect(try kinds("85354-9,59408-5") == [.oxygenSaturation, .bloodPressure])
        #expect(try kinds("http://snomed.info/sct|1104051000000101") == [.news2])
        #expect(try kinds("http://snomed.info/sct|8867-4").isEmpty)
        #expect(try kinds("8480-6").isEmpty)  // a component's code is `component-code`, not `code`
    }

    @Test func theNextLinkKeepsTheSearchAndItsCursor() throws {
        let s = try parse([("patient", "PAT-1"), ("date", "ge2025-12-01T10:15:30+01:00"), ("code", "http://loinc.org|8867-4"), ("_count", "2")])
        let cursor = PageCursor(time: 5, deviceID: "bed7:mon.a", seq: 9, skip: 1)
        let q = s.query(cursor: cursor)
        #expect(q == "patient=PAT-1&date=ge2025-12-01T10:15:30%2B01:00&code=http:%2F%2Floinc.org%7C8867-4&_count=2&_cursor=5~9~1~bed7:mon.a")
        #expect(PageCursor(text: cursor.text) == cursor)
    }

    @Test func pagesSplitReadingsAndCoverEveryObservationOnce() {
        let obs = VitalSignsMapping.observations(
            of: Reading(deviceID: "d", patientID: "P", seq: 1, time: 0, receivedAt: 0,
                        vitals: Vitals(heartRate: 60, spo2: 99, temperature: 37, respiratoryRate: 14, systolicBP: 110, diastolicBP: 70)),
            kinds: ObservationKind.allCases, scale: .scale1)
        let rows = (0..<3).map { i in SearchPage.Row(key: PageCursor(time: Int64(i), deviceID: "d", seq: Int64(i), skip: 0), observations: obs) }
        var cursor: PageCursor?
        var seen = 0
        var pages = 0
        repeat {
            let remaining = rows.filter { r in cursor.map { r.key.time >= $0.time } ?? true }
            let (page, next) = SearchPage.page(remaining, from: cursor, count: 4)
            #expect(page.count == (next == nil ? 15 - seen : 4))
            seen += page.count
            cursor = next
            pages += 1
        } while cursor != nil && pages < 10
        #expect(seen == 15 && pages == 4)
    }
}

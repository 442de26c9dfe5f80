/// A search parameter Wardline will not run, and why (answered 400 with an OperationOutcome).
public struct SearchRefusal: Error, Sendable, Equatable {
    public var parameter: String
    public var problem: String
    public var message: String { "invalid \(parameter): \(problem)" }
}

/// Where a page starts: the first Observation not yet sent, as the key of its reading (or hour)
/// and how many of that reading's Observations came before it. A key, not an offset: readings that
/// arrive while an EHR pages through never shift a page.
public struct PageCursor: Sendable, Equatable {
    public var time: Int64
    public var deviceID: String
    /// The reading's sequence number; 0 for an hour.
    public var seq: Int64
    public var skip: Int

    public init(time: Int64, deviceID: String, seq: Int64, skip: Int) {
        self.time = time
        self.deviceID = deviceID
        self.seq = seq
        self.skip = skip
    }

    /// `time~seq~skip~device`: the device id last, as it may hold `.` and `:`; `~` is in no id.
    public var text: String { "\(time)~\(seq)~\(skip)~\(deviceID)" }

    public init?(text: String) {
        let parts = text.split(separator: "~", maxSplits: 3, omittingEmptySubsequences: false)
        guard text.utf8.count <= 120, parts.count == 4, ObservationSearch.isWhole(parts[0], digits: 15),
              ObservationSearch.isWhole(parts[1], digits: 18), parts[2].utf8.count == 1, ObservationSearch.isWhole(parts[2], digits: 1),
              let t = Int64(parts[0]), let s = Int64(parts[1]), let k = Int(parts[2]),
              (0...ObservationKind.allCases.count).contains(k), ObservationSearch.isID(parts[3]) else { return nil }
        self.init(time: t, deviceID: String(parts[3]), seq: s, skip: k)
    }
}

/// `GET /fhir/Observation`'s parameters, checked and bounded: one patient, a time range, the
/// kinds asked for (`code`), the page size and where the page starts.
///
/// Ranges longer than `rawReadingsLimit` (24 h) are answered from hourly means: an EHR pulling a
/// week of 1 Hz readings would otherwise get some three million Observations.
public struct ObservationSearch: Sendable, Equatable {
    public static let rawReadingsLimit: Int64 = 24 * 3_600_000
    public static let longestRange: Int64 = 31 * 86_400_000
    public static let defaultCount = 50
    public static let largestCount = 100

    public var patientID: String
    /// [from, to) in epoch ms.
    public var from: Int64
    public var to: Int64
    /// In `ObservationKind` order; every kind when no `code` was given.
    public var kinds: [ObservationKind]
    public var count: Int
    public var cursor: PageCursor?
    /// The `code` parameter as sent (kept for the next link).
    var codeParameter: String?
    var dateParameters: [String]

    public var isHourly: Bool { to - from > Self.rawReadingsLimit }

    /// Reads the query (every `name=value` in order, repeats kept). Without `date`, the last 24 h
    /// up to `now`; with only a lower bound, up to `now`; with only an upper bound, the 24 h
    /// before it. Unknown parameters are ignored, as FHIR servers do by default.
    public static func parse(_ items: [(name: String, value: String)], now: Int64) throws(SearchRefusal) -> ObservationSearch {
        func refuse(_ p: String, _ why: String) -> SearchRefusal { SearchRefusal(parameter: p, problem: why) }
        var patient: String?
        var dates: [String] = []
        var code: String?
        var count: Int?
        var cursor: PageCursor?
        for (name, value) in items {
            switch name {
            case "patient":
                guard patient == nil else { throw refuse(name, "give one patient") }
                let id = value.hasPrefix("Patient/") ? String(value.dropFirst(8)) : value
                guard isID(Substring(id)) else { throw refuse(name, "must be a patient id (1–64 letters, digits, '-', '_', '.' or ':'), optionally after Patient/") }
                patient = id
            case "date":
                guard dates.count < 4 else { throw refuse("date", "at most four date parameters") }
                // A '+' of an offset sent unencoded arrives as a space (form encoding); it can mean nothing else here.
                dates.append(String(value.prefix(64)).replacingOccurrences(of: " ", with: "+"))
            case "code":
                guard code == nil else { throw refuse("code", "give codes once, separated by commas") }
                code = value
            case "_count":
                guard count == nil, value.utf8.count <= 4, isWhole(Substring(value), digits: 4), let n = Int(value), (1...largestCount).contains(n) else {
                    throw refuse("_count", "must be a whole number from 1 to \(largestCount)")
                }
                count = n
            case "_cursor":
                guard cursor == nil, let c = PageCursor(text: value) else { throw refuse("_cursor", "is not a page link Wardline made") }
                cursor = c
            default:
                continue
            }
        }
        guard let patient else { throw refuse("patient", "is required (patient=<id>)") }
        var lower: Int64?, upper: Int64?
        for d in dates {
            let (prefix, rest) = d.count > 2 && d.prefix(2).allSatisfy(\.isLetter) ? (String(d.prefix(2)), String(d.dropFirst(2))) : ("eq", d)
            guard let (start, end) = FHIRTime.interval(rest) else {
                throw refuse("date", "must be [ge|gt|le|lt|eq] and a date (2026-12-01) or a time with its zone (2026-12-01T10:15:00Z)")
            }
            switch prefix {
            case "ge": lower = max(lower ?? .min, start)
            case "gt": lower = max(lower ?? .min, end)
            case "le": upper = min(upper ?? .max, end)
            case "lt": upper = min(upper ?? .max, start)
            case "eq":
                lower = max(lower ?? .min, start)
                upper = min(upper ?? .max, end)
            default: throw refuse("date", "the prefix must be ge, gt, le, lt or eq")
            }
        }
        let to = upper ?? (lower == nil ? now : max(now, lower! + 1))
        let from = lower ?? (to - rawReadingsLimit)
        guard from < to else { throw refuse("date", "the range is empty: its start is not before its end") }
        guard to - from <= longestRange else { throw refuse("date", "a search spans at most 31 days") }
        let kinds = try code.map { c throws(SearchRefusal) in try Self.kinds(c) } ?? ObservationKind.allCases
        return ObservationSearch(patientID: patient, from: from, to: to, kinds: kinds, count: count ?? defaultCount, cursor: cursor,
                                 codeParameter: code, dateParameters: dates)
    }

    /// `code=http://loinc.org|8867-4,2708-6`: tokens are ORed; one that names nothing Wardline
    /// sends matches nothing (it is not an error in FHIR).
    static func kinds(_ value: String) throws(SearchRefusal) -> [ObservationKind] {
        let tokens = value.split(separator: ",", omittingEmptySubsequences: false)
        guard value.utf8.count <= 512, (1...12).contains(tokens.count) else {
            throw SearchRefusal(parameter: "code", problem: "at most 12 codes, 512 bytes in all")
        }
        var kinds = Set<ObservationKind>()
        for token in tokens {
            let parts = token.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
            let code = String(parts.last!)
            let system = parts.count == 2 ? String(parts[0]) : nil
            let printable = token.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F }
            guard printable, !code.isEmpty, system?.isEmpty != true else {
                throw SearchRefusal(parameter: "code", problem: "each code is system|code or code, printable ASCII")
            }
            if let k = ObservationKind.named(system: system, code: code) { kinds.insert(k) }
        }
        return kinds.sorted()
    }

    /// The query of the page starting at `cursor`, every other parameter as given.
    public func query(cursor: PageCursor?) -> String {
        var items = [("patient", patientID)]
        items += dateParameters.map { ("date", $0) }
        if let codeParameter { items.append(("code", codeParameter)) }
        items.append(("_count", String(count)))
        if let cursor { items.append(("_cursor", cursor.text)) }
        return items.map { "\($0.0)=\(Self.percentEncoded($0.1))" }.joined(separator: "&")
    }

    static func percentEncoded(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            let plain = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x2E
                || b == 0x5F || b == 0x7E || b == 0x3A
            out += plain ? String(UnicodeScalar(b)) : "%" + String(b, radix: 16, uppercase: true).leftPadded
        }
        return out
    }

    /// Digits with an optional leading minus: `Int("+5")` would take a plus sign no schema allows.
    static func isWhole(_ s: Substring, digits most: Int) -> Bool {
        let digits = s.hasPrefix("-") ? s.dropFirst() : s
        return !digits.isEmpty && digits.utf8.count <= most && digits.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    static func isID(_ s: Substring) -> Bool {
        !s.isEmpty && s.utf8.count <= 64 && s.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F || c == 0x2E || c == 0x3A
        }
    }
}

private extension String {
    var leftPadded: String { count == 1 ? "0" + self : self }
}

/// One page out of rows fetched in key order from the cursor on (each row a reading or an hour,
/// with its Observations): at most `count`, and the cursor of the next page if more remain.
public enum SearchPage {
    public struct Row: Sendable {
        public var key: PageCursor
        public var observations: [Observation]
        public init(key: PageCursor, observations: [Observation]) {
            self.key = key
            self.observations = observations
        }
    }

    public static func page(_ rows: [Row], from cursor: PageCursor?, count: Int) -> (observations: [Observation], next: PageCursor?) {
        var page: [Observation] = []
        for row in rows {
            let resume = cursor.map { $0.time == row.key.time && $0.deviceID == row.key.deviceID && $0.seq == row.key.seq } == true
            var index = resume ? cursor!.skip : 0
            while index < row.observations.count {
                if page.count == count {
                    var next = row.key
                    next.skip = index
                    return (page, next)
                }
                page.append(row.observations[index])
                index += 1
            }
        }
        return (page, nil)
    }
}

/// A single-pass parser for the everyday shape of a vitals payload: one flat JSON object with the
/// contract's keys, plain numbers, `true`/`false`/`null` and escape-free ASCII strings.
///
/// Why it exists: `wardline-bench decode` measured Foundation's JSONDecoder at ~6.8 µs per reading,
/// ~100× the cost of copying the payload and the largest cost on the MQTT thread. This parser
/// never decides that input is bad: whenever anything is unusual (an unknown or repeated key, a
/// wrong type, an escape, a fraction in an integer field, trailing bytes …) it returns nil and the
/// decoder falls back to JSONDecoder, which stays the authority for every error message.
/// A differential, property-based test (`FastVitalsParserTests`) checks that the two agree
/// whenever this one answers.
enum FastVitalsParser {
    static func parse(_ bytes: UnsafeRawBufferPointer) -> VitalsPayload? {
        var p = Cursor(bytes: bytes)
        var v: Int64?, seq: Int64?, ts: Int64?, txUs: Int64?
        var hr: Double?, spo2: Double?, temp: Double?, rr: Double?, sbp: Double?, dbp: Double?
        var o2: Bool?, patientID: String?, acvpu: String?
        var seen: UInt16 = 0

        p.skipWhitespace()
        guard p.take(UInt8(ascii: "{")) else { return nil }
        p.skipWhitespace()
        guard !p.take(UInt8(ascii: "}")) else { return nil }
        while true {
            guard let key = p.plainString() else { return nil }
            p.skipWhitespace()
            guard p.take(UInt8(ascii: ":")) else { return nil }
            p.skipWhitespace()
            guard let field = Field(key) else { return nil }
            let bit: UInt16 = 1 << field.rawValue
            guard seen & bit == 0 else { return nil }
            seen |= bit
            let isNull = p.takeLiteral("null")
            switch field {
            case .v: if !isNull { guard let x = p.integer() else { return nil }; v = x }
            case .seq: guard !isNull, let x = p.integer() else { return nil }; seq = x
            case .ts: guard !isNull, let x = p.integer() else { return nil }; ts = x
            case .txUs: if !isNull { guard let x = p.integer() else { return nil }; txUs = x }
            case .hr: if !isNull { guard let x = p.number() else { return nil }; hr = x }
            case .spo2: if !isNull { guard let x = p.number() else { return nil }; spo2 = x }
            case .temp: if !isNull { guard let x = p.number() else { return nil }; temp = x }
            case .rr: if !isNull { guard let x = p.number() else { return nil }; rr = x }
            case .sbp: if !isNull { guard let x = p.number() else { return nil }; sbp = x }
            case .dbp: if !isNull { guard let x = p.number() else { return nil }; dbp = x }
            case .o2:
                if !isNull {
                    if p.takeLiteral("true") { o2 = true } else if p.takeLiteral("false") { o2 = false } else { return nil }
                }
            case .patientID: if !isNull { guard let x = p.plainString() else { return nil }; patientID = x }
            case .acvpu: if !isNull { guard let x = p.plainString() else { return nil }; acvpu = x }
            }
            p.skipWhitespace()
            if p.take(UInt8(ascii: ",")) { p.skipWhitespace(); continue }
            guard p.take(UInt8(ascii: "}")) else { return nil }
            break
        }
        p.skipWhitespace()
        guard p.atEnd, let seq, let ts else { return nil }
        guard v.map({ Int($0) == Int(truncatingIfNeeded: $0) }) ?? true else { return nil }
        return VitalsPayload(v: v.map { Int($0) }, seq: seq, ts: ts, patient_id: patientID, hr: hr, spo2: spo2, temp: temp,
                             rr: rr, sbp: sbp, dbp: dbp, o2: o2, acvpu: acvpu, tx_us: txUs)
    }

    private enum Field: UInt16 {
        case v, seq, ts, txUs, hr, spo2, temp, rr, sbp, dbp, o2, patientID, acvpu

        init?(_ key: String) {
            switch key {
            case "v": self = .v
            case "seq": self = .seq
            case "ts": self = .ts
            case "tx_us": self = .txUs
            case "hr": self = .hr
            case "spo2": self = .spo2
            case "temp": self = .temp
            case "rr": self = .rr
            case "sbp": self = .sbp
            case "dbp": self = .dbp
            case "o2": self = .o2
            case "patient_id": self = .patientID
            case "acvpu": self = .acvpu
            default: return nil
            }
        }
    }

    private struct Cursor {
        let bytes: UnsafeRawBufferPointer
        var i = 0

        var atEnd: Bool { i == bytes.count }
        func peek() -> UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func skipWhitespace() {
            while let b = peek(), b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { i += 1 }
        }

        mutating func take(_ b: UInt8) -> Bool {
            guard peek() == b else { return false }
            i += 1
            return true
        }

        mutating func takeLiteral(_ word: StaticString) -> Bool {
            let n = word.utf8CodeUnitCount
            guard i + n <= bytes.count else { return false }
            for k in 0..<n where bytes[i + k] != word.utf8Start[k] { return false }
            // "nullx" or "true1" is not a literal followed by a delimiter.
            if i + n < bytes.count, Self.isWordByte(bytes[i + n]) { return false }
            i += n
            return true
        }

        /// A string of printable ASCII without escapes; anything else is left to JSONDecoder.
        mutating func plainString() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = i
            while let b = peek(), b != UInt8(ascii: "\"") {
                guard b >= 0x20, b < 0x7F, b != UInt8(ascii: "\\") else { return nil }
                i += 1
            }
            guard take(UInt8(ascii: "\"")) else { return nil }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<(i - 1)]), as: UTF8.self)
        }

        /// A JSON integer (no fraction, no exponent) that fits in Int64.
        mutating func integer() -> Int64? {
            let start = i
            let negative = take(UInt8(ascii: "-"))
            guard let first = peek(), Self.isDigit(first) else { i = start; return nil }
            var value: Int64 = 0
            if first == UInt8(ascii: "0") { i += 1 } else {
                while let b = peek(), Self.isDigit(b) {
                    let (m, o1) = value.multipliedReportingOverflow(by: 10)
                    let (s, o2) = m.addingReportingOverflow(Int64(b - 48))
                    guard !o1, !o2 else { return nil }
                    value = s
                    i += 1
                }
            }
            if let b = peek(), b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") || Self.isDigit(b) {
                return nil
            }
            return negative ? -value : value
        }

        /// A plain decimal JSON number (no exponent), checked against the grammar, converted by the
        /// standard library. The differential test found two cases where JSONDecoder refuses what
        /// this accepted, both now left to it: exponents (Foundation refuses `0e5` but takes `0e10`
        /// and `0e+5`; devices send plain decimals) and a non-zero number that underflows to zero.
        mutating func number() -> Double? {
            let start = i
            _ = take(UInt8(ascii: "-"))
            guard let first = peek(), Self.isDigit(first) else { return nil }
            var nonZeroDigit = first != UInt8(ascii: "0")
            if first == UInt8(ascii: "0") { i += 1 } else { skipDigits() }
            if take(UInt8(ascii: ".")) {
                guard let d = peek(), Self.isDigit(d) else { return nil }
                let fraction = i
                skipDigits()
                nonZeroDigit = nonZeroDigit || bytes[fraction..<i].contains { $0 != UInt8(ascii: "0") }
            }
            if let b = peek(), Self.isWordByte(b) || b == UInt8(ascii: ".") { return nil }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
            guard let value = Double(text), value.isFinite, value != 0 || !nonZeroDigit else { return nil }
            return value
        }

        private mutating func skipDigits() { while let b = peek(), Self.isDigit(b) { i += 1 } }
        private static func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }
        private static func isWordByte(_ b: UInt8) -> Bool {
            isDigit(b) || (b | 0x20 >= UInt8(ascii: "a") && b | 0x20 <= UInt8(ascii: "z")) || b == UInt8(ascii: "_")
        }
    }
}

/// The rules a device-supplied string must meet before it becomes part of an id, a rule id, an
/// alarm's message or an indexed column (issue 12: a 40 kB alert code became a rule id and an
/// alarm id, PostgreSQL refused the index row, and no alarm was stored from then on).
///
/// Lengths come from `MessageDecoder.Limits`; the character sets are fixed here because topics,
/// SQL keys, log lines and the ward page rely on them. Foundation-free.
public enum DeviceText {
    public enum Kind: Sendable {
        /// Device and patient ids: `A–Z a–z 0–9 . _ : -`, measured in bytes.
        case identifier
        /// Alert codes, which become rule ids (`device.alert.{code}`): `A–Z a–z 0–9 . _ -`.
        case code
        /// Firmware versions: printable ASCII, space to `~`.
        case printable
        /// Free text shown to people (alert messages): any Unicode except control characters
        /// (C0, DEL, C1: NUL, newlines, escapes) and bidirectional overrides and isolates, which
        /// could make a message on the ward page read differently from what was sent. Measured in
        /// Unicode scalars.
        case text
    }

    /// Why a string broke its rule; `detail` names the field and never repeats the value.
    public struct Problem: Error, Equatable, Sendable {
        public let reason: RejectReason
        public let detail: String
    }

    /// Checks `value` against its kind's character set and `maxLength`; nil when it is acceptable.
    /// An empty id or code is a `missingField`; over-long is `fieldTooLong` (checked first: the
    /// size is the more useful answer for a 40 kB string); a character outside the set is
    /// `badCharacters`, with its position and code point.
    public static func check(_ value: String, field: String, kind: Kind, maxLength: Int) -> Problem? {
        let length = kind == .text ? value.unicodeScalars.count : value.utf8.count
        if length == 0, kind == .identifier || kind == .code {
            return Problem(reason: .missingField, detail: "\(field) is empty")
        }
        if length > maxLength {
            let unit = kind == .text ? "characters" : "bytes"
            return Problem(reason: .fieldTooLong, detail: "\(field) is \(length) \(unit); the limit is \(maxLength)")
        }
        for (offset, scalar) in value.unicodeScalars.enumerated() where !allows(kind, scalar) {
            return Problem(reason: .badCharacters,
                           detail: "\(field) has \(codePoint(scalar)) at position \(offset), outside \(describe(kind))")
        }
        return nil
    }

    public static func allows(_ kind: Kind, _ s: Unicode.Scalar) -> Bool {
        let v = s.value
        switch kind {
        case .identifier: return isAlphanumeric(v) || v == 0x2E || v == 0x5F || v == 0x3A || v == 0x2D
        case .code: return isAlphanumeric(v) || v == 0x2E || v == 0x5F || v == 0x2D
        case .printable: return v >= 0x20 && v < 0x7F
        case .text:
            if v < 0x20 || (v >= 0x7F && v < 0xA0) { return false }
            if (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v) { return false }
            return true
        }
    }

    /// A rule-breaking string made safe to store and log as a hint (never as a key): characters
    /// outside the identifier set become `?` and a long one is cut and ends in `…`. Neither `?` nor
    /// `…` is allowed in an id, so the result can never collide with a real device's id.
    public static func hint(_ raw: String, keep: Int = 48) -> String {
        var out = ""
        for (offset, s) in raw.unicodeScalars.enumerated() {
            if offset == keep { out += "…"; break }
            out.unicodeScalars.append(allows(.identifier, s) ? s : "?")
        }
        return out
    }

    private static func isAlphanumeric(_ v: UInt32) -> Bool {
        (0x30...0x39).contains(v) || (0x41...0x5A).contains(v) || (0x61...0x7A).contains(v)
    }

    private static func codePoint(_ s: Unicode.Scalar) -> String {
        let hex = String(s.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    private static func describe(_ kind: Kind) -> String {
        switch kind {
        case .identifier: "A-Z a-z 0-9 . _ : -"
        case .code: "A-Z a-z 0-9 . _ -"
        case .printable: "printable ASCII"
        case .text: "text without control or bidirectional-override characters"
        }
    }
}

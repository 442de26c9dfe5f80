import Foundation

/// JSON whose shape Wardline does not own and passes on or picks fields from one by one: a socket
/// client's frame (`ping` data is echoed back as it came), a REST body read field by field so that
/// each field's refusal can say what is wrong with it, a token's claims, a dead letter or a Kafka
/// event printed by the CLI. Every shape Wardline writes itself is a `Codable` struct of its own.
///
/// Read by `JSONDecoder`, so it accepts what `MessageDecoder` and the typed bodies accept. Numbers
/// keep their kind: a whole number in Int64 range is `.integer` and is written back without a
/// fraction, any other is `.number`. (Unlike `JSONSerialization`'s NSNumber, an integer beyond
/// Int64 comes back as the nearest Double, and `-0.0` as `0`.)
package enum JSONValue: Codable, Sendable, Hashable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Any JSON text, a bare `5` or `"x"` included; nil when it is not JSON.
    package static func parse(_ bytes: some Sequence<UInt8>) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    /// A JSON object or array (a document, as `JSONSerialization` without `.fragmentsAllowed`
    /// read); nil for anything else, a bare `5` or `"x"` included.
    package static func document(_ bytes: some Sequence<UInt8>) -> JSONValue? {
        switch parse(bytes) {
        case let v? where v.object != nil || v.array != nil: v
        default: nil
        }
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .integer(i)
        } else if let d = try? c.decode(Double.self) {
            self = .number(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .integer(let i): try c.encode(i)
        case .number(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    package var string: String? { if case .string(let s) = self { s } else { nil } }
    package var object: [String: JSONValue]? { if case .object(let o) = self { o } else { nil } }
    package var array: [JSONValue]? { if case .array(let a) = self { a } else { nil } }

    /// A number (never a boolean), as a Double.
    package var double: Double? {
        switch self {
        case .integer(let i): Double(i)
        case .number(let d): d
        default: nil
        }
    }

    /// A number that is a whole `Int` (`2` or `2.0`; never a boolean).
    package var integer: Int? {
        switch self {
        case .integer(let i): Int(exactly: i)
        case .number(let d): Int(exactly: d)
        default: nil
        }
    }

    package subscript(key: String) -> JSONValue? { object?[key] }
}

/// The two ways Wardline writes JSON, each with `JSONEncoder` over `Encodable` types. Encoding
/// what Wardline builds cannot fail (every number in it is finite); if it ever did, `{}` is sent,
/// still JSON.
package enum JSONText {
    package enum Style: Sendable {
        /// WebSocket frames and REST bodies: keys in no particular order, `/` written as it is.
        case unordered
        /// What is stored or published and may be compared byte for byte (alarm events, outbox and
        /// `put_aside` rows, task-queue jobs, pages, tokens, the CLI's lines): keys sorted by code
        /// point, `/` escaped as `\/` — the bytes `JSONSerialization` with `.sortedKeys` wrote.
        /// (It put `_` before digits and compared digits by value; no two of Wardline's keys
        /// differ there, and the pinned tests hold the orders equal.)
        case sorted
    }

    /// A fresh encoder in `style` (one per thread where it is used often: the hub's `FrameEncoder`).
    package static func encoder(_ style: Style) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = style == .sorted ? [.sortedKeys] : [.withoutEscapingSlashes]
        return e
    }

    package static func encode<T: Encodable>(_ value: T, _ style: Style) -> [UInt8] {
        guard let data = try? encoder(style).encode(value) else { return Array("{}".utf8) }
        return [UInt8](data)
    }

    package static func string<T: Encodable>(_ value: T, _ style: Style) -> String {
        String(decoding: encode(value, style), as: UTF8.self)
    }
}

/// A coding key for names only known at run time (the vitals history's one column per vital).
package struct NamedKey: CodingKey {
    package var stringValue: String
    package var intValue: Int? { nil }
    package init(_ name: String) { stringValue = name }
    package init?(stringValue: String) { self.stringValue = stringValue }
    package init?(intValue: Int) { nil }
}

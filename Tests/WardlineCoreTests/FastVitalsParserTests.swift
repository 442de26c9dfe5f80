import Foundation
import PropertyBased
import Testing
@testable import WardlineCore

/// The differential test `FastVitalsParser` promises: on generated payloads (valid ones, edge-case
/// numbers, unknown and repeated keys, escapes, wrong types, truncations, over-long strings) the
/// fast parser either declines (nil, and the decoder falls back) or answers exactly what
/// JSONDecoder answers.
@Suite struct FastVitalsParserTests {
    static let keys = ["v", "seq", "ts", "tx_us", "hr", "spo2", "temp", "rr", "sbp", "dbp", "o2", "patient_id", "acvpu",
                       "pad", "HR", #"sp\u006f2"#, "", "seq "]
    static let values = [
        // numbers, plain and odd
        "0", "-0", "1", "72", "-1", "97.5", "36.80", "0.1", "1.5", "1e2", "1E+2", "2e-3", "1.0e-3", "1795484315123",
        "1795484315123.0", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
        "17954843151230000000", "1e400", "-1e400", "1e-400", "-1e-400", "0.0e-400", "0e5", "0E1", "0e10", "0e+5", "-0e5", "1e-310", "4.9e-324",
        "2e-324", "0.00000e-999", "0." + String(repeating: "0", count: 330) + "1", "1" + String(repeating: "0", count: 310),
        "0." + String(repeating: "0", count: 320) + "5", "2.2250738585072014e-308",
        "0.1000000000000000055511151231257827", "123456789012345678901234567890", "00", "01", "1.", ".5", "+1", "1e",
        "-", "0x10", "1_000", "NaN", "Infinity", "-Infinity",
        // literals
        "true", "false", "null", "nul", "truex", "True", "nullnull",
        // strings
        #""PAT-1""#, #""A""#, #""U""#, #""""#, #""a\u0000b""#, "\"caf\u{E9}\"", #""tab\there""#, #""\"q\"""#,
        "\"\(String(repeating: "P", count: 65))\"", "\"\(String(repeating: "Q", count: 300))\"", "\"a\u{0}b\"", "\"a\u{7F}b\"",
        #""unterminated"#, #""72""#,
        // containers
        "[]", "{}", "[1]", #"{"a":1}"#,
    ]
    static let validCore = [#""seq":1042"#, #""ts":1795484315123"#]

    /// Values of the right JSON type for each contract key (still with odd numbers and strings).
    /// Mostly everyday values, so that many payloads are ones the fast parser answers.
    static func typedValues(_ key: String) -> [String] {
        let numbers = values.filter { $0.first.map { $0.isNumber || $0 == "-" } ?? false } + ["null"]
        switch key {
        case "o2": return ["true", "false", "null"]
        case "patient_id", "acvpu":
            let everyday = [#""PAT-12345""#, #""A""#, #""V""#]
            return Array(repeating: everyday, count: 6).joined() + values.filter { $0.hasPrefix("\"") } + ["null"]
        case "v", "seq", "ts", "tx_us":
            let everyday = ["1", "0", "1042", "1795484315123", "9223372036854775807"]
            return Array(repeating: everyday, count: 6).joined() + numbers
        default:
            let everyday = ["72", "97", "36.8", "16", "121", "0", "-0", "0.5", "100.00", "1795484315123"]
            return Array(repeating: everyday, count: 6).joined() + numbers
        }
    }

    /// A payload from generated choices: members as (key, value) indexes, whether it starts with a
    /// valid seq and ts, whether values have the right JSON type (and keys are the contract's, once
    /// each), whitespace, and one mutation (truncation, trailing bytes, a repeated member …).
    static func payload(members: [(Int, Int)], core: Bool, typed: Bool = false, spaced: Bool, mutation: Int, cut: Int) -> String {
        let sep = spaced ? " , " : ","
        var parts = core ? validCore : []
        var used: Set<String> = core ? ["seq", "ts"] : []
        for (k, v) in members {
            let key = keys[k % (typed ? 13 : keys.count)]
            if typed && !used.insert(key).inserted { continue }
            let choices = typed ? typedValues(key) : values
            parts.append("\"\(key)\"\(spaced ? " : " : ":")\(choices[v % choices.count])")
        }
        var text = "{" + parts.joined(separator: sep) + "}"
        switch mutation {
        case 1: text = String(text.utf8.prefix(cut % max(1, text.utf8.count))) ?? text
        case 2: text += "x"
        case 3: text = " \n\t" + text + "\r\n "
        case 4: text.removeLast()
        case 5: if let first = parts.first { text = "{" + (parts + [first]).joined(separator: sep) + "}" }
        case 6: text = "{" + parts.joined(separator: sep) + ",}"
        case 7: text += "{}"
        case 8: text = "\u{FEFF}" + text
        default: break
        }
        return text
    }

    static let generator = zip(
        zip(Gen.int(in: 0...(keys.count - 1)), Gen.int(in: 0...(values.count - 1))).array(of: 0...8),
        Gen.bool(0.7), Gen.bool(0.6), Gen.bool(0.3), zip(Gen.int(in: 0...12), Gen.int(in: 0...400))
    ).map { members, core, typed, spaced, mutation in
        payload(members: members, core: core, typed: typed, spaced: spaced, mutation: mutation.0, cut: mutation.1)
    }

    static func fast(_ text: String) -> VitalsPayload? {
        Data(text.utf8).withUnsafeBytes { FastVitalsParser.parse($0) }
    }

    static func slow(_ text: String) -> VitalsPayload? {
        try? JSONDecoder().decode(VitalsPayload.self, from: Data(text.utf8))
    }

    @Test func agreesWithJSONDecoderOrDeclines() async {
        var answered = 0
        await propertyCheck(count: 6000, input: Self.generator) { text in
            guard let fast = Self.fast(text) else { return }
            answered += 1
            #expect(Self.slow(text) == fast, "fast parser disagrees with JSONDecoder on \(text)")
        }
        // Not vacuous: a good part of the generated payloads are the everyday shape it answers.
        #expect(answered > 450, "fast parser answered only \(answered) of 6000")
    }

    @Test func everyValueInEveryFieldAgreesOrDeclines() {
        for key in Self.keys.indices {
            for value in Self.values.indices {
                let text = Self.payload(members: [(key, value)], core: true, spaced: false, mutation: 0, cut: 0)
                if let fast = Self.fast(text) { #expect(Self.slow(text) == fast, "\(text)") }
            }
        }
    }

    @Test func answersTheEverydayShape() throws {
        let text = #"{"v":1,"seq":1042,"ts":1795484315123,"patient_id":"PAT-12345","hr":72,"spo2":97,"temp":36.8,"rr":16,"sbp":121,"dbp":79,"o2":false,"acvpu":"A","tx_us":5}"#
        let fast = try #require(Self.fast(text))
        #expect(fast == Self.slow(text))
    }
}

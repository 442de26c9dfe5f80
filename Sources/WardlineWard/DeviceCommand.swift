import Foundation

/// A command Wardline may send to a bedside device (`devices/{id}/commands`): an allowlist, each
/// with its arguments bounded. Anything else is refused before it reaches the broker.
public struct DeviceCommand: Sendable, Hashable {
    public enum Name: String, Sendable, Hashable, CaseIterable {
        /// Pause the device's own audible alarm: `seconds` 0–120 (0 ends a pause). Wardline's alarm
        /// is not touched: it stays active and escalates until someone acknowledges it.
        case silence
        /// Blink or beep so staff find the device: no arguments.
        case identify
        /// Seconds between readings: `seconds` 1–3600.
        case setInterval = "set_interval"
        case reboot
        case calibrate
    }

    public let name: Name
    /// Validated arguments; empty for commands that take none.
    public let arguments: [String: Int]

    /// The bounds of each command's arguments (all required, all whole numbers).
    public static let bounds: [Name: [String: ClosedRange<Int>]] = [
        .silence: ["seconds": 0...120], .setInterval: ["seconds": 1...3600], .identify: [:], .reboot: [:], .calibrate: [:],
    ]

    /// Why a command was refused: the field and the problem, for a 400.
    public struct Problem: Error, Sendable, Equatable {
        public var field: String
        public var problem: String
    }

    /// Reads `{"command": "...", "args": {...}}` (already known to be a JSON object). Whole
    /// numbers only: JSONDecoder refuses `true`, `"5"` and `5.5` where JSONSerialization would not.
    public static func parse(json: [UInt8]) throws(Problem) -> DeviceCommand {
        struct Command: Decodable { var command: String? }
        struct Arguments: Decodable { var args: [String: Int]? }
        let data = Data(json)
        guard let raw = (try? JSONDecoder().decode(Command.self, from: data))?.command, let name = Name(rawValue: raw) else {
            throw Problem(field: "command", problem: "must be one of \(Name.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let decoded = try? JSONDecoder().decode(Arguments.self, from: data) else {
            throw Problem(field: "args", problem: "must be an object of whole-number arguments")
        }
        let allowed = bounds[name] ?? [:]
        let args = decoded.args ?? [:]
        for key in args.keys.sorted() where allowed[key] == nil {
            throw Problem(field: "args.\(key)", problem: allowed.isEmpty ? "\(raw) takes no arguments"
                                                        : "is not an argument of \(raw) (it takes \(allowed.keys.sorted().joined(separator: ", ")))")
        }
        for (key, range) in allowed.sorted(by: { $0.key < $1.key }) {
            guard let v = args[key] else { throw Problem(field: "args.\(key)", problem: "is required for \(raw)") }
            guard range.contains(v) else {
                throw Problem(field: "args.\(key)", problem: "must be \(range.lowerBound)–\(range.upperBound) for \(raw)")
            }
        }
        return DeviceCommand(name: name, arguments: args)
    }

    public init(name: Name, arguments: [String: Int] = [:]) {
        self.name = name
        self.arguments = arguments
    }
}

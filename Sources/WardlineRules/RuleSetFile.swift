import Foundation
import WardlineEngine

/// The configured rule-set file (`WARDLINE_RULES_FILE`), read at start and on a reload.
public enum RuleSetFile {
    /// A rule set is a few kilobytes; this bounds what a mistaken path can make Wardline read.
    public static let maxBytes = 1 << 20

    /// The file's rule set, with `base` for what a rule set does not say (the clock alarm, which
    /// follows WARDLINE_DEVICE_CLOCK_ALARM_S). Throws a message naming the file and every problem.
    public static func load(_ path: String, base: EngineConfiguration) throws -> RuleSetDocument {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RuleSetLoadError(description: "cannot read the rule-set file \(path) (WARDLINE_RULES_FILE)")
        }
        guard data.count <= maxBytes else {
            throw RuleSetLoadError(description: "the rule-set file \(path) is larger than \(maxBytes) bytes")
        }
        do {
            var set = try RuleSetDocument.read([UInt8](data))
            set.configuration.clockOffsetAlarmAbove = base.clockOffsetAlarmAbove
            return set
        } catch {
            // One line: it goes to the log.
            throw RuleSetLoadError(description: "the rule-set file \(path) is refused, \(error.problems.count) problem(s): "
                                   + error.problems.map(\.description).joined(separator: "; "))
        }
    }
}

public struct RuleSetLoadError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

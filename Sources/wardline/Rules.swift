import ArgumentParser
import Foundation
import WardlineEngine
import WardlineRules

/// `wardline rules check|defaults`: the rule-set files clinical engineering edits.
struct Rules: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a rule-set file, or print the built-in hospital defaults as one.",
        subcommands: [Check.self, Defaults.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a rule-set file: every problem, by its path in the file; exit 1 if there is one.")

        @Argument(help: "The rule-set file (JSON, described by rules/ruleset.schema.json).")
        var file: String

        func run() throws {
            guard let data = FileManager.default.contents(atPath: file) else {
                FileHandle.standardError.write(Data("wardline: cannot read \(file)\n".utf8))
                throw ExitCode.failure
            }
            guard data.count <= RuleSetFile.maxBytes else {
                FileHandle.standardError.write(Data("wardline: \(file) is larger than \(RuleSetFile.maxBytes) bytes\n".utf8))
                throw ExitCode.failure
            }
            do {
                let set = try RuleSetDocument.read([UInt8](data))
                let c = set.configuration
                print("\(file): rule set \"\(set.version)\" (\(set.title)) is valid: \(c.thresholdRules.count) threshold rules, "
                      + "\(c.scale2ThresholdRules.count) for SpO2 scale 2, \(c.anomalyRules.count) anomaly rules, "
                      + "\(c.wardThresholdRules.count) ward set\(c.wardThresholdRules.count == 1 ? "" : "s")")
            } catch {
                print("\(file): \(error)")
                throw ExitCode.failure
            }
        }
    }

    struct Defaults: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the built-in hospital defaults as a rule-set file.")

        @Option(help: "The version to write into it.") var version = "hospital-default"

        func run() throws {
            print(RuleSetWriter.json(EngineConfiguration(), version: version,
                                     title: "Hospital defaults for adults (NEWS2 chart, RCP 2017)"), terminator: "")
        }
    }
}

import Logging
import WardlineEngine
import WardlineIngest
import WardlineRules

/// SIGHUP: the rule-set file read again and, if it passes, put in force by the engine's own
/// thread between events. A file that does not pass (or that the running engine cannot take
/// without a restart) is refused and logged with every problem; the rules in force stay.
final class RulesReload: Sendable {
    private let base: EngineConfiguration
    private let commands: EngineCommandQueue
    private let logger: Logger

    init(base: EngineConfiguration, commands: EngineCommandQueue, logger: Logger) {
        self.base = base
        self.commands = commands
        self.logger = logger
    }

    func reload(from file: String) {
        let set: RuleSetDocument
        do { set = try RuleSetFile.load(file, base: base) } catch {
            logger.error("rule set reload refused; the rules in force stay", metadata: ["file": "\(file)", "error": "\(error)"])
            return
        }
        let logger = logger
        commands.enqueue { engine, _ in
            let before = engine.configuration.ruleSetVersion
            do {
                try engine.reconfigure(set.configuration)
                logger.notice("rule set reloaded", metadata: ["version": "\(set.version)", "was": "\(before)", "file": "\(file)"])
            } catch {
                logger.error("rule set reload refused; the rules in force stay", metadata: ["file": "\(file)", "error": "\(error)"])
            }
            return []
        }
    }
}

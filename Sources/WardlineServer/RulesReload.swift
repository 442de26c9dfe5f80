import Logging
import Synchronization
import WardlineEngine
import WardlineIngest
import WardlineRules

/// SIGHUP: the rule-set file read again and, if it passes, put in force by the engine's own
/// thread between events. A file that does not pass (or that the running engine cannot take
/// without a restart) is refused and logged with every problem; the rules in force stay.
final class RulesReload: Sendable {
    private let base: EngineConfiguration
    private let commands: EngineCommandQueue
    private let inForce: RulesInForce
    private let logger: Logger

    init(base: EngineConfiguration, commands: EngineCommandQueue, inForce: RulesInForce, logger: Logger) {
        self.base = base
        self.commands = commands
        self.inForce = inForce
        self.logger = logger
    }

    func reload(from file: String) {
        let set: RuleSetDocument
        do { set = try RuleSetFile.load(file, base: base) } catch {
            logger.error("rule set reload refused; the rules in force stay", metadata: ["file": "\(file)", "error": "\(error)"])
            return
        }
        let logger = logger, inForce = inForce
        commands.enqueue { engine, _ in
            let before = engine.configuration.ruleSetVersion
            do {
                try engine.reconfigure(set.configuration)
                inForce.set(set.configuration)
                logger.notice("rule set reloaded", metadata: ["version": "\(set.version)", "was": "\(before)", "file": "\(file)"])
            } catch {
                logger.error("rule set reload refused; the rules in force stay", metadata: ["file": "\(file)", "error": "\(error)"])
            }
            return []
        }
    }
}

/// The rule set the engine applies now, readable from any thread (a replay's default "in force").
final class RulesInForce: Sendable {
    private let value = Mutex(EngineConfiguration())
    var current: EngineConfiguration { value.withLock { $0 } }
    func set(_ c: EngineConfiguration) { value.withLock { $0 = c } }
}

import ArgumentParser
import Foundation
import Logging
import WardlineConfig
import WardlineRuntime
import WardlineServer
import WardlineStore

@main
struct Wardline: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wardline",
        abstract: "Bedside-vitals ingestion and real-time alerting.",
        subcommands: [Serve.self, Migrate.self, Config.self, Rules.self, Replay.self, Events.self, Token.self, Worker.self, DeadLetters.self, Queues.self, Devices.self])
}

/// Loads the configuration and sets up logging, or exits with the configuration's own message.
func loadConfiguration() throws -> (WardlineConfiguration, Logger) {
    let config: WardlineConfiguration
    do { config = try WardlineConfiguration.load() } catch {
        FileHandle.standardError.write(Data("wardline: configuration error: \(error)\n".utf8))
        throw ExitCode(78)  // EX_CONFIG
    }
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = Logger.Level(rawValue: config.logLevel) ?? .info
        return handler
    }
    return (config, Logger(label: "wardline"))
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the pipeline until SIGTERM or SIGINT.")

    @Option(help: "all (one process, the default), or one stage past one machine: ingest, engine, hub. Overrides WARDLINE_ROLE.")
    var role: NodeRole?

    func run() async throws {
        let signals = await StopSignals()
        var (config, logger) = try loadConfiguration()
        if let role {
            do { try config.take(role: role) } catch {
                FileHandle.standardError.write(Data("wardline: configuration error: \(error)\n".utf8))
                throw ExitCode(78)
            }
        }
        if let problem = config.servingProblem() {
            FileHandle.standardError.write(Data("wardline: configuration error: \(problem)\n".utf8))
            throw ExitCode(78)  // EX_CONFIG
        }
        let service = WardlineService(configuration: config, logger: logger)
        do { try service.start() } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            await service.stopStarted()
            throw ExitCode.failure
        }
        try await service.run(until: signals)
    }
}

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database schema migrations.")

    func run() throws {
        let (config, logger) = try loadConfiguration()
        do {
            let db = try PostgresConnection(url: config.databaseURL)
            let migrator = Migrator(db)
            let applied = try migrator.migrate()
            for m in applied { logger.notice("migration applied", metadata: ["version": "\(m.version)", "name": "\(m.name)"]) }
            let version = try migrator.currentVersion()
            logger.notice("schema is current", metadata: ["version": "\(version)"])
        } catch {
            logger.critical("migration failed", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
    }
}

struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print every setting, or check the current one.")

    @Flag(help: "Print the settings as the README's Markdown table.")
    var markdown = false

    func run() throws {
        if markdown { print(ConfigurationOptions.markdownTable(), terminator: ""); return }
        _ = try loadConfiguration()
        // The values in force (file and environment), each secret masked.
        let values = try WardlineConfiguration.resolvedValues()
        for o in ConfigurationOptions.all { print("\(o.name)=\(ConfigurationOptions.shown(o.name, values[o.name] ?? o.defaultValue))") }
    }
}

extension NodeRole: ExpressibleByArgument {}

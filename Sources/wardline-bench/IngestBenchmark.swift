import ArgumentParser
import Foundation
import Synchronization
import WardlineMQTT
import WardlineRuntime
import WardlineServer
import WardlineStore

/// Broker-only delivery rate vs Wardline's committed-to-TimescaleDB rate, for the same backlog of
/// QoS 1 readings, measured in one run (DESIGN: Wardline ≥ 0.9 × the broker alone).
///
/// Both sides drain a backlog the broker queued for their persistent session while they were away,
/// so the publisher's own speed does not enter either number.
struct IngestBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ingest",
                                                    abstract: "Ingest rate: broker-only baseline vs Wardline to TimescaleDB.")

    @Option(help: "Readings in the stream.") var readings = 200_000
    @Option(help: "Simulated devices.") var devices = 1000
    @Option(help: "Publisher connections.") var connections = 4
    @Option(help: "Rounds of each measurement (the best of each is reported).") var rounds = 2
    @Option(help: "The wardline executable (default: beside this one).") var wardline: String?
    @Flag(help: "Print Wardline's per-second statistics lines (where the time goes).") var stats = false
    @Option(help: "TCP_NODELAY for both subscribers (bare and Wardline), so they stay comparable.") var nodelay = false
    @Option(help: "backlog: each side drains a backlog queued while it was away (the broker's top speed); live: each side is connected while the stream is published as fast as the publisher can.")
    var mode: Mode = .backlog

    enum Mode: String, ExpressibleByArgument { case backlog, live }

    func run() throws {
        let env = ProcessInfo.processInfo.environment
        // Creating a database and TimescaleDB in it takes the superuser (deploy/env.sh's admin URL);
        // Wardline's own role may not. The bench database is a throwaway, so it runs as admin too.
        let adminURL = env["WARDLINE_ADMIN_DATABASE_URL"] ?? env["WARDLINE_DATABASE_URL"] ?? "postgresql://postgres@127.0.0.1:15432/postgres"
        let benchURL = Self.url(adminURL, database: "wardline_bench")
        let binary = wardline ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("wardline").path
        let work = NSTemporaryDirectory() + "wardline-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)

        print("stream: \(readings) QoS 1 readings from \(devices) devices over \(connections) publisher connections, \(mode.rawValue) mode, TCP_NODELAY \(nodelay)")
        let admin = try PostgresConnection(url: adminURL)
        try admin.execute("DROP DATABASE IF EXISTS wardline_bench WITH (FORCE)")
        try admin.execute("CREATE DATABASE wardline_bench")
        let bench = try PostgresConnection(url: benchURL)
        try bench.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        try Migrator(bench).migrate()

        let broker = try BenchBroker()
        defer { broker.removeAccounts() }
        let publisher = try StreamPublisher(broker: broker, connections: connections)
        defer { publisher.stop() }
        var seq = 1
        var brokerRates: [Double] = [], wardlineRates: [Double] = [], peaks: [Double] = []
        for round in 1...rounds {
            let b = try brokerOnly(broker: broker, publisher: publisher, seq: &seq)
            brokerRates.append(b)
            print(String(format: "round %d  broker → bare subscriber: %8.0f readings/s", round, b))
            let (w, peak) = try wardlineRun(binary: binary, url: benchURL, broker: broker, work: work,
                                            publisher: publisher, seq: &seq)
            wardlineRates.append(w)
            peaks.append(peak)
            print(String(format: "round %d  Wardline → TimescaleDB: %8.0f readings/s   (peak RSS %.0f MiB)", round, w, peak))
        }
        let best = (brokerRates.max()!, wardlineRates.max()!)
        print("")
        print(String(format: "broker-only baseline:       %8.0f readings/s", best.0))
        print(String(format: "Wardline, committed rows:   %8.0f readings/s", best.1))
        print(String(format: "ratio Wardline / broker:    %8.2f   (target ≥ 0.90)", best.1 / best.0))
        print(String(format: "Wardline peak resident set: %8.0f MiB", peaks.max()!))
        try? FileManager.default.removeItem(atPath: work)
    }

    /// `url` naming another database; keeps a query such as `?passfile=…`.
    static func url(_ url: String, database: String) -> String {
        let query = url.firstIndex(of: "?").map { String(url[$0...]) } ?? ""
        let base = url.firstIndex(of: "?").map { String(url[..<$0]) } ?? url
        let schemeEnd = base.range(of: "://")?.upperBound ?? base.startIndex
        let slash = base[schemeEnd...].firstIndex(of: "/") ?? base.endIndex
        return String(base[..<slash]) + "/" + database + query
    }

    /// Backlog drain by a bare libmosquitto subscriber that only counts.
    private func brokerOnly(broker: BenchBroker, publisher: StreamPublisher, seq: inout Int) throws -> Double {
        let id = "bench-bare-\(getpid())-\(seq)"
        let received = Counter(), connected = Counter()
        let account = try broker.options(id, kind: .wardline)
        func subscriber() throws -> MQTTClient {
            var o = account
            o.subscriptions = ["devices/+/vitals"]
            o.tcpNoDelay = nodelay
            return try MQTTClient(options: o, onMessage: { _ in received.add(); return .kept },
                                  onConnection: { if case .connected = $0 { connected.add() } })
        }
        let first = try subscriber()
        try first.start()
        guard waitUntil(timeout: 10, { connected.count == 1 }) else { throw BenchError(description: "subscriber did not connect") }
        Thread.sleep(forTimeInterval: 0.3)  // the SUBACK
        var second = first
        let before = received.count
        var t0 = monotonicSeconds()
        if mode == .live {
            try publisher.publish(readings: readings, devices: devices, firstSeq: seq)
        } else {
            first.stop()
            try publisher.publish(readings: readings, devices: devices, firstSeq: seq)
            t0 = monotonicSeconds()
            second = try subscriber()
            try second.start()
        }
        seq += readings / devices + 1
        guard waitUntil(timeout: 600, poll: 0.001, { received.count - before >= readings }) else {
            throw BenchError(description: "bare subscriber got \(received.count) of \(readings)")
        }
        let elapsed = monotonicSeconds() - t0
        second.stop()
        forgetSession(account)
        return Double(readings) / elapsed
    }

    /// Backlog drain by `wardline serve`, timed until the last row is committed.
    private func wardlineRun(binary: String, url: String, broker: BenchBroker, work: String,
                             publisher: StreamPublisher, seq: inout Int) throws -> (Double, Double) {
        let id = "bench-wardline-\(getpid())-\(seq)"
        let account = try broker.options(id, kind: .wardline)
        let db = try PostgresConnection(url: url)
        try db.execute("TRUNCATE vitals")
        // A fresh journal each round: a journal left by the last round would be replayed into this one.
        try? FileManager.default.removeItem(atPath: work + "/journal")
        let log = work + "/wardline.log"
        func launch() throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = ["serve"]
            var env = ProcessInfo.processInfo.environment
            env["WARDLINE_DATABASE_URL"] = url
            env["WARDLINE_MQTT_CLIENT_ID"] = id
            env["WARDLINE_MQTT_USERNAME"] = id
            env["WARDLINE_MQTT_PASSWORD"] = account.password
            env["WARDLINE_VAR"] = work
            // The stream names its patients from unassigned devices, as the simulator does.
            env["WARDLINE_PAYLOAD_PATIENT_ID"] = "unassigned"
            env["WARDLINE_STATS_INTERVAL_S"] = stats ? "1" : "0"
            env["WARDLINE_MQTT_TCP_NODELAY"] = nodelay ? "true" : "false"
            // Its own port, so a demo on the default port does not stop the benchmark.
            env["WARDLINE_HTTP_PORT"] = env["WARDLINE_BENCH_HTTP_PORT"] ?? "18089"
            p.environment = env
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            try p.run()
            return p
        }
        func stop(_ p: Process) { p.terminate(); p.waitUntilExit() }
        let first = try launch()
        guard waitUntil(timeout: 30, { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("mqtt connected") }) else {
            stop(first)
            throw BenchError(description: "wardline did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
        Thread.sleep(forTimeInterval: 0.3)
        var second = first
        var t0 = monotonicSeconds()
        let lastSent: [(device: String, seq: Int)]
        if mode == .live {
            lastSent = try publisher.publish(readings: readings, devices: devices, firstSeq: seq)
        } else {
            stop(first)
            lastSent = try publisher.publish(readings: readings, devices: devices, firstSeq: seq)
            t0 = monotonicSeconds()
            second = try launch()
        }
        seq += readings / devices + 1
        // Polling count(*) would load the database it measures; the last reading of each publisher
        // connection is a cheap index lookup, and the full count is checked once at the end.
        let markers = lastSent.map { "('\($0.device)', \($0.seq))" }.joined(separator: ", ")
        var done = try waitUntil(timeout: 600, poll: 0.002) {
            let found = try db.execute("SELECT count(*) FROM vitals WHERE (device_id, seq) IN (\(markers))").rows[0][0]
            return Int(found ?? "0") == lastSent.count
        }
        let elapsed = monotonicSeconds() - t0
        let rows = Int(try db.execute("SELECT count(*) FROM vitals").rows[0][0] ?? "0") ?? 0
        done = done && rows == readings
        let peak = peakResidentMiB(pid: second.processIdentifier) ?? 0
        stop(second)
        forgetSession(account)
        if stats, let text = try? String(contentsOfFile: log, encoding: .utf8) {
            for line in text.split(separator: "\n") where line.contains("msgs_per_s") { print("  " + line) }
        }
        guard done else { throw BenchError(description: "Wardline committed \(rows) of \(readings) rows") }
        return (Double(readings) / elapsed, peak)
    }
}

import ArgumentParser
import Foundation
import Synchronization
import WardlineCore
import WardlineKafka
import WardlineMQTT
import WardlineRuntime
import WardlineServer
import WardlineStore

/// Broker-only delivery rate and database-only COPY rate vs Wardline's committed-to-TimescaleDB
/// rate, for the same backlog of QoS 1 readings, measured in one run (DESIGN: Wardline ≥ 0.9 × the
/// combined ceiling 1 / (1/broker + 1/database), both sharing the CPU); then the same backlog
/// through `serve --role ingest` → Kafka → `serve --role engine` nodes. Each run also reports the
/// CPU (user + system, from /proc) each process spent per reading.
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

    @Flag(inversion: .prefixedNo, help: "Also the split run: one `serve --role ingest` → Kafka → `--engines` `serve --role engine` nodes.")
    var split = true
    @Option(help: "Engine nodes in the split run.") var engines = 2

    enum Mode: String, ExpressibleByArgument { case backlog, live }

    func validate() throws {
        guard readings > 0, devices > 0, connections > 0, rounds > 0, engines > 0 else {
            throw ValidationError("--readings, --devices, --connections, --rounds and --engines must be at least 1")
        }
    }

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

        let loadAtStart = Self.loadAverage()
        print("stream: \(readings) QoS 1 readings from \(devices) devices over \(connections) publisher connections, \(mode.rawValue) mode, TCP_NODELAY \(nodelay)")
        let admin = try PostgresConnection(url: adminURL)
        try admin.execute("DROP DATABASE IF EXISTS wardline_bench WITH (FORCE)")
        try admin.execute("CREATE DATABASE wardline_bench")
        let bench = try PostgresConnection(url: benchURL)
        try bench.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        try Migrator(bench).migrate()
        try Self.reportTimeIndex(bench)
        // The split run's ingest node takes a reading only from an assigned device
        // (WARDLINE_PAYLOAD_PATIENT_ID=refuse); the stream's own patient_id matches the assignment.
        try bench.execute("""
            INSERT INTO device_assignments (device_id, patient_id, ward, bed)
            SELECT 'bench-' || g, 'PAT-' || g, 'BENCH', g::text FROM generate_series(0, \(devices - 1)) g
            """)

        let broker = try BenchBroker()
        defer { broker.removeAccounts() }
        let services = ServiceProcesses(varDirectory: env["WARDLINE_VAR"] ?? "var")
        if services.mosquitto == nil || services.postgres == nil {
            print("note: mosquitto's or PostgreSQL's pid file not found under WARDLINE_VAR; their CPU is not reported")
        }
        let publisher = try StreamPublisher(broker: broker, connections: connections)
        defer { publisher.stop() }
        let batchSize = broker.configuration.batchSize
        var seq = 1
        var brokerRates: [Double] = [], databaseRates: [Double] = [], wardlineRates: [Double] = [], splitRates: [Double] = []
        var peaks: [Double] = []
        var cpu = CPUTable()
        for round in 1...rounds {
            let (b, bCPU) = try brokerOnly(broker: broker, publisher: publisher, services: services, seq: &seq)
            brokerRates.append(b)
            cpu.add(run: "broker only", bCPU)
            print(String(format: "round %d  broker → bare subscriber: %8.0f readings/s", round, b))
            let (d, dCPU) = try databaseOnly(url: benchURL, services: services, seq: seq, batchSize: batchSize)
            databaseRates.append(d)
            cpu.add(run: "database only", dCPU)
            print(String(format: "round %d  database alone (COPY): %8.0f readings/s   (VitalsStore.write, batches of %d)", round, d, batchSize))
            let (w, peak, wCPU) = try wardlineRun(binary: binary, url: benchURL, broker: broker, work: work,
                                                  publisher: publisher, services: services, seq: &seq)
            wardlineRates.append(w)
            peaks.append(peak)
            cpu.add(run: "Wardline --role all", wCPU)
            print(String(format: "round %d  Wardline → TimescaleDB: %8.0f readings/s   (peak RSS %.0f MiB)", round, w, peak))
            var splitCPU: [(name: String, micros: Double?)]?
            if split {
                let (s, sCPU, held) = try splitRun(binary: binary, url: benchURL, broker: broker, work: work,
                                                   publisher: publisher, services: services, seq: &seq)
                splitRates.append(s)
                cpu.add(run: "split", sCPU)
                splitCPU = sCPU
                print(String(format: "round %d  ingest → Kafka → %d engines → TimescaleDB: %8.0f readings/s", round, engines, s)
                      + "   (partitions held: \(held))")
            }
            print("round \(round)  CPU µs/reading: broker-only [\(CPUTable.format(bCPU))]; database-only [\(CPUTable.format(dCPU))]")
            print("round \(round)  CPU µs/reading: --role all [\(CPUTable.format(wCPU))]")
            if let sCPU = splitCPU { print("round \(round)  CPU µs/reading: split [\(CPUTable.format(sCPU))]") }
        }
        let best = (brokerRates.max()!, wardlineRates.max()!)
        let database = databaseRates.max()!
        let ceiling = 1 / (1 / best.0 + 1 / database)
        print("")
        print(String(format: "broker-only baseline:       %8.0f readings/s", best.0))
        print(String(format: "database-only baseline:     %8.0f readings/s   (COPY through VitalsStore into vitals, batches of %d)", database, batchSize))
        print(String(format: "combined ceiling:           %8.0f readings/s   (1 / (1/broker + 1/database))", ceiling))
        print(String(format: "Wardline, committed rows:   %8.0f readings/s", best.1))
        print(String(format: "ratio Wardline / broker:    %8.2f   (target ≥ 0.90)", best.1 / best.0))
        print(String(format: "ratio Wardline / ceiling:   %8.2f   (DESIGN target ≥ 0.90)", best.1 / ceiling))
        if let s = splitRates.max() {
            print(String(format: "split, committed rows:      %8.0f readings/s   (1 ingest → Kafka → %d engines)", s, engines))
            print(String(format: "ratio split / --role all:   %8.2f", s / best.1))
        }
        print(String(format: "Wardline peak resident set: %8.0f MiB", peaks.max()!))
        print("CPU per reading, µs (user + system from /proc, mean of \(rounds) round(s)):")
        for run in cpu.runs { print("  \(run): \(cpu.line(run: run))") }
        print("load average (1, 5, 15 min) at start: \(loadAtStart); at the end: \(Self.loadAverage())")
        try? FileManager.default.removeItem(atPath: work)
    }

    /// The machine's load averages, from /proc/loadavg (the benchmark shares 2 cores).
    static func loadAverage() -> String {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }

    /// Migration 10 drops the time index create_hypertable made; says whether it is gone.
    static func reportTimeIndex(_ db: PostgresConnection) throws {
        let names = try db.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'vitals' ORDER BY 1")
            .rows.compactMap { $0[0] }
        let gone = !names.contains("vitals_time_idx")
        print("vitals indexes: \(names.joined(separator: ", ")); vitals_time_idx " + (gone ? "absent (dropped by migration 10)" : "PRESENT (migration 10 should have dropped it)"))
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
    private func brokerOnly(broker: BenchBroker, publisher: StreamPublisher, services: ServiceProcesses,
                            seq: inout Int) throws -> (Double, [(name: String, micros: Double?)]) {
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
        let meters = services.brokerMeter + [.process("bare subscriber (bench process)", getpid())]
        var t0 = monotonicSeconds()
        var window = CPUWindow(meters)
        if mode == .live {
            try publisher.publish(readings: readings, devices: devices, firstSeq: seq)
        } else {
            first.stop()
            try publisher.publish(readings: readings, devices: devices, firstSeq: seq)
            t0 = monotonicSeconds()
            window = CPUWindow(meters)
            second = try subscriber()
            try second.start()
        }
        seq += readings / devices + 1
        guard waitUntil(timeout: 600, poll: 0.001, { received.count - before >= readings }) else {
            throw BenchError(description: "bare subscriber got \(received.count) of \(readings)")
        }
        let elapsed = monotonicSeconds() - t0
        let used = window.perReading(readings)
        second.stop()
        forgetSession(account)
        return (Double(readings) / elapsed, used)
    }

    /// Backlog drain by `wardline serve`, timed until the last row is committed.
    private func wardlineRun(binary: String, url: String, broker: BenchBroker, work: String, publisher: StreamPublisher,
                             services: ServiceProcesses, seq: inout Int) throws -> (Double, Double, [(name: String, micros: Double?)]) {
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
        let others = services.brokerMeter + services.databaseMeter + services.kafkaMeter + [.process("bench (polling)", getpid())]
        var t0 = monotonicSeconds()
        var window = CPUWindow([.process("wardline", first.processIdentifier)] + others)
        let lastSent: [(device: String, seq: Int)]
        if mode == .live {
            lastSent = try publisher.publish(readings: readings, devices: devices, firstSeq: seq)
        } else {
            stop(first)
            lastSent = try publisher.publish(readings: readings, devices: devices, firstSeq: seq)
            t0 = monotonicSeconds()
            second = try launch()
            window = CPUWindow([.process("wardline", second.processIdentifier)] + others)
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
        let used = window.perReading(readings)
        let rows = Int(try db.execute("SELECT count(*) FROM vitals").rows[0][0] ?? "0") ?? 0
        done = done && rows == readings
        let peak = peakResidentMiB(pid: second.processIdentifier) ?? 0
        stop(second)
        forgetSession(account)
        if stats, let text = try? String(contentsOfFile: log, encoding: .utf8) {
            for line in text.split(separator: "\n") where line.contains("msgs_per_s") { print("  " + line) }
        }
        guard done else { throw BenchError(description: "Wardline committed \(rows) of \(readings) rows") }
        return (Double(readings) / elapsed, peak, used)
    }
}

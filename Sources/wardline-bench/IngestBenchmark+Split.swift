import Foundation
import WardlineCore
import WardlineKafka
import WardlineStore

extension IngestBenchmark {
    /// The stream's readings as Wardline decodes them (the same devices, patients, seqs, times and
    /// vitals as `StreamPublisher` sends).
    static func streamReadings(readings: Int, devices: Int, firstSeq: Int) -> [Reading] {
        let perDevice = (readings + devices - 1) / devices
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let ts = now - Int64(perDevice) * 1000
        return (0..<readings).map { i in
            let device = i % devices
            return Reading(deviceID: "bench-\(device)", patientID: "PAT-\(device)", seq: Int64(firstSeq + i / devices),
                           time: ts + Int64(i / devices) * 1000, receivedAt: now,
                           vitals: Vitals(heartRate: Double(60 + i % 40), spo2: Double(94 + i % 6), temperature: 36.8,
                                          respiratoryRate: Double(12 + i % 8), systolicBP: 121, diastolicBP: 79,
                                          onOxygen: false, consciousness: .alert))
        }
    }

    /// The database alone taking the same rows: `VitalsStore.write` (COPY into its staging table,
    /// then INSERT … SELECT into the `vitals` hypertable, one transaction a batch, as Wardline's
    /// writer does for live traffic) on one connection, in batches of WARDLINE_BATCH_SIZE.
    func databaseOnly(url: String, services: ServiceProcesses, seq: Int, batchSize: Int) throws
        -> (Double, [(name: String, micros: Double?)]) {
        let db = try PostgresConnection(url: url)
        try db.execute("TRUNCATE vitals")
        let store = VitalsStore(db: db)
        let all = Self.streamReadings(readings: readings, devices: devices, firstSeq: seq)
        let batches = stride(from: 0, to: all.count, by: batchSize).map { Array(all[$0..<min($0 + batchSize, all.count)]) }
        let window = CPUWindow(services.databaseMeter + [.process("client (bench process)", getpid())])
        let t0 = monotonicSeconds()
        var inserted = 0
        for batch in batches {
            inserted += try store.write(readings: batch, rejected: [], statuses: [], duplicatesLikely: false).readingsInserted
        }
        let elapsed = monotonicSeconds() - t0
        let used = window.perReading(readings)
        let rows = Int(try db.execute("SELECT count(*) FROM vitals").rows[0][0] ?? "0") ?? 0
        guard inserted == readings, rows == readings else {
            throw BenchError(description: "database-only run stored \(rows) rows (\(inserted) inserted) of \(readings)")
        }
        return (Double(readings) / elapsed, used)
    }

    /// One `wardline serve` of the split run, in its own WARDLINE_VAR folder, with its own client id and port.
    final class ServeNode {
        let name: String
        let folder: String
        let log: String
        private let binary: String
        private let environment: [String: String]
        private(set) var process: Process?

        init(name: String, role: String, binary: String, folder: String, environment: [String: String]) throws {
            self.name = name
            self.folder = folder
            self.binary = binary
            log = folder + "/wardline.log"
            try? FileManager.default.removeItem(atPath: folder)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            var env = environment
            env["WARDLINE_VAR"] = folder
            env["WARDLINE_ROLE"] = role
            self.environment = env
        }

        func start() throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = ["serve", "--role", environment["WARDLINE_ROLE"]!]
            p.environment = environment
            if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            handle.seekToEndOfFile()
            p.standardError = handle
            try p.run()
            process = p
        }

        var pid: Int32 { process?.processIdentifier ?? -1 }
        var text: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        func count(_ phrase: String) -> Int { text.components(separatedBy: phrase).count - 1 }

        /// SIGTERM (graceful: intake first, writers last); `wait` for the exit.
        func terminate() { if let p = process, p.isRunning { p.terminate() } }
        @discardableResult
        func wait() -> Int32 {
            guard let p = process else { return 0 }
            p.waitUntilExit()
            process = nil
            return p.terminationStatus
        }
    }

    /// The same backlog through one `serve --role ingest` (MQTT → journal → the device topic,
    /// keyed by patient) and `engines` × `serve --role engine` (each its share of the partitions,
    /// through advisory locks, into the same `vitals`), timed until the last row is committed.
    func splitRun(binary: String, url: String, broker: BenchBroker, work: String, publisher: StreamPublisher,
                  services: ServiceProcesses, seq: inout Int) throws -> (Double, [(name: String, micros: Double?)], String) {
        let c = broker.configuration
        guard let brokers = c.kafkaBrokers else {
            throw BenchError(description: "the split run needs Kafka: WARDLINE_KAFKA_BROKERS is empty (source deploy/env.sh), or pass --no-split")
        }
        let topic = c.kafkaDeviceTopic, partitions = c.kafkaDevicePartitions
        let db = try PostgresConnection(url: url)
        try db.execute("TRUNCATE vitals")
        // The topic holds what earlier runs appended (Tansu keeps it as long as it runs): each
        // round's engines start at its end, as if the last owner had left the partitions there.
        do {
            let kafka = try KafkaPartitionConsumer(brokers: brokers, topic: topic, clientID: "wardline-bench-\(getpid())")
            let found = try kafka.partitionCount()
            guard found == partitions else {
                throw BenchError(description: "\(topic) has \(found) partitions; WARDLINE_KAFKA_DEVICE_PARTITIONS says \(partitions)")
            }
            // Tansu 0.6's high watermark can lag the records it serves (seen: 19,549 for 20,000
            // records over 12 partitions; cause not examined), so the ends are the watermarks,
            // then whatever can still be read past them.
            let watermarks = try (0..<partitions).map { try kafka.highWatermark(partition: Int32($0)) }
            var ends = watermarks
            try kafka.assign(ends.enumerated().map { (Int32($0.offset), KafkaStart.offset($0.element)) })
            var quietSince = monotonicSeconds()
            while monotonicSeconds() - quietSince < 1.5 {
                guard let record = try kafka.next(timeoutMillis: 100) else { continue }
                ends[Int(record.partition)] = max(ends[Int(record.partition)], record.offset + 1)
                quietSince = monotonicSeconds()
            }
            let short = ends.reduce(0, +) - watermarks.reduce(0, +)
            if short > 0 { print("  note: Tansu's high watermarks were \(short) records short of what it served past them") }
            try db.execute("DELETE FROM engine_partitions WHERE topic = $1", [topic])
            for (p, end) in ends.enumerated() {
                try db.execute("""
                    INSERT INTO engine_partitions (topic, partition, next_offset, floor_received_at, owner)
                    VALUES ($1, $2::int, $3::bigint, NULL, 'wardline-bench')
                    """, [topic, String(p), String(end)])
            }
        }

        let env = ProcessInfo.processInfo.environment
        let port = Int(env["WARDLINE_BENCH_HTTP_PORT"] ?? "18089") ?? 18089
        func environment(id: String, port: Int) -> [String: String] {
            var e = env
            e["WARDLINE_DATABASE_URL"] = url
            e["WARDLINE_MQTT_CLIENT_ID"] = id
            e["WARDLINE_PAYLOAD_PATIENT_ID"] = "refuse"
            e["WARDLINE_STATS_INTERVAL_S"] = stats ? "1" : "0"
            e["WARDLINE_MQTT_TCP_NODELAY"] = nodelay ? "true" : "false"
            e["WARDLINE_HTTP_PORT"] = String(port)
            return e
        }
        let engineNodes = try (1...engines).map { n in
            try ServeNode(name: "engine \(n)", role: "engine", binary: binary, folder: work + "/split-engine\(n)",
                          environment: environment(id: "bench-engine\(n)-\(getpid())-\(seq)", port: port + n))
        }
        let ingestID = "bench-ingest-\(getpid())-\(seq)"
        let account = try broker.options(ingestID, kind: .wardline)
        var ingestEnv = environment(id: ingestID, port: port + engines + 1)
        ingestEnv["WARDLINE_MQTT_USERNAME"] = ingestID
        ingestEnv["WARDLINE_MQTT_PASSWORD"] = account.password
        let ingest = try ServeNode(name: "ingest", role: "ingest", binary: binary, folder: work + "/split-ingest", environment: ingestEnv)
        let everyone = engineNodes + [ingest]
        func stopAll() {
            for n in everyone { n.terminate() }
            for n in everyone { n.wait() }
        }
        func failure(_ what: String) -> BenchError {
            stopAll()
            let tails = everyone.map { n in "--- \(n.name) (\(n.log)):\n" + n.text.split(separator: "\n").suffix(15).joined(separator: "\n") }
            return BenchError(description: what + "\n" + tails.joined(separator: "\n"))
        }

        for e in engineNodes { try e.start() }
        // Each node waits 3 s after joining so that nodes started together see each other.
        let shared = waitUntil(timeout: 60, poll: 0.1) { engineNodes.reduce(0) { $0 + $1.count("partition adopted") } >= partitions }
        guard shared else { throw failure("the engine nodes did not take all \(partitions) partitions within 60 s") }
        try ingest.start()
        guard waitUntil(timeout: 30, { ingest.text.contains("mqtt connected") }) else { throw failure("the ingest node did not connect") }
        Thread.sleep(forTimeInterval: 0.3)

        let firstSeq = seq
        let others = services.brokerMeter + services.kafkaMeter + services.databaseMeter + [.process("bench (polling)", getpid())]
        func meters() -> [CPUMeter] {
            [.process("ingest", ingest.pid)] + engineNodes.map { CPUMeter.process($0.name, $0.pid) } + others
        }
        var t0 = monotonicSeconds()
        var window = CPUWindow(meters())
        if mode == .live {
            try publisher.publish(readings: readings, devices: devices, firstSeq: firstSeq)
        } else {
            ingest.terminate()
            ingest.wait()
            try publisher.publish(readings: readings, devices: devices, firstSeq: firstSeq)
            t0 = monotonicSeconds()
            try ingest.start()
            window = CPUWindow(meters())
        }
        seq += readings / devices + 1

        // Order holds per partition (one ingest node, one owner), not across them: the last reading
        // of each publisher connection on each partition marks that partition done.
        var last: [Int: (device: Int, i: Int)] = [:]
        for d in 0..<min(devices, readings) {
            let i = d + ((readings - 1 - d) / devices) * devices
            let key = Int(PatientPartition.of(key: "PAT-\(d)", partitions: partitions)) * connections + d % connections
            if (last[key]?.i ?? -1) < i { last[key] = (d, i) }
        }
        let markers = last.values.map { "('bench-\($0.device)', \(firstSeq + $0.i / devices))" }.joined(separator: ", ")
        let found = try waitUntil(timeout: max(120, Double(readings) / 1000), poll: 0.005) {
            let n = try db.execute("SELECT count(*) FROM vitals WHERE (device_id, seq) IN (\(markers))").rows[0][0]
            return Int(n ?? "0") == last.count
        }
        var elapsed = monotonicSeconds() - t0
        var rows = Int(try db.execute("SELECT count(*) FROM vitals").rows[0][0] ?? "0") ?? 0
        if found && rows < readings {
            // Should not happen (order per partition); if it does, time to the full count and say so.
            print("  note: split run's markers were committed before all rows (\(rows) of \(readings)); waiting for the rest")
            _ = try waitUntil(timeout: 30, poll: 0.1) {
                rows = Int(try db.execute("SELECT count(*) FROM vitals").rows[0][0] ?? "0") ?? 0
                return rows >= readings
            }
            elapsed = monotonicSeconds() - t0
        }
        let used = window.perReading(readings)
        let held = engineNodes.map { String($0.count("partition adopted")) }.joined(separator: "+")
        let lost = everyone.map { $0.count("partitions lost") }.reduce(0, +)
        guard found, rows == readings else {
            throw failure("split run committed \(rows) of \(readings) rows (markers \(found ? "found" : "not found"))")
        }
        stopAll()
        forgetSession(account)
        if lost > 0 { print("  note: an engine node logged 'partitions lost' \(lost) time(s) during the split run") }
        if stats {
            for n in everyone {
                for line in n.text.split(separator: "\n") where line.contains("msgs_per_s") { print("  \(n.name): " + line) }
            }
        }
        return (Double(readings) / elapsed, used, held)
    }
}

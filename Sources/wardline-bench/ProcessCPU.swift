import Foundation

/// CPU seconds (user + system) of processes, from /proc/<pid>/stat, for "µs of CPU per reading".
enum ProcessCPU {
    private static let tick = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// The fields after the command name: [0] state, [1] ppid, … [11] utime, [12] stime,
    /// [13] cutime, [14] cstime (stat fields 3, 4, 14–17).
    private static func fields(_ pid: Int32) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let f = text[text.index(after: close)...].split(separator: " ")
        return f.count > 14 ? f : nil
    }

    private static func sum(_ f: [Substring], _ indices: [Int]) -> Double {
        indices.reduce(0) { $0 + (Double(f[$1]) ?? 0) } / tick
    }

    /// One process, all its threads.
    static func seconds(_ pid: Int32) -> Double? {
        fields(pid).map { sum($0, [11, 12]) }
    }

    /// A server that forks a process per connection (PostgreSQL): the root, the children it has
    /// reaped (cutime, cstime) and its live children. A child that ends between two readings
    /// moves from "live" to "reaped" with its whole time, so differences stay right.
    static func treeSeconds(_ root: Int32) -> Double? {
        guard let f = fields(root) else { return nil }
        var total = sum(f, [11, 12, 13, 14])
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for name in names {
            guard let pid = Int32(name), pid != root, let c = fields(pid), Int32(c[1]) == root else { continue }
            total += sum(c, [11, 12])
        }
        return total
    }

    /// Busy CPU seconds of the whole machine (every core, every process: /proc/stat's first line
    /// less idle and iowait), to tell what else ran during a measurement.
    static func machineSeconds() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first, line.hasPrefix("cpu ") else { return nil }
        let v = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard v.count >= 8 else { return nil }
        return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / tick  // user nice system irq softirq steal
    }

    /// The process's command name, to check a pid file still names what it should.
    static func command(_ pid: Int32) -> String? {
        (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Something whose CPU time the benchmark reads before and after a run.
struct CPUMeter {
    let name: String
    let read: () -> Double?

    static func process(_ name: String, _ pid: Int32) -> CPUMeter { CPUMeter(name: name, read: { ProcessCPU.seconds(pid) }) }
    static func tree(_ name: String, _ pid: Int32) -> CPUMeter { CPUMeter(name: name, read: { ProcessCPU.treeSeconds(pid) }) }
    /// Everything on the machine: the gap to the processes measured is what else ran meanwhile.
    static var machine: CPUMeter { CPUMeter(name: "whole machine", read: { ProcessCPU.machineSeconds() }) }
}

/// CPU seconds of a set of meters over one window.
struct CPUWindow {
    private let meters: [CPUMeter]
    private let start: [Double?]

    init(_ meters: [CPUMeter]) {
        self.meters = meters + [.machine]
        start = self.meters.map { $0.read() }
    }

    /// Each meter's µs of CPU per reading since the window opened (nil: the process was not readable).
    func perReading(_ readings: Int) -> [(name: String, micros: Double?)] {
        zip(meters, start).map { meter, before in
            guard let before, let after = meter.read() else { return (meter.name, nil) }
            return (meter.name, (after - before) * 1e6 / Double(readings))
        }
    }
}

/// The private services' processes (deploy/services.sh's pid files under WARDLINE_VAR).
struct ServiceProcesses {
    var mosquitto: Int32?
    var postgres: Int32?
    var tansu: Int32?

    init(varDirectory: String) {
        func pid(_ file: String, _ command: String) -> Int32? {
            guard let text = try? String(contentsOfFile: varDirectory + "/" + file, encoding: .utf8),
                  let first = text.split(separator: "\n").first, let pid = Int32(first.trimmingCharacters(in: .whitespaces)),
                  ProcessCPU.command(pid)?.hasPrefix(command) == true else { return nil }
            return pid
        }
        mosquitto = pid("run/mosquitto.pid", "mosquitto")
        postgres = pid("pg/data/postmaster.pid", "postgres")
        tansu = pid("run/tansu.pid", "tansu")
    }

    var brokerMeter: [CPUMeter] { mosquitto.map { [.process("mosquitto", $0)] } ?? [] }
    var databaseMeter: [CPUMeter] { postgres.map { [.tree("postgres", $0)] } ?? [] }
    var kafkaMeter: [CPUMeter] { tansu.map { [.process("tansu", $0)] } ?? [] }
}

/// µs of CPU per reading, per run and process, gathered over the rounds.
struct CPUTable {
    private(set) var runs: [String] = []
    private var values: [String: [(name: String, micros: [Double])]] = [:]

    mutating func add(run: String, _ measured: [(name: String, micros: Double?)]) {
        if values[run] == nil { runs.append(run); values[run] = [] }
        for (name, micros) in measured {
            guard let micros else { continue }
            if let i = values[run]!.firstIndex(where: { $0.name == name }) {
                values[run]![i].micros.append(micros)
            } else {
                values[run]!.append((name, [micros]))
            }
        }
    }

    /// The mean over the rounds of one run's process, in µs a reading.
    func mean(run: String, process: String) -> Double? {
        guard let m = values[run]?.first(where: { $0.name == process })?.micros, !m.isEmpty else { return nil }
        return m.reduce(0, +) / Double(m.count)
    }

    func line(run: String) -> String {
        (values[run] ?? []).map { entry in
            let mean = entry.micros.reduce(0, +) / Double(entry.micros.count)
            return entry.name + " " + String(format: "%.1f", mean)
        }.joined(separator: ", ")
    }

    /// "name µs  name µs …", then what the rest of the machine used in the same window.
    static func format(_ measured: [(name: String, micros: Double?)]) -> String {
        let processes = measured.filter { $0.name != CPUMeter.machine.name }
        var text = processes.map { $0.name + " " + ($0.micros.map { String(format: "%.1f", $0) } ?? "n/a") }.joined(separator: "  ")
        if let machine = measured.first(where: { $0.name == CPUMeter.machine.name })?.micros {
            let rest = machine - processes.compactMap(\.micros).reduce(0, +)
            text += String(format: "  | rest of the machine %.1f", rest)
        }
        return text
    }
}

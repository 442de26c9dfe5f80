import Foundation
import Synchronization
import WardlineConfig
import WardlineMQTT
import WardlineRuntime
import WardlineServer
import WardlineStore

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func waitUntil(timeout: Double, poll: Double = 0.01, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = monotonicSeconds() + timeout
    while monotonicSeconds() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: poll)
    }
    return try condition()
}

struct BenchError: Error, CustomStringConvertible { let description: String }

/// The benchmark's accounts on the broker (TLS and credentials as Wardline's configuration says),
/// made for this run through the dynsec admin and removed at the end.
final class BenchBroker: Sendable {
    let configuration: WardlineConfiguration
    private let accounts: BrokerAccounts
    private let made = Mutex<[String]>([])

    init() throws {
        configuration = try WardlineConfiguration.load()
        guard let accounts = BrokerAccounts(configuration: configuration) else {
            throw BenchError(description: "WARDLINE_MQTT_ADMIN_USERNAME is not set: the benchmark makes its broker accounts with it (source deploy/env.sh)")
        }
        self.accounts = accounts
    }

    /// Connection options for a fresh account `id` of this kind (user name = client id = id).
    func options(_ id: String, kind: BrokerAccountKind) throws -> MQTTClient.Options {
        var o = configuration.mqttOptions(clientID: id)
        o.username = id
        o.password = try accounts.provision([id], kind: kind)[0].password
        made.withLock { $0.append(id) }
        return o
    }

    func removeAccounts() {
        for id in made.withLock({ $0 }) { try? accounts.revoke(id) }
    }
}

/// A fleet of simulated devices publishing a fixed stream of QoS 1 readings over a few gateway
/// connections (one account can speak for many devices only as a gateway).
final class StreamPublisher: Sendable {
    private let clients: [MQTTClient]
    private let acked = Counter()
    private let connected = Counter()

    init(broker: BenchBroker, connections: Int) throws {
        var made: [MQTTClient] = []
        let acked = self.acked, connected = self.connected
        let host = broker.configuration.mqttHost, port = broker.configuration.mqttPort
        for i in 0..<connections {
            var o = try broker.options("bench-pub-\(getpid())-\(i)", kind: .gateway)
            o.cleanSession = true
            o.maxInflight = 2000
            made.append(try MQTTClient(options: o, onConnection: { if case .connected = $0 { connected.add() } },
                                       onPublished: { _ in acked.add() }))
        }
        clients = made
        for c in clients { try c.start() }
        guard waitUntil(timeout: 10, { connected.count == connections }) else {
            throw BenchError(description: "publisher could not connect to \(host):\(port)")
        }
    }

    /// Publishes `readings` readings round-robin over `devices` devices and waits for every PUBACK.
    /// Returns the last (device, seq) sent on each connection: once those are stored, all are,
    /// because the broker keeps each connection's order and Wardline commits in arrival order.
    @discardableResult
    func publish(readings: Int, devices: Int, firstSeq: Int) throws -> [(device: String, seq: Int)] {
        let start = acked.count
        let perDevice = (readings + devices - 1) / devices
        // One reading a second per device, ending now: all in the past, none "from the future".
        let ts = Int64(Date().timeIntervalSince1970 * 1000) - Int64(perDevice) * 1000
        var last: [Int: (device: String, seq: Int)] = [:]
        for i in 0..<readings {
            let device = i % devices
            let seq = firstSeq + i / devices
            last[device % clients.count] = ("bench-\(device)", seq)
            let payload = #"{"v":1,"seq":\#(seq),"ts":\#(ts + Int64(i / devices) * 1000),"patient_id":"PAT-\#(device)","hr":\#(60 + i % 40),"spo2":\#(94 + i % 6),"temp":36.8,"rr":\#(12 + i % 8),"sbp":121,"dbp":79,"o2":false,"acvpu":"A"}"#
            try clients[device % clients.count].publish(topic: "devices/bench-\(device)/vitals", payload: Array(payload.utf8))
            // Keep libmosquitto's own queue bounded.
            while i - (acked.count - start) > 50_000 { Thread.sleep(forTimeInterval: 0.001) }
        }
        guard waitUntil(timeout: 300, { acked.count - start >= readings }) else {
            throw BenchError(description: "broker acknowledged \(acked.count - start) of \(readings)")
        }
        return last.sorted { $0.key < $1.key }.map(\.value)
    }

    func stop() { for c in clients { c.stop() } }
}

/// Drops a persistent session so the broker stops queueing for it.
func forgetSession(_ options: MQTTClient.Options) {
    var o = options
    o.cleanSession = true
    o.subscriptions = []
    let up = Counter()
    guard let c = try? MQTTClient(options: o, onConnection: { if case .connected = $0 { up.add() } }) else { return }
    try? c.start()
    _ = waitUntil(timeout: 5) { up.count > 0 }
    c.stop()
}

/// Peak resident memory of a process, in MiB, from /proc.
func peakResidentMiB(pid: Int32) -> Double? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Double($0) }
        return kb.map { $0 / 1024 }
    }
    return nil
}

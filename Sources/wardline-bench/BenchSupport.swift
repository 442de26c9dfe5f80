import Foundation
import Synchronization
import WardlineMQTT
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

/// A fleet of simulated devices publishing a fixed stream of QoS 1 readings over a few connections.
final class StreamPublisher: Sendable {
    private let clients: [MQTTClient]
    private let acked = Counter()
    private let connected = Counter()

    init(host: String, port: Int32, connections: Int) throws {
        var made: [MQTTClient] = []
        let acked = self.acked, connected = self.connected
        for i in 0..<connections {
            var o = MQTTClient.Options(clientID: "bench-pub-\(getpid())-\(i)")
            o.host = host
            o.port = port
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
func forgetSession(clientID: String, host: String, port: Int32) {
    var o = MQTTClient.Options(clientID: clientID)
    o.host = host
    o.port = port
    o.cleanSession = true
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

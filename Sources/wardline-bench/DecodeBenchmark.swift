import ArgumentParser
import Foundation
import WardlineCore
import WardlineJournal

/// Cost per message of each step on the MQTT thread, against a baseline of copying the payload.
struct DecodeBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "decode",
                                                    abstract: "Per-message cost of validation and journalling on one core.")

    @Option(help: "Messages to decode.") var messages = 300_000

    func run() throws {
        let payloads = (0..<1000).map { i in
            Data(#"{"v":1,"seq":\#(i),"ts":1795484315123,"patient_id":"PAT-\#(i)","hr":\#(60 + i % 40),"spo2":97,"temp":36.8,"rr":16,"sbp":121,"dbp":79,"o2":false,"acvpu":"A"}"#.utf8)
        }
        let topics = (0..<1000).map { "devices/bench-\($0)/vitals" }
        func time(_ label: String, _ body: (Int) throws -> Void) rethrows -> Double {
            let t0 = monotonicSeconds()
            for i in 0..<messages { try body(i) }
            let ns = (monotonicSeconds() - t0) / Double(messages) * 1e9
            print(String(format: "%-40@ %8.0f ns/message  %9.0f messages/s", label as NSString, ns, 1e9 / ns))
            return ns
        }
        var sink = 0
        let baseline = time("baseline: copy payload + topic") { i in
            let d = Data(payloads[i % 1000]); sink &+= d.count &+ topics[i % 1000].utf8.count
        }
        var limits = MessageDecoder.Limits()
        limits.payloadPatientID = .unassigned  // the payloads name their patients; refused, they would not reach a Reading
        let decoder = MessageDecoder(registry: DeviceRegistry(), limits: limits)
        let decode = time("MessageDecoder.decode") { i in
            sink &+= decoder.decode(topic: topics[i % 1000], payload: payloads[i % 1000], receivedAt: 1_795_484_315_123).count
        }
        let dir = NSTemporaryDirectory() + "wardline-decode-bench-\(getpid())"
        let journal = try JournalWriter(directory: dir, segmentBytes: 64 << 20, syncEveryMillis: 1000)
        let append = try time("JournalWriter.append") { i in
            _ = try payloads[i % 1000].withUnsafeBytes { try journal.append(topic: topics[i % 1000], payload: $0, receivedAt: Int64(i)) }
        }
        try? FileManager.default.removeItem(atPath: dir)
        print(String(format: "decode / baseline: %.1f×   journal / baseline: %.1f×   (sink %d)", decode / baseline, append / baseline, sink % 7))
    }
}

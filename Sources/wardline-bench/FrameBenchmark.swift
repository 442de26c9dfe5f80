import ArgumentParser
import Foundation
import WardlineCore
import WardlineEngine
import WardlineHub

/// The hub's per-event cost of a `vitals:update` frame: `JSONEncoder` over `Encodable` structs
/// (what the hub uses) against `JSONSerialization` over `[String: Any]` (the first version), and a
/// baseline of copying the same number of bytes.
struct FrameBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "frames", abstract: "Encode WebSocket frames: Codable vs dictionaries.")

    @Option(help: "Frames per method.") var count = 100_000

    func run() throws {
        let reading = Reading(deviceID: "mon-00042", patientID: "PAT-00042", seq: 123_456, time: 1_795_639_811_342,
                              receivedAt: 1_795_639_811_345,
                              vitals: Vitals(heartRate: 88, spo2: 95, temperature: 37.2, respiratoryRate: 18, systolicBP: 118,
                                             diastolicBP: 76, onOxygen: false, consciousness: .alert),
                              sentAtMicros: 1_795_639_811_340_123)
        var score = News2Score()
        score[.respirationRate] = 0
        score[.pulse] = 1
        let encoder = FrameEncoder()
        func time(_ body: () -> Int) -> (Double, Int) {
            let start = DispatchTime.now().uptimeNanoseconds
            let bytes = body()
            return (Double(DispatchTime.now().uptimeNanoseconds - start) / Double(count), bytes)
        }
        let sample = encoder.scoredReading(reading, score)
        // Baseline: copying the frame's bytes once (what the socket write costs at least).
        let (baseline, _) = time {
            var n = 0
            for i in 0..<count { var c = sample; c[i % c.count] &+= 1; n &+= Int(c[(i + 1) % c.count]) }
            return n
        }
        let (codable, a) = time { var n = 0; for _ in 0..<count { n &+= encoder.scoredReading(reading, score).count }; return n }
        let (dictionary, b) = time {
            var n = 0
            for _ in 0..<count { n &+= Self.serialised(Self.dictionary(reading, score)).count }
            return n
        }
        print("frame: \(String(decoding: sample, as: UTF8.self))")
        print(String(format: "copy baseline     %8.0f ns/frame", baseline))
        print(String(format: "JSONEncoder       %8.0f ns/frame  (%.1f× baseline)  %d bytes", codable, codable / baseline, a / count))
        print(String(format: "JSONSerialization %8.0f ns/frame  (%.1f× baseline)  %d bytes", dictionary, dictionary / baseline, b / count))
        print(String(format: "JSONSerialization / JSONEncoder = %.1f×", dictionary / codable))
    }

    /// The first version's frame writer, kept here only as the measure to beat.
    static func serialised(_ data: [String: Any]) -> [UInt8] {
        let frame: [String: Any] = ["event": "vitals:update", "data": data]
        return Array((try? JSONSerialization.data(withJSONObject: frame, options: [.withoutEscapingSlashes])) ?? Data("{}".utf8))
    }

    /// The first version's frame: `[String: Any]` dictionaries for `JSONSerialization`.
    static func dictionary(_ r: Reading, _ s: News2Score) -> [String: Any] {
        var v: [String: Any] = [:]
        v["hr"] = r.vitals.heartRate
        v["spo2"] = r.vitals.spo2
        v["rr"] = r.vitals.respiratoryRate
        v["temp"] = r.vitals.temperature
        v["sbp"] = r.vitals.systolicBP
        v["dbp"] = r.vitals.diastolicBP
        v["on_oxygen"] = r.vitals.onOxygen
        v["consciousness"] = r.vitals.consciousness?.rawValue
        let news2: [String: Any] = ["total": s.total, "risk": WireFormat.riskName(s.risk), "complete": s.isComplete,
                                    "missing": s.missing.members.map(\.name), "scale": s.scale.rawValue]
        var d: [String: Any] = ["patient_id": r.patientID, "device_id": r.deviceID, "time": r.time, "seq": r.seq,
                                "vitals": v, "news2": news2]
        d["sent_at_us"] = r.sentAtMicros
        return d
    }
}

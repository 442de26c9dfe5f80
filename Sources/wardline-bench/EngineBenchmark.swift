import ArgumentParser
import Foundation
import WardlineCore
import WardlineEngine

/// The alert engine alone on one thread, with every patient's windows live, against a baseline
/// measured in the same run: the same readings built and handed one by one to a function that
/// does nothing with them. NEWS2 scoring alone is timed too, as a second yardstick.
struct EngineBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "engine",
                                                    abstract: "Alert engine readings/s on one core, with 10,000 patients' windows live.")

    @Option(help: "Patients (one monitor each) with live windows.") var patients = 10_000
    @Option(help: "Readings to time.") var readings = 2_000_000

    func run() throws {
        try EngineBench(patients: patients, readings: readings).run()
    }
}

/// The measurement itself, apart from the command line.
struct EngineBench {
    let patients: Int
    let readings: Int
    /// Device time at the start of the timed part; warm-up readings come before it.
    let start: Int64 = 1_795_484_400_000

    /// One monitor per patient at one reading a second: HR, SpO2, RR every second, temperature and
    /// NIBP every 5 minutes. One patient in a hundred is tachycardic (an alarm stays open).
    func vitals(patient p: Int, second s: Int) -> Vitals {
        let wobble = Double((p &* 31 &+ s &* 7) % 5) - 2
        var v = Vitals(heartRate: 74 + wobble, spo2: 97 - abs(wobble) / 2, respiratoryRate: 15 + wobble / 2)
        if p % 100 == 7 { v.heartRate = 126 + wobble }
        if (s + p) % 300 == 0 {
            v.temperature = 36.9 + wobble / 10
            v.systolicBP = 122 + wobble * 3
            v.diastolicBP = 76 + wobble
            v.onOxygen = false
            v.consciousness = .alert
        }
        return v
    }

    func reading(patient p: Int, second s: Int) -> Reading {
        let t = start + Int64(s) * 1000 + Int64(p % 1000)
        return Reading(deviceID: "bench-\(p)", patientID: "PAT-\(p)", seq: Int64(s), time: t, receivedAt: t,
                       vitals: vitals(patient: p, second: s))
    }

    /// A pool of ten seconds of every patient's readings, replayed with their times moved on by
    /// ten seconds each pass (`event`), so the pool (not 2 million readings) is what sits in memory.
    static let poolSeconds = 10
    private var pool: [Reading] = []

    init(patients: Int, readings: Int) {
        self.patients = patients
        self.readings = readings
        pool = (0..<Self.poolSeconds).flatMap { s in (0..<patients).map { p in reading(patient: p, second: s) } }
    }

    func event(_ i: Int) -> IngestEvent {
        let pass = i / pool.count
        var r = pool[i % pool.count]
        let shift = Int64(pass) * Int64(Self.poolSeconds) * 1000
        r.time += shift
        r.receivedAt += shift
        r.seq += Int64(pass) * Int64(Self.poolSeconds)
        // One patient in fifty desaturates to 91 % for a minute in every four: alarms are
        // raised and resolved during the run.
        if (i % pool.count) % patients % 50 == 3, (pass / 6) % 4 == 1 { r.vitals.spo2 = 91 }
        return .reading(r)
    }

    func run() throws {
        // A pool of ten seconds of every patient's readings, replayed with their times moved on by
        // ten seconds each pass, so the pool (not 2 million readings) is what sits in memory.
        let rssBefore = residentMegabytes()

        let engine = try AlertEngine()
        let warmed = warm(engine)
        let rssWarm = residentMegabytes()
        print("warm-up: \(warmed) readings for \(patients) patients (an hour at 1 per 2 min, then 6 min at 1 per 10 s); "
              + "every window bucket holds data")

        var sink = 0
        let baseline = time("baseline: build each reading, pass it on") { i in
            sink &+= passOn(event(i))
        }
        let news2 = time("NEWS2 score of each reading") { i in
            if case .reading(let r) = event(i) {
                let v = r.vitals
                sink &+= News2Score(respirationRate: v.respiratoryRate, spo2: v.spo2, onOxygen: v.onOxygen,
                                    systolicBP: v.systolicBP, pulse: v.heartRate, consciousness: v.consciousness,
                                    temperature: v.temperature).total
            }
        }
        var events: [EngineEvent] = []
        var alarmEvents = 0
        var nextTick = start + 1000
        let engineNs = time("AlertEngine.process (+ tick each second)") { i in
            let e = event(i)
            guard case .reading(let r) = e else { return }
            events.removeAll(keepingCapacity: true)
            engine.process(e, now: r.receivedAt, into: &events)
            if r.receivedAt >= nextTick {
                events += engine.tick(now: r.receivedAt)
                nextTick += 1000
            }
            for ev in events where ev.alarm != nil { alarmEvents += 1 }
        }
        let rssAfter = residentMegabytes()

        print(String(format: "engine / baseline: %.1f×   engine / NEWS2 alone: %.1f×", engineNs / baseline, engineNs / news2))
        print(String(format: "resident: %.0f MB before the engine, %.0f MB with %d patients' windows live (%.1f KB a patient), %.0f MB after the run",
                     rssBefore, rssWarm, patients, (rssWarm - rssBefore) * 1024 / Double(patients), rssAfter))
        print("alarm events during the timed run: \(alarmEvents); open alarms now: \(engine.openAlarmCount)  (sink \(sink % 7))")
        print("one core; the pipeline's target of 10,000 readings/s would use \(String(format: "%.1f", engineNs * 1e4 / 1e7)) % of it")
    }

    /// Fills every patient's windows: the past hour at one reading per 2 minutes, then the last six
    /// minutes at one per 10 seconds, all before `start`.
    private func warm(_ engine: AlertEngine) -> Int {
        var n = 0
        var times = stride(from: -3600, to: -360, by: 120).map { $0 }
        times += stride(from: -360, to: 0, by: 10).map { $0 }
        for s in times {
            for p in 0..<patients {
                let r = reading(patient: p, second: s)
                _ = engine.process(.reading(r), now: r.receivedAt)
                n += 1
            }
            _ = engine.tick(now: start + Int64(s) * 1000)
        }
        return n
    }

    /// Times `body` over every reading index, prints and returns ns per reading.
    private func time(_ label: String, _ body: (Int) -> Void) -> Double {
        let t0 = monotonicSeconds()
        for i in 0..<readings { body(i) }
        let ns = (monotonicSeconds() - t0) / Double(readings) * 1e9
        let padded = label.padding(toLength: 44, withPad: " ", startingAt: 0)
        print(padded + String(format: " %7.0f ns/reading  %10.0f readings/s", ns, 1e9 / ns))
        return ns
    }
}

/// The baseline's whole work: take the event and touch it, so the copy cannot be optimised away.
@inline(never)
func passOn(_ e: IngestEvent) -> Int {
    guard case .reading(let r) = e else { return 0 }
    return Int(truncatingIfNeeded: r.time) &+ r.patientID.utf8.count &+ Int(r.vitals.heartRate ?? 0)
}

/// Resident set size in megabytes, from /proc/self/status.
func residentMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return .nan }
    return kb / 1024
}

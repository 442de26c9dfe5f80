import ArgumentParser
import Foundation
import WardlineCore
import WardlineEngine
import WardlineReplay

/// A replay's engines alone (`wardline replay` without the database): the recorded readings of a
/// ward through one `ReplayRun`, and through `ReplayComparison` (the rules in force and a
/// candidate, and the patient-day count), against a baseline measured in the same run: the same
/// readings built and handed on. The database's cursor is what the README's simulated day adds.
struct ReplayBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "replay",
                                                    abstract: "Replay readings/s through one engine and through the two-engine comparison, on one core.")

    @Option(help: "Patients (one monitor each) on the recorded ward.") var patients = 50
    @Option(help: "Readings to time.") var readings = 2_000_000
    @Option(help: "Readings per batch, as the database cursor hands them over.") var batch = 20_000

    func run() throws {
        let bench = EngineBench(patients: patients, readings: readings)
        var sink = 0
        let baseline = timed("baseline: build each reading, pass it on", readings) {
            for i in 0..<readings { sink &+= passOn(bench.event(i)) }
        }
        let one = try ReplayRun(configuration: EngineConfiguration())
        let single = timed("ReplayRun.feed (one engine)", readings) {
            for i in 0..<readings { if case .reading(let r) = bench.event(i) { one.feed(r) } }
        }
        let comparison = try ReplayComparison(inForce: EngineConfiguration(), candidate: EngineConfiguration())
        var pending: [IngestEvent] = []
        pending.reserveCapacity(batch)
        let both = timed("ReplayComparison.feed (two engines)", readings) {
            for i in 0..<readings {
                pending.append(bench.event(i))
                if pending.count == batch {
                    comparison.feed(pending)
                    pending.removeAll(keepingCapacity: true)
                }
            }
            comparison.feed(pending)
        }
        print(String(format: "one engine / baseline: %.1f×   comparison / one engine: %.2f× (2 would be two engines and nothing else)",
                     single / baseline, both / single))
        print(String(format: "per engine in the comparison: %.0f readings/s; alarms raised by one run: %d  (sink %d)",
                     2e9 / both, one.episodes.count, sink % 7))
    }

    private func timed(_ label: String, _ n: Int, _ body: () -> Void) -> Double {
        let t0 = monotonicSeconds()
        body()
        let ns = (monotonicSeconds() - t0) / Double(n) * 1e9
        print(label.padding(toLength: 44, withPad: " ", startingAt: 0) + String(format: " %7.0f ns/reading  %10.0f readings/s", ns, 1e9 / ns))
        return ns
    }
}

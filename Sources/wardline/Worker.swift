import ArgumentParser
import Foundation
import WardlineServer
import WardlineWorker

/// `wardline worker`: does the task queue's jobs until SIGTERM/SIGINT, then finishes the job in
/// hand and exits 0.
struct Worker: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Consume the task queue: page on-call clinicians, escalate unacknowledged alarms, send ward summaries.")

    @Flag(help: "Send a ward summary (last 24 h) at once, besides the daily one at WARDLINE_SUMMARY_AT.")
    var summaryNow = false

    func run() throws {
        let signals = StopSignals()

        let (config, logger) = try loadConfiguration()
        let worker: TaskWorker
        do { worker = try TaskWorker(configuration: config, logger: logger) } catch {
            logger.critical("cannot start the worker", metadata: ["error": "\(error)"])
            throw ExitCode(78)  // EX_CONFIG: a setting, not a passing fault
        }
        // The signal waits on its own thread; the job loop notices the request between jobs.
        Thread.detachNewThread {
            logger.notice("signal received; finishing the job in hand", metadata: ["signal": "\(signals.wait())"])
            worker.requestStop()
        }
        worker.run(summaryNow: summaryNow)
    }
}

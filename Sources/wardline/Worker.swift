import ArgumentParser
import Foundation
import WardlineRuntime
import WardlineServer
import WardlineWorker

/// `wardline worker`: does the task queue's jobs until SIGTERM/SIGINT, then finishes the job in
/// hand and exits 0.
struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Consume the task queue: page on-call clinicians, escalate unacknowledged alarms, send ward summaries.")

    @Flag(help: "Send a ward summary (last 24 h) at once, besides the daily one at WARDLINE_SUMMARY_AT.")
    var summaryNow = false

    func run() async throws {
        let signals = await StopSignals()
        let (config, logger) = try loadConfiguration()
        let worker: TaskWorker
        do { worker = try TaskWorker(configuration: config, logger: logger) } catch {
            logger.critical("cannot start the worker", metadata: ["error": "\(error)"])
            throw ExitCode(78)  // EX_CONFIG: a setting, not a passing fault
        }
        // The job loop blocks (rabbitmq-c, libcurl): its own thread; it notices the stop between jobs.
        let thread = PartThread(name: "wardline-worker")
        let summaryNow = summaryNow
        thread.start { worker.run(summaryNow: summaryNow) }
        let jobs = PartService("task worker") {
            logger.notice("shutting down: finishing the job in hand")
            worker.requestStop()
            await thread.finished()
        }
        try await signals.run([jobs], logger: logger)
    }
}

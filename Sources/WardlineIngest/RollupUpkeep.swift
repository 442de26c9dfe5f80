import Logging
import WardlineRuntime
import WardlineStore

/// The vitals' minute rollup and the retention of what grows (issue 15), one node's job however
/// many serve: the one leading it (`Leadership`, `LeadDuty.vitalsRollup`, asked each second), at
/// once when it takes the lead and every `everyMillis` after.
///
/// Each run, in order: the rollup (`RollupStore.rollUp`) from the watermark to now minus
/// `settleMillis`, in `RollupPlan` steps of one transaction each; then raw chunks past
/// `rawDays` that the watermark has passed, and rollup chunks past `rollupDays`, are dropped;
/// then delivered outbox rows past `deliveredDays` and command answers past a day are deleted.
/// Every step is idempotent, so a run cut short by a stop, a lost lock or a database outage is
/// simply done again. Logs counts only, never a patient's values.
package final class RollupUpkeep: Sendable {
    package struct Settings: Sendable {
        package var databaseURL: String
        package var everyMillis: Int64
        package var settleMillis: Int64
        package var rawDays: Int
        package var rollupDays: Int
        package var deliveredDays: Int
        package var stepMillis: Int64 = 10 * 60 * 1000
        package var maxStepsPerRun = 1000

        package init(databaseURL: String, everyMillis: Int64, settleMillis: Int64, rawDays: Int, rollupDays: Int, deliveredDays: Int) {
            self.databaseURL = databaseURL
            self.everyMillis = everyMillis
            self.settleMillis = settleMillis
            self.rawDays = rawDays
            self.rollupDays = rollupDays
            self.deliveredDays = deliveredDays
        }
    }

    private let settings: Settings
    private let counters: PipelineCounters
    private let logger: Logger
    private let health: HealthBoard?
    package let thread = PartThread(name: "wardline-rollup")

    package init(settings: Settings, counters: PipelineCounters, logger: Logger, health: HealthBoard? = nil) {
        self.settings = settings
        self.counters = counters
        self.logger = logger
        self.health = health
    }

    package func start() { thread.start { [self] in run() } }

    /// Ends the thread after the step under way (its transaction commits or not, whole).
    package func stop() { thread.requestStop() }

    private func run() {
        let lead = Leadership(duty: .vitalsRollup, databaseURL: settings.databaseURL, logger: logger)
        var store: RollupStore?
        var failing = false
        var leading = false
        var nextRun: Int64 = 0
        var reported: Leadership.Standing??
        while !thread.isStopping {
            let leads = lead.isLeader(now: wallClockMillis())
            if leads && !leading { nextRun = 0 }  // taking over: at once
            leading = leads
            if reported != .some(lead.standing) {
                reportLead(lead.standing)
                reported = .some(lead.standing)
            }
            if leading && wallClockMillis() >= nextRun {
                do {
                    let s = try store ?? RollupStore(db: PostgresConnection(url: settings.databaseURL))
                    store = s
                    try runOnce(s)
                    if failing { logger.notice("vitals rollup running again") }
                    failing = false
                    nextRun = wallClockMillis() + settings.everyMillis
                } catch {
                    store = nil
                    if !failing { logger.warning("vitals rollup cannot reach the database; trying again", metadata: ["error": "\(error)"]) }
                    failing = true
                    nextRun = wallClockMillis() + 1000
                }
            }
            thread.pause(millis: 1000)
        }
        lead.resign()
    }

    private func runOnce(_ s: RollupStore) throws {
        let now = try s.now()
        var minutes = 0
        if var at = try s.watermark() ?? s.oldestReceived() {
            // One step at a time, each planned from where the last ended; after an empty step,
            // the database says where the next reading is, so a long empty span is one step.
            var next = try s.nextReceived(after: at)
            var steps = 0
            while steps < settings.maxStepsPerRun && !thread.isStopping,
                  let step = RollupPlan.steps(watermark: at, nextReceived: next, now: now, settleMillis: settings.settleMillis,
                                              stepMillis: settings.stepMillis, maxSteps: 1).first {
                let r = try s.rollUp(after: step.after, through: step.through)
                counters.rollupMinutes.add(r.minutes)
                counters.rollupReadings.add(r.readings)
                minutes += r.minutes
                steps += 1
                at = step.through
                next = r.minutes == 0 ? try s.nextReceived(after: at) : at + 1
            }
        }
        let dropped = try s.dropOldChunks(rawDays: settings.rawDays, rollupDays: settings.rollupDays)
        counters.rawChunksDropped.add(dropped.rawChunks)
        counters.rollupChunksDropped.add(dropped.rollupChunks)
        let expired = try s.expireDone(deliveredDays: settings.deliveredDays)
        counters.outboxExpired.add(expired["outbox"] ?? 0)
        counters.taskOutboxExpired.add(expired["task_outbox"] ?? 0)
        counters.commandResultsExpired.add(expired["engine_command_results"] ?? 0)
        if dropped.rawChunks + dropped.rollupChunks + expired.values.reduce(0, +) > 0 {
            logger.info("retention applied", metadata: [
                "raw_chunks": "\(dropped.rawChunks)", "rollup_chunks": "\(dropped.rollupChunks)",
                "outbox": "\(expired["outbox"] ?? 0)", "task_outbox": "\(expired["task_outbox"] ?? 0)",
                "command_results": "\(expired["engine_command_results"] ?? 0)",
            ])
        }
        logger.debug("vitals rolled up", metadata: ["minutes": "\(minutes)"])
    }

    private func reportLead(_ standing: Leadership.Standing?) {
        let detail = switch standing {
        case .leading: "leading: this node rolls up vitals and applies the retention"
        case .standingBy: "standing by: another node leads the rollup"
        case .unreachable, nil: "not leading: cannot ask the database who leads"
        }
        health?.report("vitals_rollup", ok: true, detail: detail, required: false)
    }
}

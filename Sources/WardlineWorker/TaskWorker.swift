import Foundation
import Logging
import Synchronization
import WardlineConfig
import WardlineNotify
import WardlineRuntime
import WardlineStore
import WardlineTaskQueue
import WardlineTasks

/// `wardline worker`: takes jobs from the work queues with manual acks and a prefetch limit, and
/// does them — pages through the delivery channels, escalation timers, the ward summary.
///
/// A page is never given up while its alarm is active (`PageFollowUp`): after its attempts on the
/// primary channels, or at once while one's circuit is open, it goes through the fallback channel,
/// and it keeps being retried on the primary at the capped backoff until the primary takes it or
/// the alarm is acknowledged or resolved (only then a dead letter). Between jobs the worker updates
/// its heartbeat row (with its channels' state, which serve shows the ward) and watches serve's
/// (`ServeWatch`): serve silent or stalled pages the technical on-call.
///
/// The scheduled ward summary (`WARDLINE_SUMMARY_AT`) is sent by one worker however many run:
/// the one leading it (`Leadership`, a PostgreSQL advisory lock, asked once a second while the
/// broker is connected; a worker that cannot reach the broker lets go). A slot that falls due is
/// owed by every worker that saw it pass; the leader sends it through
/// `TaskOutboxStore.publishOnce`, so a worker that takes over after a kill -9 sends the slot its
/// predecessor had not sent, and not the one it had.
///
/// A job is acknowledged only after it is done, or after what replaces it (its retry, its dead
/// letter, the next escalation) has been confirmed by the broker: a crash at any point means a
/// redelivery, never a lost job. Two broker connections: one consumes, one publishes with confirms
/// (rabbitmq-c reads one channel's frames in order, so a confirm must not queue behind deliveries).
public final class TaskWorker: @unchecked Sendable {
    public struct Tally: Sendable {
        public var delivered = 0, retried = 0, deadLettered = 0, escalated = 0, escalationsCancelled = 0
        public var throughFallback = 0, systemNotices = 0
    }

    private let configuration: WardlineConfiguration
    private let endpoint: AMQPEndpoint
    private let logger: Logger
    private let pager: PageDelivery
    private let instance: String
    private var watch: ServeWatch
    private var nextBeat: Int64 = 0
    private var watchProblem: String?
    private let stopRequested = Atomic<Bool>(false)
    private var consumer: AMQPConnection?
    private var publisher: AMQPConnection?
    private var queries: TaskQueries?
    private let summaries: SummarySchedule
    /// nil without a schedule: no lock is taken for summaries that never fall due.
    private let summaryLead: Leadership?
    private var leadsSummary = false
    private var summaryLeadCheckedAt: Int64 = 0
    private var summaryProblem: String?
    public private(set) var tally = Tally()

    public init(configuration: WardlineConfiguration, logger: Logger) throws {
        self.configuration = configuration
        guard let endpoint = try configuration.rabbitmqEndpoint() else {
            throw ConfigurationError(description: "WARDLINE_RABBITMQ_URL is empty: there is no task queue to work on")
        }
        self.endpoint = endpoint
        self.logger = logger
        let channels = try DeliveryChannels.make(names: configuration.notifyChannels, webhookURL: configuration.webhookURL,
                                                 timeoutMillis: configuration.webhookTimeoutMillis, logger: logger)
        let fallback = try configuration.pageFallbackChannel.map {
            try DeliveryChannels.fallback($0, timeoutMillis: configuration.webhookTimeoutMillis, logger: logger)
        }
        pager = PageDelivery(primary: channels, fallback: fallback, breaker: configuration.breakerSettings, logger: logger)
        instance = "worker@\(ProcessInfo.processInfo.hostName):\(getpid())"
        watch = ServeWatch(silentAfterMillis: configuration.stallAfterMillis)
        summaries = SummarySchedule(minutesOfDay: configuration.summaryMinutesOfDay)
        summaryLead = summaries.isEmpty ? nil : Leadership(duty: .wardSummary, databaseURL: configuration.databaseURL, logger: logger)
    }

    /// Ends `run` after the job in hand is finished (SIGTERM); unstarted prefetched jobs go back
    /// to their queue when the connection closes.
    public func requestStop() { stopRequested.store(true, ordering: .relaxed) }

    /// Works until `requestStop`. Never gives up on the broker: it says why it cannot connect
    /// (once per distinct reason) and tries again with backoff, so a bad setting is a clear log
    /// line, not a crash loop.
    public func run(summaryNow: Bool) {
        var lastProblem: String?
        var pause = 500
        var summaryPending = summaryNow  // an operator's request: sent at once, leader or not
        var nextSlot = summaries.next(after: wallClockMillis())
        var owedSlot: Int64?
        while !stopRequested.load(ordering: .relaxed) {
            watchServeIfDue()  // broker or not: serve is watched, and its outage paged, without the queue
            let connecting = consumer == nil
            do {
                if connecting { try connect() }
                if lastProblem != nil { logger.notice("worker: rabbitmq reachable again") }
                lastProblem = nil
                pause = 500
                let now = wallClockMillis()
                try publisher?.keepAlive(now: now)  // between jobs it publishes nothing for minutes
                if let due = nextSlot, now >= due {
                    owedSlot = summaries.latest(atOrBefore: now)
                    nextSlot = summaries.next(after: now)
                }
                if summaryPending {
                    try publishSummary(periodEnd: now)
                    summaryPending = false
                }
                keepSummaryLeadIfDue(now: now)
                if let slot = owedSlot, leadsSummary, try publishScheduledSummary(slot: slot, now: now) {
                    owedSlot = nil
                }
                guard let delivery = try consumer!.next(timeoutMillis: 200) else { continue }
                try handle(delivery)
            } catch {
                consumer = nil
                publisher = nil
                // A leader that cannot reach the broker lets another worker lead; it stands again once
                // connected. A connection that broke in use is first made again (at once).
                if connecting && leadsSummary {
                    summaryLead?.resign(reason: "cannot reach the task queue")
                    leadsSummary = false
                }
                let detail = "\(error)"
                if detail != lastProblem {
                    logger.error("worker: cannot use the task queue; retrying with backoff", metadata: ["error": "\(detail)"])
                }
                lastProblem = detail
                var slept = 0
                while slept < pause && !stopRequested.load(ordering: .relaxed) {
                    sleepMicros(50_000)
                    slept += 50
                    watchServeIfDue()
                }
                pause = min(pause * 2, 30_000)
            }
        }
        consumer = nil
        publisher = nil
        summaryLead?.resign()
        if let q = queries { try? HeartbeatStore(db: q.db).stopped(instance: instance) }
        logger.notice("worker stopped", metadata: ["delivered": "\(tally.delivered)", "retried": "\(tally.retried)",
                                                   "through_fallback": "\(tally.throughFallback)", "system_notices": "\(tally.systemNotices)",
                                                   "dead_lettered": "\(tally.deadLettered)", "escalated": "\(tally.escalated)",
                                                   "escalations_cancelled": "\(tally.escalationsCancelled)"])
    }

    private func connect() throws {
        let p = try AMQPConnection(endpoint: endpoint)
        try p.declare(configuration.taskTopology)
        try p.enableConfirms()
        let c = try AMQPConnection(endpoint: endpoint)
        try c.setPrefetch(UInt16(configuration.rabbitmqPrefetch))
        for route in TaskRoute.allCases { try c.consume(route.queue) }
        publisher = p
        consumer = c
        logger.notice("worker consuming", metadata: ["broker": "\(endpoint)", "prefetch": "\(configuration.rabbitmqPrefetch)",
                                                     "channels": "\(configuration.notifyChannels.joined(separator: ","))",
                                                     "fallback": "\(pager.fallbackName ?? "none")", "instance": "\(instance)"])
    }

    // MARK: One job

    private func handle(_ d: AMQPDelivery) throws {
        let attempt = Int(d.headers[TaskHeader.attempt]?.intValue ?? 1)
        let job: TaskJob
        do { job = try TaskJob.decode(d.body) } catch {
            // Not a job at all: retrying cannot help. The queue dead-letters a rejected message.
            logger.error("worker: unreadable job rejected to the dead-letter queue", metadata: ["error": "\(error)", "routing_key": "\(d.routingKey)"])
            try consumer!.reject(d.deliveryTag)
            return
        }
        if job.kind == .page {
            try page(d, job: job, attempt: attempt)
            try consumer!.ack(d.deliveryTag)
            return
        }
        do {
            try perform(job)
        } catch let error as AMQPError {
            throw error  // the broker, not the job: reconnect; the job comes back unacknowledged
        } catch {
            try failed(d, job: job, attempt: attempt, reason: "\(error)")
        }
        try consumer!.ack(d.deliveryTag)
    }

    private func perform(_ job: TaskJob) throws {
        switch job.kind {
        case .page:
            return  // `page(_:job:attempt:)`, with its own follow-up
        case .escalationCheck:
            try escalate(job)
        case .wardSummary:
            let end = job.periodEnd ?? wallClockMillis()
            let lines = try database().wardSummary(end: end)
            try deliver(TaskNotifications.summary(job, lines: lines, end: end))
            logger.notice("ward summary delivered", metadata: ["job_id": "\(job.jobID)", "wards": "\(lines.count)"])
        }
    }

    private func deliver(_ n: ClinicalNotice) throws {
        let outcome = pager.deliverPrimary(n, now: wallClockMillis())
        guard outcome.complete else { throw DeliveryError(outcome.failures.joined(separator: "; ")) }
        tally.delivered += 1
    }

    /// The timer fired: page the tier if the alarm is still unanswered, and set the next timer.
    private func escalate(_ job: TaskJob) throws {
        guard let alarm = job.alarm else { return }
        let now = try database().alarm(alarm.alertID)
        switch EscalationDecision.decide(job: job, state: now?.state, activeSince: now?.activeSince,
                                         acknowledgedBy: now?.acknowledgedBy) {
        case .cancelled(let reason):
            tally.escalationsCancelled += 1
            logger.notice("escalation cancelled", metadata: ["alert_id": "\(alarm.alertID)", "tier": "\(job.tier?.rawValue ?? "-")",
                                                             "reason": "\(reason)"])
        case .page(let tier):
            let page = TaskJob(jobID: AlarmTasks.id("\(job.jobID)#page"), kind: .page, createdAt: wallClockMillis(),
                               alarm: alarm, tier: tier)
            try publish(page, delayMillis: 0, attempt: 1)
            if let next = tier.next {
                let check = AlarmTasks.escalationCheck(alarm, tier: next, base: job.jobID, at: wallClockMillis())
                try publish(check, delayMillis: configuration.escalationMillis, attempt: 1)
            }
            tally.escalated += 1
            logger.warning("alarm unacknowledged: escalating", metadata: ["alert_id": "\(alarm.alertID)", "tier": "\(tier.rawValue)",
                                                                          "next_tier": "\(tier.next?.rawValue ?? "none")"])
        }
    }

    /// After a failed attempt: again later through the delay queue, or to the dead letters.
    private func failed(_ d: AMQPDelivery, job: TaskJob, attempt: Int, reason: String) throws {
        let route = job.route
        switch configuration.retryPolicy.afterFailure(attempt: attempt) {
        case .retry(let after, let next):
            try publisher!.publish(AMQPMessage(
                exchange: TaskTopology.delayExchange, routingKey: TaskTopology.delayedKey(route, millis: after), body: d.body,
                priority: d.priority, expirationMillis: after, messageID: d.messageID,
                headers: [TaskHeader.attempt: .int(Int64(next)), TaskHeader.reason: .string(reason)]))
            tally.retried += 1
            logger.warning("job failed; retrying", metadata: ["job_id": "\(job.jobID)", "attempt": "\(attempt)",
                                                             "next_in_ms": "\(after)", "error": "\(reason)"])
        case .deadLetter:
            try publisher!.publish(AMQPMessage(
                exchange: TaskTopology.deadExchange, routingKey: route.rawValue, body: d.body, priority: d.priority,
                messageID: d.messageID,
                headers: [TaskHeader.attempt: .int(Int64(attempt)), TaskHeader.attempts: .int(Int64(attempt)),
                          TaskHeader.reason: .string(reason), TaskHeader.failedQueue: .string(route.queue),
                          TaskHeader.failedAt: .int(wallClockMillis())]))
            tally.deadLettered += 1
            logger.error("job failed every attempt; sent to the dead-letter queue",
                         metadata: ["job_id": "\(job.jobID)", "attempts": "\(attempt)", "error": "\(reason)"])
        }
    }

    private func publish(_ job: TaskJob, delayMillis: Int, attempt: Int) throws {
        let delayed = delayMillis > 0
        try publisher!.publish(AMQPMessage(
            exchange: delayed ? TaskTopology.delayExchange : TaskTopology.notifyExchange,
            routingKey: delayed ? TaskTopology.delayedKey(job.route, millis: delayMillis) : job.route.rawValue,
            body: job.json(), priority: job.priority, expirationMillis: delayed ? delayMillis : nil, messageID: job.jobID,
            headers: [TaskHeader.attempt: .int(Int64(attempt))]))
    }

    // MARK: Pages

    /// One attempt at a page: the primary channels that have not taken it yet, then the follow-up
    /// (fallback, retry, or — for an answered alarm only — the dead letters). Throws only for the
    /// broker; the delivery is acknowledged by the caller once what replaces it is confirmed.
    private func page(_ d: AMQPDelivery, job: TaskJob, attempt: Int) throws {
        var done = Set((d.headers[TaskHeader.delivered].map { "\($0)" } ?? "").split(separator: ",").map(String.init))
        let n = TaskNotifications.page(job, roster: configuration.onCallRoster, now: wallClockMillis())
        let outcome = pager.deliverPrimary(n, skipping: done, now: wallClockMillis())
        done.formUnion(outcome.accepted)
        if outcome.complete {
            tally.delivered += 1
            logDelivered(job, channels: outcome.accepted, attempt: attempt)
            return
        }
        let reason = outcome.failures.joined(separator: "; ")
        let policy = configuration.retryPolicy
        var standing = AlarmStanding.notChecked
        if PageFollowUp.needsStanding(attempt: attempt, policy: policy, primaryFailedFast: outcome.failedFast) {
            standing = alarmStanding(job)
        }
        let next = PageFollowUp.decide(attempt: attempt, policy: policy, primaryFailedFast: outcome.failedFast,
                                       hasFallback: pager.fallbackName != nil, fallbackDelivered: done.contains(TaskHeader.fallback),
                                       standing: standing)
        if next.sendFallback {
            switch pager.deliverFallback(n, now: wallClockMillis()) {
            case .delivered:
                done.insert(TaskHeader.fallback)
                tally.throughFallback += 1
                logDelivered(job, channels: [pager.fallbackName ?? "fallback"], attempt: attempt)
            case .failed(let why), .failedFast(let why):
                logger.error("page fallback failed too; both are retried", metadata: ["job_id": "\(job.jobID)", "error": "\(why)"])
            }
        }
        let delivered: [String: AMQPArgument] = [TaskHeader.delivered: .string(done.sorted().joined(separator: ","))]
        switch next.next {
        case .retry(let after, let nextAttempt):
            try publisher!.publish(AMQPMessage(
                exchange: TaskTopology.delayExchange, routingKey: TaskTopology.delayedKey(.page, millis: after), body: d.body,
                priority: d.priority, expirationMillis: after, messageID: d.messageID,
                headers: delivered.merging([TaskHeader.attempt: .int(Int64(nextAttempt)), TaskHeader.reason: .string(reason)]) { a, _ in a }))
            tally.retried += 1
            logger.warning("page not delivered on the primary; retrying", metadata: [
                "job_id": "\(job.jobID)", "alert_id": "\(job.alarm?.alertID ?? "-")", "attempt": "\(attempt)", "next_in_ms": "\(after)",
                "alarm": "\(standing)", "through_fallback": "\(done.contains(TaskHeader.fallback))", "error": "\(reason)"])
        case .deadLetter(let why):
            try publisher!.publish(AMQPMessage(
                exchange: TaskTopology.deadExchange, routingKey: TaskRoute.page.rawValue, body: d.body, priority: d.priority,
                messageID: d.messageID,
                headers: delivered.merging([TaskHeader.attempt: .int(Int64(attempt)), TaskHeader.attempts: .int(Int64(attempt)),
                                            TaskHeader.reason: .string("\(why): \(reason)"), TaskHeader.failedQueue: .string(TaskRoute.page.queue),
                                            TaskHeader.failedAt: .int(wallClockMillis())]) { a, _ in a }))
            tally.deadLettered += 1
            logger.error("page undelivered on the primary and its alarm answered; sent to the dead-letter queue",
                         metadata: ["job_id": "\(job.jobID)", "attempts": "\(attempt)", "reason": "\(why)", "error": "\(reason)"])
        }
    }

    /// Whether the page's alarm is still active and unanswered; `.unknown` when the database cannot say.
    private func alarmStanding(_ job: TaskJob) -> AlarmStanding {
        guard let alarm = job.alarm else { return .answered("no alarm in the job") }
        do {
            let now = try database().alarm(alarm.alertID)
            return AlarmStanding.of(job, state: now?.state, activeSince: now?.activeSince, acknowledgedBy: now?.acknowledgedBy)
        } catch {
            queries = nil
            return .unknown
        }
    }

    /// Latency from the moment the alarm became high priority (`active_since`: raised high, raised
    /// to high, or reactivated) — what the page is for — and from its first raise at any priority.
    private func logDelivered(_ job: TaskJob, channels: [String], attempt: Int) {
        let now = wallClockMillis()
        logger.notice("page delivered", metadata: [
            "job_id": "\(job.jobID)", "tier": "\(job.tier?.rawValue ?? "-")", "alert_id": "\(job.alarm?.alertID ?? "-")",
            "channels": "\(channels.joined(separator: ","))", "attempt": "\(attempt)",
            "high_priority_to_page_ms": "\(job.alarm.map { String(now - $0.activeSince) } ?? "-")",
            "first_raised_to_page_ms": "\(job.alarm.map { String(now - $0.raisedAt) } ?? "-")"])
    }

    // MARK: Watching serve

    /// How long one check may spend sending alarm-system notices before it lets pages through.
    static let systemNoticeBudgetMillis: Int64 = 1000

    private func watchServeIfDue() {
        let now = wallClockMillis()
        guard now >= nextBeat else { return }
        nextBeat = now + configuration.heartbeatMillis
        watchServe(now: now)
    }

    /// Updates this worker's heartbeat row (its channels' state), reads serve's, and sends what the
    /// watch owes the technical on-call. A database that cannot be read is itself watched.
    private func watchServe(now: Int64) {
        let owed: [ServeWatch.Notice]
        do {
            let store = HeartbeatStore(db: try database().db)
            try store.beat(instance: instance, role: "worker", problems: pager.problems)
            let rows = try store.beats(role: "serve").map {
                ServeWatch.Row(instance: $0.instance, ageMillis: $0.ageMillis, stopped: $0.stopped, problems: $0.problems)
            }
            owed = watch.observe(rows, now: now)
            if watchProblem != nil { logger.notice("worker: heartbeats readable again") }
            watchProblem = nil
        } catch {
            queries = nil
            let detail = "\(error)"
            if detail != watchProblem { logger.error("worker: cannot read serve's heartbeats", metadata: ["error": "\(detail)"]) }
            watchProblem = detail
            owed = watch.readFailed(detail, now: now)
        }
        // The notices share the consume loop with the patients' pages: a slow channel times many
        // silent nodes would hold every page up behind them. Past the budget (at least one notice
        // each check) the rest stay owed until the next check, right after the next job.
        let began = wallClockMillis()
        for (i, notice) in owed.enumerated() {
            if i > 0, wallClockMillis() - began >= Self.systemNoticeBudgetMillis {
                logger.warning("alarm-system notices left for the next check so that patient pages go out in between",
                               metadata: ["left": "\(owed.count - i)"])
                nextBeat = wallClockMillis()  // that check comes after the next job, not a heartbeat later
                break
            }
            let n = TaskNotifications.system(notice, recipients: configuration.technicalOnCall, now: wallClockMillis())
            let outcome = pager.deliverPrimary(n, now: wallClockMillis())
            var channels = outcome.accepted
            if !outcome.complete, case .delivered = pager.deliverFallback(n, now: wallClockMillis()) {
                channels.append(pager.fallbackName ?? "fallback")
            }
            guard outcome.complete || channels.contains(pager.fallbackName ?? "") else {
                logger.error("system alarm not delivered on any channel; trying again", metadata: ["subject": "\(notice.subject)"])
                break  // in order: the next notice waits for this one
            }
            watch.delivered(notice)
            tally.systemNotices += 1
            switch notice {
            case .failure(let subject, let reason, _):
                logger.critical("alarm system failure: technical on-call paged", metadata: [
                    "subject": "\(subject)", "reason": "\(reason)", "channels": "\(channels.joined(separator: ","))"])
            case .recovered(let subject, let how, let outage):
                logger.notice("alarm system recovered: technical on-call told", metadata: [
                    "subject": "\(subject)", "how": "\(how)", "outage_ms": "\(outage)", "channels": "\(channels.joined(separator: ","))"])
            }
        }
    }

    // MARK: Ward summary

    /// `--summary-now`: the 24 h to this moment, its own id (an operator's request, not a slot).
    private func publishSummary(periodEnd: Int64) throws {
        let day = periodEnd / 86_400_000
        let job = TaskJob(jobID: AlarmTasks.id("ward_summary#\(day)#\(periodEnd)"), kind: .wardSummary, createdAt: periodEnd,
                          periodEnd: periodEnd)
        try publish(job, delayMillis: 0, attempt: 1)
        logger.notice("ward summary requested", metadata: ["job_id": "\(job.jobID)"])
    }

    /// Asks, at most once a second, whether this worker leads the ward summary.
    private func keepSummaryLeadIfDue(now: Int64) {
        guard let lead = summaryLead, now >= summaryLeadCheckedAt + 1000 else { return }
        summaryLeadCheckedAt = now
        leadsSummary = lead.isLeader(now: now)
    }

    /// The summary of one slot, sent once across the workers (true: sent now or already sent
    /// before; false: the database failed, try again while leading). Throws for the broker.
    private func publishScheduledSummary(slot: Int64, now: Int64) throws -> Bool {
        let job = SummarySchedule.job(slot: slot)
        let sent: Bool
        do {
            sent = try TaskOutboxStore(db: try database().db).publishOnce(job) { try publish(job, delayMillis: 0, attempt: 1) }
        } catch let error as AMQPError {
            throw error
        } catch {
            queries = nil
            summaryLeadCheckedAt = 0  // and ask again whether this worker still leads
            let detail = "\(error)"
            if detail != summaryProblem {
                logger.error("worker: cannot record the ward summary; trying again", metadata: ["job_id": "\(job.jobID)", "error": "\(detail)"])
            }
            summaryProblem = detail
            return false
        }
        summaryProblem = nil
        if sent {
            logger.notice("ward summary scheduled", metadata: ["job_id": "\(job.jobID)", "slot": "\(SummarySchedule.slotName(slot))",
                                                             "late_ms": "\(now - slot)"])
        } else {
            logger.info("ward summary already sent for this slot", metadata: ["job_id": "\(job.jobID)", "slot": "\(SummarySchedule.slotName(slot))"])
        }
        return true
    }

    private func database() throws -> TaskQueries {
        if let q = queries, q.db.isConnected { return q }
        let q = TaskQueries(db: try PostgresConnection(url: configuration.databaseURL))
        queries = q
        return q
    }
}

import Foundation
import Logging
import Synchronization
import WardlineNotify
import WardlineStore
import WardlineTaskQueue
import WardlineTasks

/// `wardline worker`: takes jobs from the work queues with manual acks and a prefetch limit, and
/// does them — pages through the delivery channels, escalation timers, the ward summary.
///
/// A job is acknowledged only after it is done, or after what replaces it (its retry, its dead
/// letter, the next escalation) has been confirmed by the broker: a crash at any point means a
/// redelivery, never a lost job. Two broker connections: one consumes, one publishes with confirms
/// (rabbitmq-c reads one channel's frames in order, so a confirm must not queue behind deliveries).
public final class TaskWorker: @unchecked Sendable {
    public struct Tally: Sendable {
        public var delivered = 0, retried = 0, deadLettered = 0, escalated = 0, escalationsCancelled = 0
    }

    private let configuration: WardlineConfiguration
    private let endpoint: AMQPEndpoint
    private let logger: Logger
    private let channels: [DeliveryChannel]
    private let stopRequested = Atomic<Bool>(false)
    private var consumer: AMQPConnection?
    private var publisher: AMQPConnection?
    private var queries: TaskQueries?
    public private(set) var tally = Tally()

    public init(configuration: WardlineConfiguration, logger: Logger) throws {
        self.configuration = configuration
        guard let endpoint = try configuration.rabbitmqEndpoint() else {
            throw ConfigurationError(description: "WARDLINE_RABBITMQ_URL is empty: there is no task queue to work on")
        }
        self.endpoint = endpoint
        self.logger = logger
        channels = try DeliveryChannels.make(names: configuration.notifyChannels, webhookURL: configuration.webhookURL,
                                             timeoutMillis: configuration.webhookTimeoutMillis, logger: logger)
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
        var summaryPending = summaryNow
        var nextSummary = nextSummaryTime(after: wallClockMillis())
        while !stopRequested.load(ordering: .relaxed) {
            do {
                if consumer == nil { try connect() }
                if lastProblem != nil { logger.notice("worker: rabbitmq reachable again") }
                lastProblem = nil
                pause = 500
                let now = wallClockMillis()
                if let due = nextSummary, now >= due {
                    summaryPending = true
                    nextSummary = nextSummaryTime(after: now)
                }
                if summaryPending {
                    try publishSummary(periodEnd: now)
                    summaryPending = false
                }
                guard let delivery = try consumer!.next(timeoutMillis: 200) else { continue }
                try handle(delivery)
            } catch {
                consumer = nil
                publisher = nil
                let detail = "\(error)"
                if detail != lastProblem {
                    logger.error("worker: cannot use the task queue; retrying with backoff", metadata: ["error": "\(detail)"])
                }
                lastProblem = detail
                var slept = 0
                while slept < pause && !stopRequested.load(ordering: .relaxed) { sleepMicros(50_000); slept += 50 }
                pause = min(pause * 2, 30_000)
            }
        }
        consumer = nil
        publisher = nil
        logger.notice("worker stopped", metadata: ["delivered": "\(tally.delivered)", "retried": "\(tally.retried)",
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
                                                     "channels": "\(configuration.notifyChannels.joined(separator: ","))"])
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
            let n = TaskNotifications.page(job, roster: configuration.onCallRoster, now: wallClockMillis())
            try deliver(n)
            let latency = job.alarm.map { wallClockMillis() - $0.raisedAt }
            logger.notice("page delivered", metadata: ["job_id": "\(job.jobID)", "tier": "\(job.tier?.rawValue ?? "-")",
                                                       "alert_id": "\(job.alarm?.alertID ?? "-")",
                                                       "alarm_to_delivery_ms": "\(latency.map(String.init) ?? "-")"])
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
        for channel in channels { try channel.deliver(n) }
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

    // MARK: Ward summary

    private func publishSummary(periodEnd: Int64) throws {
        let day = periodEnd / 86_400_000
        let job = TaskJob(jobID: AlarmTasks.id("ward_summary#\(day)#\(periodEnd)"), kind: .wardSummary, createdAt: periodEnd,
                          periodEnd: periodEnd)
        try publish(job, delayMillis: 0, attempt: 1)
        logger.notice("ward summary scheduled", metadata: ["job_id": "\(job.jobID)"])
    }

    private func nextSummaryTime(after now: Int64) -> Int64? {
        guard let minute = configuration.summaryMinuteOfDay else { return nil }
        let dayStart = now - now % 86_400_000
        let today = dayStart + Int64(minute) * 60_000
        return today > now ? today : today + 86_400_000
    }

    private func database() throws -> TaskQueries {
        if let q = queries, q.db.isConnected { return q }
        let q = TaskQueries(db: try PostgresConnection(url: configuration.databaseURL))
        queries = q
        return q
    }
}

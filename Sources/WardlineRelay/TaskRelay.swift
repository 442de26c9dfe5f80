import Foundation
import Logging
import Synchronization
import WardlineRuntime
import WardlineStore
import WardlineTaskQueue
import WardlineTasks

/// Publishes `task_outbox` to RabbitMQ, on its own thread with its own database connection and
/// broker connection: each job with a publisher confirm, then marked published. A crash or a
/// broker outage loses nothing — the rows wait, and a job published twice carries the same job_id.
///
/// While the broker is unreachable or refuses the login, Wardline keeps running: the relay says
/// why once, reports it on the health board (`rabbitmq`, not required: alarms are still raised,
/// stored and shown; only paging waits) and tries again with backoff up to 30 s.
package final class TaskRelay: @unchecked Sendable {
    /// Rung by the alarm writer when it has stored alarms (and so, maybe, rows for this relay).
    /// Rung when there is work: the loop's pause ends at once.
    package var doorbell: Doorbell { thread.doorbell }
    private let url: String
    private let endpoint: AMQPEndpoint
    private let topology: TaskTopology
    private let health: HealthBoard
    private let counters: PipelineCounters
    private let logger: Logger
    package let thread = PartThread(name: "wardline-tasks")

    package init(url: String, endpoint: AMQPEndpoint, topology: TaskTopology, health: HealthBoard, counters: PipelineCounters,
         logger: Logger) {
        self.url = url
        self.endpoint = endpoint
        self.topology = topology
        self.health = health
        self.counters = counters
        self.logger = logger
        health.report("rabbitmq", ok: false, detail: "connecting to \(endpoint)", required: false)
    }

    package func start() { thread.start { [self] in run() } }

    /// Sends (or stores) what is in hand, then the thread ends; past `deadline` the rest waits
    /// in the database for the next start.
    package func stopAfterFlushing(deadline: Int64) { thread.requestStop(deadline: deadline) }

    private func run() {
        var store: TaskOutboxStore?
        var broker: AMQPConnection?
        var lastProblem: String?
        var pause = 500
        var nextAttempt: Int64 = 0
        var declaredDelays = Set<Int>()
        while true {
            let stopping = thread.isStopping
            let now = wallClockMillis()
            if thread.isPastDeadline { break }
            // Connect at start and after a failure, jobs or not: a bad setting shows at once.
            if broker == nil && now >= nextAttempt {
                do {
                    broker = try connect()
                    declaredDelays = Set(topology.delays)
                    if lastProblem != nil { logger.notice("rabbitmq reachable again; publishing the jobs that waited") }
                    lastProblem = nil
                    pause = 500
                } catch {
                    let detail = "\(error)"
                    health.report("rabbitmq", ok: false, detail: detail, required: false)
                    if detail != lastProblem {
                        logger.error("task queue unavailable; pages and escalation timers wait in task_outbox",
                                     metadata: ["error": "\(detail)"])
                    }
                    lastProblem = detail
                    nextAttempt = now + Int64(pause)
                    pause = min(pause * 2, 30_000)
                }
            }
            guard let b = broker else {
                if stopping { break }  // nothing can be published; the rows wait for the next start
                sleepMicros(50_000)
                continue
            }
            do {
                let s = try store ?? TaskOutboxStore(db: PostgresConnection(url: url))
                store = s
                let jobs = try s.pending(limit: 200)
                if jobs.isEmpty {
                    if stopping { break }
                    try b.keepAlive(now: now)
                    doorbell.wait(micros: 20_000)
                    continue
                }
                do {
                    for job in jobs {
                        if job.delayMillis > 0 && !declaredDelays.contains(job.delayMillis) {
                            // Written under another WARDLINE_ESCALATION_S: its delay queue may not exist yet.
                            let q = TaskTopology.delayQueue(millis: job.delayMillis)
                            try b.declareQueue(q.name, arguments: q.arguments)
                            try b.bind(queue: q.name, exchange: q.exchange, key: q.bindingKey)
                            declaredDelays.insert(job.delayMillis)
                        }
                        try b.publish(message(for: job))
                        try s.markPublished(job.id)
                        counters.tasksPublished.add()
                    }
                } catch let error as AMQPError {
                    broker = nil
                    let detail = error.description
                    health.report("rabbitmq", ok: false, detail: detail, required: false)
                    logger.error("task queue unavailable; pages and escalation timers wait in task_outbox",
                                 metadata: ["error": "\(detail)", "waiting": "\(jobs.count)"])
                    lastProblem = detail
                    nextAttempt = wallClockMillis() + Int64(pause)
                }
            } catch {
                store = nil
                logger.warning("task relay: database error; retrying", metadata: ["error": "\(error)"])
                sleepMicros(500_000)
            }
        }
    }

    private func connect() throws -> AMQPConnection {
        let b = try AMQPConnection(endpoint: endpoint)
        try b.declare(topology)
        try b.enableConfirms()
        health.report("rabbitmq", ok: true, detail: "\(endpoint)", required: false)
        logger.notice("task queue connected; topology declared", metadata: ["broker": "\(endpoint)"])
        return b
    }

    /// A job still to wait goes to the delay queue for its pause, with only what is left of it.
    private func message(for job: TaskOutboxEntry) -> AMQPMessage {
        let route = TaskRoute(rawValue: job.route) ?? .page
        let delayed = job.delayMillis > 0 && job.dueInMillis > 0
        return AMQPMessage(
            exchange: delayed ? TaskTopology.delayExchange : TaskTopology.notifyExchange,
            routingKey: delayed ? TaskTopology.delayedKey(route, millis: job.delayMillis) : route.rawValue,
            body: job.payload, priority: job.priority,
            expirationMillis: delayed ? Int(min(job.dueInMillis, Int64(job.delayMillis))) : nil,
            messageID: job.jobID, headers: [TaskHeader.attempt: .int(1)])
    }
}

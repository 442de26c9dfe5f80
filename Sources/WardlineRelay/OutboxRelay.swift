import Foundation
import Logging
import Synchronization
import WardlineKafka
import WardlineRuntime
import WardlineStore

/// Publishes the outbox to Kafka, on its own thread with its own database connection: sends what
/// is pending, marks each event delivered when its delivery report says so, and sends failed ones
/// again after a pause. A crash or a broker outage loses nothing: the rows wait in the outbox, and
/// a redelivery carries the same event_id.
package final class OutboxRelay: @unchecked Sendable {
    /// Rung by the alarm writer when it has stored alarms (and so, maybe, rows for this relay).
    /// Rung when there is work: the loop's pause ends at once.
    package var doorbell: Doorbell { thread.doorbell }
    private let url: String
    private let brokers: String
    private var producer: KafkaProducer?   // relay thread only, after init
    private let box: ReportBox
    private let logger: Logger
    private let counters: PipelineCounters
    package let thread = PartThread(name: "wardline-outbox")
    private let health: HealthBoard

    package init(url: String, brokers: String, counters: PipelineCounters, health: HealthBoard, logger: Logger) throws {
        self.health = health
        self.url = url
        self.brokers = brokers
        self.logger = logger
        self.counters = counters
        let box = ReportBox()
        self.box = box
        let first = try Self.makeProducer(brokers: brokers, box: box, bell: doorbell)
        producer = first
        let reachable = first.brokerReachable(timeoutMillis: 2000)
        // Optional for readiness: alarms are raised, stored and shown without Kafka; events wait.
        health.report("kafka", ok: reachable, detail: reachable ? "" : "broker \(brokers) unreachable; events wait in the outbox",
                      required: false)
        if !reachable {
            logger.error("kafka broker unreachable; alarm events wait in the outbox until it answers",
                         metadata: ["brokers": "\(brokers)"])
        }
    }

    private static func makeProducer(brokers: String, box: ReportBox, bell: Doorbell) throws -> KafkaProducer {
        // A delivery report wakes the relay too, so a row is marked delivered as soon as Kafka says so.
        try KafkaProducer(brokers: brokers, clientID: "wardline") { d in
            box.reports.withLock { $0.append(d) }
            bell.ring()
        }
    }

    package func start() { thread.start { [self] in run() } }

    /// Sends (or stores) what is in hand, then the thread ends; past `deadline` the rest waits
    /// in the database for the next start.
    package func stopAfterFlushing(deadline: Int64) { thread.requestStop(deadline: deadline) }

    private func run() {
        var store: OutboxStore?
        var inFlight = Set<UInt64>()
        var retryAt: Int64 = 0
        var failing = false
        while true {
            let now = wallClockMillis()
            let stopping = thread.isStopping
            do {
                let s = try store ?? OutboxStore(db: PostgresConnection(url: url))
                store = s
                let done = box.reports.withLock { r -> [KafkaDelivery] in defer { r.removeAll() }; return r }
                let delivered = done.filter { $0.error == nil }.map(\.id)
                try s.markDelivered(delivered)
                counters.eventsPublished.add(delivered.count)
                for d in done {
                    inFlight.remove(d.id)
                    guard let error = d.error else { continue }
                    try s.markFailed(d.id, error: error)
                    retryAt = now + 1000
                    // A broker that restarted has forgotten this idempotent producer's id: its
                    // messages can only time out. A new producer gets a new id.
                    producer = nil
                    if !failing { logger.error("kafka delivery failing; events stay in the outbox and are sent again", metadata: ["error": "\(error)"]) }
                    health.report("kafka", ok: false, detail: "delivery failing: \(error); events wait in the outbox", required: false)
                    failing = true
                }
                if !delivered.isEmpty && failing { logger.notice("kafka delivering again"); failing = false }
                if !delivered.isEmpty { health.report("kafka", ok: true, required: false) }
                if now >= retryAt {
                    let p = try producer ?? Self.makeProducer(brokers: brokers, box: box, bell: doorbell)
                    producer = p
                    for e in try s.pending(limit: 500) where !inFlight.contains(e.id) {
                        try p.send(topic: e.topic, key: e.key, value: e.payload, id: e.id)
                        inFlight.insert(e.id)
                    }
                }
                if stopping && (inFlight.isEmpty || thread.isPastDeadline) { break }
            } catch {
                store = nil
                logger.warning("outbox relay: database or producer error; retrying", metadata: ["error": "\(error)"])
                if thread.isPastDeadline { break }
                sleepMicros(500_000)
            }
            doorbell.wait(micros: 20_000)
        }
        producer?.flush(timeoutMillis: 2000)
    }
}

/// Delivery reports from librdkafka's poll thread, picked up by the relay's thread.
package final class ReportBox: Sendable {
    package let reports = Mutex<[KafkaDelivery]>([])
}

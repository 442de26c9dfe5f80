import Logging
import Synchronization
import WardlineCore
import WardlineRuntime
import WardlineStore

/// Bounds what bad input can grow (issue 12). Sits in front of the database writer as a sink:
/// each rejection past `RejectionSampler`'s budget per (device, reason, hour) is counted
/// (`wardline_rejected_unsampled_total`) and not handed on, so `rejected_messages` keeps at most
/// the budget's samples. Every rejection is still counted per reason by the consumer.
///
/// Its own thread writes the counts of what was not sampled to `rejected_message_counts` every
/// second, on every node. The retention — deleting rejected messages older than
/// `retentionDays` — is one node's job however many serve: the one leading it (`Leadership`,
/// asked each second), at once when it takes the lead and every `retentionEveryMillis` after.
/// Counts not yet written are lost on kill -9 (at most about a second's worth; the metrics are in
/// memory too), and held, merged, while the database is down.
package final class RejectedUpkeep: PipelineSink, @unchecked Sendable {
    package struct Settings {
        package var databaseURL: String
        package var samplesPerDeviceReason: Int
        package var retentionDays: Int
        package var retentionEveryMillis: Int64 = 5 * 60 * 1000
        package var flushEveryMillis: Int64 = 1000

        package init(databaseURL: String, samplesPerDeviceReason: Int, retentionDays: Int, retentionEveryMillis: Int64 = 5 * 60 * 1000, flushEveryMillis: Int64 = 1000) {
            self.databaseURL = databaseURL
            self.samplesPerDeviceReason = samplesPerDeviceReason
            self.retentionDays = retentionDays
            self.retentionEveryMillis = retentionEveryMillis
            self.flushEveryMillis = flushEveryMillis
        }
    }

    private let next: any PipelineSink
    private let settings: Settings
    private let counters: PipelineCounters
    private let logger: Logger
    private let health: HealthBoard?
    private let sampler: Mutex<RejectionSampler>
    package let thread = PartThread(name: "wardline-rejected")
    // Upkeep-thread state.
    private var unwritten: [RejectionSampler.Tally] = []

    /// Hands everything but the unsampled rejections on to `next` (the database writer). Whether
    /// this node leads the retention goes on `health` (`rejected_retention`, never required).
    package init(next: any PipelineSink, settings: Settings, counters: PipelineCounters, logger: Logger, health: HealthBoard? = nil) {
        self.next = next
        self.settings = settings
        self.counters = counters
        self.logger = logger
        self.health = health
        self.sampler = Mutex(RejectionSampler(perWindow: settings.samplesPerDeviceReason))
    }

    package func accept(_ item: IngestItem) {
        if case .rejected(let m) = item.event,
           !sampler.withLock({ $0.admit(deviceID: m.deviceID, reason: m.reason, receivedAt: m.receivedAt) }) {
            counters.rejectedUnsampled(m.reason).add()
            return
        }
        next.accept(item)
    }

    package func start() { thread.start { [self] in run() } }

    /// Writes the counts gathered so far (one attempt); the thread ends.
    package func stop() { thread.requestStop() }

    private func run() {
        var store: RejectedStore?
        var failing = false
        var nextRetention: Int64 = 0
        let lead = Leadership(duty: .rejectedRetention, databaseURL: settings.databaseURL, logger: logger)
        var leading = false
        var reported: Leadership.Standing??
        while true {
            let stopping = thread.isStopping
            if !stopping {
                let leads = lead.isLeader(now: wallClockMillis())
                if leads && !leading { nextRetention = 0 }  // taking over: at once, not 5 minutes later
                leading = leads
                if reported != .some(lead.standing) {
                    reportLead(lead.standing)
                    reported = .some(lead.standing)
                }
            }
            do {
                let s = try store ?? RejectedStore(db: PostgresConnection(url: settings.databaseURL))
                store = s
                try flush(s)
                if !stopping && leading && wallClockMillis() >= nextRetention {
                    let deleted = try s.deleteOlderThan(days: settings.retentionDays)
                    counters.rejectedExpired.add(deleted)
                    if deleted > 0 {
                        logger.info("rejected messages past retention deleted",
                                    metadata: ["deleted": "\(deleted)", "days": "\(settings.retentionDays)"])
                    }
                    nextRetention = wallClockMillis() + settings.retentionEveryMillis
                }
                if failing { logger.notice("rejected-message upkeep writing again") }
                failing = false
            } catch {
                store = nil
                if !failing {
                    logger.warning("rejected-message upkeep cannot reach the database; holding counts",
                                   metadata: ["error": "\(error)", "held": "\(unwritten.count)"])
                }
                failing = true
            }
            if stopping { break }
            thread.pause(millis: Int(settings.flushEveryMillis))
        }
        lead.resign()
    }

    private func reportLead(_ standing: Leadership.Standing?) {
        let detail = switch standing {
        case .leading: "leading: this node deletes rejected messages past \(settings.retentionDays) days"
        case .standingBy: "standing by: another node leads the retention"
        case .unreachable, nil: "not leading: cannot ask the database who leads"
        }
        health?.report("rejected_retention", ok: true, detail: detail, required: false)
    }

    private func flush(_ store: RejectedStore) throws {
        unwritten = Self.merge(unwritten + sampler.withLock { $0.takeTallies() })
        // While the database is down, keep the newest windows within a bound rather than grow.
        if unwritten.count > 100_000 { unwritten.removeFirst(unwritten.count - 100_000) }
        guard !unwritten.isEmpty else { return }
        try store.add(unwritten)
        unwritten.removeAll()
    }

    package static func merge(_ tallies: [RejectionSampler.Tally]) -> [RejectionSampler.Tally] {
        var byKey: [String: RejectionSampler.Tally] = [:]
        var order: [String] = []
        for t in tallies {
            let key = "\(t.windowStart)\u{0}\(t.reason.rawValue)\u{0}\(t.deviceID)"
            if var known = byKey[key] {
                known.unsampled += t.unsampled
                known.lastReceivedAt = max(known.lastReceivedAt, t.lastReceivedAt)
                byKey[key] = known
            } else {
                byKey[key] = t
                order.append(key)
            }
        }
        return order.map { byKey[$0]! }
    }
}

import Foundation
import Logging
import WardlineNotify
import WardlineTasks

/// The worker's delivery channels, each behind its own circuit breaker: the primary ones
/// (`WARDLINE_NOTIFY_CHANNELS`, all of which must accept a notice) and the page fallback
/// (`WARDLINE_PAGE_FALLBACK_CHANNEL`). A channel whose circuit is open is not tried (it fails
/// fast, and the page goes to the fallback at once); after the cool-down one delivery probes it.
///
/// Owned by the worker's one thread; not thread-safe.
package final class PageDelivery {
    private struct Guarded {
        let channel: DeliveryChannel
        var breaker: CircuitBreaker
    }

    package enum Attempt: Equatable {
        case delivered
        case failed(String)
        /// Not tried: the channel's circuit is open.
        case failedFast(String)
    }

    /// What the primary channels did with one notice.
    package struct Outcome {
        package var accepted: [String] = []
        package var failures: [String] = []
        /// A channel was skipped because its circuit is open.
        package var failedFast = false
        package var complete: Bool { failures.isEmpty }
    }

    private var primary: [Guarded]
    private var fallbackChannel: Guarded?
    private let logger: Logger

    package init(primary: [DeliveryChannel], fallback: DeliveryChannel?, breaker: CircuitBreaker.Settings, logger: Logger) {
        self.primary = primary.map { Guarded(channel: $0, breaker: CircuitBreaker(settings: breaker)) }
        fallbackChannel = fallback.map { Guarded(channel: $0, breaker: CircuitBreaker(settings: breaker)) }
        self.logger = logger
    }

    package var fallbackName: String? { fallbackChannel?.channel.name }

    /// Each primary channel not in `done` (those that took this notice on an earlier attempt).
    package func deliverPrimary(_ n: ClinicalNotice, skipping done: Set<String> = [], now: Int64) -> Outcome {
        var outcome = Outcome()
        for i in primary.indices where !done.contains(primary[i].channel.name) {
            switch attempt(&primary[i], n, now: now) {
            case .delivered: outcome.accepted.append(primary[i].channel.name)
            case .failed(let why): outcome.failures.append(why)
            case .failedFast(let why):
                outcome.failures.append(why)
                outcome.failedFast = true
            }
        }
        return outcome
    }

    /// Through the fallback channel; `.failed` when there is none.
    package func deliverFallback(_ n: ClinicalNotice, now: Int64) -> Attempt {
        guard fallbackChannel != nil else { return .failed("no fallback channel configured") }
        return attempt(&fallbackChannel!, n, now: now)
    }

    /// What is wrong with the channels now, for the worker's heartbeat row ("" when nothing):
    /// serve shows it to the ward and on `/ready`. Only open circuits count: a single failed
    /// attempt is a blip.
    package var problems: String {
        var parts: [String] = []
        for g in primary + (fallbackChannel.map { [$0] } ?? []) {
            guard let since = g.breaker.failingSince else { continue }
            parts.append("\(g.channel.name) failing since \(Self.clock(since)) (circuit open: \(g.breaker.lastFailure ?? "?"))")
        }
        if !parts.isEmpty, primary.contains(where: { $0.breaker.failingSince != nil }) {
            parts.append(fallbackName.map { "pages go through \($0)" } ?? "no fallback channel: pages wait")
        }
        return parts.joined(separator: "; ")
    }

    private func attempt(_ g: inout Guarded, _ n: ClinicalNotice, now: Int64) -> Attempt {
        let name = g.channel.name
        if case .failFast = g.breaker.permission(now: now) {
            return .failedFast("\(name): circuit open (\(g.breaker.lastFailure ?? "failing"))")
        }
        do {
            try g.channel.deliver(n)
            if case .closed(let outage)? = g.breaker.recordSuccess(now: now) {
                logger.notice("delivery channel works again; circuit closed", metadata: ["channel": "\(name)", "outage_ms": "\(outage)"])
            }
            return .delivered
        } catch {
            let why = "\(error)"
            switch g.breaker.recordFailure(why, now: now) {
            case .opened(let failures)?:
                logger.error("delivery channel failing; circuit open, attempts fail fast until a probe succeeds",
                             metadata: ["channel": "\(name)", "consecutive_failures": "\(failures)", "error": "\(why)",
                                        "cool_down_ms": "\(g.breaker.settings.coolDownMillis)"])
            case .reopened?:
                logger.warning("delivery channel probe failed; circuit open again", metadata: ["channel": "\(name)", "error": "\(why)"])
            default: break
            }
            return .failed(why)
        }
    }

    private static func clock(_ millis: Int64) -> String {
        let f = ISO8601DateFormatter()
        return f.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }
}

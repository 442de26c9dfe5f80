import CoreMetrics
import Prometheus
import Synchronization
import WardlineCore

/// One monotonically increasing count, readable from any thread.
///
/// The hot path's counter (the MQTT thread and the ring consumer add to one for every message):
/// one relaxed atomic add, no lock, no call through an existential. `/metrics` reads it at scrape
/// time into swift-prometheus's registry (`MetricsExposition`); swift-prometheus's own counter has
/// no read API, and the stats line, the shutdown log and the tests read these. `wardline-bench
/// counters` measures this against swift-prometheus's and swift-metrics' counters.
public final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    public init() {}
    @inline(__always) public func add(_ n: Int = 1) { value.add(n, ordering: .relaxed) }
    public var count: Int { value.load(ordering: .relaxed) }
}

/// The pipeline's counters (exported as metrics; logged in the stats line).
public final class PipelineCounters: Sendable {
    public let messagesReceived = Counter()
    public let readingsAccepted = Counter()
    public let statusUpdates = Counter()
    public let deviceAlerts = Counter()
    /// Times the MQTT thread found the ring full and waited (backpressure, never loss).
    public let ringFullWaits = Counter()
    public let journalFailures = Counter()
    public let journalPauses = Counter()
    public let rowsInserted = Counter()
    public let duplicateReadings = Counter()
    public let rejectedStored = Counter()
    public let batchesCommitted = Counter()
    /// Time spent writing committed batches (with `batchesCommitted`, the mean batch latency).
    /// Added to by `batchWritten(nanoseconds:)`, which also records the batch in `batchWriteDuration`.
    public let batchWriteMicros = Counter()
    public let batchFailures = Counter()
    /// Readings that went to the on-disk journal instead of memory while the database was down.
    public let spilledToJournal = Counter()
    public let replayedFromJournal = Counter()
    public let unstorable = Counter()
    public let alarmsRaised = Counter()
    public let alarmTransitionsStored = Counter()
    /// Alarm events a journal replay regenerated that the last run had already stored.
    public let replayEchoes = Counter()
    public let eventsPublished = Counter()
    public let acknowledgements = Counter()
    /// Scored readings the broker confirmed on the readings feed, and those it never got.
    public let readingsFed = Counter()
    public let readingsNotFed = Counter()
    /// A hub node's feed: records read off the alarm-event and scored-readings topics, and those
    /// it could not read (counted and skipped; the feed goes on).
    public let hubFeedRecords = Counter()
    public let hubFeedBadRecords = Counter()
    /// Alarms open in the engine now (raised minus resolved), set by the consumer.
    public let openAlarms = Atomic<Int>(0)
    /// Task-queue jobs (pages, escalation timers) confirmed by RabbitMQ.
    public let tasksPublished = Counter()
    /// Rejected messages removed from `rejected_messages` by the retention job.
    public let rejectedExpired = Counter()
    /// The vitals rollup (one serve leads it): minute rows written and the readings they hold;
    /// raw `vitals` and `vitals_1m` chunks dropped past their retention; delivered outbox rows,
    /// published task-outbox rows and engine command answers deleted past theirs.
    public let rollupMinutes = Counter()
    public let rollupReadings = Counter()
    public let rawChunksDropped = Counter()
    public let rollupChunksDropped = Counter()
    public let outboxExpired = Counter()
    public let taskOutboxExpired = Counter()
    public let commandResultsExpired = Counter()
    /// `--role ingest`: messages Kafka confirmed on the device-message topic, and sends tried again
    /// (librdkafka's queue full, or a delivery given up: never dropped).
    public let messagesForwarded = Counter()
    public let forwardRetries = Counter()
    /// `--role engine`: partitions of the device-message topic this node holds now, adopted so
    /// far (taken over or first read), and the hubs' commands it answered.
    public let partitionsHeld = Atomic<Int>(0)
    public let partitionsAdopted = Counter()
    public let commandsAnswered = Counter()
    /// Records of the device-message topic that are not Wardline's (no valid header): skipped.
    public let topicRecordsRefused = Counter()
    private let rejected: [Counter] = RejectReason.allCases.map { _ in Counter() }
    private let unsampled: [Counter] = RejectReason.allCases.map { _ in Counter() }
    private let putAside: [Counter] = PutAsideWriter.allCases.map { _ in Counter() }

    /// The registry `/metrics` is written from: one per `PipelineCounters` (so per `wardline serve`,
    /// and per test), never swift-metrics' global `MetricsSystem`. The histograms below record into
    /// it directly; the counters and gauges are read into it at scrape time (`exposition`).
    public let registry: PrometheusCollectorRegistry
    /// Writes `/metrics` from `registry`, counters and gauges read at scrape time.
    public let exposition: MetricsExposition
    /// One batch of readings (with its rejected messages and statuses) written to TimescaleDB, all
    /// its parts committed: `wardline_batch_write_duration_seconds`.
    public let batchWriteDuration: Timing
    /// Wardline's receipt of a message (a reading, a device's own alarm) → the alarm transition it
    /// caused committed in TimescaleDB (raised, priority raised, latched, resolved…; not those of
    /// timers or acknowledgements): `wardline_alarm_commit_latency_seconds`.
    public let alarmCommitLatency: Timing

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        exposition = MetricsExposition(registry: registry)
        batchWriteDuration = Timing(registry: registry, name: "wardline_batch_write_duration_seconds",
                                    help: "Time to write one batch of readings to TimescaleDB, all its parts committed.",
                                    buckets: [.milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10),
                                              .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                                              .milliseconds(500), .seconds(1), .microseconds(2_500_000), .seconds(5), .seconds(10)])
        alarmCommitLatency = Timing(registry: registry, name: "wardline_alarm_commit_latency_seconds",
                                    help: "Message (reading or device alarm) received by Wardline to the alarm transition it caused committed in TimescaleDB.",
                                    buckets: [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                              .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                                              .microseconds(2_500_000), .seconds(5), .seconds(10), .seconds(30), .seconds(60)])
    }

    /// One batch written in `nanoseconds`: the summary's sum (`batchWriteMicros`) and the histogram.
    public func batchWritten(nanoseconds: UInt64) {
        batchWriteMicros.add(Int(nanoseconds / 1000))
        batchWriteDuration.record(nanoseconds: nanoseconds)
    }

    public func rejected(_ reason: RejectReason) -> Counter {
        rejected[RejectReason.allCases.firstIndex(of: reason)!]
    }

    public var rejectedByReason: [(RejectReason, Int)] {
        RejectReason.allCases.map { ($0, rejected($0).count) }
    }

    /// Rejections past the sampling budget: counted (here and in `rejected_message_counts`), not stored.
    public func rejectedUnsampled(_ reason: RejectReason) -> Counter {
        unsampled[RejectReason.allCases.firstIndex(of: reason)!]
    }

    public var rejectedUnsampledByReason: [(RejectReason, Int)] {
        RejectReason.allCases.map { ($0, rejectedUnsampled($0).count) }
    }

    /// Rows `writer` put aside in `put_aside` because the database refused them.
    public func putAside(_ writer: PutAsideWriter) -> Counter {
        putAside[PutAsideWriter.allCases.firstIndex(of: writer)!]
    }

    public var putAsideByWriter: [(PutAsideWriter, Int)] {
        PutAsideWriter.allCases.map { ($0, putAside($0).count) }
    }
}

/// The writers that put refused rows aside (the `writer` column of `put_aside`, the metric's label).
public enum PutAsideWriter: String, Sendable, CaseIterable {
    /// Readings, rejected messages and device status (the batch writer).
    case vitals
    /// Alarm transitions with their outbox and task-queue rows (the alarm writer).
    case alarms
}

/// A distribution of durations: recorded through swift-metrics' `Timer`, into a histogram of
/// swift-prometheus's registry (made there with its HELP text and buckets: swift-metrics' factory
/// API has no HELP). Recording takes the histogram's lock: for batches and alarms, not per message.
public struct Timing: Sendable {
    private let timer: CoreMetrics.Timer

    public init(registry: PrometheusCollectorRegistry, name: String, help: String, buckets: [Duration]) {
        let histogram = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), buckets: buckets)
        timer = CoreMetrics.Timer(label: name, dimensions: [], handler: histogram,
                                  factory: PrometheusMetricsFactory(registry: registry))
    }

    public func record(nanoseconds: UInt64) { timer.recordNanoseconds(Int64(clamping: nanoseconds)) }

    /// A negative span (the wall clock stepped back between the two ends) counts as 0.
    public func record(milliseconds: Int64) { timer.recordMilliseconds(max(0, milliseconds)) }
}

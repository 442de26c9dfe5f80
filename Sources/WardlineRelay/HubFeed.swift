import Foundation
import Logging
import Synchronization
import WardlineAPI
import WardlineEngine
import WardlineHub
import WardlineKafka
import WardlineRuntime
import WardlineStore
import WardlineWeb

/// A `hub` node's live feed from one Kafka topic into the web server's inbox: every partition
/// read from its end, on its own thread, so the hub's rooms and access scoping apply to what the
/// engine nodes produced exactly as to what one process's engine produces.
///
/// - `alarmEvents` (the outbox's DomainEvents, `WARDLINE_KAFKA_ALERTS_TOPIC`): each decoded back
///   into the alarm and its transition and posted as the engine event a single process posts.
/// - `scoredReadings` (`ReadingsFeed`'s bodies): posted as they came, routed by their patient;
///   each patient's newest NEWS2 is kept for `/news2`.
///
/// From the end, not from a stored offset: what was appended while no hub read it is in the
/// store, and the ward page reads the open alarms from there on every (re)connect. A record that
/// cannot be read is counted (`hubFeedBadRecords`), logged at a limited rate, and skipped: it
/// never stops the feed. Partitions added to the topic later are not seen until a restart.
package final class HubFeed: Sendable {
    package enum Source: String, Sendable {
        case alarmEvents = "alarm events"
        case scoredReadings = "scored readings"
    }

    package struct Settings: Sendable {
        package var brokers: String
        package var topic: String
        package var source: Source
        /// Kafka client id (and the name of the unused group): one per node and topic.
        package var clientID: String
        package init(brokers: String, topic: String, source: Source, clientID: String) {
            self.brokers = brokers
            self.topic = topic
            self.source = source
            self.clientID = clientID
        }
    }

    package let thread: PartThread
    private let settings: Settings
    private let server: WebServer
    private let counters: PipelineCounters
    private let health: HealthBoard
    private let log: RateLimitedLog
    private let logger: Logger
    private let latest = Mutex<[String: LatestScore]>([:])

    package init(settings: Settings, server: WebServer, counters: PipelineCounters, health: HealthBoard, log: RateLimitedLog,
                 logger: Logger) {
        self.settings = settings
        self.server = server
        self.counters = counters
        self.health = health
        self.log = log
        self.logger = logger
        thread = PartThread(name: "wardline-hub-" + (settings.source == .alarmEvents ? "alarms" : "readings"))
    }

    /// The patient's newest scored reading seen on the feed (scored-readings feed only).
    package func latestScore(_ patientID: String) -> LatestScore? { latest.withLock { $0[patientID] } }

    package func start() { thread.start { [self] in run() } }

    package func stop() async {
        thread.requestStop()
        await thread.finished()
    }

    private var component: String { "kafka " + settings.source.rawValue }

    /// A record stamped this long before the feed began is skipped. Assigning "at the end" is
    /// not enough on Tansu: the end it reports can lag the partition's last record (seen: 1, and
    /// the same from its watermarks, for a partition whose last offset was 56), so the first
    /// fetch brings back older records. The margin allows for the producer's clock and linger.
    static let skipsBefore: Int64 = 2000

    private func run() {
        // Made here, on the feed's thread, and used only here (the consumer is not thread-safe).
        let alarms = AlarmEventDecoder()
        let json = JSONDecoder()
        var consumer: KafkaPartitionConsumer?
        // Records made before this feed began are the store's to tell (see `skipsBefore`).
        var since: Int64 = 0
        var older = 0
        health.report(component, ok: false, detail: "connecting to \(settings.brokers)")
        while !thread.isStopping {
            guard let c = consumer ?? connect() else {
                thread.pause(millis: 1000)
                continue
            }
            if consumer == nil { since = wallClockMillis() - Self.skipsBefore }
            consumer = c
            do {
                guard let record = try c.next(timeoutMillis: 100) else { continue }
                counters.hubFeedRecords.add()
                if let t = record.timestamp, t < since {
                    older += 1
                    if older == 1 || older % 1000 == 0 {
                        logger.info("hub feed: records from before this hub started skipped", metadata: [
                            "topic": "\(settings.topic)", "skipped": "\(older)"])
                    }
                    continue
                }
                handle(record, alarms: alarms, json: json)
            } catch {
                // librdkafka reconnects by itself; the feed only says so.
                log.warning(key: "hub-feed-kafka-" + settings.source.rawValue, now: wallClockMillis(), "hub feed: Kafka error",
                            metadata: ["topic": "\(settings.topic)", "error": "\(error)"])
            }
        }
    }

    /// Assigns every partition at its end; nil (logged) while the broker cannot say how many.
    private func connect() -> KafkaPartitionConsumer? {
        do {
            let c = try KafkaPartitionConsumer(brokers: settings.brokers, topic: settings.topic, clientID: settings.clientID)
            let partitions = try c.partitionCount()
            try c.assign((0..<partitions).map { (Int32($0), KafkaStart.end) })
            health.report(component, ok: true, detail: "")
            logger.notice("hub feed reading", metadata: ["topic": "\(settings.topic)", "partitions": "\(partitions)"])
            return c
        } catch {
            health.report(component, ok: false, detail: "\(error)")
            log.warning(key: "hub-feed-connect-" + settings.source.rawValue, now: wallClockMillis(),
                        "hub feed: cannot read the topic yet; retrying", metadata: ["topic": "\(settings.topic)", "error": "\(error)"])
            return nil
        }
    }

    private func handle(_ record: KafkaRecord, alarms: AlarmEventDecoder, json: JSONDecoder) {
        do {
            switch settings.source {
            case .alarmEvents:
                let (alarm, transition) = try alarms.decode(record.value)
                server.post(.engine(EngineEvent(alarm, transition)))
            case .scoredReadings:
                let headline = try json.decode(ScoredReadingHeadline.self, from: Data(record.value))
                latest.withLock {
                    $0[headline.patient_id] = LatestScore(time: headline.time, deviceID: headline.device_id, carried: headline.news2)
                }
                server.post(.scoredReading(patientID: headline.patient_id, body: record.value))
            }
        } catch {
            counters.hubFeedBadRecords.add()
            // Where it is and why, never its content: a record may hold a patient's values.
            log.warning(key: "hub-feed-bad-" + settings.source.rawValue, now: wallClockMillis(), "hub feed: record skipped",
                        metadata: ["topic": "\(settings.topic)", "partition": "\(record.partition)", "offset": "\(record.offset)",
                                   "error": "\(Self.reason(error))"])
        }
    }

    /// A decoding error's kind and where, without the values `DecodingError`'s context may quote.
    static func reason(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing \(key.stringValue)"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
            "wrong type at \(c.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.dataCorrupted(let c): c.codingPath.isEmpty ? "not JSON" : "unreadable \(c.codingPath.map(\.stringValue).joined(separator: "."))"
        case let f as AlarmEventDecoder.Failure:
            if case .notAnEnvelope = f { "not an alarm event envelope" } else { f.description }
        default: "\(type(of: error))"
        }
    }
}

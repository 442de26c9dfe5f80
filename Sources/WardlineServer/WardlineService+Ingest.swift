import Foundation
import WardlineConfig
import WardlineCore
import WardlineIngest
import WardlineJournal
import WardlineRuntime

extension WardlineService {
    /// `--role ingest`: MQTT → journal → the device-message topic, on each patient's partition.
    /// The journal checkpoint moves once Kafka confirmed (`DeviceForwarder`); the assignments are
    /// read from the database as on one machine, for the keys. No engine, no writers, no web server.
    func startIngest() throws {
        let c = configuration
        guard let brokers = c.kafkaBrokers else { throw ConfigurationError(description: "--role ingest needs WARDLINE_KAFKA_BROKERS") }
        let db = try waitForCurrentSchema()
        let refresher = SettingsRefresher(url: c.databaseURL, registry: registry, commands: nil,
                                          intervalSeconds: c.assignmentRefreshSeconds, logger: logger)
        try refresher.loadNow(db)
        let checkpoint = try JournalCheckpoint(directory: c.journalDirectory)
        let keeper = CheckpointKeeper(checkpoint)
        let replayFrom = checkpoint.position
        let reader = JournalReader(directory: c.journalDirectory, segmentBytes: c.journalSegmentBytes)
        let forwarder = try DeviceForwarder(brokers: brokers, topic: c.kafkaDeviceTopic, partitions: c.kafkaDevicePartitions,
                                            registry: registry, counters: counters, logger: logger)
        keeper.track { [forwarder] in forwarder.deliveredThrough }
        // Stopped after the forwarder flushed: as far as Kafka confirmed; the rest is sent again at the next start.
        started("journal checkpoint") { keeper.advance() }
        forwarder.start(advance: { keeper.advance() })
        started("device forwarder") { [logger] in
            logger.notice("intake stopped; waiting for Kafka to confirm", metadata: ["waiting": "\(forwarder.waiting)"])
            forwarder.stop()
            await forwarder.thread.finished()
        }
        let journal = try JournalWriter(directory: c.journalDirectory, segmentBytes: c.journalSegmentBytes,
                                        keptPayloadBytes: c.maxPayloadBytes + 1, syncEveryMillis: Int64(c.journalSyncMillis))
        let gate = IntakeGate(room: JournalRoom(minFreeBytes: c.journalMinFreeBytes, segmentBytes: c.journalSegmentBytes,
                                                maxSegments: c.journalMaxSegments),
                              directory: c.journalDirectory, segment: journal.currentSegment,
                              oldestNeeded: { [keeper] in keeper.position }, health: health, counters: counters, logger: logger)
        let ingest = MQTTIngest(journal: journal, destination: .topic(forwarder), counters: counters, gate: gate)
        try replayJournal(from: replayFrom, before: journal.currentSegment, reader: reader, keeper: keeper, into: ingest)
        try startMQTTIntake(ingest: ingest, gate: gate)
        refresher.start()
        started("settings refresher") { refresher.stop(); await refresher.thread.finished() }
        logger.notice("ingest node forwarding", metadata: ["topic": "\(c.kafkaDeviceTopic)", "partitions": "\(c.kafkaDevicePartitions)"])
    }
}

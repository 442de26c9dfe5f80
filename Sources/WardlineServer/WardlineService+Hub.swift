import Synchronization
import WardlineAPI
import WardlineConfig
import WardlineIngest
import WardlineRelay
import WardlineRuntime

extension WardlineService {
    /// `--role hub`: the ward page, REST and sockets, fed from Kafka; no MQTT intake, no engine.
    ///
    /// Alarm events and scored readings come off their topics (`HubFeed`); acknowledgements go
    /// to the engine that owns the patient, on the device-message topic (`HubAcknowledger`).
    /// Device status frames are not sent: status is not on any topic a hub reads, so a device
    /// going offline reaches the page as its technical alarm, and `GET /api/v1/devices` reads the
    /// stored status. Device commands need an MQTT connection, which a hub does not have (503).
    func startHub() throws {
        let c = configuration
        guard let brokers = c.kafkaBrokers else {
            throw ConfigurationError(description: "--role hub needs Kafka: WARDLINE_KAFKA_BROKERS is empty")
        }
        let db = try waitForCurrentSchema()
        let refresher = SettingsRefresher(url: c.databaseURL, registry: registry, commands: nil,
                                          intervalSeconds: c.assignmentRefreshSeconds, logger: logger)
        let directory = DirectoryBox()
        let policy = accessPolicy
        let node = c.mqttClientID
        let sender = try DeviceTopicSender(brokers: brokers, topic: c.kafkaDeviceTopic, clientID: "wardline-hub-acks-" + node)
        let acknowledger = HubAcknowledger(databaseURL: c.databaseURL, partitions: c.kafkaDevicePartitions, counters: counters,
                                           authorise: { who, action in policy.check(who, action, in: directory.current) },
                                           append: { try sender.append($0, key: $1, partition: $2) })
        let readingsBox = Mutex<HubFeed?>(nil)
        let server = try startWebServer(directory: directory, refresher: refresher, front: WebFront(
            policy: policy, acknowledge: { acknowledger.acknowledge($0, by: $1) },
            latestScore: { patient in readingsBox.withLock { $0 }?.latestScore(patient) }))
        started("web server") { server.stop() }
        refresher.onDirectory = { d in
            directory.replace(d)
            server.post(directory: d)
        }
        try refresher.loadNow(db)
        started("acknowledgement sender") { sender.flush() }

        let log = RateLimitedLog(logger: logger)
        let alarms = HubFeed(settings: .init(brokers: brokers, topic: c.kafkaAlertsTopic, source: .alarmEvents,
                                             clientID: "wardline-hub-alarms-" + node),
                             server: server, counters: counters, health: health, log: log, logger: logger)
        let readings = HubFeed(settings: .init(brokers: brokers, topic: c.scoredReadingsTopic, source: .scoredReadings,
                                               clientID: "wardline-hub-readings-" + node),
                               server: server, counters: counters, health: health, log: log, logger: logger)
        readingsBox.withLock { $0 = readings }
        alarms.start()
        started("hub alarm feed") { await alarms.stop() }
        readings.start()
        started("hub readings feed") { await readings.stop() }
        refresher.start()
        started("settings refresher") { refresher.stop(); await refresher.thread.finished() }
        logger.notice("wardline hub serving", metadata: ["url": "\(c.webURL)", "alarm_topic": "\(c.kafkaAlertsTopic)",
                                                         "readings_topic": "\(c.scoredReadingsTopic)",
                                                         "peers": "\(c.hubPeers.joined(separator: ","))"])
    }
}

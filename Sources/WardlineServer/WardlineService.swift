import Foundation
import Logging
import Synchronization
import WardlineAPI
import WardlineConfig
import WardlineCore
import WardlineEngine
import WardlineHub
import WardlineIngest
import WardlineJournal
import WardlineMQTT
import WardlineRelay
import WardlineRules
import WardlineRuntime
import WardlineStore
import WardlineTasks
import WardlineWard
import WardlineWeb

/// The whole ingest pipeline in one process: MQTT → journal → ring → consumer → writer.
///
/// Start-up: wait for the database, check the schema, load assignments, replay what the journal
/// holds beyond the checkpoint, then subscribe. Shutdown (SIGTERM/SIGINT) runs the other way:
/// stop intake, drain the ring, flush batches, then return.
public final class WardlineService: @unchecked Sendable {
    public let configuration: WardlineConfiguration
    public let counters = PipelineCounters()
    /// What `/ready` reports: each outside dependency's state, set by the part that uses it.
    public let health = HealthBoard()
    let logger: Logger
    let registry = DeviceRegistry()
    /// Every part started so far, in start order; shutdown runs them in reverse.
    var parts: [PartService] = []
    private let shutdownClock: ShutdownClock
    private let mqttForCommands = Mutex<MQTTClient?>(nil)

    /// The engine's device clock offsets, for REST and `/metrics`.
    private let deviceClocks: DeviceClocks
    /// The rule set in force on this node (after each accepted reload), for replays through the API.
    let rulesInForce = RulesInForce()

    public init(configuration: WardlineConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        deviceClocks = DeviceClocks(alarmAbove: Int64(configuration.deviceClockAlarmSeconds) * 1000)
        shutdownClock = ShutdownClock(graceMillis: Int64(configuration.shutdownGraceSeconds) * 1000)
    }

    /// Notes a started part and what stops it, in start order.
    func started(_ name: String, stop: @escaping @Sendable () async -> Void) {
        parts.append(PartService(name, stop: stop))
    }

    /// Starts every part of this node's role; throws with a clear message when something cannot
    /// be fixed by waiting.
    public func start() throws {
        if configuration.role != .ingest { rulesInForce.set(try loadRules()) }
        switch configuration.role {
        case .all, .engine: try startPipeline()
        case .ingest: try startIngest()
        case .hub: try startHub()
        }
    }

    /// `--role all`: the whole pipeline in one process, through the ring. `--role engine`: the
    /// same from the ring on, fed by the partitions of the device-message topic this node holds
    /// (`PartitionIntake`) instead of MQTT, through a scratch journal emptied at start (the topic
    /// and the floors in PostgreSQL are the record; another node may own those partitions now).
    private func startPipeline() throws {
        let c = configuration
        let isEngineNode = c.role == .engine
        let journalDirectory = isEngineNode ? c.varDirectory + "/engine-journal" : c.journalDirectory
        if isEngineNode { try? FileManager.default.removeItem(atPath: journalDirectory) }
        let db = try waitForCurrentSchema()
        let commands = EngineCommandQueue()
        let refresher = SettingsRefresher(url: c.databaseURL, registry: registry, commands: commands,
                                          intervalSeconds: c.assignmentRefreshSeconds, logger: logger)
        let directory = DirectoryBox()
        let policy = accessPolicy
        let acknowledge: @Sendable (String, Principal) -> Result<Alarm, APIError>
        if isEngineNode, let brokers = c.kafkaBrokers {
            // This node's engine holds only its own partitions' alarms: an acknowledgement takes
            // the same road as through a hub, to whichever engine owns the patient.
            let sender = try DeviceTopicSender(brokers: brokers, topic: c.kafkaDeviceTopic, clientID: "wardline-engine-acks-" + c.mqttClientID)
            let routed = HubAcknowledger(databaseURL: c.databaseURL, partitions: c.kafkaDevicePartitions, counters: counters,
                                         authorise: { who, action in policy.check(who, action, in: directory.current) },
                                         append: { try sender.append($0, key: $1, partition: $2) })
            started("acknowledgement sender") { sender.flush() }
            acknowledge = { routed.acknowledge($0, by: $1) }
        } else {
            let local = Acknowledger(commands: commands, counters: counters,
                                     authorise: { who, action in policy.check(who, action, in: directory.current) })
            acknowledge = { local.acknowledge($0, by: $1) }
        }
        let sinkBox = Mutex<HubSink?>(nil)
        let server = try startWebServer(directory: directory, refresher: refresher, front: WebFront(
            policy: policy, acknowledge: acknowledge,
            latestScore: { patient in sinkBox.withLock { $0 }?.latestScore(patient) }))
        let web = (server: server, sink: HubSink(server: server, registry: registry))
        sinkBox.withLock { $0 = web.sink }
        started("web server") { web.server.stop() }
        refresher.onDirectory = { [web] d in
            directory.replace(d)
            web.server.post(directory: d)
        }
        try refresher.loadNow(db)

        var limits = MessageDecoder.Limits()
        limits.maxPayloadBytes = c.maxPayloadBytes
        limits.maxFutureSkewMillis = Int64(c.maxFutureSkewSeconds) * 1000
        limits.payloadPatientID = c.payloadPatientID
        let ring = RingBuffer<IngestItem>(capacity: c.ringCapacity)
        let badInputLog = RateLimitedLog(logger: logger)
        let checkpoint = try JournalCheckpoint(directory: journalDirectory)
        let keeper = CheckpointKeeper(checkpoint)
        let replayFrom = checkpoint.position
        let reader = JournalReader(directory: journalDirectory, segmentBytes: c.journalSegmentBytes)
        let writer = BatchWriter(
            settings: .init(databaseURL: c.databaseURL, batchSize: c.batchSize, batchAgeMillis: Int64(c.batchAgeMillis)),
            memoryBound: c.writerMemoryReadings, counters: counters, logger: logger, reader: reader,
            keeper: keeper, decoder: MessageDecoder(registry: registry, limits: limits),
            journalID: try JournalIdentity.load(directory: journalDirectory))
        // The engine continues the alarms that were open when Wardline stopped; it never raises them again.
        let engineConfiguration = rulesInForce.current  // loaded by start()
        rulesReload = RulesReload(base: rulesBase, commands: commands, inForce: rulesInForce, logger: logger)
        let engine = try AlertEngine(configuration: engineConfiguration)
        let alarmStore = AlarmStore(db: db)
        let openAlarms = try alarmStore.openAlarms()
        engine.restore(openAlarms: openAlarms, now: wallClockMillis())
        logger.info("open alarms restored", metadata: ["alarms": "\(openAlarms.count)"])
        // What the last run stored from the messages about to be replayed, so they are not stored twice.
        var replayStartedAt: Int64?
        try reader.read(from: replayFrom) { record in replayStartedAt = record.receivedAt; return false }
        let echoes = try ReplayEchoes(replayStartedAt.map { try alarmStore.latestTransitions(since: $0 - 1000) } ?? [])
        let horizon = ReplayHorizon(horizonMillis: Int64(c.alarmReplaySeconds) * 1000, start: replayFrom)
        let consumerBox = Mutex<PipelineConsumer?>(nil)
        let endpoint = try c.rabbitmqEndpoint()
        let alarmWriter = AlarmWriter(url: c.databaseURL, outboxTopic: c.kafkaBrokers == nil ? nil : c.kafkaAlertsTopic,
                                      tasks: endpoint == nil ? nil : AlarmTasks(escalationMillis: c.escalationMillis),
                                      counters: counters, logger: logger, keeper: keeper,
                                      processed: { consumerBox.withLock { $0 }?.replayFloor ?? replayFrom })
        keeper.track { [writer] in writer.committedThrough }
        keeper.track { [alarmWriter] in alarmWriter.doneThrough }
        // The relays drain the outboxes for up to 5 s after the alarm writer stored its last rows.
        if let endpoint {
            let relay = TaskRelay(url: c.databaseURL, endpoint: endpoint, topology: c.taskTopology, health: health,
                                  counters: counters, logger: logger)
            relay.start()
            started("task relay") { relay.stopAfterFlushing(deadline: wallClockMillis() + 5000); await relay.thread.finished() }
            alarmWriter.downstream.append(relay.doorbell)
        }
        if let brokers = c.kafkaBrokers {
            let relay = try OutboxRelay(url: c.databaseURL, brokers: brokers, counters: counters, health: health, logger: logger)
            relay.start()
            started("outbox relay") { relay.stopAfterFlushing(deadline: wallClockMillis() + 5000); await relay.thread.finished() }
            alarmWriter.downstream.append(relay.doorbell)
        }
        ringGauge.withLock { $0 = { [ring] in ring.count } }
        writerGauge.withLock { $0 = { [writer] in writer.waiting } }
        var engineSinks: [any EngineSink] = [alarmWriter, web.sink]
        // An engine node always feeds the scored readings: the hubs show them from there.
        if let brokers = c.kafkaBrokers, let topic = isEngineNode ? c.scoredReadingsTopic : c.kafkaReadingsTopic {
            let feed = try ReadingsFeed(brokers: brokers, topic: topic, counters: counters, log: badInputLog)
            engineSinks.append(feed)
            started("readings feed") { feed.flush() }
            logger.notice("scored readings also go to Kafka", metadata: ["topic": "\(topic)"])
        }
        let rejectedUpkeep = RejectedUpkeep(
            next: writer, settings: .init(databaseURL: c.databaseURL, samplesPerDeviceReason: c.rejectedSamplesPerDeviceReason,
                                          retentionDays: c.rejectedRetentionDays),
            counters: counters, logger: logger, health: health)
        let consumer = PipelineConsumer(ring: ring, sinks: [rejectedUpkeep, web.sink], engine: engine, engineSinks: engineSinks,
                                        commands: commands, counters: counters, log: badInputLog, clocks: deviceClocks,
                                        horizon: horizon)
        consumer.echoes = echoes
        consumerBox.withLock { $0 = consumer }
        // Stopped after the checkpoint: each partition's floor as far as the writers committed.
        let partitionIntake = isEngineNode ? try makePartitionIntake(pipeline: consumer, commands: commands, keeper: keeper, ring: ring) : nil
        if let partitionIntake { started("partition floors") { partitionIntake.leave() } }
        // Stopped after both writers: as far as they committed; the rest is replayed at the next start.
        started("journal checkpoint") { keeper.advance() }
        rejectedUpkeep.start()
        started("rejected-message upkeep") { rejectedUpkeep.stop(); await rejectedUpkeep.thread.finished() }
        let rollupUpkeep = RollupUpkeep(
            settings: .init(databaseURL: c.databaseURL, everyMillis: Int64(c.rollupIntervalSeconds) * 1000,
                            settleMillis: Int64(c.rollupSettleSeconds) * 1000, rawDays: c.rawRetentionDays,
                            rollupDays: c.rollupRetentionDays, deliveredDays: c.deliveredRetentionDays),
            counters: counters, logger: logger, health: health)
        rollupUpkeep.start()
        started("vitals rollup") { rollupUpkeep.stop(); await rollupUpkeep.thread.finished() }
        alarmWriter.start()
        started("alarm writer") { [shutdownClock] in
            alarmWriter.stopAfterFlushing(deadline: shutdownClock.deadline)
            await alarmWriter.thread.finished()
        }
        writer.start()
        started("batch writer") { [shutdownClock, logger] in
            logger.notice("ring drained; flushing batches", metadata: ["waiting": "\(writer.waiting)"])
            writer.stopAfterFlushing(deadline: shutdownClock.deadline)
            await writer.thread.finished()
        }
        consumer.start()
        started("engine") { consumer.finishAfterDraining(); await consumer.thread.finished() }

        // The journal must be replayed before the new segment opens and MQTT starts pushing.
        let journal = try JournalWriter(directory: journalDirectory, segmentBytes: c.journalSegmentBytes,
                                        keptPayloadBytes: c.maxPayloadBytes + 1, syncEveryMillis: Int64(c.journalSyncMillis))
        let gate = isEngineNode ? nil : IntakeGate(
            room: JournalRoom(minFreeBytes: c.journalMinFreeBytes, segmentBytes: c.journalSegmentBytes, maxSegments: c.journalMaxSegments),
            directory: journalDirectory, segment: journal.currentSegment,
            oldestNeeded: { [keeper] in keeper.position }, health: health, counters: counters, logger: logger)
        if let gate { journalGauge.withLock { $0 = { [gate] in (gate.freeBytesNow, gate.room.watermarkBytes, gate.isPaused) } } }
        let ingest = MQTTIngest(journal: journal, decoder: MessageDecoder(registry: registry, limits: limits), ring: ring,
                                counters: counters, gate: gate)
        consumer.replaying.store(true, ordering: .relaxed)
        try replayJournal(from: replayFrom, before: journal.currentSegment, reader: reader, keeper: keeper, into: ingest)
        consumer.replaying.store(false, ordering: .relaxed)
        if !echoes.isEmpty { logger.info("replay skips alarm transitions already stored", metadata: ["alarm_keys": "\(echoes.count)"]) }

        if let partitionIntake {
            try partitionIntake.start(into: ingest)
            started("intake") { [logger] in
                logger.notice("shutting down: stopping intake")
                partitionIntake.stop()
                await partitionIntake.thread.finished()
                ingest.sync()
            }
            logger.notice("wardline serving", metadata: ["role": "engine", "topic": "\(c.kafkaDeviceTopic)", "node": "\(c.mqttClientID)"])
        } else if let gate {
            try startMQTTIntake(ingest: ingest, gate: gate)
        }

        refresher.start()
        started("settings refresher") { refresher.stop(); await refresher.thread.finished() }
        let watch = AlarmSystemWatch(
            settings: .init(databaseURL: c.databaseURL, instance: c.mqttClientID, stallAfterMillis: c.stallAfterMillis,
                            heartbeatMillis: c.heartbeatMillis, expectsWorkers: endpoint != nil),
            parts: [ingest.heartbeat, consumer.heartbeat, alarmWriter.heartbeat], health: health, logger: logger,
            post: { [web] frame, ok in web.server.post(.systemStatus(frame: frame, ok: ok)) })
        watch.start()
        // A stop on purpose is no outage: the row says so before the parts go quiet one by one.
        started("alarm system watch") { [shutdownClock] in shutdownClock.begin(); watch.stop(); await watch.finished() }
        if c.statsIntervalSeconds > 0 {
            let stats = StatsReporter(counters: counters, ring: ring, writer: writer, mqttConnected: { [health] in health.isUp("mqtt") }, logger: logger,
                                      intervalSeconds: c.statsIntervalSeconds)
            stats.start()
            started("stats") { stats.stop(); await stats.thread.finished() }
        }
    }

    /// MQTT into the journal and the ring (`--role all`).
    func startMQTTIntake(ingest: MQTTIngest, gate: IntakeGate) throws {
        let c = configuration
        var options = c.mqttOptions(clientID: c.mqttClientID)
        options.subscriptions = DeviceTopic.subscriptions
        options.tcpNoDelay = c.mqttTCPNoDelay
        let log = logger
        let health = health
        health.report("mqtt", ok: false, detail: "connecting to \(c.mqttHost):\(c.mqttPort)")
        let mqtt = try MQTTClient(options: options, onMessage: { ingest.handle($0) }, onConnection: { event in
            switch event {
            case .connected: log.notice("mqtt connected; subscribed", metadata: ["topics": "\(DeviceTopic.subscriptions)"])
            case .disconnected(let code, let reason) where code != 0:
                log.error("mqtt connection lost; reconnecting with backoff", metadata: ["reason": "\(reason)"])
            case .disconnected where gate.isPaused:
                log.notice("mqtt disconnected: intake paused by the journal")
                health.report("mqtt", ok: false, detail: "disconnected: intake paused by the journal")
                return
            case .disconnected: log.notice("mqtt disconnected")
            case .refused(_, let reason): log.error("mqtt broker refused the connection", metadata: ["reason": "\(reason)"])
            case .unreachable(let reason):
                log.error("mqtt broker unreachable; retrying with backoff (the broker keeps readings for this session)",
                          metadata: ["reason": "\(reason)", "broker": "\(c.mqttHost):\(c.mqttPort)"])
            }
            health.report("mqtt", ok: event.isConnected, detail: event.isConnected ? "" : "\(event)")
        })
        try gate.start(intake: mqtt)
        mqttForCommands.withLock { $0 = mqtt }
        started("intake") { [self] in
            logger.notice("shutting down: stopping intake")
            mqttForCommands.withLock { $0 = nil }
            gate.stop()
            await gate.thread.finished()
            mqtt.stop()
            ingest.sync()
        }
        logger.notice("wardline serving", metadata: ["mqtt": "\(c.mqttHost):\(c.mqttPort)", "client_id": "\(c.mqttClientID)",
                                                     "payload_patient_id": "\(c.payloadPatientID.rawValue)",
                                                     "tls": "\(c.mqttTLS)"])

    }

    /// Serves until SIGTERM or SIGINT (`signals`), then stops the parts in the reverse of their start order:
    /// intake, the engine once the ring is drained, the writers once they flushed (or the database
    /// was unreachable for the shutdown grace: the journal keeps the rest), the relays, the web server.
    package func run(until signals: StopSignals) async throws {
        let hangups = await ReloadSignals()
        let reloads = Task { [rulesReload, file = configuration.rulesFile, logger] in
            await hangups.forEach {
                guard let rulesReload, let file else {
                    logger.warning("SIGHUP: no rule-set file (WARDLINE_RULES_FILE) to reload here; the rules in force stay")
                    return
                }
                rulesReload.reload(from: file)
            }
        }
        defer { reloads.cancel() }
        try await signals.run(parts, logger: logger)
        logger.notice("shutdown complete", metadata: ["rows_inserted": "\(counters.rowsInserted.count)"])
    }

    /// After a failed `start`: stops what did start, in reverse order, as a shutdown would.
    public func stopStarted() async {
        shutdownClock.begin()
        for part in parts.reversed() { await part.stop() }
    }

    /// Set once the engine exists (`--role all|engine`).
    private var rulesReload: RulesReload?
    private let ringGauge = Mutex<@Sendable () -> Int>({ 0 })
    private let writerGauge = Mutex<@Sendable () -> Int>({ 0 })
    private let journalGauge = Mutex<@Sendable () -> (freeBytes: Int, watermarkBytes: Int, paused: Bool)>({ (0, 0, false) })

    /// What a rule set does not say: the clock alarm follows WARDLINE_DEVICE_CLOCK_ALARM_S.
    var rulesBase: EngineConfiguration {
        var base = EngineConfiguration()
        base.clockOffsetAlarmAbove = Int64(configuration.deviceClockAlarmSeconds) * 1000
        return base
    }

    /// The rule set of WARDLINE_RULES_FILE, or the built-in hospital defaults.
    func loadRules() throws -> EngineConfiguration {
        guard let file = configuration.rulesFile else {
            logger.notice("rule set: the built-in hospital defaults", metadata: ["version": "\(rulesBase.ruleSetVersion)"])
            return rulesBase
        }
        let set = try RuleSetFile.load(file, base: rulesBase)
        logger.notice("rule set loaded", metadata: ["version": "\(set.version)", "title": "\(set.title)", "file": "\(file)",
                                                    "ward_sets": "\(set.configuration.wardThresholdRules.keys.sorted())"])
        return set.configuration
    }

    /// Who may do what, from the configuration: the same for every role.
    var accessPolicy: AccessPolicy { AccessPolicy(commandGrants: configuration.commandGrants) }

    /// What the ward page's server takes from the role it serves: where acknowledgements go and
    /// where each patient's newest NEWS2 comes from.
    struct WebFront {
        var policy: AccessPolicy
        /// Waits for the engine's answer; called off the socket thread.
        var acknowledge: @Sendable (String, Principal) -> Result<Alarm, APIError>
        var latestScore: @Sendable (String) -> LatestScore?
    }

    /// The ward page, the REST API and the WebSocket hub, on one libwebsockets server (listening
    /// and serving when this returns).
    func startWebServer(directory: DirectoryBox, refresher: SettingsRefresher, front: WebFront) throws -> WebServer {
        let c = configuration
        if c.usesDemoSecret && c.acceptsHS256 {
            logger.warning("WARDLINE_JWT_SECRET is the demo default: anyone can mint tokens; set a secret outside loopback demos")
        }
        let tokens = try c.tokenAuthority()
        logger.notice("tokens", metadata: ["algorithms": "\(tokens.acceptedAlgorithms.joined(separator: ","))",
                                           "issuer_checked": "\(c.jwtIssuer != nil)", "audience_checked": "\(c.jwtAudience != nil)"])
        let policy = front.policy
        let acknowledge = front.acknowledge
        let webStats = Mutex<WebStats?>(nil)
        let health = health
        let counters = counters
        let ringCapacity = c.ringCapacity
        let clocks = deviceClocks
        let context = APIContext(
            databaseURL: c.databaseURL, tokens: tokens, directory: directory, policy: policy,
            acknowledge: acknowledge,
            publishCommand: { [weak self] device, payload in
                guard let mqtt = self?.mqttForCommands.withLock({ $0 }) else { throw ConfigurationError(description: "not connected to the MQTT broker") }
                _ = try mqtt.publish(topic: "devices/\(device)/commands", payload: payload, qos: 1)
            },
            directoryChanged: { refresher.refreshAndWait() },
            settingsChanged: { refresher.refreshAndWait() },
            latestScore: front.latestScore,
            clockOffset: { clocks.offset(of: $0) },
            readiness: { health.snapshot.map { Readiness(component: $0.0, ok: $0.1.ok, required: $0.1.required, detail: $0.1.detail) } },
            metrics: { [weak self] in
                guard let self, let web = webStats.withLock({ $0 }) else { return "" }
                let ring = ringGauge.withLock { $0 }
                let writer = writerGauge.withLock { $0 }
                let journal = journalGauge.withLock { $0 }
                return MetricsText(counters: counters, web: web, ringOccupancy: ring, ringCapacity: ringCapacity,
                                   writerWaiting: writer, journal: journal, clocks: clocks).render()
            })
        var withCredentials = context
        withCredentials.deviceCredentials = BrokerAccounts(configuration: c).map(DeviceCredentials.init)
        withCredentials.replays = ReplayJobs(databaseURL: c.databaseURL)
        withCredentials.rulesInForce = { [rulesInForce] in rulesInForce.current }
        let api = WardAPI(context: withCredentials, workers: c.apiWorkers,
                          idempotency: IdempotencyKeys(ttlSeconds: Int64(c.idempotencyTTLSeconds), capacity: c.idempotencyKeys), logger: logger)
        var options = WebServer.Options()
        options.host = c.httpHost
        options.port = c.httpPort
        options.staticRoot = c.dashboardDirectory
        options.pingSeconds = UInt16(c.wsPingSeconds)
        options.hangupSeconds = UInt16(min(65535, c.wsPingSeconds * 5 / 2))
        options.hubLimits.alarmQueue = c.wsAlarmQueue
        options.alarmMaxWaitMillis = Int64(c.wsAlarmMaxWaitSeconds) * 1000
        options.origins = c.wsOrigins.map { OriginPolicy(allowed: $0) }
        options.peers = c.hubPeers
        options.maxWebSockets = c.wsMaxConnections
        options.unauthenticatedBodyBytes = c.unauthenticatedBodyBytes
        options.rateLimit = RateLimiter.Rule(ratePerSecond: Double(c.rateLimitPerSecond), burst: Double(c.rateLimitBurst))
        options.clinicalRateLimit = RateLimiter.Rule(ratePerSecond: Double(c.rateLimitPerSecond * 10), burst: Double(c.rateLimitBurst * 10))
        options.tlsCertificateFile = c.tlsCertificateFile
        options.tlsPrivateKeyFile = c.tlsPrivateKeyFile
        let log = logger
        let serverBox = Mutex<WebServer?>(nil)
        let server = WebServer(options: options, tokens: tokens, handler: api) { request in
            switch request {
            case .acknowledge(let alarmID, let who, let session):
                // Off the socket thread: the acknowledgement waits for the engine.
                DispatchQueue.global().async {
                    if case .failure(let e) = acknowledge(alarmID, who) {
                        serverBox.withLock { $0 }?.postError(session: session, code: e.code, message: e.message, extra: ["alarm_id": alarmID])
                    }
                }
            }
        }
        serverBox.withLock { $0 = server }
        webStats.withLock { $0 = server.stats }
        do { try server.start() } catch {
            throw ConfigurationError(description: "\(error) (WARDLINE_HTTP_HOST/WARDLINE_HTTP_PORT\(c.tlsCertificateFile == nil ? "" : "/WARDLINE_TLS_CERT_FILE/WARDLINE_TLS_KEY_FILE"))")
        }
        api.start()
        log.notice("ward page, REST API and WebSocket hub listening", metadata: ["url": "\(c.webURL)"])
        return server
    }

    /// Refuses to start on a database that lacks a migration.
    func requireSchema(_ db: PostgresConnection) throws {
        let migrator = Migrator(db)
        let missing = try migrator.pending()
        guard missing.isEmpty else {
            throw ConfigurationError(description: "database schema lacks migration(s) \(missing.map(\.version)), Wardline needs \(migrator.latestVersion): run `wardline migrate`")
        }
    }

    /// The database, once it answers, with every migration this build needs applied.
    func waitForCurrentSchema() throws -> PostgresConnection {
        let db = try waitForDatabase()
        try requireSchema(db)
        return db
    }

    func waitForDatabase() throws -> PostgresConnection {
        let deadline = wallClockMillis() + Int64(configuration.databaseWaitSeconds) * 1000
        var said = false
        while true {
            do { return try PostgresConnection(url: configuration.databaseURL) } catch {
                if wallClockMillis() >= deadline {
                    throw ConfigurationError(description: "database unreachable after \(configuration.databaseWaitSeconds) s: \(error)")
                }
                if !said { logger.warning("waiting for the database; the broker holds readings meanwhile", metadata: ["error": "\(error)"]) }
                said = true
                sleepMicros(500_000)
            }
        }
    }

    /// Pushes journalled messages the last run had not committed through the normal path.
    func replayJournal(from: JournalPosition, before segment: UInt32, reader: JournalReader, keeper: CheckpointKeeper,
                       into ingest: MQTTIngest) throws {
        var records = 0
        let result = try reader.read(from: from, through: JournalPosition(segment: segment, offset: 0)) { record in
            records += 1
            ingest.pass(position: record.position, topic: record.topic, payload: Data(record.payload), payloadSize: record.payloadSize,
                        receivedAt: record.receivedAt)
            return true
        }
        if records == 0 {
            // Nothing left from earlier runs: older segments can go. The writer is idle, so this is safe.
            keeper.advance(to: JournalPosition(segment: segment, offset: 0))
        }
        if records > 0 || result.damaged {
            logger.notice("replayed journal from the last run", metadata: ["messages": "\(records)", "from": "\(from)",
                                                                           "damaged_tail": "\(result.damaged)"])
        }
    }
}

extension MQTTConnectionEvent {
    var isConnected: Bool { if case .connected = self { true } else { false } }
}

import Foundation
import WardlineCore
import WardlineHub
import WardlineMQTT
import WardlineWard
import WardlineWeb

/// Every setting Wardline reads, with its environment name, default and meaning.
/// The README's configuration table is `wardline config --markdown`.
public struct ConfigurationOption: Sendable {
    public let name: String
    public let defaultValue: String
    public let help: String
}

public enum ConfigurationOptions {
    public static let all: [ConfigurationOption] = [
        .init(name: "WARDLINE_CONFIG", defaultValue: "", help: "Optional file of KEY=VALUE lines with any of these settings; the environment wins over it."),
        .init(name: "WARDLINE_VAR", defaultValue: "var", help: "Folder for Wardline's own data (the journal)."),
        .init(name: "WARDLINE_LOG_LEVEL", defaultValue: "info", help: "trace, debug, info, notice, warning, error or critical."),
        .init(name: "WARDLINE_MQTT_HOST", defaultValue: "127.0.0.1", help: "MQTT broker host."),
        .init(name: "WARDLINE_MQTT_PORT", defaultValue: "18830", help: "MQTT broker port."),
        .init(name: "WARDLINE_MQTT_CLIENT_ID", defaultValue: "wardline", help: "MQTT client id; names the persistent session the broker keeps while Wardline is away."),
        .init(name: "WARDLINE_MQTT_USERNAME", defaultValue: "", help: "Wardline's account on the broker (role `wardline`, bound to WARDLINE_MQTT_CLIENT_ID). Empty: none, which every broker the deploy scripts make refuses."),
        .init(name: "WARDLINE_MQTT_PASSWORD", defaultValue: "", help: "Its password (never printed; `deploy/env.sh` reads it from `var/mosquitto/credentials/wardline.password`)."),
        .init(name: "WARDLINE_MQTT_TLS", defaultValue: "true", help: "Connect to the broker over TLS, verifying its certificate and host name. false only for a broker without TLS (none that the deploy scripts make)."),
        .init(name: "WARDLINE_MQTT_CA_FILE", defaultValue: "", help: "PEM file of the CA that signed the broker's certificate (the deploy scripts' is `var/tls/ca.crt`); empty: the system's trust store."),
        .init(name: "WARDLINE_MQTT_ADMIN_USERNAME", defaultValue: "", help: "Broker account with the dynamic security admin role, used only by `wardline devices provision|revoke` and `POST|DELETE /api/v1/devices/{id}/credentials`, each over a short connection of its own. Empty: no provisioning (the REST endpoint answers 503)."),
        .init(name: "WARDLINE_MQTT_ADMIN_PASSWORD", defaultValue: "", help: "Its password (never printed)."),
        .init(name: "WARDLINE_MQTT_TCP_NODELAY", defaultValue: "false", help: "Send PUBACKs at once (true) or let the kernel coalesce them (false: less CPU per message, same delivery)."),
        .init(name: "WARDLINE_MQTT_KEEPALIVE_S", defaultValue: "30", help: "MQTT keep-alive in seconds."),
        .init(name: "WARDLINE_DATABASE_URL", defaultValue: "postgresql://wardline@127.0.0.1:15432/wardline", help: "libpq connection string of the TimescaleDB database, as Wardline's own role (`wardline migrate` takes the owner's); its password in a passfile (`?passfile=…` or PGPASSFILE), not in the URL. With a primary and its standby (`postgresql://wardline@db1:5432,db2:5432/wardline?target_session_attrs=read-write&connect_timeout=5&passfile=…`) every connection goes to the one that takes writes, and to the promoted standby after a failover."),
        .init(name: "WARDLINE_DATABASE_WAIT_S", defaultValue: "60", help: "At start, how long to wait for the database before giving up (the broker holds readings meanwhile)."),
        .init(name: "WARDLINE_KAFKA_BROKERS", defaultValue: "127.0.0.1:19092", help: "Kafka bootstrap servers for alarm DomainEvents (published from the outbox); empty: no Kafka, no outbox rows."),
        .init(name: "WARDLINE_KAFKA_ALERTS_TOPIC", defaultValue: "wardline.alerts", help: "Kafka topic of alarm events, keyed by patient id."),
        .init(name: "WARDLINE_KAFKA_READINGS_TOPIC", defaultValue: "", help: "If set, every scored reading (with NEWS2) also goes to this Kafka topic, keyed by device: the feed for another Wardline node or analytics. Empty: off."),
        .init(name: "WARDLINE_RULES_FILE", defaultValue: "", help: "The alarm rule set (a `rules/*.json` file: thresholds, bands, priorities, persistence, hysteresis, anomaly rules, NEWS2 alarm settings, ward sets; `wardline rules check FILE` validates one). Read at start, and again on SIGHUP: a file that does not pass is refused and the rules in force stay. Each alarm records the set's version. Empty: the built-in hospital defaults (the same as `rules/hospital-default.json`), version `built-in`."),
        .init(name: "WARDLINE_ROLE", defaultValue: "all", help: "What this node does (`serve --role` wins over it). `all`: the whole pipeline in one process. Past one machine: `ingest` (MQTT → journal → WARDLINE_KAFKA_DEVICE_TOPIC, keyed by patient), `engine` (owns some of that topic's partitions through PostgreSQL advisory locks; stores readings and alarms, writes the outboxes, publishes scored readings to WARDLINE_KAFKA_READINGS_TOPIC), `hub` (ward page, REST and sockets from the alarm-event and scored-readings topics; acknowledgements go to the owning engine on the patient's key)."),
        .init(name: "WARDLINE_KAFKA_DEVICE_TOPIC", defaultValue: "wardline.device-messages", help: "Roles other than `all`: the topic of device messages and acknowledgements, keyed by patient (unassigned devices by `device:<id>`)."),
        .init(name: "WARDLINE_KAFKA_DEVICE_PARTITIONS", defaultValue: "12", help: "Its partition count, the same on every node (the deploy scripts create it so): the unit an engine node owns."),
        .init(name: "WARDLINE_RABBITMQ_URL", defaultValue: "amqp://wardline@127.0.0.1:15673/wardline", help: "RabbitMQ for the task queue (pages, escalation, reports), amqp://user:password@host:port/vhost (deploy/env.sh sets it with the password deploy/services.sh made); empty: no task queue, no task rows."),
        .init(name: "WARDLINE_RABBITMQ_PREFETCH", defaultValue: "8", help: "`wardline worker`: unacknowledged jobs the broker may hand it at once."),
        .init(name: "WARDLINE_ESCALATION_S", defaultValue: "120", help: "A high-priority alarm still active and unacknowledged this long after it became active pages the next tier (charge nurse, physician, rapid response), and again after each further period."),
        .init(name: "WARDLINE_RETRY_MAX_ATTEMPTS", defaultValue: "5", help: "Delivery attempts for a job before it goes to the dead-letter queue `wardline.dead` with the last error. A page whose alarm is still active and unacknowledged is never dead-lettered: it goes through WARDLINE_PAGE_FALLBACK_CHANNEL and keeps being retried at the capped backoff."),
        .init(name: "WARDLINE_RETRY_BASE_MS", defaultValue: "1000", help: "Pause before the second attempt; it doubles for each further attempt."),
        .init(name: "WARDLINE_RETRY_MAX_MS", defaultValue: "60000", help: "Longest pause between attempts."),
        .init(name: "WARDLINE_NOTIFY_CHANNELS", defaultValue: "log", help: "How `wardline worker` delivers pages and reports, comma-separated: log, webhook. A job is delivered when every channel accepts it."),
        .init(name: "WARDLINE_WEBHOOK_URL", defaultValue: "", help: "The webhook channel POSTs each notification's JSON here (the hospital's paging gateway); a non-2xx answer is a failed attempt."),
        .init(name: "WARDLINE_WEBHOOK_TIMEOUT_MS", defaultValue: "5000", help: "Longest wait for the webhook's answer."),
        .init(name: "WARDLINE_PAGE_FALLBACK_CHANNEL", defaultValue: "log", help: "Where a page goes when the primary channels (WARDLINE_NOTIFY_CHANNELS) failed WARDLINE_RETRY_MAX_ATTEMPTS times, or at once while one's circuit is open: `log`, or the http(s) URL of a second webhook; empty: no fallback. The primary keeps being retried at the capped backoff (WARDLINE_RETRY_MAX_MS) while the alarm is active and unacknowledged; only pages of acknowledged or resolved alarms go to the dead letters."),
        .init(name: "WARDLINE_BREAKER_FAILURES", defaultValue: "3", help: "Consecutive failures of a delivery channel that open its circuit: attempts then fail fast (pages go through the fallback) until a probe after the cool-down succeeds."),
        .init(name: "WARDLINE_BREAKER_COOLDOWN_MS", defaultValue: "10000", help: "How long an open circuit waits before one probe delivery is let through."),
        .init(name: "WARDLINE_STALL_AFTER_S", defaultValue: "15", help: "A part of serve (intake, engine, alarm_writer, database_writes) stuck this long makes /ready unready and shows ALARM SYSTEM FAILURE on the ward page; `wardline worker` pages WARDLINE_ONCALL_TECHNICAL when serve's heartbeat is older than this, and serve reports paging down when no worker's is newer."),
        .init(name: "WARDLINE_HEARTBEAT_S", defaultValue: "2", help: "How often serve and worker update their row in system_heartbeats (and the worker checks serve's)."),
        .init(name: "WARDLINE_ONCALL_PRIMARY", defaultValue: "on-call-nurse", help: "Pager ids (comma-separated) paged first for a high-priority alarm."),
        .init(name: "WARDLINE_ONCALL_CHARGE_NURSE", defaultValue: "charge-nurse", help: "Pager ids of the first escalation tier."),
        .init(name: "WARDLINE_ONCALL_PHYSICIAN", defaultValue: "physician-on-call", help: "Pager ids of the second escalation tier."),
        .init(name: "WARDLINE_ONCALL_RAPID_RESPONSE", defaultValue: "rapid-response-team", help: "Pager ids of the last escalation tier."),
        .init(name: "WARDLINE_ONCALL_TECHNICAL", defaultValue: "technical-on-call", help: "Pager ids paged (kind `system_alarm`) when the alarm system itself fails: serve silent or stalled, its heartbeats unreadable."),
        .init(name: "WARDLINE_SUMMARY_AT", defaultValue: "07:00", help: "UTC times (HH:MM, comma-separated: one, or one per shift handover such as 07:00,19:00) at which `wardline worker` sends the ward summary of the last 24 h. However many workers run, only the one leading the ward summary (a PostgreSQL advisory lock) sends it; empty: never (`wardline worker --summary-now` sends one at once)."),
        .init(name: "WARDLINE_RING_CAPACITY", defaultValue: "65536", help: "Slots in the lock-free ring between MQTT and the engine (rounded up to a power of two)."),
        .init(name: "WARDLINE_MAX_PAYLOAD_BYTES", defaultValue: "65536", help: "Larger payloads are rejected as oversized_payload."),
        .init(name: "WARDLINE_MAX_FUTURE_SKEW_S", defaultValue: "300", help: "Readings stamped further ahead of Wardline's clock are rejected as future_timestamp."),
        .init(name: "WARDLINE_DEVICE_CLOCK_ALARM_S", defaultValue: "60", help: "A device whose clock is further than this from Wardline's (median of its last five live readings) raises the low-priority technical alarm device.clock; 0: measured and shown, never an alarm. The rules run on each device's own clock either way."),
        .init(name: "WARDLINE_REJECTED_SAMPLES_PER_DEVICE_REASON", defaultValue: "20", help: "Rejected messages stored with their payload in `rejected_messages` per device, reason and clock hour; the rest are only counted (`rejected_message_counts`, `wardline_rejected_unsampled_total`). 0: count, never store."),
        .init(name: "WARDLINE_REJECTED_RETENTION_DAYS", defaultValue: "30", help: "Rejected messages (and their counts) older than this are deleted by the one `wardline serve` leading the retention (a PostgreSQL advisory lock): when it takes the lead (at start, when no other leads) and every 5 minutes."),
        .init(name: "WARDLINE_ROLLUP_INTERVAL_S", defaultValue: "60", help: "How often the one `wardline serve` leading the vitals rollup (a PostgreSQL advisory lock) writes the minute rollups (`vitals_1m`) of the readings received since its watermark, then applies the retentions below."),
        .init(name: "WARDLINE_ROLLUP_SETTLE_S", defaultValue: "120", help: "The rollup reads readings received up to this long ago, not later: what the batch writer has received but not yet committed. A reading that arrives late, or from a device whose clock is behind, is received after the watermark and its minute is recomputed on the next run."),
        .init(name: "WARDLINE_RAW_RETENTION_DAYS", defaultValue: "30", help: "Raw readings (`vitals` chunks, one a day) older than this are dropped, but only once the rollup's watermark has passed every row in the chunk; history and FHIR means over longer ranges come from the rollups. The devices' recorded alerts and status (`device_events`) go at the same age."),
        .init(name: "WARDLINE_ROLLUP_RETENTION_DAYS", defaultValue: "730", help: "Minute rollups (`vitals_1m` chunks, 30 days each) older than this are dropped."),
        .init(name: "WARDLINE_DELIVERED_RETENTION_DAYS", defaultValue: "7", help: "Alarm-event outbox rows delivered to Kafka, and task-outbox rows published to RabbitMQ, longer ago than this are deleted (never one not yet delivered); engine command answers after a day. Alarms and their transitions are the medical record and are never deleted, nor are rows put aside."),
        .init(name: "WARDLINE_BATCH_SIZE", defaultValue: "5000", help: "Readings per database batch (a batch is flushed when full or old)."),
        .init(name: "WARDLINE_BATCH_AGE_MS", defaultValue: "100", help: "Oldest a pending reading gets before its batch is flushed."),
        .init(name: "WARDLINE_WRITER_MEMORY_READINGS", defaultValue: "200000", help: "Readings held in memory while the database is down; beyond this they wait in the journal on disk."),
        .init(name: "WARDLINE_SHUTDOWN_GRACE_S", defaultValue: "15", help: "On SIGTERM, how long to keep trying to flush to an unreachable database (what is left stays in the journal)."),
        .init(name: "WARDLINE_ALARM_REPLAY_S", defaultValue: "60", help: "How much received time the journal checkpoint trails the newest message by, so a restart replays the evidence (persistence delays, NEWS2) behind any alarm transition not yet stored and regenerates it unchanged; 0: replay only from the oldest uncommitted message."),
        .init(name: "WARDLINE_JOURNAL_SEGMENT_MB", defaultValue: "64", help: "Size of one journal segment file."),
        .init(name: "WARDLINE_JOURNAL_SYNC_MS", defaultValue: "1000", help: "How often the journal is flushed to disk (bounds loss on power failure; a crash loses nothing)."),
        .init(name: "WARDLINE_JOURNAL_MAX_SEGMENTS", defaultValue: "256", help: "Journal segments allowed before ingest pauses and lets the broker hold readings (disk bound)."),
        .init(name: "WARDLINE_JOURNAL_MIN_FREE_MB", defaultValue: "256", help: "Free space the journal leaves on its file system: below this plus one segment, MQTT intake pauses (disconnects, nothing unjournalled acknowledged; the broker keeps readings for the session) and `/ready` says why; it resumes one segment above that."),
        .init(name: "WARDLINE_ASSIGNMENT_REFRESH_S", defaultValue: "5", help: "How often device assignments and per-patient alarm settings are re-read from the database."),
        .init(name: "WARDLINE_STATS_INTERVAL_S", defaultValue: "10", help: "How often a statistics line is logged (0: never)."),
        .init(name: "WARDLINE_HTTP_HOST", defaultValue: "127.0.0.1", help: "Address the ward page, the REST API and the WebSocket hub listen on."),
        .init(name: "WARDLINE_HTTP_PORT", defaultValue: "18080", help: "Port of the ward page (`/`), the REST API (`/api/v1`), `/ws`, `/health`, `/ready` and `/metrics`."),
        .init(name: "WARDLINE_JWT_SECRET", defaultValue: "wardline-dev-secret-change-me", help: "HS256 secret that signs and verifies tokens (at least 16 bytes). The default is public and for loopback demos: `wardline serve` refuses to start with it (exit 78) when `WARDLINE_HTTP_HOST` is not a loopback address and HS256 is accepted. Masked in `wardline config`."),
        .init(name: "WARDLINE_JWT_PUBLIC_KEY_FILE", defaultValue: "", help: "PEM RSA public key of the hospital's identity provider: RS256 tokens signed with its private key are accepted, and HS256 tokens no longer are (see `WARDLINE_JWT_ALLOW_HS256`). Empty: HS256 only."),
        .init(name: "WARDLINE_JWT_ALLOW_HS256", defaultValue: "false", help: "With `WARDLINE_JWT_PUBLIC_KEY_FILE` set, keep accepting HS256 tokens signed with `WARDLINE_JWT_SECRET` too (true), or only the identity provider's RS256 (false). Without a public key HS256 is always accepted."),
        .init(name: "WARDLINE_JWT_ISSUER", defaultValue: "", help: "If set, every token (HS256 and RS256) must carry this `iss`; `wardline token` puts it in the tokens it mints. Empty: not checked."),
        .init(name: "WARDLINE_JWT_AUDIENCE", defaultValue: "", help: "If set, every token (HS256 and RS256) must carry this `aud` (a string, or a list containing it); `wardline token` puts it in the tokens it mints. Empty: not checked."),
        .init(name: "WARDLINE_COMMAND_ROLES", defaultValue: "charge_nurse,physician,admin,nurse:silence", help: "Who may send device commands (identify, silence, set_interval, reboot, calibrate), comma-separated: a role (every command) or role:command (that one). Each also needs sight of the device's patient: a nurse may silence only her own patients' devices. A device serving nobody takes commands from charge nurses and hospital-wide roles only."),
        .init(name: "WARDLINE_PAYLOAD_PATIENT_ID", defaultValue: "refuse", help: "Whether a reading's own `patient_id` may decide whose reading it is. refuse: a reading reaches a patient only through a device assignment (`PUT /api/v1/devices/{id}/assignment`); an unassigned device's readings are rejected as unknown_device. unassigned: a device with no assignment may name its patient (demos, load tests with the simulator). Either way a `patient_id` that differs from the device's assignment is rejected as patient_mismatch."),
        .init(name: "WARDLINE_DASHBOARD_DIR", defaultValue: "dashboards", help: "Folder of the nurses' station page served at `/`."),
        .init(name: "WARDLINE_API_WORKERS", defaultValue: "4", help: "Threads (each with its own database connection) answering REST calls."),
        .init(name: "WARDLINE_IDEMPOTENCY_TTL_S", defaultValue: "86400", help: "How long a POST's answer is kept for a retry with the same `Idempotency-Key` (replayed, the work not done again). In memory: a restart forgets the keys."),
        .init(name: "WARDLINE_IDEMPOTENCY_KEYS", defaultValue: "10000", help: "At most this many `Idempotency-Key` answers are kept; beyond it the oldest is forgotten first."),
        .init(name: "WARDLINE_WS_ALARM_QUEUE", defaultValue: "1024", help: "Alarm frames that may wait for one WebSocket client; beyond it the client is disconnected (alarms are never dropped)."),
        .init(name: "WARDLINE_WS_ALARM_MAX_WAIT_S", defaultValue: "10", help: "A WebSocket client whose oldest alarm (or heartbeat) has waited this long is disconnected, so a frozen screen never looks connected."),
        .init(name: "WARDLINE_WS_PING_S", defaultValue: "5", help: "Idle seconds before a WebSocket is pinged; one silent for 2.5 times as long is closed."),
        .init(name: "WARDLINE_WS_ORIGINS", defaultValue: "", help: "Web origins (`scheme://host[:port]`, comma-separated) whose pages may open a WebSocket; a handshake from any other `Origin` is refused (403) and counted. Empty: the server's own, `http(s)://WARDLINE_HTTP_HOST:WARDLINE_HTTP_PORT`, plus `127.0.0.1` and `localhost` on a loopback address (set it when listening on 0.0.0.0). A handshake without `Origin` (not from a browser, which always sends one) is allowed: its token is its only authority."),
        .init(name: "WARDLINE_HUB_PEERS", defaultValue: "", help: "Base URLs of the other nodes serving the ward page (`http(s)://host:port`, comma-separated), e.g. the other `hub` nodes. The page is told them (in `session:ready`) and moves to the next when its own stops answering; their origins, and no others, may call this node's REST API from a page (CORS) and open its WebSocket. Empty: no failover."),
        .init(name: "WARDLINE_WS_MAX_CONNECTIONS", defaultValue: "1000", help: "Open WebSockets beyond which a handshake is refused (503, `too_many_connections`)."),
        .init(name: "WARDLINE_HTTP_UNAUTHENTICATED_BODY_BYTES", defaultValue: "4096", help: "A request body larger than this, without a valid token in the headers, is refused (401) before it is read; with one the bound is 1 MiB (413)."),
        .init(name: "WARDLINE_RATE_LIMIT_PER_S", defaultValue: "20", help: "Per token subject (`sub`): REST requests, and frames from its WebSockets (separate buckets), per second on average; beyond it REST answers 429 (`rate_limited`, `retry_after`, `Retry-After`) and a frame is dropped with an `error` frame saying so. Frames to the client, alarms above all, are never limited. 0: no limit."),
        .init(name: "WARDLINE_RATE_LIMIT_BURST", defaultValue: "100", help: "Requests (or frames) a token subject may send at once before WARDLINE_RATE_LIMIT_PER_S applies. Acknowledgements (REST and socket), alarm receipts and patient subscriptions have their own bucket, ten times as large and as fast, so a busy screen still shows all its patients and a nurse can always acknowledge."),
        .init(name: "WARDLINE_TLS_CERT_FILE", defaultValue: "", help: "PEM certificate (chain) of the web server: the ward page, REST and the WebSocket hub are served over HTTPS and wss on WARDLINE_HTTP_PORT (`deploy/tls.sh` makes one for loopback, signed by the project's CA `var/tls/ca.crt`). Empty: plain HTTP."),
        .init(name: "WARDLINE_TLS_KEY_FILE", defaultValue: "", help: "PEM private key of WARDLINE_TLS_CERT_FILE (keep it mode 0600)."),
    ]

    /// A setting's value as `wardline config` prints it: secrets (`…SECRET`, `…PASSWORD`) as
    /// `***`, and the password inside a URL or a libpq `password=` as `***`.
    public static func shown(_ name: String, _ value: String) -> String {
        if (name.hasSuffix("SECRET") || name.hasSuffix("PASSWORD")) && !value.isEmpty { return "***" }
        return value
            .replacingOccurrences(of: #"://([^:/@]*):[^@/]*@"#, with: "://$1:***@", options: .regularExpression)
            // A URL's query ends the value at `&`; a key/value string at a space.
            .replacingOccurrences(of: #"(?i)\bpassword\s*=\s*('[^']*'|[^\s&]+)"#, with: "password=***", options: .regularExpression)
    }

    public static func markdownTable() -> String {
        var s = "| Variable | Default | Meaning |\n|---|---|---|\n"
        for o in all { s += "| `\(o.name)` | `\(o.defaultValue)` | \(o.help) |\n" }
        return s
    }
}

private extension Array {
    var nonEmpty: Self? { isEmpty ? nil : self }
}

public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// Wardline's one typed configuration, read from the environment and an optional file.
public struct WardlineConfiguration: Sendable {
    public var varDirectory: String
    public var logLevel: String
    public var mqttHost: String
    public var mqttPort: Int32
    public var mqttClientID: String
    public var mqttUsername: String?
    public var mqttPassword: String?
    public var mqttTLS: Bool
    public var mqttCAFile: String?
    public var mqttAdminUsername: String?
    public var mqttAdminPassword: String?
    public var mqttKeepAliveSeconds: Int32
    public var mqttTCPNoDelay: Bool
    public var databaseURL: String
    public var databaseWaitSeconds: Int
    public var kafkaBrokers: String?
    public var kafkaAlertsTopic: String
    public var kafkaReadingsTopic: String?
    public var role: NodeRole = .all
    /// Nil: the built-in hospital defaults.
    public var rulesFile: String?
    public var kafkaDeviceTopic: String = "wardline.device-messages"
    public var kafkaDevicePartitions: Int = 12
    /// The other nodes serving the ward page (`WARDLINE_HUB_PEERS`), as origins; empty: none.
    public var hubPeers: [String] = []
    public var rabbitmqURL: String?
    public var rabbitmqPrefetch: Int
    public var escalationSeconds: Int
    public var retryMaxAttempts: Int
    public var retryBaseMillis: Int
    public var retryMaxMillis: Int
    public var notifyChannels: [String]
    public var webhookURL: String?
    public var webhookTimeoutMillis: Int
    /// "log", a webhook URL, or nil for no fallback.
    public var pageFallbackChannel: String?
    public var breakerFailures: Int
    public var breakerCoolDownMillis: Int
    public var stallAfterSeconds: Int
    public var heartbeatSeconds: Int
    public var technicalOnCall: [String]
    public var onCall: [String: String]
    /// Minutes after midnight UTC of each day's scheduled ward summaries; empty for never.
    public var summaryMinutesOfDay: [Int]
    public var ringCapacity: Int
    public var maxPayloadBytes: Int
    public var maxFutureSkewSeconds: Int
    public var deviceClockAlarmSeconds: Int
    public var rejectedSamplesPerDeviceReason: Int
    public var rejectedRetentionDays: Int
    public var rollupIntervalSeconds: Int
    public var rollupSettleSeconds: Int
    public var rawRetentionDays: Int
    public var rollupRetentionDays: Int
    public var deliveredRetentionDays: Int
    public var batchSize: Int
    public var batchAgeMillis: Int
    public var writerMemoryReadings: Int
    public var shutdownGraceSeconds: Int
    public var alarmReplaySeconds: Int
    public var journalSegmentBytes: Int
    public var journalSyncMillis: Int
    public var journalMaxSegments: Int
    public var journalMinFreeBytes: Int
    public var assignmentRefreshSeconds: Int
    public var statsIntervalSeconds: Int
    public var httpHost: String
    public var httpPort: Int32
    public var jwtSecret: String
    public var jwtPublicKeyPEM: String?
    public var jwtAllowHS256: Bool
    public var jwtIssuer: String?
    public var jwtAudience: String?
    public var commandGrants: CommandGrants
    public var payloadPatientID: PayloadPatientID
    public var dashboardDirectory: String
    public var apiWorkers: Int
    /// Seconds a POST's answer is replayed to a retry with the same Idempotency-Key, and how many are kept.
    public var idempotencyTTLSeconds: Int
    public var idempotencyKeys: Int
    public var wsAlarmQueue: Int
    public var wsPingSeconds: Int
    public var wsAlarmMaxWaitSeconds: Int
    /// Nil: the server's own origins.
    public var wsOrigins: [String]?
    public var wsMaxConnections: Int
    public var unauthenticatedBodyBytes: Int
    public var rateLimitPerSecond: Int
    public var rateLimitBurst: Int
    public var tlsCertificateFile: String?
    public var tlsPrivateKeyFile: String?

    /// The scheme and address the ward page is served at.
    public var webURL: String { "\(tlsCertificateFile == nil ? "http" : "https")://\(httpHost):\(httpPort)/" }

    public var journalDirectory: String { varDirectory + "/journal" }
    private static func readPEM(_ path: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), text.contains("-----BEGIN PUBLIC KEY-----") else {
            throw ConfigurationError(description: "WARDLINE_JWT_PUBLIC_KEY_FILE=\(path): not a readable PEM public key")
        }
        return text
    }

    public var usesDemoSecret: Bool { jwtSecret == "wardline-dev-secret-change-me" }

    /// HS256 is accepted when there is no identity provider's key, or when kept beside it.
    public var acceptsHS256: Bool { jwtPublicKeyPEM == nil || jwtAllowHS256 }

    /// The token verifier these settings describe; throws when the public key cannot be used.
    public func tokenAuthority() throws -> TokenAuthority {
        do {
            return try TokenAuthority(secret: jwtSecret, rsaPublicKeyPEM: jwtPublicKeyPEM, acceptHS256: jwtAllowHS256,
                                      issuer: jwtIssuer, audience: jwtAudience)
        } catch {
            throw ConfigurationError(description: "WARDLINE_JWT_PUBLIC_KEY_FILE: \(error)")
        }
    }

    /// Why `wardline serve` must not start with these settings: the public demo secret would let
    /// anyone who can reach the port mint an admin token.
    public func servingProblem() -> String? {
        guard usesDemoSecret, acceptsHS256, !Self.isLoopback(httpHost) else { return nil }
        return "WARDLINE_JWT_SECRET is the public demo default and WARDLINE_HTTP_HOST=\(httpHost) is not a loopback address: "
            + "anyone who can reach it could mint tokens. Set WARDLINE_JWT_SECRET to a secret of your own (at least 16 bytes), "
            + "or use an identity provider's key (WARDLINE_JWT_PUBLIC_KEY_FILE) without HS256"
    }

    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// Reads the configuration; a malformed value is an error that names the setting.
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Self {
        let values = try resolvedValues(environment: environment)
        return try load(values: values)
    }

    /// Every setting's value: the default, overridden by the `WARDLINE_CONFIG` file, overridden by
    /// the environment.
    public static func resolvedValues(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [String: String] {
        var values: [String: String] = [:]
        for o in ConfigurationOptions.all { values[o.name] = o.defaultValue }
        if let file = environment["WARDLINE_CONFIG"], !file.isEmpty {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ConfigurationError(description: "WARDLINE_CONFIG=\(file): cannot read the file")
            }
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                guard let eq = trimmed.firstIndex(of: "=") else {
                    throw ConfigurationError(description: "\(file):\(number + 1): expected KEY=VALUE")
                }
                let key = String(trimmed[..<eq]).trimmingCharacters(in: .whitespaces)
                guard values[key] != nil else {
                    throw ConfigurationError(description: "\(file):\(number + 1): unknown setting \(key)")
                }
                values[key] = String(trimmed[trimmed.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
            }
        }
        for o in ConfigurationOptions.all { if let v = environment[o.name] { values[o.name] = v } }
        return values
    }

    private static func load(values: [String: String]) throws -> Self {
        let r = Reader(values: values)
        var config = try WardlineConfiguration(
            varDirectory: r.string("WARDLINE_VAR"), logLevel: r.string("WARDLINE_LOG_LEVEL"),
            mqttHost: r.string("WARDLINE_MQTT_HOST"), mqttPort: Int32(r.int("WARDLINE_MQTT_PORT", 1...65535)),
            mqttClientID: r.string("WARDLINE_MQTT_CLIENT_ID"),
            mqttUsername: r.optional("WARDLINE_MQTT_USERNAME"), mqttPassword: r.optional("WARDLINE_MQTT_PASSWORD"),
            mqttTLS: r.bool("WARDLINE_MQTT_TLS"), mqttCAFile: r.optional("WARDLINE_MQTT_CA_FILE"),
            mqttAdminUsername: r.optional("WARDLINE_MQTT_ADMIN_USERNAME"), mqttAdminPassword: r.optional("WARDLINE_MQTT_ADMIN_PASSWORD"),
            mqttKeepAliveSeconds: Int32(r.int("WARDLINE_MQTT_KEEPALIVE_S", 5...3600)),
            mqttTCPNoDelay: r.bool("WARDLINE_MQTT_TCP_NODELAY"),
            databaseURL: r.string("WARDLINE_DATABASE_URL"), databaseWaitSeconds: r.int("WARDLINE_DATABASE_WAIT_S", 0...86400),
            kafkaBrokers: r.optional("WARDLINE_KAFKA_BROKERS"), kafkaAlertsTopic: r.string("WARDLINE_KAFKA_ALERTS_TOPIC"),
            kafkaReadingsTopic: r.optional("WARDLINE_KAFKA_READINGS_TOPIC"),
            rabbitmqURL: r.optional("WARDLINE_RABBITMQ_URL"), rabbitmqPrefetch: r.int("WARDLINE_RABBITMQ_PREFETCH", 1...1000),
            escalationSeconds: r.int("WARDLINE_ESCALATION_S", 1...86400),
            retryMaxAttempts: r.int("WARDLINE_RETRY_MAX_ATTEMPTS", 1...50),
            retryBaseMillis: r.int("WARDLINE_RETRY_BASE_MS", 10...3_600_000),
            retryMaxMillis: r.int("WARDLINE_RETRY_MAX_MS", 10...86_400_000),
            notifyChannels: r.list("WARDLINE_NOTIFY_CHANNELS"), webhookURL: r.optional("WARDLINE_WEBHOOK_URL"),
            webhookTimeoutMillis: r.int("WARDLINE_WEBHOOK_TIMEOUT_MS", 100...120_000),
            pageFallbackChannel: r.optional("WARDLINE_PAGE_FALLBACK_CHANNEL"),
            breakerFailures: r.int("WARDLINE_BREAKER_FAILURES", 1...1000),
            breakerCoolDownMillis: r.int("WARDLINE_BREAKER_COOLDOWN_MS", 10...3_600_000),
            stallAfterSeconds: r.int("WARDLINE_STALL_AFTER_S", 2...3600),
            heartbeatSeconds: r.int("WARDLINE_HEARTBEAT_S", 1...600),
            technicalOnCall: r.list("WARDLINE_ONCALL_TECHNICAL"),
            onCall: ["on_call": r.string("WARDLINE_ONCALL_PRIMARY"), "charge_nurse": r.string("WARDLINE_ONCALL_CHARGE_NURSE"),
                     "physician": r.string("WARDLINE_ONCALL_PHYSICIAN"), "rapid_response": r.string("WARDLINE_ONCALL_RAPID_RESPONSE")],
            summaryMinutesOfDay: r.timesOfDay("WARDLINE_SUMMARY_AT"),
            ringCapacity: r.int("WARDLINE_RING_CAPACITY", 2...(1 << 24)),
            maxPayloadBytes: r.int("WARDLINE_MAX_PAYLOAD_BYTES", 64...(16 << 20)),
            maxFutureSkewSeconds: r.int("WARDLINE_MAX_FUTURE_SKEW_S", 0...86400),
            deviceClockAlarmSeconds: r.int("WARDLINE_DEVICE_CLOCK_ALARM_S", 0...86400),
            rejectedSamplesPerDeviceReason: r.int("WARDLINE_REJECTED_SAMPLES_PER_DEVICE_REASON", 0...100_000),
            rejectedRetentionDays: r.int("WARDLINE_REJECTED_RETENTION_DAYS", 1...3650),
            rollupIntervalSeconds: r.int("WARDLINE_ROLLUP_INTERVAL_S", 1...86400),
            rollupSettleSeconds: r.int("WARDLINE_ROLLUP_SETTLE_S", 0...86400),
            rawRetentionDays: r.int("WARDLINE_RAW_RETENTION_DAYS", 1...36500),
            rollupRetentionDays: r.int("WARDLINE_ROLLUP_RETENTION_DAYS", 1...36500),
            deliveredRetentionDays: r.int("WARDLINE_DELIVERED_RETENTION_DAYS", 1...3650),
            batchSize: r.int("WARDLINE_BATCH_SIZE", 1...100_000), batchAgeMillis: r.int("WARDLINE_BATCH_AGE_MS", 1...60_000),
            writerMemoryReadings: r.int("WARDLINE_WRITER_MEMORY_READINGS", 1...10_000_000),
            shutdownGraceSeconds: r.int("WARDLINE_SHUTDOWN_GRACE_S", 0...3600),
            alarmReplaySeconds: r.int("WARDLINE_ALARM_REPLAY_S", 0...3600),
            journalSegmentBytes: r.int("WARDLINE_JOURNAL_SEGMENT_MB", 1...1024) << 20,
            journalSyncMillis: r.int("WARDLINE_JOURNAL_SYNC_MS", 1...600_000),
            journalMaxSegments: r.int("WARDLINE_JOURNAL_MAX_SEGMENTS", 2...100_000),
            journalMinFreeBytes: r.int("WARDLINE_JOURNAL_MIN_FREE_MB", 0...10_000_000) << 20,
            assignmentRefreshSeconds: r.int("WARDLINE_ASSIGNMENT_REFRESH_S", 1...3600),
            statsIntervalSeconds: r.int("WARDLINE_STATS_INTERVAL_S", 0...3600),
            httpHost: r.string("WARDLINE_HTTP_HOST"), httpPort: Int32(r.int("WARDLINE_HTTP_PORT", 1...65535)),
            jwtSecret: r.string("WARDLINE_JWT_SECRET"), jwtPublicKeyPEM: try r.optional("WARDLINE_JWT_PUBLIC_KEY_FILE").map(Self.readPEM),
            jwtAllowHS256: r.bool("WARDLINE_JWT_ALLOW_HS256"), jwtIssuer: r.optional("WARDLINE_JWT_ISSUER"),
            jwtAudience: r.optional("WARDLINE_JWT_AUDIENCE"), commandGrants: r.commandGrants("WARDLINE_COMMAND_ROLES"),
            payloadPatientID: r.payloadPatientID("WARDLINE_PAYLOAD_PATIENT_ID"),
            dashboardDirectory: r.string("WARDLINE_DASHBOARD_DIR"),
            apiWorkers: r.int("WARDLINE_API_WORKERS", 1...64),
            idempotencyTTLSeconds: r.int("WARDLINE_IDEMPOTENCY_TTL_S", 1...(7 * 86400)),
            idempotencyKeys: r.int("WARDLINE_IDEMPOTENCY_KEYS", 1...10_000_000), wsAlarmQueue: r.int("WARDLINE_WS_ALARM_QUEUE", 16...1_000_000),
            wsPingSeconds: r.int("WARDLINE_WS_PING_S", 1...3600),
            wsAlarmMaxWaitSeconds: r.int("WARDLINE_WS_ALARM_MAX_WAIT_S", 1...3600),
            wsOrigins: r.list("WARDLINE_WS_ORIGINS").nonEmpty,
            wsMaxConnections: r.int("WARDLINE_WS_MAX_CONNECTIONS", 1...1_000_000),
            unauthenticatedBodyBytes: r.int("WARDLINE_HTTP_UNAUTHENTICATED_BODY_BYTES", 0...(1 << 20)),
            rateLimitPerSecond: r.int("WARDLINE_RATE_LIMIT_PER_S", 0...1_000_000),
            rateLimitBurst: r.int("WARDLINE_RATE_LIMIT_BURST", 1...1_000_000),
            tlsCertificateFile: r.optional("WARDLINE_TLS_CERT_FILE"), tlsPrivateKeyFile: r.optional("WARDLINE_TLS_KEY_FILE"))
        guard let role = NodeRole(rawValue: r.string("WARDLINE_ROLE")) else {
            throw ConfigurationError(description: "WARDLINE_ROLE=\(r.string("WARDLINE_ROLE")) is not all, ingest, engine or hub")
        }
        config.role = role
        config.rulesFile = r.optional("WARDLINE_RULES_FILE")
        config.kafkaDeviceTopic = r.string("WARDLINE_KAFKA_DEVICE_TOPIC")
        config.kafkaDevicePartitions = try r.int("WARDLINE_KAFKA_DEVICE_PARTITIONS", 1...4096)
        config.hubPeers = try r.list("WARDLINE_HUB_PEERS").map { url in
            guard let origin = OriginPolicy.origin(ofURL: url) else {
                throw ConfigurationError(description: "WARDLINE_HUB_PEERS: \(url) is not a base URL (http(s)://host[:port])")
            }
            return origin
        }
        try config.checkRole()
        if (config.tlsCertificateFile == nil) != (config.tlsPrivateKeyFile == nil) {
            throw ConfigurationError(description: "WARDLINE_TLS_CERT_FILE and WARDLINE_TLS_KEY_FILE go together: set both (HTTPS) or neither (HTTP)")
        }
        for origin in config.wsOrigins ?? [] where !(origin.hasPrefix("http://") || origin.hasPrefix("https://")) {
            throw ConfigurationError(description: "WARDLINE_WS_ORIGINS: \(origin) is not an origin (http(s)://host[:port])")
        }
        guard config.jwtSecret.utf8.count >= 16 else {
            throw ConfigurationError(description: "WARDLINE_JWT_SECRET must be at least 16 bytes")
        }
        if let ca = config.mqttCAFile, config.mqttTLS, !FileManager.default.isReadableFile(atPath: ca) {
            throw ConfigurationError(description: "WARDLINE_MQTT_CA_FILE=\(ca): cannot read the file")
        }
        _ = try config.rabbitmqEndpoint()  // a malformed URL is a setting error, found before anything starts
        for channel in config.notifyChannels where !["log", "webhook"].contains(channel) {
            throw ConfigurationError(description: "WARDLINE_NOTIFY_CHANNELS: unknown channel \(channel) (known: log, webhook)")
        }
        if config.notifyChannels.contains("webhook") && config.webhookURL == nil {
            throw ConfigurationError(description: "WARDLINE_NOTIFY_CHANNELS names webhook but WARDLINE_WEBHOOK_URL is empty")
        }
        if let fallback = config.pageFallbackChannel, fallback != "log", !fallback.hasPrefix("http://"), !fallback.hasPrefix("https://") {
            throw ConfigurationError(description: "WARDLINE_PAGE_FALLBACK_CHANNEL=\(fallback): expected log or an http(s) URL")
        }
        guard config.heartbeatSeconds < config.stallAfterSeconds else {
            throw ConfigurationError(description: "WARDLINE_HEARTBEAT_S (\(config.heartbeatSeconds)) must be shorter than WARDLINE_STALL_AFTER_S (\(config.stallAfterSeconds))")
        }
        guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(config.logLevel) else {
            throw ConfigurationError(description: "WARDLINE_LOG_LEVEL=\(config.logLevel) is not a log level")
        }
        return config
    }

    private struct Reader {
        let values: [String: String]
        func string(_ key: String) -> String { values[key] ?? "" }
        func optional(_ key: String) -> String? { values[key].flatMap { $0.isEmpty ? nil : $0 } }
        func list(_ key: String) -> [String] {
            string(key).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        func commandGrants(_ key: String) throws -> CommandGrants {
            do { return try CommandGrants(parsing: string(key)) } catch { throw ConfigurationError(description: "\(key): \(error)") }
        }
        func payloadPatientID(_ key: String) throws -> PayloadPatientID {
            guard let v = PayloadPatientID(rawValue: string(key)) else {
                throw ConfigurationError(description: "\(key)=\(string(key)) is not refuse or unassigned")
            }
            return v
        }
        func timesOfDay(_ key: String) throws -> [Int] {
            let raw = string(key)
            return try list(key).map { time in
                let parts = time.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
                guard parts.count == 2, let h = parts[0], let m = parts[1], (0..<24).contains(h), (0..<60).contains(m) else {
                    throw ConfigurationError(description: time == raw ? "\(key)=\(raw) is not a time of day HH:MM"
                                                                      : "\(key)=\(raw): \(time) is not a time of day HH:MM")
                }
                return h * 60 + m
            }
        }
        func bool(_ key: String) throws -> Bool {
            switch string(key).lowercased() {
            case "true", "1", "yes": return true
            case "false", "0", "no": return false
            default: throw ConfigurationError(description: "\(key)=\(string(key)) is not true or false")
            }
        }
        func int(_ key: String, _ range: ClosedRange<Int>) throws -> Int {
            let raw = string(key)
            guard let v = Int(raw) else { throw ConfigurationError(description: "\(key)=\(raw) is not a whole number") }
            guard range.contains(v) else {
                throw ConfigurationError(description: "\(key)=\(raw) is outside \(range.lowerBound)...\(range.upperBound)")
            }
            return v
        }
    }
}

extension WardlineConfiguration {
    /// The broker connection settings every Wardline client shares: address, TLS, keep-alive and
    /// Wardline's own account.
    public func mqttOptions(clientID: String) -> MQTTClient.Options {
        var o = MQTTClient.Options(clientID: clientID)
        o.host = mqttHost
        o.port = mqttPort
        o.username = mqttUsername
        o.password = mqttPassword
        o.keepAliveSeconds = mqttKeepAliveSeconds
        o.tls = mqttTLS ? MQTTClient.TLS(caFile: mqttCAFile) : nil
        return o
    }
}

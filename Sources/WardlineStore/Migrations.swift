/// Versioned schema changes, applied in order by `wardline migrate`, each in its own transaction.
/// Never edit a released migration: add the next one.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let sql: String
}

public enum Migrations {
    public static let all: [Migration] = [
        Migration(version: 1, name: "vitals hypertable, devices, rejected messages", sql: """
            CREATE EXTENSION IF NOT EXISTS timescaledb;

            -- One row per reading, one column per vital. (device_id, seq, time) is a reading's
            -- identity, so a QoS 1 redelivery is stored once. Ids compare bytewise (COLLATE "C"):
            -- locale-aware comparison was a fifth of the database's insert cost in the benchmark.
            CREATE TABLE vitals (
                time        timestamptz NOT NULL,
                device_id   text COLLATE "C" NOT NULL,
                patient_id  text COLLATE "C" NOT NULL,
                seq         bigint      NOT NULL,
                hr          real,
                spo2        real,
                temp        real,
                rr          real,
                sbp         real,
                dbp         real,
                o2          boolean,
                acvpu       char(1),
                received_at timestamptz NOT NULL,
                sent_at_us  bigint,
                UNIQUE (device_id, seq, time)
            );
            SELECT create_hypertable('vitals', 'time', chunk_time_interval => interval '1 day');
            CREATE INDEX vitals_patient_time ON vitals (patient_id, time DESC);

            -- The latest status each device reported (retained status topic, last will).
            CREATE TABLE device_status (
                device_id   text PRIMARY KEY,
                state       text        NOT NULL CHECK (state IN ('online', 'offline')),
                firmware    text,
                battery     real,
                device_time timestamptz,
                updated_at  timestamptz NOT NULL
            );

            -- Admission of a device to a patient (and bed); at most one open assignment per device.
            CREATE TABLE device_assignments (
                id            bigserial PRIMARY KEY,
                device_id     text        NOT NULL,
                patient_id    text        NOT NULL,
                ward          text,
                bed           text,
                admitted_at   timestamptz NOT NULL DEFAULT now(),
                discharged_at timestamptz
            );
            CREATE UNIQUE INDEX device_assignments_open ON device_assignments (device_id) WHERE discharged_at IS NULL;

            -- Everything that could not be accepted, with why. (journal_id, journal_position,
            -- element_index) identifies the message, so a replay after a crash does not store a
            -- rejection twice, and another journal's positions never collide with this one's.
            CREATE TABLE rejected_messages (
                id               bigserial PRIMARY KEY,
                journal_id       uuid        NOT NULL,
                journal_position bigint      NOT NULL,
                element_index    integer     NOT NULL DEFAULT -1,
                received_at      timestamptz NOT NULL,
                topic            text        NOT NULL,
                device_id        text,
                reason           text        NOT NULL,
                detail           text        NOT NULL,
                payload          text        NOT NULL,
                payload_size     integer     NOT NULL,
                UNIQUE (journal_id, journal_position, element_index)
            );
            CREATE INDEX rejected_messages_reason ON rejected_messages (reason, received_at DESC);
            """),
        Migration(version: 2, name: "alarms and their history", sql: """
            -- One row per alarm, as it stands now; at most one open alarm per patient, rule and device.
            CREATE TABLE alerts (
                id                text PRIMARY KEY,
                patient_id        text COLLATE "C",
                device_id         text COLLATE "C",
                rule_id           text NOT NULL,
                category          text NOT NULL CHECK (category IN ('physiological', 'technical')),
                vital             text,
                priority          text NOT NULL CHECK (priority IN ('low', 'medium', 'high')),
                state             text NOT NULL CHECK (state IN ('active', 'acknowledged', 'resolved')),
                latching          boolean NOT NULL,
                condition_present boolean NOT NULL,
                message           text NOT NULL,
                value             double precision,
                threshold         double precision,
                condition_since   timestamptz NOT NULL,
                raised_at         timestamptz NOT NULL,
                active_since      timestamptz NOT NULL,
                acknowledged_at   timestamptz,
                acknowledged_by   text,
                resolved_at       timestamptz,
                escalation_level  integer NOT NULL,
                revision          integer NOT NULL,
                updated_at        timestamptz NOT NULL
            );
            -- The engine keeps one open alarm per patient and rule; no unique index here, so a store
            -- can never refuse (and so hold back) an alarm.
            CREATE INDEX alerts_open_by_rule ON alerts (patient_id, rule_id)
                WHERE state <> 'resolved';
            CREATE INDEX alerts_patient ON alerts (patient_id, raised_at DESC);
            CREATE INDEX alerts_open ON alerts (priority, raised_at DESC) WHERE state <> 'resolved';

            -- Every transition: who acknowledged, when, the value and the limit at the time.
            CREATE TABLE alert_transitions (
                alert_id         text NOT NULL REFERENCES alerts (id),
                revision         integer NOT NULL,
                kind             text NOT NULL,
                from_state       text,
                to_state         text NOT NULL,
                priority         text NOT NULL,
                at               timestamptz NOT NULL,
                reading_time     timestamptz,
                by_user          text,
                value            double precision,
                threshold        double precision,
                escalation_level integer NOT NULL,
                resolution       text,
                PRIMARY KEY (alert_id, revision)
            );
            """),
        Migration(version: 3, name: "per-patient alarm settings", sql: """
            -- The SpO2 scale each patient is scored on (2: hypercapnic respiratory failure).
            CREATE TABLE patient_settings (
                patient_id text COLLATE "C" PRIMARY KEY,
                spo2_scale smallint NOT NULL DEFAULT 1 CHECK (spo2_scale IN (1, 2)),
                updated_by text,
                updated_at timestamptz NOT NULL DEFAULT now()
            );

            -- A clinician's threshold for one patient, replacing the hospital rule of the same id.
            -- bands: [{"limit": 85, "priority": "high", "persistence_ms": 10000}, …]; none disables it.
            CREATE TABLE threshold_overrides (
                patient_id text COLLATE "C" NOT NULL,
                rule_id    text NOT NULL,
                vital      text NOT NULL,
                direction  text NOT NULL CHECK (direction IN ('above', 'below')),
                bands      jsonb NOT NULL,
                clear_at   double precision NOT NULL,
                updated_by text,
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (patient_id, rule_id)
            );
            """),
        Migration(version: 4, name: "transactional outbox for alarm events", sql: """
            -- Domain events written in the same transaction as the alarm change they describe, and
            -- published to Kafka from here; event_id derives from (alarm, revision), so writing the
            -- same transition twice stores one event and a redelivery carries the same id.
            CREATE TABLE outbox (
                id           bigserial PRIMARY KEY,
                event_id     uuid NOT NULL UNIQUE,
                topic        text NOT NULL,
                key          text,
                payload      jsonb NOT NULL,
                created_at   timestamptz NOT NULL DEFAULT now(),
                delivered_at timestamptz,
                attempts     integer NOT NULL DEFAULT 0,
                last_error   text
            );
            CREATE INDEX outbox_pending ON outbox (id) WHERE delivered_at IS NULL;
            """),
        Migration(version: 5, name: "wards, beds and care assignments", sql: """
            -- Where each patient lies. Who may watch a patient follows from it: ward-wide roles see
            -- their ward, a nurse the patients in her care assignments.
            CREATE TABLE patients (
                patient_id  text COLLATE "C" PRIMARY KEY,
                ward        text NOT NULL,
                bed         text,
                admitted_at timestamptz NOT NULL DEFAULT now(),
                updated_by  text
            );
            CREATE INDEX patients_ward ON patients (ward, bed);

            -- Which nurse looks after which patient (managed through the REST API).
            CREATE TABLE care_assignments (
                user_id     text NOT NULL,
                patient_id  text COLLATE "C" NOT NULL REFERENCES patients (patient_id) ON DELETE CASCADE,
                assigned_by text,
                assigned_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (user_id, patient_id)
            );
            CREATE INDEX care_assignments_patient ON care_assignments (patient_id);
            """),
        Migration(version: 6, name: "transactional outbox for task-queue jobs", sql: """
            -- Jobs for RabbitMQ (pages, escalation timers), written in the same transaction as the
            -- alarm change that makes them and published from here with publisher confirms.
            -- job_id derives from (alarm, revision, purpose), so writing a transition twice makes one job.
            CREATE TABLE task_outbox (
                id           bigserial PRIMARY KEY,
                job_id       uuid NOT NULL UNIQUE,
                route        text NOT NULL,
                priority     smallint NOT NULL,
                -- 0: to its work queue now; otherwise the pause (a delay queue) it waits first,
                -- counted from due_at - delay_ms, so a job published late waits only what is left.
                delay_ms     integer NOT NULL DEFAULT 0,
                due_at       timestamptz NOT NULL,
                payload      jsonb NOT NULL,
                created_at   timestamptz NOT NULL DEFAULT now(),
                published_at timestamptz,
                attempts     integer NOT NULL DEFAULT 0,
                last_error   text
            );
            CREATE INDEX task_outbox_pending ON task_outbox (id) WHERE published_at IS NULL;
            """),
        Migration(version: 7, name: "rejected-message counts and retention", sql: """
            -- Rejections beyond the sampling budget (WARDLINE_REJECTED_SAMPLES_PER_DEVICE_REASON per
            -- device, reason and hour) are counted here instead of stored one by one. device_id ''
            -- means no device id (an unknown topic); '*' the devices beyond the sampler's key bound.
            CREATE TABLE rejected_message_counts (
                device_id        text COLLATE "C" NOT NULL,
                reason           text        NOT NULL,
                window_start     timestamptz NOT NULL,
                unsampled        bigint      NOT NULL,
                last_received_at timestamptz NOT NULL,
                PRIMARY KEY (device_id, reason, window_start)
            );
            -- Retention (WARDLINE_REJECTED_RETENTION_DAYS) deletes by age.
            CREATE INDEX rejected_messages_received ON rejected_messages (received_at);
            """),
        Migration(version: 8, name: "rows put aside by the writers", sql: """
            -- A row the database refused for its data (SQLSTATE class 22, 23 or 54), set aside by
            -- the writer that met it so the rest of its batch is stored: one bad row never stops a
            -- writer. (writer, row_key) is the row's identity, so a retried batch or a journal
            -- replay puts it aside once. Operators read, fix and re-enter these by hand.
            CREATE TABLE put_aside (
                id             bigserial PRIMARY KEY,
                writer         text NOT NULL,
                kind           text NOT NULL,
                row_key        text NOT NULL,
                error_sqlstate text NOT NULL,
                error_message  text NOT NULL,
                row            text NOT NULL,
                put_aside_at   timestamptz NOT NULL DEFAULT now(),
                UNIQUE (writer, row_key)
            );
            CREATE INDEX put_aside_recent ON put_aside (put_aside_at DESC);

            -- At start, the transitions stored since the journal's replay point are read back by
            -- time, so the replay does not write them a second time.
            CREATE INDEX alert_transitions_at ON alert_transitions (at);
            """),
        Migration(version: 9, name: "heartbeats of serve and worker processes", sql: """
            -- One row per running serve or worker, updated every few seconds (IEC 60601-1-8: a
            -- failure of the alarm system must itself be signalled). The worker pages the technical
            -- on-call when a serve row goes silent; serve shows the ward what a worker reports of
            -- its paging channels. beat_at is the database's clock, so host clocks do not matter.
            -- problems: what the process finds wrong with itself now ('' when nothing); never
            -- patient data.
            CREATE TABLE system_heartbeats (
                instance   text PRIMARY KEY,
                role       text NOT NULL CHECK (role IN ('serve', 'worker')),
                started_at timestamptz NOT NULL DEFAULT now(),
                beat_at    timestamptz NOT NULL DEFAULT now(),
                stopped_at timestamptz,
                problems   text NOT NULL DEFAULT ''
            );
            """),
        Migration(version: 10, name: "engine partitions, command answers, no default time index on vitals", sql: """
            -- Past one machine: where each partition of the device-message topic is to be read
            -- from again (the replay floor: every reading, alarm transition and outbox row caused
            -- by an earlier record is committed), moved by the engine node that holds the
            -- partition's advisory lock, in its own transaction after the writers committed.
            -- floor_received_at: the ingest clock of the record at next_offset, so the next owner
            -- knows which stored transitions its replay would regenerate.
            CREATE TABLE engine_partitions (
                topic             text    NOT NULL,
                partition         integer NOT NULL CHECK (partition >= 0),
                next_offset       bigint  NOT NULL CHECK (next_offset >= 0),
                floor_received_at bigint,
                owner             text    NOT NULL,
                updated_at        timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (topic, partition)
            );
            -- The owning engine's answer to a command a hub appended to the topic (an
            -- acknowledgement); the hub waits for its row. Old rows are deleted by the hubs.
            CREATE TABLE engine_command_results (
                request_id  uuid PRIMARY KEY,
                status      integer NOT NULL,
                code        text    NOT NULL,
                message     text    NOT NULL,
                alarm_id    text,
                answered_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX engine_command_results_answered ON engine_command_results (answered_at);
            -- create_hypertable made vitals_time_idx (time DESC); every query reads by patient
            -- (vitals_patient_time) or device (the unique key), and drop_chunks needs no index,
            -- while each COPY pays for it (400,000 rows: 186,000-209,000 rows/s with it,
            -- 238,000-242,000 without, measured for issue 14).
            DROP INDEX IF EXISTS vitals_time_idx;
            """),
        Migration(version: 11, name: "the rule set that raised each alarm", sql: """
            -- The version of the rule-set file (WARDLINE_RULES_FILE) in force when the alarm was
            -- raised; NULL for alarms raised before rule sets were recorded.
            ALTER TABLE alerts ADD COLUMN rule_set text;
            """),
        Migration(version: 12, name: "minute rollups of vitals, their watermark, retention by chunk", sql: """
            -- One row per patient, device and minute: n readings, and per vital how many had it
            -- (<vital>_n: a mean over several minutes is weighted by it, not by n, since a reading
            -- may lack a vital) with their min, mean and max. Written by the one serve leading
            -- the rollup (RollupUpkeep), recomputed whole from vitals each time a reading of the
            -- minute arrives, so writing a minute twice stores the same row (never with fewer
            -- readings than stored: those would be a minute whose raw chunk is gone).
            CREATE TABLE vitals_1m (
                patient_id text COLLATE "C" NOT NULL,
                device_id  text COLLATE "C" NOT NULL,
                bucket     timestamptz NOT NULL,
                n          integer NOT NULL,
                hr_n integer NOT NULL, hr_min real, hr_avg double precision, hr_max real,
                spo2_n integer NOT NULL, spo2_min real, spo2_avg double precision, spo2_max real,
                temp_n integer NOT NULL, temp_min real, temp_avg double precision, temp_max real,
                rr_n integer NOT NULL, rr_min real, rr_avg double precision, rr_max real,
                sbp_n integer NOT NULL, sbp_min real, sbp_avg double precision, sbp_max real,
                dbp_n integer NOT NULL, dbp_min real, dbp_avg double precision, dbp_max real,
                PRIMARY KEY (patient_id, device_id, bucket)
            );
            -- Kept two years by default, read over months: 30-day chunks.
            SELECT create_hypertable('vitals_1m', 'bucket', chunk_time_interval => interval '30 days');

            -- How far each rollup has read, by the time readings were received (received_at), not
            -- their device time: a late reading or a device clock behind is received after the
            -- watermark and so is rolled up on the next run.
            CREATE TABLE rollup_watermarks (
                name    text PRIMARY KEY,
                through timestamptz NOT NULL
            );
            -- The rollup reads vitals by received_at. BRIN, not B-tree: rows land in received
            -- order, so a summary per range of pages is enough, and the COPY path barely pays for
            -- it. autosummarize: a filled range is summarized at once, not at the next vacuum
            -- (an unsummarized range matches every search).
            CREATE INDEX vitals_received_brin ON vitals USING brin (received_at) WITH (pages_per_range = 32, autosummarize = on);

            -- drop_chunks needs the hypertables' owner; Wardline's role owns nothing. This
            -- function (the owner's rights, a fixed search_path) drops raw chunks past raw_days
            -- only while none of their rows was received after the rollup's watermark (never
            -- what is not rolled up), oldest first, and rollup chunks past rollup_days. It gives
            -- the caller nothing it could not do already with DELETE, so EXECUTE stays public
            -- (only the owner and Wardline's role may connect).
            CREATE FUNCTION wardline_drop_old_chunks(raw_days integer, rollup_days integer,
                                                     OUT raw_chunks integer, OUT rollup_chunks integer)
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
            DECLARE
                wm timestamptz;
                c record;
                unrolled boolean;
                safe_end timestamptz;
            BEGIN
                raw_chunks := 0;
                rollup_chunks := 0;
                IF raw_days < 1 OR rollup_days < 1 THEN
                    RAISE EXCEPTION 'retention must be at least a day';
                END IF;
                SELECT through INTO wm FROM rollup_watermarks WHERE name = 'vitals_1m';
                IF wm IS NOT NULL THEN
                    FOR c IN SELECT chunk_schema, chunk_name, range_end FROM timescaledb_information.chunks
                             WHERE hypertable_schema = 'public' AND hypertable_name = 'vitals'
                               AND range_end <= now() - raw_days * interval '1 day'
                             ORDER BY range_end LOOP
                        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I WHERE received_at > $1)', c.chunk_schema, c.chunk_name)
                            INTO unrolled USING wm;
                        EXIT WHEN unrolled;
                        safe_end := c.range_end;
                    END LOOP;
                    IF safe_end IS NOT NULL THEN
                        SELECT count(*) INTO raw_chunks FROM drop_chunks('vitals', older_than => safe_end);
                    END IF;
                END IF;
                SELECT count(*) INTO rollup_chunks
                FROM drop_chunks('vitals_1m', older_than => now() - rollup_days * interval '1 day');
            END
            $fn$;
            """),
        Migration(version: 13, name: "the devices' own alerts and status, as they came, for replays", sql: """
            -- Every device alert and status message Wardline received, append-only (device_status
            -- keeps only the latest per device): what a replay of recorded history runs through the
            -- engine beside the readings (a signal-loss alert, a device gone offline, a battery).
            -- Written by the batch writer in the batch's transaction; a journal replay or a second
            -- engine node writes the same message again, so it is keyed by what it is: the device,
            -- when Wardline received it, its kind and an alert's code (a status has code '').
            CREATE TABLE device_events (
                received_at timestamptz NOT NULL,
                device_id   text COLLATE "C" NOT NULL,
                kind        text NOT NULL CHECK (kind IN ('alert', 'status')),
                code        text NOT NULL DEFAULT '',
                device_time timestamptz,
                patient_id  text,
                priority    text,
                message     text,
                state       text,
                firmware    text,
                battery     real,
                UNIQUE (device_id, received_at, kind, code)
            );
            SELECT create_hypertable('device_events', 'received_at', chunk_time_interval => interval '1 day');

            -- Retention: device events go with the raw readings (raw_days); nothing rolls them up.
            CREATE OR REPLACE FUNCTION wardline_drop_old_chunks(raw_days integer, rollup_days integer,
                                                                OUT raw_chunks integer, OUT rollup_chunks integer)
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
            DECLARE
                wm timestamptz;
                c record;
                unrolled boolean;
                safe_end timestamptz;
                events integer;
            BEGIN
                raw_chunks := 0;
                rollup_chunks := 0;
                IF raw_days < 1 OR rollup_days < 1 THEN
                    RAISE EXCEPTION 'retention must be at least a day';
                END IF;
                SELECT through INTO wm FROM rollup_watermarks WHERE name = 'vitals_1m';
                IF wm IS NOT NULL THEN
                    FOR c IN SELECT chunk_schema, chunk_name, range_end FROM timescaledb_information.chunks
                             WHERE hypertable_schema = 'public' AND hypertable_name = 'vitals'
                               AND range_end <= now() - raw_days * interval '1 day'
                             ORDER BY range_end LOOP
                        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I WHERE received_at > $1)', c.chunk_schema, c.chunk_name)
                            INTO unrolled USING wm;
                        EXIT WHEN unrolled;
                        safe_end := c.range_end;
                    END LOOP;
                    IF safe_end IS NOT NULL THEN
                        SELECT count(*) INTO raw_chunks FROM drop_chunks('vitals', older_than => safe_end);
                    END IF;
                END IF;
                SELECT count(*) INTO events FROM drop_chunks('device_events', older_than => now() - raw_days * interval '1 day');
                raw_chunks := raw_chunks + events;
                SELECT count(*) INTO rollup_chunks
                FROM drop_chunks('vitals_1m', older_than => now() - rollup_days * interval '1 day');
            END
            $fn$;
            """),
    ]
}

/// Applies pending migrations and reports the schema's version.
public struct Migrator {
    private let db: PostgresConnection

    public init(_ db: PostgresConnection) { self.db = db }

    public var latestVersion: Int { Migrations.all.map(\.version).max() ?? 0 }

    /// The highest applied version (0 for an empty database).
    public func currentVersion() throws -> Int {
        try appliedVersions().max() ?? 0
    }

    /// Migrations not yet applied, in version order. By set rather than by "newer than the
    /// highest": branches merge migrations out of order (6 can land before 5), and a database
    /// that already has 6 must still get 5.
    public func pending() throws -> [Migration] {
        let applied = try appliedVersions()
        return Migrations.all.filter { !applied.contains($0.version) }.sorted { $0.version < $1.version }
    }

    /// Only reads: `serve` and `worker` check the schema with a role that may not create tables.
    private func appliedVersions() throws -> Set<Int> {
        let exists = try db.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").rows.first?.first.flatMap { $0 }
        guard exists == "t" else { return [] }
        return Set(try db.execute("SELECT version FROM schema_migrations").rows.compactMap { $0.first.flatMap { $0 }.flatMap { Int($0) } })
    }

    /// Applies every migration the database lacks; returns those applied.
    @discardableResult
    public func migrate() throws -> [Migration] {
        try db.execute("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
            """)
        let pending = try pending()
        for m in pending {
            try db.transaction {
                try db.execute(m.sql)
                try db.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [String(m.version), m.name])
            }
        }
        return pending
    }
}

import Synchronization
import WardlineCore
import WardlineIngest
import WardlineRuntime
import WardlineWeb

/// `/metrics` in the Prometheus text format: the pipeline's counters, the ring, the writer, the
/// journal, the device clocks, the hub. Written by swift-prometheus's registry (`counters.registry`,
/// through `MetricsExposition`): the values are read here, at scrape time, from the atomics and
/// gauges that keep them; the histograms (`Timing`) are recorded into the registry where they happen.
/// Every name, type, label and HELP text below is what dashboards and the integration tests read.
package struct MetricsText {
    package let counters: PipelineCounters
    package let web: WebStats
    package let ringOccupancy: () -> Int
    package let ringCapacity: Int
    package let writerWaiting: () -> Int
    package let journal: () -> (freeBytes: Int, watermarkBytes: Int, paused: Bool)
    package let clocks: DeviceClocks

    package init(counters: PipelineCounters, web: WebStats, ringOccupancy: @escaping () -> Int, ringCapacity: Int,
                 writerWaiting: @escaping () -> Int, journal: @escaping () -> (freeBytes: Int, watermarkBytes: Int, paused: Bool),
                 clocks: DeviceClocks) {
        self.counters = counters
        self.web = web
        self.ringOccupancy = ringOccupancy
        self.ringCapacity = ringCapacity
        self.writerWaiting = writerWaiting
        self.journal = journal
        self.clocks = clocks
    }

    package func render() -> String {
        counters.exposition.text { out in
            func counter(_ name: String, _ help: String, _ value: Int) { out.counter(name, help: help, value) }
            func counter(_ name: String, _ help: String, _ label: String, _ samples: [(String, Int)]) {
                out.counter(name, help: help, samples.map { (labels: [(label, $0.0)], value: $0.1) })
            }
            func gauge(_ name: String, _ help: String, _ value: Int) { out.gauge(name, help: help, value) }
            func load(_ value: borrowing Atomic<Int>) -> Int { value.load(ordering: .relaxed) }
            let c = counters
            counter("wardline_messages_received_total", "MQTT messages received.", c.messagesReceived.count)
            counter("wardline_readings_accepted_total", "Readings accepted by validation.", c.readingsAccepted.count)
            counter("wardline_rejected_total", "Messages or elements rejected, by reason.",
                    "reason", c.rejectedByReason.map { ($0.0.rawValue, $0.1) })
            counter("wardline_rejected_unsampled_total",
                    "Rejections past the per-device, per-reason sampling budget: counted in rejected_message_counts, not stored.",
                    "reason", c.rejectedUnsampledByReason.map { ($0.0.rawValue, $0.1) })
            counter("wardline_rejected_expired_total", "Rejected messages deleted by the retention job.", c.rejectedExpired.count)
            counter("wardline_rollup_minutes_total", "Minute rollups (vitals_1m rows) written by the rollup job.", c.rollupMinutes.count)
            counter("wardline_rollup_readings_total", "Readings in the minute rollups the rollup job wrote (recomputed minutes again).",
                    c.rollupReadings.count)
            counter("wardline_chunks_dropped_total", "Hypertable chunks dropped past their retention, by hypertable.",
                    "hypertable", [("vitals", c.rawChunksDropped.count), ("vitals_1m", c.rollupChunksDropped.count)])
            counter("wardline_rows_expired_total", "Rows deleted past their retention by the rollup job, by table.",
                    "table", [("outbox", c.outboxExpired.count), ("task_outbox", c.taskOutboxExpired.count),
                              ("engine_command_results", c.commandResultsExpired.count)])
            counter("wardline_rows_inserted_total", "Readings committed to TimescaleDB.", c.rowsInserted.count)
            counter("wardline_duplicate_readings_total", "Redelivered readings stored once.", c.duplicateReadings.count)
            counter("wardline_messages_forwarded_total", "--role ingest: device messages Kafka confirmed on the device-message topic.",
                    c.messagesForwarded.count)
            counter("wardline_forward_retries_total", "--role ingest: sends to the device-message topic tried again (never dropped).",
                    c.forwardRetries.count)
            gauge("wardline_partitions_held", "--role engine: partitions of the device-message topic this node holds.",
                  load(c.partitionsHeld))
            counter("wardline_partitions_adopted_total", "--role engine: partitions adopted (first read or taken over).",
                    c.partitionsAdopted.count)
            counter("wardline_commands_answered_total", "--role engine: hubs' commands (acknowledgements) answered.",
                    c.commandsAnswered.count)
            counter("wardline_topic_records_refused_total", "--role engine: device-message topic records without a valid header, skipped.",
                    c.topicRecordsRefused.count)
            gauge("wardline_ring_occupancy", "Items waiting in the ring between MQTT and the engine.", ringOccupancy())
            gauge("wardline_ring_capacity", "Slots in the ring.", ringCapacity)
            counter("wardline_ring_full_waits_total", "Times ingest waited on a full ring.", c.ringFullWaits.count)
            gauge("wardline_writer_waiting", "Readings waiting for the database writer.", writerWaiting())
            let j = journal()
            gauge("wardline_journal_free_bytes", "Free space on the journal's file system.", j.freeBytes)
            gauge("wardline_journal_watermark_bytes", "Free space below which MQTT intake pauses.", j.watermarkBytes)
            gauge("wardline_intake_paused", "1 while MQTT intake is paused for lack of journal room (the broker holds readings).", j.paused ? 1 : 0)
            counter("wardline_intake_pauses_total", "Times MQTT intake paused for lack of journal room.", c.journalPauses.count)
            counter("wardline_journal_failures_total", "Messages the journal could not take (not acknowledged; the broker sends them again).",
                    c.journalFailures.count)
            out.summary("wardline_batch_write_seconds", help: "Time to write one batch to TimescaleDB.",
                        sum: Double(c.batchWriteMicros.count) / 1e6, count: c.batchesCommitted.count)
            let clock = clocks.summary
            gauge("wardline_device_clock_offset_max_ms",
                  "Largest measured device clock offset either way (ms; each device's is in GET /api/v1/devices).", Int(clock.largest))
            gauge("wardline_devices_clock_beyond_bound",
                  "Devices whose clock is further from Wardline's than WARDLINE_DEVICE_CLOCK_ALARM_S.", clock.beyondBound)
            counter("wardline_put_aside_total", "Rows the database refused for their data, set aside in put_aside, by writer.",
                    "writer", c.putAsideByWriter.map { ($0.0.rawValue, $0.1) })
            counter("wardline_alarms_raised_total", "Alarms raised by the engine.", c.alarmsRaised.count)
            gauge("wardline_alarms_open", "Alarms open (active or acknowledged) now.", c.openAlarms.load(ordering: .relaxed))
            counter("wardline_acknowledgements_total", "Alarms acknowledged through the API or the hub.", c.acknowledgements.count)
            counter("wardline_events_published_total", "Alarm events delivered to Kafka.", c.eventsPublished.count)
            counter("wardline_readings_fed_total", "Scored readings confirmed on the Kafka readings feed.", c.readingsFed.count)
            counter("wardline_readings_not_fed_total", "Scored readings the Kafka readings feed could not take.", c.readingsNotFed.count)
            counter("wardline_hub_feed_records_total", "Records a hub node read off the alarm-event and scored-readings topics.", c.hubFeedRecords.count)
            counter("wardline_hub_feed_bad_records_total", "Records a hub node could not read and skipped.", c.hubFeedBadRecords.count)
            let w = web
            gauge("wardline_websocket_sessions", "Authenticated WebSocket sessions open.", load(w.sessions))
            counter("wardline_websocket_frames_sent_total", "Frames written to WebSocket clients.", load(w.framesSent))
            counter("wardline_websocket_auth_refused_total", "WebSocket connections refused for their token.", load(w.authRefused))
            counter("wardline_websocket_token_expired_total", "Open WebSockets closed (4401) when their token expired.", load(w.tokensExpired))
            counter("wardline_websocket_vitals_coalesced_total", "Vitals frames replaced by a newer one before a slow socket took them.",
                    load(w.vitalsCoalesced))
            counter("wardline_websocket_unconfirmed_alarm_disconnects_total",
                    "Screens closed for not confirming an alarm in time (their on-call colleagues are told).", load(w.unconfirmedAlarmDisconnects))
            counter("wardline_websocket_slow_disconnects_total", "Clients disconnected for not taking their alarms.", load(w.slowClientsDisconnected))
            counter("wardline_websocket_refused_subscriptions_total", "Patient subscriptions refused.", load(w.refusedSubscriptions))
            counter("wardline_websocket_bad_frames_total", "Malformed client frames.", load(w.badClientFrames))
            counter("wardline_websocket_handshakes_refused_total",
                    "WebSocket handshakes refused: a page of another origin (403), too many sockets open (503).",
                    "reason", [("origin", load(w.originsRefused)), ("connections", load(w.socketsRefused))])
            counter("wardline_rate_limited_total", "Per-token rate limit: REST requests answered 429, client frames dropped.",
                    "channel", [("rest", load(w.rateLimitedRequests)), ("socket", load(w.rateLimitedFrames))])
            counter("wardline_http_unauthenticated_bodies_refused_total", "Request bodies refused (401) before being read, for want of a valid token.",
                    load(w.unauthenticatedBodiesRefused))
            counter("wardline_http_requests_total", "REST requests.", load(w.httpRequests))
        }
    }
}

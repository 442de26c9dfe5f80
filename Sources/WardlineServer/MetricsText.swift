import WardlineCore
import WardlineIngest
import WardlineRuntime
import WardlineWeb

/// `/metrics` in the Prometheus text format: the pipeline's counters, the ring, the writer, the
/// hub. Hand-assembled because these are plain counters and gauges already kept elsewhere; no
/// metrics library is linked for one text page.
struct MetricsText {
    let counters: PipelineCounters
    let web: WebStats
    let ringOccupancy: () -> Int
    let ringCapacity: Int
    let writerWaiting: () -> Int
    let journal: () -> (freeBytes: Int, watermarkBytes: Int, paused: Bool)
    let clocks: DeviceClocks

    func render() -> String {
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, Int)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples { out += "\(name)\(labels) \(value)\n" }
        }
        let c = counters
        metric("wardline_messages_received_total", "counter", "MQTT messages received.", [("", c.messagesReceived.count)])
        metric("wardline_readings_accepted_total", "counter", "Readings accepted by validation.", [("", c.readingsAccepted.count)])
        metric("wardline_rejected_total", "counter", "Messages or elements rejected, by reason.",
               c.rejectedByReason.map { ("{reason=\"\($0.0.rawValue)\"}", $0.1) })
        metric("wardline_rejected_unsampled_total", "counter",
               "Rejections past the per-device, per-reason sampling budget: counted in rejected_message_counts, not stored.",
               c.rejectedUnsampledByReason.map { ("{reason=\"\($0.0.rawValue)\"}", $0.1) })
        metric("wardline_rejected_expired_total", "counter", "Rejected messages deleted by the retention job.",
               [("", c.rejectedExpired.count)])
        metric("wardline_rows_inserted_total", "counter", "Readings committed to TimescaleDB.", [("", c.rowsInserted.count)])
        metric("wardline_duplicate_readings_total", "counter", "Redelivered readings stored once.", [("", c.duplicateReadings.count)])
        metric("wardline_ring_occupancy", "gauge", "Items waiting in the ring between MQTT and the engine.", [("", ringOccupancy())])
        metric("wardline_ring_capacity", "gauge", "Slots in the ring.", [("", ringCapacity)])
        metric("wardline_ring_full_waits_total", "counter", "Times ingest waited on a full ring.", [("", c.ringFullWaits.count)])
        metric("wardline_writer_waiting", "gauge", "Readings waiting for the database writer.", [("", writerWaiting())])
        let j = journal()
        metric("wardline_journal_free_bytes", "gauge", "Free space on the journal's file system.", [("", j.freeBytes)])
        metric("wardline_journal_watermark_bytes", "gauge", "Free space below which MQTT intake pauses.", [("", j.watermarkBytes)])
        metric("wardline_intake_paused", "gauge", "1 while MQTT intake is paused for lack of journal room (the broker holds readings).",
               [("", j.paused ? 1 : 0)])
        metric("wardline_intake_pauses_total", "counter", "Times MQTT intake paused for lack of journal room.", [("", c.journalPauses.count)])
        metric("wardline_journal_failures_total", "counter", "Messages the journal could not take (not acknowledged; the broker sends them again).",
               [("", c.journalFailures.count)])
        out += "# HELP wardline_batch_write_seconds Time to write one batch to TimescaleDB.\n# TYPE wardline_batch_write_seconds summary\n"
        out += "wardline_batch_write_seconds_sum \(Double(c.batchWriteMicros.count) / 1e6)\n"
        out += "wardline_batch_write_seconds_count \(c.batchesCommitted.count)\n"
        let clock = clocks.summary
        metric("wardline_device_clock_offset_max_ms", "gauge",
               "Largest measured device clock offset either way (ms; each device's is in GET /api/v1/devices).", [("", Int(clock.largest))])
        metric("wardline_devices_clock_beyond_bound", "gauge",
               "Devices whose clock is further from Wardline's than WARDLINE_DEVICE_CLOCK_ALARM_S.", [("", clock.beyondBound)])
        metric("wardline_put_aside_total", "counter", "Rows the database refused for their data, set aside in put_aside, by writer.",
               c.putAsideByWriter.map { ("{writer=\"\($0.0.rawValue)\"}", $0.1) })
        metric("wardline_alarms_raised_total", "counter", "Alarms raised by the engine.", [("", c.alarmsRaised.count)])
        metric("wardline_alarms_open", "gauge", "Alarms open (active or acknowledged) now.", [("", c.openAlarms.load(ordering: .relaxed))])
        metric("wardline_acknowledgements_total", "counter", "Alarms acknowledged through the API or the hub.", [("", c.acknowledgements.count)])
        metric("wardline_events_published_total", "counter", "Alarm events delivered to Kafka.", [("", c.eventsPublished.count)])
        metric("wardline_readings_fed_total", "counter", "Scored readings confirmed on the Kafka readings feed.", [("", c.readingsFed.count)])
        metric("wardline_readings_not_fed_total", "counter", "Scored readings the Kafka readings feed could not take.", [("", c.readingsNotFed.count)])
        metric("wardline_websocket_sessions", "gauge", "Authenticated WebSocket sessions open.", [("", web.sessions.load(ordering: .relaxed))])
        metric("wardline_websocket_frames_sent_total", "counter", "Frames written to WebSocket clients.", [("", web.framesSent.load(ordering: .relaxed))])
        metric("wardline_websocket_auth_refused_total", "counter", "WebSocket connections refused for their token.", [("", web.authRefused.load(ordering: .relaxed))])
        metric("wardline_websocket_token_expired_total", "counter", "Open WebSockets closed (4401) when their token expired.", [("", web.tokensExpired.load(ordering: .relaxed))])
        metric("wardline_websocket_vitals_coalesced_total", "counter", "Vitals frames replaced by a newer one before a slow socket took them.",
               [("", web.vitalsCoalesced.load(ordering: .relaxed))])
        metric("wardline_websocket_unconfirmed_alarm_disconnects_total", "counter",
               "Screens closed for not confirming an alarm in time (their on-call colleagues are told).",
               [("", web.unconfirmedAlarmDisconnects.load(ordering: .relaxed))])
        metric("wardline_websocket_slow_disconnects_total", "counter", "Clients disconnected for not taking their alarms.",
               [("", web.slowClientsDisconnected.load(ordering: .relaxed))])
        metric("wardline_websocket_refused_subscriptions_total", "counter", "Patient subscriptions refused.",
               [("", web.refusedSubscriptions.load(ordering: .relaxed))])
        metric("wardline_websocket_bad_frames_total", "counter", "Malformed client frames.", [("", web.badClientFrames.load(ordering: .relaxed))])
        metric("wardline_websocket_handshakes_refused_total", "counter", "WebSocket handshakes refused: a page of another origin (403), too many sockets open (503).",
               [("{reason=\"origin\"}", web.originsRefused.load(ordering: .relaxed)), ("{reason=\"connections\"}", web.socketsRefused.load(ordering: .relaxed))])
        metric("wardline_rate_limited_total", "counter", "Per-token rate limit: REST requests answered 429, client frames dropped.",
               [("{channel=\"rest\"}", web.rateLimitedRequests.load(ordering: .relaxed)), ("{channel=\"socket\"}", web.rateLimitedFrames.load(ordering: .relaxed))])
        metric("wardline_http_unauthenticated_bodies_refused_total", "counter", "Request bodies refused (401) before being read, for want of a valid token.",
               [("", web.unauthenticatedBodiesRefused.load(ordering: .relaxed))])
        metric("wardline_http_requests_total", "counter", "REST requests.", [("", web.httpRequests.load(ordering: .relaxed))])
        return out
    }
}

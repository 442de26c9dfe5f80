import Synchronization
import Testing
import WardlineCore
import WardlineIngest
import WardlineRuntime
import WardlineWeb
import WardlineServer

/// `/metrics` as swift-prometheus writes it: every family dashboards and the integration tests read,
/// with its type and HELP text as before, and the values of a known set of counts.
@Suite struct MetricsTextTests {
    /// Every family `/metrics` had when it was written by hand: name, type, HELP. None may change.
    static let contract: [(name: String, type: String, help: String)] = [
        ("wardline_messages_received_total", "counter", "MQTT messages received."),
        ("wardline_readings_accepted_total", "counter", "Readings accepted by validation."),
        ("wardline_rejected_total", "counter", "Messages or elements rejected, by reason."),
        ("wardline_rejected_unsampled_total", "counter", "Rejections past the per-device, per-reason sampling budget: counted in rejected_message_counts, not stored."),
        ("wardline_rejected_expired_total", "counter", "Rejected messages deleted by the retention job."),
        ("wardline_rollup_minutes_total", "counter", "Minute rollups (vitals_1m rows) written by the rollup job."),
        ("wardline_rollup_readings_total", "counter", "Readings in the minute rollups the rollup job wrote (recomputed minutes again)."),
        ("wardline_chunks_dropped_total", "counter", "Hypertable chunks dropped past their retention, by hypertable."),
        ("wardline_rows_expired_total", "counter", "Rows deleted past their retention by the rollup job, by table."),
        ("wardline_rows_inserted_total", "counter", "Readings committed to TimescaleDB."),
        ("wardline_duplicate_readings_total", "counter", "Redelivered readings stored once."),
        ("wardline_messages_forwarded_total", "counter", "--role ingest: device messages Kafka confirmed on the device-message topic."),
        ("wardline_forward_retries_total", "counter", "--role ingest: sends to the device-message topic tried again (never dropped)."),
        ("wardline_partitions_held", "gauge", "--role engine: partitions of the device-message topic this node holds."),
        ("wardline_partitions_adopted_total", "counter", "--role engine: partitions adopted (first read or taken over)."),
        ("wardline_commands_answered_total", "counter", "--role engine: hubs' commands (acknowledgements) answered."),
        ("wardline_topic_records_refused_total", "counter", "--role engine: device-message topic records without a valid header, skipped."),
        ("wardline_ring_occupancy", "gauge", "Items waiting in the ring between MQTT and the engine."),
        ("wardline_ring_capacity", "gauge", "Slots in the ring."),
        ("wardline_ring_full_waits_total", "counter", "Times ingest waited on a full ring."),
        ("wardline_writer_waiting", "gauge", "Readings waiting for the database writer."),
        ("wardline_journal_free_bytes", "gauge", "Free space on the journal's file system."),
        ("wardline_journal_watermark_bytes", "gauge", "Free space below which MQTT intake pauses."),
        ("wardline_intake_paused", "gauge", "1 while MQTT intake is paused for lack of journal room (the broker holds readings)."),
        ("wardline_intake_pauses_total", "counter", "Times MQTT intake paused for lack of journal room."),
        ("wardline_journal_failures_total", "counter", "Messages the journal could not take (not acknowledged; the broker sends them again)."),
        ("wardline_device_clock_offset_max_ms", "gauge", "Largest measured device clock offset either way (ms; each device's is in GET /api/v1/devices)."),
        ("wardline_devices_clock_beyond_bound", "gauge", "Devices whose clock is further from Wardline's than WARDLINE_DEVICE_CLOCK_ALARM_S."),
        ("wardline_put_aside_total", "counter", "Rows the database refused for their data, set aside in put_aside, by writer."),
        ("wardline_alarms_raised_total", "counter", "Alarms raised by the engine."),
        ("wardline_alarms_open", "gauge", "Alarms open (active or acknowledged) now."),
        ("wardline_acknowledgements_total", "counter", "Alarms acknowledged through the API or the hub."),
        ("wardline_events_published_total", "counter", "Alarm events delivered to Kafka."),
        ("wardline_readings_fed_total", "counter", "Scored readings confirmed on the Kafka readings feed."),
        ("wardline_readings_not_fed_total", "counter", "Scored readings the Kafka readings feed could not take."),
        ("wardline_hub_feed_records_total", "counter", "Records a hub node read off the alarm-event and scored-readings topics."),
        ("wardline_hub_feed_bad_records_total", "counter", "Records a hub node could not read and skipped."),
        ("wardline_websocket_sessions", "gauge", "Authenticated WebSocket sessions open."),
        ("wardline_websocket_frames_sent_total", "counter", "Frames written to WebSocket clients."),
        ("wardline_websocket_auth_refused_total", "counter", "WebSocket connections refused for their token."),
        ("wardline_websocket_token_expired_total", "counter", "Open WebSockets closed (4401) when their token expired."),
        ("wardline_websocket_vitals_coalesced_total", "counter", "Vitals frames replaced by a newer one before a slow socket took them."),
        ("wardline_websocket_unconfirmed_alarm_disconnects_total", "counter", "Screens closed for not confirming an alarm in time (their on-call colleagues are told)."),
        ("wardline_websocket_slow_disconnects_total", "counter", "Clients disconnected for not taking their alarms."),
        ("wardline_websocket_refused_subscriptions_total", "counter", "Patient subscriptions refused."),
        ("wardline_websocket_bad_frames_total", "counter", "Malformed client frames."),
        ("wardline_websocket_handshakes_refused_total", "counter", "WebSocket handshakes refused: a page of another origin (403), too many sockets open (503)."),
        ("wardline_rate_limited_total", "counter", "Per-token rate limit: REST requests answered 429, client frames dropped."),
        ("wardline_http_unauthenticated_bodies_refused_total", "counter", "Request bodies refused (401) before being read, for want of a valid token."),
        ("wardline_http_requests_total", "counter", "REST requests."),
        ("wardline_batch_write_seconds", "summary", "Time to write one batch to TimescaleDB."),
    ]

    /// The exposition parsed: HELP and TYPE per family, and each sample line's value by series.
    struct Parsed {
        var help: [String: String] = [:]
        var type: [String: String] = [:]
        var samples: [String: String] = [:]
        var problems: [String] = []

        init(_ text: String) {
            var family: String?
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.isEmpty { continue }
                let words = line.split(separator: " ", maxSplits: 3).map(String.init)
                if line.hasPrefix("# HELP ") {
                    if help[words[2]] != nil { problems.append("two HELP lines for \(words[2])") }
                    help[words[2]] = words.count > 3 ? words[3] : ""
                    family = words[2]
                } else if line.hasPrefix("# TYPE ") {
                    if type[words[2]] != nil { problems.append("two TYPE lines for \(words[2])") }
                    type[words[2]] = words[3]
                    family = words[2]
                } else if line.hasPrefix("#") {
                    problems.append("unexpected comment: \(line)")
                } else {
                    let parts = line.split(separator: " ").map(String.init)
                    guard parts.count == 2, Double(parts[1]) != nil else { problems.append("not `series value`: \(line)"); continue }
                    let name = String(parts[0].prefix { $0 != "{" })
                    let base = ["_bucket", "_sum", "_count"].reduce(name) { n, suffix in
                        n.hasSuffix(suffix) && type[n] == nil ? String(n.dropLast(suffix.count)) : n
                    }
                    if base != family { problems.append("\(parts[0]) outside its family's HELP/TYPE block") }
                    if samples[parts[0]] != nil { problems.append("two samples for \(parts[0])") }
                    samples[parts[0]] = parts[1]
                }
            }
        }
    }

    static func scrape(_ counters: PipelineCounters, _ web: WebStats, clocks: DeviceClocks = DeviceClocks(alarmAbove: 60_000),
                       paused: Bool = false) -> String {
        MetricsText(counters: counters, web: web, ringOccupancy: { 17 }, ringCapacity: 65_536, writerWaiting: { 3 },
                    journal: { (freeBytes: 5_000_000_000, watermarkBytes: 1_073_741_824, paused: paused) }, clocks: clocks).render()
    }

    @Test func everyFamilyKeepsItsNameTypeAndHelp() {
        let parsed = Parsed(Self.scrape(PipelineCounters(), WebStats()))
        #expect(parsed.problems == [])
        for family in Self.contract {
            #expect(parsed.type[family.name] == family.type, "\(family.name)")
            #expect(parsed.help[family.name] == family.help, "\(family.name)")
        }
        // Every reason and writer is there from the start, at 0, so a rate() has a series to begin from.
        for reason in RejectReason.allCases {
            #expect(parsed.samples["wardline_rejected_total{reason=\"\(reason.rawValue)\"}"] == "0")
            #expect(parsed.samples["wardline_rejected_unsampled_total{reason=\"\(reason.rawValue)\"}"] == "0")
        }
        #expect(parsed.samples["wardline_put_aside_total{writer=\"vitals\"}"] == "0")
        #expect(parsed.samples["wardline_put_aside_total{writer=\"alarms\"}"] == "0")
        // The histograms, and nothing else beyond the contract.
        #expect(parsed.type["wardline_batch_write_duration_seconds"] == "histogram")
        #expect(parsed.type["wardline_alarm_commit_latency_seconds"] == "histogram")
        #expect(Set(parsed.type.keys) == Set(Self.contract.map(\.name) + ["wardline_batch_write_duration_seconds", "wardline_alarm_commit_latency_seconds"]))
    }

    @Test func knownCountsGiveTheseLines() {
        let counters = PipelineCounters()
        counters.messagesReceived.add(7)
        counters.readingsAccepted.add(5)
        counters.rejected(.malformedJSON).add(2)
        counters.rejected(.patientMismatch).add()
        counters.rejectedUnsampled(.unknownDevice).add(40)
        counters.putAside(.vitals).add()
        counters.openAlarms.store(3, ordering: .relaxed)
        counters.batchWritten(nanoseconds: 4_000_000)
        counters.batchWritten(nanoseconds: 30_000_000)
        counters.batchesCommitted.add(2)
        counters.alarmCommitLatency.record(milliseconds: 12)
        counters.alarmCommitLatency.record(milliseconds: 3000)
        counters.alarmCommitLatency.record(milliseconds: -5)  // the clock stepped back: 0, not a negative sum
        counters.readingsFed.add(20)
        let web = WebStats()
        web.sessions.store(2, ordering: .relaxed)
        web.originsRefused.store(6, ordering: .relaxed)
        web.rateLimitedRequests.store(1, ordering: .relaxed)
        web.authRefused.store(4, ordering: .relaxed)
        let clocks = DeviceClocks(alarmAbove: 60_000)
        clocks.replace(["monitor-a": 120_000, "monitor-b": -5])
        let parsed = Parsed(Self.scrape(counters, web, clocks: clocks, paused: true))
        #expect(parsed.problems == [])
        let expected: [String: String] = [
            "wardline_messages_received_total": "7",
            "wardline_readings_accepted_total": "5",
            "wardline_rejected_total{reason=\"malformed_json\"}": "2",
            "wardline_rejected_total{reason=\"patient_mismatch\"}": "1",
            "wardline_rejected_total{reason=\"wrong_type\"}": "0",
            "wardline_rejected_unsampled_total{reason=\"unknown_device\"}": "40",
            "wardline_put_aside_total{writer=\"vitals\"}": "1",
            "wardline_put_aside_total{writer=\"alarms\"}": "0",
            "wardline_readings_fed_total": "20",
            "wardline_readings_not_fed_total": "0",
            "wardline_websocket_auth_refused_total": "4",
            "wardline_websocket_handshakes_refused_total{reason=\"origin\"}": "6",
            "wardline_websocket_handshakes_refused_total{reason=\"connections\"}": "0",
            "wardline_rate_limited_total{channel=\"rest\"}": "1",
            "wardline_rate_limited_total{channel=\"socket\"}": "0",
            // Gauges: swift-prometheus writes them as floating point.
            "wardline_alarms_open": "3.0",
            "wardline_websocket_sessions": "2.0",
            "wardline_ring_occupancy": "17.0",
            "wardline_ring_capacity": "65536.0",
            "wardline_writer_waiting": "3.0",
            "wardline_journal_free_bytes": "5000000000.0",
            "wardline_journal_watermark_bytes": "1073741824.0",
            "wardline_intake_paused": "1.0",
            "wardline_device_clock_offset_max_ms": "120000.0",
            "wardline_devices_clock_beyond_bound": "1.0",
            // The summary, as before: microseconds summed, batches counted.
            "wardline_batch_write_seconds_sum": "0.034",
            "wardline_batch_write_seconds_count": "2",
            // The histograms (cumulative buckets, seconds).
            "wardline_batch_write_duration_seconds_bucket{le=\"0.0025\"}": "0",
            "wardline_batch_write_duration_seconds_bucket{le=\"0.005\"}": "1",
            "wardline_batch_write_duration_seconds_bucket{le=\"0.05\"}": "2",
            "wardline_batch_write_duration_seconds_bucket{le=\"+Inf\"}": "2",
            "wardline_batch_write_duration_seconds_sum": "0.034",
            "wardline_batch_write_duration_seconds_count": "2",
            "wardline_alarm_commit_latency_seconds_bucket{le=\"0.005\"}": "1",
            "wardline_alarm_commit_latency_seconds_bucket{le=\"0.025\"}": "2",
            "wardline_alarm_commit_latency_seconds_bucket{le=\"2.5\"}": "2",
            "wardline_alarm_commit_latency_seconds_bucket{le=\"5.0\"}": "3",
            "wardline_alarm_commit_latency_seconds_bucket{le=\"60.0\"}": "3",
            "wardline_alarm_commit_latency_seconds_bucket{le=\"+Inf\"}": "3",
            "wardline_alarm_commit_latency_seconds_sum": "3.012",
            "wardline_alarm_commit_latency_seconds_count": "3",
        ]
        for (series, value) in expected.sorted(by: { $0.key < $1.key }) {
            #expect(parsed.samples[series] == value, "\(series)")
        }
    }

    @Test func laterScrapesFollowTheCountsAndSeveralRegistriesStayApart() {
        let counters = PipelineCounters(), other = PipelineCounters()
        let web = WebStats()
        counters.messagesReceived.add(7)
        other.messagesReceived.add(1000)
        web.vitalsCoalesced.store(50, ordering: .relaxed)
        #expect(Parsed(Self.scrape(counters, web)).samples["wardline_messages_received_total"] == "7")
        counters.messagesReceived.add(3)
        web.vitalsCoalesced.store(20, ordering: .relaxed)  // its source started again: a counter reset
        let second = Parsed(Self.scrape(counters, web))
        #expect(second.samples["wardline_messages_received_total"] == "10")
        #expect(second.samples["wardline_websocket_vitals_coalesced_total"] == "20")
        #expect(Parsed(Self.scrape(other, WebStats())).samples["wardline_messages_received_total"] == "1000")
        #expect(Parsed(Self.scrape(counters, web)).samples["wardline_messages_received_total"] == "10", "a scrape adds nothing")
    }
}

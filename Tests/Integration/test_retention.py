"""The vitals' minute rollup and the retentions (issue 15 part 5), against the real database.

Old readings are inserted as the owner with back-dated device time and received_at (old chunks
appear that way); a late reading is published over MQTT. Two serves run the job every second with
a 4 s settle margin; only the one holding the advisory lock does it.
"""
import datetime
import time
import urllib.parse

import psycopg

from conftest import now_ms, unique_prefix

ROLLUP_KEY_OBJID = 873497881  # LeadDuty.vitalsRollup in pg_locks (objid)
SETTINGS = dict(WARDLINE_ROLLUP_INTERVAL_S=1, WARDLINE_ROLLUP_SETTLE_S=4, WARDLINE_RAW_RETENTION_DAYS=30,
                WARDLINE_ROLLUP_RETENTION_DAYS=730, WARDLINE_DELIVERED_RETENTION_DAYS=7)
VITALS = ["hr", "spo2", "temp", "rr", "sbp", "dbp"]


def wait_until(check, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def minute_rows(db, patient):
    cols = ", ".join(f"{v}_n, {v}_min, {v}_avg, {v}_max" for v in VITALS)
    return db.query(f"SELECT device_id, (extract(epoch FROM bucket) * 1000)::bigint, n, {cols} "
                    f"FROM vitals_1m WHERE patient_id = %s ORDER BY 2", patient)


def chunks(db, table):
    return db.query("SELECT chunk_name, (extract(epoch FROM range_end) * 1000)::bigint FROM timescaledb_information.chunks "
                    "WHERE hypertable_name = %s ORDER BY range_end", table)


def ready_detail(w):
    return w.api("GET", "/ready")[1]["data"]["components"].get("vitals_rollup", {}).get("detail", "")


def metric(w, name):
    _, text, _ = w.api("GET", "/metrics")
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_rollup_retention_and_history_from_rollups(wardline_factory, publisher, db, database_url):
    p = unique_prefix()
    device, patient = p + "-mon", "PAT-" + p + "-mon"
    minute = 60_000
    m1 = (now_ms() - 40 * 86_400_000) // minute * minute  # raw chunk past the 30-day retention
    m2 = (now_ms() - 10 * 86_400_000) // minute * minute  # kept raw

    def ts(ms):
        return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)

    raw = [(m1 + 1_000, 1, 60, 95, 36.5), (m1 + 20_000, 2, 70, None, 37.0), (m1 + 59_000, 3, 80, 97, None),
           (m2 + 5_000, 4, 90, 98, None), (m2 + 10_000, 5, 100, 96, None)]
    for t, seq, hr, spo2, temp in raw:
        db.query("INSERT INTO vitals (time, device_id, patient_id, seq, hr, spo2, temp, received_at) "
                 "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING 1", ts(t), device, patient, seq, hr, spo2, temp, ts(t + 2_000))
    # Rollups past their retention (800 days) and inside it (700 days), written as by an old run.
    for days in (800, 700):
        db.query("INSERT INTO vitals_1m (patient_id, device_id, bucket, n, hr_n, hr_min, hr_avg, hr_max, spo2_n, temp_n, rr_n, sbp_n, dbp_n) "
                 "VALUES (%s, %s, date_trunc('minute', now()) - %s * interval '1 day', 1, 1, 50, 50, 50, 0, 0, 0, 0, 0) RETURNING 1",
                 patient, device, days)
    # Retention of the done rows: delivered long ago goes, undelivered and recent stay.
    outbox = db.query("INSERT INTO outbox (event_id, topic, payload, created_at, delivered_at) VALUES "
                      "(gen_random_uuid(), 't', '{}', now() - interval '20 days', now() - interval '10 days'), "
                      "(gen_random_uuid(), 't', '{}', now() - interval '20 days', NULL), "
                      "(gen_random_uuid(), 't', '{}', now() - interval '2 days', now() - interval '1 day') RETURNING id")
    tasks = db.query("INSERT INTO task_outbox (job_id, route, priority, due_at, payload, published_at) VALUES "
                     "(gen_random_uuid(), 'r', 1, now(), '{}', now() - interval '10 days'), "
                     "(gen_random_uuid(), 'r', 1, now(), '{}', NULL) RETURNING id")
    answers = db.query("INSERT INTO engine_command_results (request_id, status, code, message, answered_at) VALUES "
                       "(gen_random_uuid(), 200, 'ok', '', now() - interval '2 days'), "
                       "(gen_random_uuid(), 200, 'ok', '', now()) RETURNING request_id")

    # The devices' own alerts and status go with the raw readings' age, but wait for no rollup.
    events = db.query("INSERT INTO device_events (received_at, device_id, kind, code, priority) VALUES "
                      "(now() - interval '40 days', %s, 'alert', 'apnea', 'high'), (now() - interval '10 days', %s, 'alert', 'apnea', 'high') "
                      "RETURNING received_at", device, device)
    assert len(events) == 2
    # The rollup has not passed the old chunk: Wardline's role may not drop it yet.
    db.query("INSERT INTO rollup_watermarks (name, through) VALUES ('vitals_1m', now() - interval '41 days') "
             "ON CONFLICT (name) DO UPDATE SET through = excluded.through RETURNING 1")
    old_raw = [c for c in chunks(db, "vitals") if c[1] <= m1 + 86_400_000]
    assert old_raw, "the back-dated readings made an old chunk"
    assert [c for c in chunks(db, "vitals_1m") if c[1] < now_ms() - 730 * 86_400_000], "an old rollup chunk"
    with psycopg.connect(database_url, autocommit=True) as app:
        assert app.execute("SELECT raw_chunks, rollup_chunks FROM wardline_drop_old_chunks(30, 730)").fetchone() == (1, 1)
    assert [c for c in chunks(db, "vitals") if c[1] <= m1 + 86_400_000] == old_raw, "not rolled up: not dropped"
    assert db.scalar("SELECT count(*) FROM device_events WHERE device_id = %s", device) == 1, "the 40-day-old device event chunk dropped"
    assert not [c for c in chunks(db, "vitals_1m") if c[1] < now_ms() - 730 * 86_400_000], "rollups past 730 days dropped"
    assert [r[1] // 86_400_000 for r in minute_rows(db, patient)] == [(now_ms() - 700 * 86_400_000) // 86_400_000], "700 days kept"

    nodes = [wardline_factory(**SETTINGS).start(), wardline_factory(**SETTINGS).start()]
    wait_until(lambda: db.scalar("SELECT through > now() - interval '1 minute' FROM rollup_watermarks WHERE name = 'vitals_1m'"),
               30, "the rollup catching up")
    rows = {r[1]: r for r in minute_rows(db, patient)}
    hr = lambda r: r[3:7]  # noqa: E731
    spo2 = lambda r: r[7:11]  # noqa: E731
    temp = lambda r: r[11:15]  # noqa: E731
    assert rows[m1][2] == 3 and hr(rows[m1]) == (3, 60, 70, 80), rows[m1]
    assert spo2(rows[m1]) == (2, 95, 96, 97) and temp(rows[m1]) == (2, 36.5, 36.75, 37.0)
    assert rows[m1][15:19] == (0, None, None, None), "rr: no reading had it"
    assert rows[m2][2] == 2 and hr(rows[m2]) == (2, 90, 95, 100) and spo2(rows[m2]) == (2, 96, 97, 98)
    # Raw chunks past the retention are gone once rolled up; newer kept. Rollups past 730 days gone.
    wait_until(lambda: not [c for c in chunks(db, "vitals") if c[1] <= m1 + 86_400_000], 10, "the old raw chunk dropped")
    assert db.scalar("SELECT count(*) FROM vitals WHERE patient_id = %s", patient) == 2
    assert not [c for c in chunks(db, "vitals_1m") if c[1] < now_ms() - 730 * 86_400_000]
    assert sorted(rows) == sorted(r[1] for r in minute_rows(db, patient)) and len(rows) == 3, "800 days dropped, 700 kept"
    # (The undelivered row may since have been delivered by the relay: it is kept either way.)
    assert [r[0] for r in db.query("SELECT id FROM outbox WHERE id = ANY(%s) ORDER BY id", [r[0] for r in outbox])] \
        == [outbox[1][0], outbox[2][0]]
    assert [r[0] for r in db.query("SELECT id FROM task_outbox WHERE id = ANY(%s)", [r[0] for r in tasks])] == [tasks[1][0]]
    assert [r[0] for r in db.query("SELECT request_id FROM engine_command_results WHERE request_id = ANY(%s)",
                                   [r[0] for r in answers])] == [answers[1][0]]

    # One node leads; the other stands by.
    wait_until(lambda: all(ready_detail(w) for w in nodes), 10, "both nodes reporting their standing")
    details = sorted(ready_detail(w)[:8] for w in nodes)
    assert details == ["leading:", "standing"], details
    assert db.scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND granted", ROLLUP_KEY_OBJID) == 1
    leader = next(w for w in nodes if ready_detail(w).startswith("leading"))
    other = next(w for w in nodes if w is not leader)
    assert metric(leader, "wardline_rollup_minutes_total") >= 2 and metric(other, "wardline_rollup_minutes_total") == 0
    assert metric(leader, 'wardline_chunks_dropped_total{hypertable="vitals"}') >= 1
    assert metric(leader, 'wardline_rows_expired_total{table="outbox"}') >= 1

    # Idempotent: rolling the same readings up again (the watermark set back) changes nothing,
    # and the minute whose raw chunk is gone is not overwritten.
    before = minute_rows(db, patient)
    db.query("UPDATE rollup_watermarks SET through = now() - interval '41 days' WHERE name = 'vitals_1m' RETURNING 1")
    wait_until(lambda: db.scalar("SELECT through > now() - interval '1 minute' FROM rollup_watermarks WHERE name = 'vitals_1m'"),
               30, "the rollup catching up again")
    assert minute_rows(db, patient) == before

    # A late reading (device time 10 days ago, received now) is left out inside the settle
    # margin and in after it, its minute recomputed whole.
    publisher.publish(f"devices/{device}/vitals", {"v": 1, "seq": 6, "ts": m2 + 30_000, "patient_id": patient, "hr": 110})
    publisher.wait_all_acked()
    assert db.wait_for("SELECT count(*) FROM vitals WHERE patient_id = %s", 3, patient, timeout=20) == 3
    received = db.scalar("SELECT (extract(epoch FROM received_at) * 1000)::bigint FROM vitals WHERE patient_id = %s AND seq = 6", patient)
    assert received > now_ms() - 3_000, "still inside the 4 s margin"
    assert {r[1]: r for r in minute_rows(db, patient)}[m2][2] == 2, "inside the settle margin: not yet"
    wait_until(lambda: {r[1]: r for r in minute_rows(db, patient)}[m2][2] == 3, 15, "the late reading rolled up")
    assert hr({r[1]: r for r in minute_rows(db, patient)}[m2]) == (3, 90, 100, 110)

    # History over ranges the raw table no longer holds comes from the rollups, in the same shape.
    admin = leader.token("a-" + p, "admin", "*")
    assert leader.api("PUT", f"/api/v1/patients/{patient}", admin, {"ward": "4B-" + p, "bed": "1"})[0] == 200
    status, body, _ = leader.api("GET", f"/api/v1/patients/{patient}/vitals?from={m1 - 3_600_000}&to={m1 + 3_600_000}&bucket=3600", admin)
    assert status == 200, body
    points = body["data"]["points"]
    assert len(points) == 1 and points[0]["count"] == 3, points
    assert points[0]["hr"] == {"min": 60, "avg": 70, "max": 80} and points[0]["temp"] == {"min": 36.5, "avg": 36.75, "max": 37}
    assert points[0]["rr"] is None
    status, body, _ = leader.api("GET", f"/api/v1/patients/{patient}/vitals?from={m2 - 86_400_000}&to={now_ms()}&bucket=86400", admin)
    assert status == 200, body
    assert [pt["count"] for pt in body["data"]["points"]] == [3] and body["data"]["points"][0]["hr"]["max"] == 110
    # The FHIR export's hourly means likewise (a range past 24 h is answered in hourly means).
    q = urllib.parse.urlencode([("patient", patient), ("code", "8867-4"),
                                ("date", "ge" + ts(m1 - 2 * 86_400_000).isoformat().replace("+00:00", "Z")),
                                ("date", "lt" + ts(m1 + 2 * 86_400_000).isoformat().replace("+00:00", "Z"))])
    status, bundle, _ = leader.api("GET", "/fhir/Observation?" + q, admin)
    assert status == 200, bundle
    means = [e["resource"] for e in bundle.get("entry", [])]
    assert [o["valueQuantity"]["value"] for o in means] == [70], means
    assert means[0]["note"][0]["text"].startswith("mean of 3 readings")

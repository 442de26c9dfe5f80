"""Foundation: MQTT → journal → ring → TimescaleDB, against the real broker and database."""
import json
import signal
import threading
import time

import pytest

from conftest import Publisher, now_ms, reading, services, unique_prefix

COUNT_ROWS = "SELECT count(*) FROM vitals WHERE device_id LIKE %s"


def publish_stream(pub, prefix, devices, per_device, start_seq=1):
    for seq in range(start_seq, start_seq + per_device):
        for d in range(devices):
            device = f"{prefix}-{d:03d}"
            pub.publish(f"devices/{device}/vitals", reading(device, seq))


def test_100k_readings_from_100_devices_arrive_as_100k_rows(wardline_factory, db, publisher):
    prefix = unique_prefix()
    w = wardline_factory().start()
    publish_stream(publisher, prefix, devices=100, per_device=1000)
    publisher.wait_all_acked()
    assert db.wait_for(COUNT_ROWS, 100_000, prefix + "-%") == 100_000
    per_device = db.query("SELECT count(*), count(DISTINCT seq) FROM vitals WHERE device_id LIKE %s GROUP BY device_id",
                          prefix + "-%")
    assert len(per_device) == 100 and all(n == 1000 and distinct == 1000 for n, distinct in per_device)
    assert w.stop() == 0


def test_a_duplicate_publish_is_stored_once(wardline_factory, db, publisher):
    prefix = unique_prefix()
    w = wardline_factory().start()
    body = reading(prefix + "-dup", 7)
    for _ in range(3):
        publisher.publish(f"devices/{prefix}-dup/vitals", body)
    # The same reading again inside a backlog array, as a device resending after reconnecting.
    publisher.publish(f"devices/{prefix}-dup/vitals", [body, reading(prefix + "-dup", 8)])
    publisher.wait_all_acked()
    assert db.wait_for(COUNT_ROWS, 2, prefix + "-%") == 2
    time.sleep(1)
    assert db.scalar(COUNT_ROWS, prefix + "-%") == 2
    assert db.scalar("SELECT count(*) FROM vitals WHERE device_id = %s AND seq = 7", prefix + "-dup") == 1
    w.stop()


def test_mixed_stream_stores_every_good_reading_and_rejects_every_bad_one(wardline_factory, db, publisher):
    prefix = unique_prefix()
    # Every rejection stored: a budget above this test's ~70 per reason (test_hostile_input.py tests the budget).
    w = wardline_factory(WARDLINE_REJECTED_SAMPLES_PER_DEVICE_REASON=1000).start()
    dev = prefix + "-mix"
    topic = f"devices/{dev}/vitals"
    ts = now_ms()
    bad = [
        (topic, b"{not json", "malformed_json"),
        (topic, json.dumps({"seq": "one", "ts": ts, "patient_id": "P", "hr": 70}), "wrong_type"),
        (topic, json.dumps({"seq": 1, "ts": ts, "patient_id": "P", "spo2": 104}), "impossible_value"),
        (topic, json.dumps({"seq": 1, "ts": ts, "patient_id": "P", "hr": -3}), "impossible_value"),
        (topic, json.dumps({"seq": 1, "ts": ts + 3_600_000, "patient_id": "P", "hr": 70}), "future_timestamp"),
        (topic, json.dumps({"seq": 1, "ts": ts, "hr": 70}), "unknown_device"),
        (topic, json.dumps({"seq": 1, "ts": ts, "patient_id": "P", "hr": 70, "pad": "x" * 70_000}), "oversized_payload"),
        (f"devices/{dev}!bad/vitals", json.dumps(reading(dev, 1)), "bad_characters"),
        (topic, json.dumps({"ts": ts, "patient_id": "P", "hr": 70}), "missing_field"),
    ]
    good = 0
    for i in range(300):
        publisher.publish(topic, reading(dev, 1000 + i))
        good += 1
        t, payload, _ = bad[i % len(bad)]
        publisher.publish(t, payload)
    # One backlog array with good and bad elements side by side.
    publisher.publish(topic, [reading(dev, 5000), {"seq": 5001, "ts": ts, "hr": "x"}, reading(dev, 5002)])
    good += 2
    publisher.wait_all_acked()

    assert db.wait_for(COUNT_ROWS, good, dev) == good
    expected = {}
    for i in range(300):
        reason = bad[i % len(bad)][2]
        expected[reason] = expected.get(reason, 0) + 1
    expected["wrong_type"] += 1
    total_bad = sum(expected.values())
    rejected_sql = "SELECT count(*) FROM rejected_messages WHERE device_id LIKE %s"
    assert db.wait_for(rejected_sql, total_bad, dev + "%") == total_bad
    rows = dict(db.query("SELECT reason, count(*) FROM rejected_messages WHERE device_id LIKE %s GROUP BY reason", dev + "%"))
    assert rows == expected
    # Each rejection says clearly why, and keeps (a prefix of) what was sent.
    detail, payload, size = db.query("SELECT detail, payload, payload_size FROM rejected_messages "
                                     "WHERE device_id = %s AND reason = 'oversized_payload' LIMIT 1", dev)[0]
    assert "limit is 65536" in detail and size > 70_000 and len(payload) <= 4096
    assert w.proc.poll() is None, "bad input never stops the pipeline"
    assert "reason=impossible_value" in w.log()
    assert "is outside" not in w.log() and "spo2 104" not in w.log(), "logs carry ids and reasons, never a patient's values"
    w.stop()


def test_readings_published_while_wardline_is_stopped_arrive_after_it_starts(wardline_factory, db, publisher):
    prefix = unique_prefix()
    w = wardline_factory().start()
    assert w.stop() == 0  # the broker now keeps a persistent session for Wardline
    publish_stream(publisher, prefix, devices=10, per_device=500)
    publisher.wait_all_acked()
    time.sleep(0.5)
    assert db.scalar(COUNT_ROWS, prefix + "-%") == 0
    w.start()
    assert db.wait_for(COUNT_ROWS, 5000, prefix + "-%") == 5000
    w.stop()


def test_readings_published_during_a_database_restart_all_arrive(wardline_factory, db, publisher):
    prefix = unique_prefix()
    # A small memory bound, so the outage also exercises the on-disk spill and its replay.
    w = wardline_factory(WARDLINE_WRITER_MEMORY_READINGS=1000).start()
    publish_stream(publisher, prefix, devices=20, per_device=100, start_seq=1)
    services("stop-db")
    try:
        publish_stream(publisher, prefix, devices=20, per_device=400, start_seq=101)
        publisher.wait_all_acked()
        time.sleep(2)
        assert w.proc.poll() is None, "ingest keeps running while the database is down"
    finally:
        services("start-db")
    publish_stream(publisher, prefix, devices=20, per_device=100, start_seq=501)
    publisher.wait_all_acked()
    assert db.wait_for(COUNT_ROWS, 12_000, prefix + "-%", timeout=180) == 12_000
    log = w.log()
    assert "database unavailable" in log
    assert "replaying readings spilled to the journal" in log
    w.stop()


def _publish_in_background(prefix, devices, per_device):
    pub = Publisher(prefix=prefix)
    thread = threading.Thread(target=lambda: (publish_stream(pub, prefix, devices, per_device), pub.wait_all_acked(240)))
    thread.start()
    return pub, thread


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_stopping_wardline_mid_stream_loses_nothing(wardline_factory, db, sig):
    prefix = unique_prefix()
    w = wardline_factory().start()
    pub, thread = _publish_in_background(prefix, devices=50, per_device=600)
    while db.scalar(COUNT_ROWS, prefix + "-%") < 3000:
        time.sleep(0.05)
    code = w.stop(sig)
    if sig == signal.SIGTERM:
        assert code == 0 and "shutdown complete" in w.log()
    w.start()
    if sig == signal.SIGKILL:
        assert "replayed journal from the last run" in w.log()
    thread.join()
    pub.close()
    assert db.wait_for(COUNT_ROWS, 30_000, prefix + "-%", timeout=180) == 30_000
    assert db.scalar("SELECT count(*) FROM (SELECT device_id, seq FROM vitals WHERE device_id LIKE %s "
                     "GROUP BY 1, 2 HAVING count(*) > 1) d", prefix + "-%") == 0
    w.stop()


def test_bad_database_configuration_is_a_clear_error_not_a_crash(wardline_factory):
    w = wardline_factory(WARDLINE_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none", WARDLINE_DATABASE_WAIT_S=1)
    w.start(wait=False)
    assert w.proc.wait(timeout=30) == 1
    assert "database unreachable after 1 s" in w.log()


def test_bad_setting_names_itself_and_exits(wardline_factory):
    w = wardline_factory(WARDLINE_BATCH_SIZE="lots")
    w.start(wait=False)
    assert w.proc.wait(timeout=30) == 78
    assert "WARDLINE_BATCH_SIZE=lots is not a whole number" in w.log()


def test_readings_around_a_broker_restart_all_arrive(wardline_factory, db):
    prefix = unique_prefix()
    w = wardline_factory().start()
    before = Publisher(prefix=prefix)
    publish_stream(before, prefix, devices=10, per_device=300, start_seq=1)
    before.wait_all_acked()
    before.close()
    services("stop-mqtt")  # a clean broker stop saves its store, Wardline's session queue with it
    services("start-mqtt")
    w.wait_for_log("mqtt connected", occurrences=2, timeout=60)
    after = Publisher(prefix=prefix)
    publish_stream(after, prefix, devices=10, per_device=300, start_seq=301)
    after.wait_all_acked()
    after.close()
    assert db.wait_for(COUNT_ROWS, 6000, prefix + "-%") == 6000
    assert "mqtt connection lost; reconnecting with backoff" in w.log()
    w.stop()


def test_a_broker_down_past_the_supervisors_bound_is_rejoined_and_serve_still_stops(wardline_factory, db):
    """Down for longer than the MQTT supervisor's 10 s: the supervisor ends and joins the network
    thread and connects with a new one (it used to cancel the thread, which could leave one of
    libmosquitto's mutexes locked: intake and shutdown hung for ever). Readings sent once the
    broker is back arrive, and SIGTERM still stops serve at once."""
    prefix = unique_prefix()
    w = wardline_factory().start()
    services("stop-mqtt")
    try:
        time.sleep(14)
    finally:
        services("start-mqtt")
    w.wait_for_log("mqtt connected", occurrences=2, timeout=60)
    after = Publisher(prefix=prefix)
    publish_stream(after, prefix, devices=5, per_device=100, start_seq=1)
    after.wait_all_acked()
    after.close()
    assert db.wait_for(COUNT_ROWS, 500, prefix + "-%") == 500
    started = time.time()
    assert w.stop(timeout=30) == 0
    assert time.time() - started < 20, "serve stopped within its shutdown grace"


def test_a_full_ring_applies_backpressure_and_loses_nothing(wardline_factory, db, publisher):
    prefix = unique_prefix()
    # A two-slot ring and a tiny memory bound: the MQTT thread must wait, often, and say so.
    w = wardline_factory(WARDLINE_RING_CAPACITY=2, WARDLINE_BATCH_SIZE=50).start()
    publish_stream(publisher, prefix, devices=20, per_device=250)
    publisher.wait_all_acked()
    assert db.wait_for(COUNT_ROWS, 5000, prefix + "-%") == 5000
    time.sleep(1.2)  # one more statistics line
    waits = [int(part.split("=")[1]) for line in w.log().splitlines() if "ring_full_waits=" in line
             for part in line.split() if part.startswith("ring_full_waits=")]
    assert waits and waits[-1] > 0, "the waits are counted"
    w.stop()


def _assign(w, token, device, patient):
    status, body, _ = w.api("PUT", f"/api/v1/devices/{device}/assignment", token, {"patient_id": patient})
    assert status == 200, body


def test_by_default_a_reading_reaches_a_patient_only_through_its_device_assignment(wardline_factory, db, publisher):
    """WARDLINE_PAYLOAD_PATIENT_ID=refuse (the default): a payload patient_id decides nothing."""
    p = unique_prefix()
    w = wardline_factory(WARDLINE_PAYLOAD_PATIENT_ID="refuse").start()
    admin = w.token("a1", "admin", "*")
    patient, other = f"PAT-{p}", f"PAT-{p}-other"
    for pat, bed in ((patient, "1"), (other, "2")):
        assert w.api("PUT", f"/api/v1/patients/{pat}", admin, {"ward": "4B-" + p, "bed": bed})[0] == 200
    stranger, monitor = f"{p}-stranger", f"{p}-mon"
    _assign(w, admin, monitor, patient)
    time.sleep(1.5)  # WARDLINE_ASSIGNMENT_REFRESH_S=1: the decoder's registry has the assignment
    ts = now_ms()
    # An unassigned device naming a patient: refused, stored nowhere but rejected_messages.
    publisher.publish(f"devices/{stranger}/vitals", {"v": 1, "seq": 1, "ts": ts, "patient_id": patient, "hr": 70})
    # The assigned device: without a patient_id, and repeating its own, it is the patient's.
    publisher.publish(f"devices/{monitor}/vitals", {"v": 1, "seq": 1, "ts": ts, "hr": 71})
    publisher.publish(f"devices/{monitor}/vitals", {"v": 1, "seq": 2, "ts": ts + 1000, "patient_id": patient, "hr": 72})
    # ... naming someone else: a mismatch, never re-routed.
    publisher.publish(f"devices/{monitor}/vitals", {"v": 1, "seq": 3, "ts": ts + 2000, "patient_id": other, "hr": 73})
    publisher.wait_all_acked()
    rejected = "SELECT count(*) FROM rejected_messages WHERE device_id = %s AND reason = %s"
    assert db.wait_for(rejected, 1, stranger, "unknown_device", timeout=20) == 1
    assert db.wait_for(rejected, 1, monitor, "patient_mismatch", timeout=20) == 1
    assert db.wait_for("SELECT count(*) FROM vitals WHERE device_id = %s", 2, monitor, timeout=20) == 2
    assert db.query("SELECT seq, patient_id FROM vitals WHERE device_id = %s ORDER BY seq", monitor) == [(1, patient), (2, patient)]
    assert db.scalar("SELECT count(*) FROM vitals WHERE device_id = %s OR patient_id = %s", stranger, other) == 0
    detail = db.scalar("SELECT detail FROM rejected_messages WHERE device_id = %s", stranger)
    assert "not honoured" in detail and f"/api/v1/devices/{stranger}/assignment" in detail, detail
    assert patient not in db.scalar("SELECT detail FROM rejected_messages WHERE device_id = %s", monitor)
    metrics = w.api("GET", "/metrics")[1]
    assert 'wardline_rejected_total{reason="patient_mismatch"} 1' in metrics
    assert "payload_patient_id=refuse" in w.log()


def test_with_payload_patients_allowed_an_assignment_still_wins(wardline_factory, db, publisher):
    """WARDLINE_PAYLOAD_PATIENT_ID=unassigned (the demo): only unassigned devices may name their patient."""
    p = unique_prefix()
    w = wardline_factory(WARDLINE_PAYLOAD_PATIENT_ID="unassigned").start()
    admin = w.token("a1", "admin", "*")
    patient = f"PAT-{p}"
    assert w.api("PUT", f"/api/v1/patients/{patient}", admin, {"ward": "4B-" + p, "bed": "1"})[0] == 200
    _assign(w, admin, f"{p}-mon", patient)
    time.sleep(1.5)
    ts = now_ms()
    publisher.publish(f"devices/{p}-demo/vitals", {"v": 1, "seq": 1, "ts": ts, "patient_id": f"PAT-{p}-demo", "hr": 70})
    publisher.publish(f"devices/{p}-mon/vitals", {"v": 1, "seq": 1, "ts": ts, "patient_id": f"PAT-{p}-demo", "hr": 71})
    publisher.wait_all_acked()
    assert db.wait_for("SELECT patient_id FROM vitals WHERE device_id = %s", f"PAT-{p}-demo", f"{p}-demo", timeout=20) == f"PAT-{p}-demo"
    assert db.wait_for("SELECT reason FROM rejected_messages WHERE device_id = %s", "patient_mismatch", f"{p}-mon",
                       timeout=20) == "patient_mismatch"
    assert db.scalar("SELECT count(*) FROM vitals WHERE device_id = %s", f"{p}-mon") == 0

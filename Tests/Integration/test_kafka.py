"""Alarm events to Kafka through the transactional outbox, against the real Kafka-compatible broker."""
import json
import subprocess
import time

from conftest import BIN, now_ms, services, unique_prefix


def events(timeout=20, want=lambda e: True, count=1):
    """Reads the alarm topic from the beginning until `count` matching events arrived."""
    deadline = time.time() + timeout
    found = []
    while time.time() < deadline:
        out = subprocess.run([str(BIN), "events", "--idle", "2"], capture_output=True, text=True, timeout=60)
        found = [e for e in (json.loads(line) for line in out.stdout.splitlines()) if want(e)]
        if len(found) >= count:
            return found
        time.sleep(0.5)
    return found


def desaturate(publisher, patient, seconds=30, start_seq=1):
    t0 = now_ms() - 120_000
    for i in range(seconds):
        publisher.publish(f"devices/{patient.lower()}-oxi/vitals",
                          {"v": 1, "seq": start_seq + i, "ts": t0 + i * 1000, "patient_id": patient, "hr": 90, "spo2": 84})
    publisher.wait_all_acked()


def test_a_raised_alarm_is_a_domain_event_keyed_by_patient(wardline_factory, db, publisher):
    patient = "PAT-" + unique_prefix()
    w = wardline_factory().start()
    desaturate(publisher, patient)
    got = events(want=lambda e: e["key"] == patient and e["value"]["event_type"] == "vitals.alert.raised")
    assert got, "no vitals.alert.raised event for the patient"
    event = got[0]["value"]
    assert set(event) == {"event_id", "event_type", "event_version", "timestamp", "source_service", "correlation_id", "data"}
    assert event["source_service"] == "wardline" and event["event_version"] == 1
    assert event["data"]["patient_id"] == patient and event["data"]["rule_id"] == "spo2.low"
    assert event["data"]["priority"] == "high" and event["data"]["transition"]["kind"] == "raised"
    alert_id = event["correlation_id"]
    outbox = db.query("SELECT event_id::text, delivered_at IS NOT NULL FROM outbox WHERE payload->>'correlation_id' = %s "
                      "AND payload->>'event_type' = 'vitals.alert.raised'", alert_id)
    assert outbox == [(event["event_id"], True)], "the event on Kafka is the outbox row, marked delivered"
    # Alarm raised (engine clock) → Kafka's delivery report for its event (the broker has it, acks=all).
    latency = db.scalar("SELECT (extract(epoch FROM o.delivered_at - a.raised_at) * 1000)::int FROM outbox o "
                        "JOIN alerts a ON a.id = o.payload->>'correlation_id' "
                        "WHERE o.event_id = %s::uuid", event["event_id"])
    print(f"\nalarm raised → Kafka delivery report: {latency} ms")
    assert 0 <= latency < 5000
    w.stop()


def test_alarms_raised_while_kafka_is_down_are_stored_and_published_when_it_returns(wardline_factory, db, publisher):
    patient = "PAT-" + unique_prefix()
    w = wardline_factory().start()
    services("stop-kafka")
    try:
        desaturate(publisher, patient)
        assert db.wait_for("SELECT count(*) FROM alerts WHERE patient_id = %s", 1, patient, timeout=30) == 1, \
            "alarms keep being raised and stored without Kafka"
        time.sleep(1)
        waiting = [r for (r,) in db.query("SELECT id FROM outbox WHERE key = %s AND delivered_at IS NULL", patient)]
        assert waiting, "the events wait in the outbox"
    finally:
        services("start-kafka")
    got = events(timeout=90, want=lambda e: e["key"] == patient)
    assert got and got[0]["value"]["event_type"] == "vitals.alert.raised"
    assert db.wait_for("SELECT count(*) FROM outbox WHERE id = ANY(%s) AND delivered_at IS NULL", 0, waiting,
                       timeout=60) == 0, "everything that waited is delivered"
    ids = {e["value"]["event_id"] for e in got}
    assert ids <= {r for (r,) in db.query("SELECT event_id::text FROM outbox WHERE key = %s", patient)}
    w.stop()


def test_scored_readings_feed_keyed_by_device(wardline_factory, publisher):
    prefix = unique_prefix()
    device = prefix + "-mon"
    w = wardline_factory(WARDLINE_KAFKA_READINGS_TOPIC="wardline.readings").start()
    t0 = now_ms() - 30_000
    for i in range(20):
        publisher.publish(f"devices/{device}/vitals", {"v": 1, "seq": i + 1, "ts": t0 + i * 1000, "patient_id": "PAT-" + prefix,
                                                       "hr": 70 + i, "spo2": 97, "rr": 14})
    publisher.wait_all_acked()
    deadline = time.time() + 30
    mine = []
    while time.time() < deadline and len(mine) < 20:
        out = subprocess.run([str(BIN), "events", "--topic", "wardline.readings", "--idle", "2"], capture_output=True,
                             text=True, timeout=120, env=w.env)
        mine = [json.loads(line) for line in out.stdout.splitlines() if json.loads(line)["key"] == device]
    assert len(mine) == 20, f"{len(mine)} of 20 readings on the feed"
    assert len({m["partition"] for m in mine}) == 1, "one device, one partition: its readings stay in order"
    assert [m["value"]["seq"] for m in mine] == list(range(1, 21))
    assert mine[0]["value"]["patient_id"] == "PAT-" + prefix and "news2" in mine[0]["value"]
    deadline = time.time() + 30
    fed = []
    while time.time() < deadline:
        fed = [ln for ln in w.api("GET", "/metrics")[1].splitlines() if ln.startswith(("wardline_readings_fed", "wardline_readings_not_fed"))]
        if "wardline_readings_fed_total 20" in fed:
            break
        time.sleep(0.2)
    # The registry writes its families in no fixed order.
    assert sorted(fed) == ["wardline_readings_fed_total 20", "wardline_readings_not_fed_total 0"], fed

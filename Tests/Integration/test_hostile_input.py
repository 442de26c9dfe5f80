"""Hostile input (issue 12, "No missed alarm"): over-long and odd device strings are rejected at
decode time with their own reason, a flood of bad messages stays within its sampling budget, and
old rejections expire, while real alarms are still raised, stored and queued for Kafka and paging.
"""
import json
import re
import time
import uuid


from conftest import GATEWAYS, MQTT_HOST, MQTT_PORT, RABBITMQ_URL, mqtt_client, now_ms, reading, unique_prefix, with_password
from test_alarms import OPEN, desaturate

REJECTED = "SELECT count(*) FROM rejected_messages WHERE device_id = %s AND reason = %s"


def metric(w, name, reason=None):
    """One counter from /metrics (0 when absent)."""
    text = w.api("GET", "/metrics")[1]
    label = "" if reason is None else re.escape(f'{{reason="{reason}"}}')
    m = re.search(rf"^{re.escape(name)}{label} (\d+)$", text, re.M)
    return int(m.group(1)) if m else 0


def wait_metric(w, name, reason, expected, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline and metric(w, name, reason) != expected:
        time.sleep(0.1)
    return metric(w, name, reason)


def test_a_40kB_alert_code_is_rejected_and_a_desaturation_still_raises_stores_and_queues_its_alarm(
        wardline_factory, db, publisher):
    prefix = unique_prefix()
    hostile = prefix + "-hostile"
    device, patient = prefix + "-oxi", "PAT-" + prefix
    # Wrong RabbitMQ credentials: the pages are written to task_outbox and wait there, so this test
    # leaves nothing in the shared broker's queues (as in test_taskqueue.py).
    w = wardline_factory(WARDLINE_RABBITMQ_URL=with_password(RABBITMQ_URL, "wrong-password")).start()
    code = "X" * 40_000
    publisher.publish(f"devices/{hostile}/alerts", {"v": 1, "code": code, "priority": "high", "message": "probe"})
    publisher.wait_all_acked()
    try:
        desaturate(publisher, device, patient, 1, 30, now_ms() - 120_000, spo2=80)

        assert db.wait_for(REJECTED, 1, hostile, "field_too_long", timeout=30) == 1
        detail, payload, size = db.query("SELECT detail, payload, payload_size FROM rejected_messages WHERE device_id = %s",
                                         hostile)[0]
        assert detail == "alert code is 40000 bytes; the limit is 64"
        assert size > 40_000 and len(payload.encode()) <= 4096, "the stored sample is bounded"

        assert db.wait_for(OPEN, 1, patient, "spo2.low", timeout=30) == 1, "the desaturation alarm is stored"
        alarm_id = db.scalar("SELECT id FROM alerts WHERE patient_id = %s AND rule_id = 'spo2.low'", patient)
        assert db.wait_for("SELECT count(*) > 0 FROM outbox WHERE key = %s AND payload->'data'->>'alert_id' = %s",
                           True, patient, alarm_id, timeout=10), "its event is in the Kafka outbox"
        assert db.wait_for("SELECT count(*) FROM task_outbox WHERE payload->'alarm'->>'patient_id' = %s", 2, patient,
                           timeout=10) == 2, "its page and escalation timer are in the task outbox"
        assert db.scalar("SELECT count(*) FROM alerts WHERE device_id = %s", hostile) == 0, "the hostile code raised nothing"
        assert db.scalar("SELECT coalesce(max(length(id) + length(rule_id)), 0) FROM alerts") < 300
        assert metric(w, "wardline_rejected_total", "field_too_long") == 1
        assert code not in w.log() and "XXXXXXXXXX" not in w.log(), "the log names the reason, not the payload"
        assert w.proc.poll() is None
    finally:
        db.query("DELETE FROM task_outbox WHERE payload->'alarm'->>'patient_id' = %s RETURNING id", patient)
    w.stop()


def publish_raw(topic, payload):
    """Publishes with a client of its own; returns whether the broker took the message (it drops
    the connection of a client that sends a topic with NUL or another control character)."""
    account = GATEWAYS.take(1)
    c = mqtt_client(*account[0])
    c.connect(MQTT_HOST, MQTT_PORT, keepalive=10)
    c.loop_start()
    try:
        info = c.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout=3)
        return info.is_published()
    except (RuntimeError, ValueError):
        return False
    finally:
        c.disconnect()
        c.loop_stop()
        GATEWAYS.give(account)


def test_device_ids_in_the_topic_that_break_the_id_rule_are_rejected_and_counted(wardline_factory, db, publisher):
    prefix = unique_prefix()
    w = wardline_factory().start()
    body = json.dumps(reading(prefix, 1))
    long_id = prefix + "b" * 193  # 200 characters
    lookalike = prefix + "-m\u043en"  # Cyrillic о for o
    spaced = prefix + " mon"
    for device in (long_id, lookalike, spaced):
        publisher.publish(f"devices/{device}/vitals", body)
    publisher.wait_all_acked()
    # NUL or another control character in a topic: mosquitto itself refuses it (it closes the
    # client's connection); if a broker ever passes one, Wardline rejects it as bad_characters.
    nul_passed = publish_raw(f"devices/{prefix}-a\x00b/vitals", body)
    ctl_passed = publish_raw(f"devices/{prefix}-a\x01b/vitals", body)
    # A good reading after them all: the pipeline is unharmed.
    publisher.publish(f"devices/{prefix}-ok/vitals", reading(prefix + "-ok", 1))
    publisher.wait_all_acked()
    assert db.wait_for("SELECT count(*) FROM vitals WHERE device_id = %s", 1, prefix + "-ok", timeout=30) == 1

    # Each is stored under a hint of its id ("?" for an odd character, "…" where it was cut).
    expected = {long_id[:48] + "\u2026": "field_too_long", lookalike[:-2] + "?n": "bad_characters",
                prefix + "?mon": "bad_characters"}
    for hint, reason in expected.items():
        assert db.wait_for(REJECTED, 1, hint, reason, timeout=30) == 1, \
            (hint, db.query("SELECT device_id, reason FROM rejected_messages WHERE topic LIKE %s", f"devices/{prefix}%"))
    topic, detail = db.query("SELECT topic, detail FROM rejected_messages WHERE device_id = %s", long_id[:48] + "\u2026")[0]
    assert detail == "device id in the topic is 200 bytes; the limit is 64" and topic == f"devices/{long_id}/vitals"
    if nul_passed or ctl_passed:
        assert db.wait_for("SELECT count(*) FROM rejected_messages WHERE device_id = %s AND reason = 'bad_characters'",
                           int(nul_passed) + int(ctl_passed), prefix + "-a?b", timeout=30) == int(nul_passed) + int(ctl_passed)
    hints = [d for (d,) in db.query("SELECT device_id FROM rejected_messages WHERE topic LIKE %s", f"devices/{prefix}%")]
    assert all(not re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", d) for d in hints), f"a hint is never a real id: {hints}"
    bad_chars = db.scalar("SELECT count(*) FROM rejected_messages WHERE topic LIKE %s AND reason = 'bad_characters'",
                          f"devices/{prefix}%")
    assert bad_chars == 2 + int(nul_passed) + int(ctl_passed)
    assert wait_metric(w, "wardline_rejected_total", "field_too_long", 1) == 1
    assert wait_metric(w, "wardline_rejected_total", "bad_characters", bad_chars) == bad_chars
    assert db.scalar("SELECT count(*) FROM device_status WHERE device_id LIKE %s", prefix + "%") == 0
    w.stop()


def test_a_flood_of_bad_messages_keeps_its_samples_within_the_budget_and_counts_the_rest(
        wardline_factory, db, publisher):
    prefix = unique_prefix()
    device = prefix + "-flood"
    budget, flood, good = 5, 400, 200
    w = wardline_factory(WARDLINE_REJECTED_SAMPLES_PER_DEVICE_REASON=budget).start()
    topic = f"devices/{device}/vitals"
    for i in range(flood):
        publisher.publish(topic, {"seq": "not-a-number", "ts": now_ms(), "patient_id": "PAT-" + device, "hr": 70})
        if i % 2 == 0:
            publisher.publish(topic, reading(device, 1 + i // 2))
    publisher.wait_all_acked()

    assert db.wait_for("SELECT count(*) FROM vitals WHERE device_id = %s", good, device, timeout=60) == good, \
        "every good reading beside the flood is stored"
    assert wait_metric(w, "wardline_rejected_total", "wrong_type", flood) == flood, "every rejection is counted"
    stored = db.scalar(REJECTED, device, "wrong_type")
    unsampled = wait_metric(w, "wardline_rejected_unsampled_total", "wrong_type", flood - stored)
    assert stored + unsampled == flood
    per_hour = db.query("SELECT count(*) FROM rejected_messages WHERE device_id = %s GROUP BY date_trunc('hour', received_at)",
                        device)
    assert all(n <= budget for (n,) in per_hour) and stored <= 2 * budget, f"samples per hour within the budget: {per_hour}"
    assert db.wait_for("SELECT coalesce(sum(unsampled), 0)::int FROM rejected_message_counts WHERE device_id = %s AND reason = %s",
                       unsampled, device, "wrong_type", timeout=10) == unsampled, "the rest are counted per device and reason"
    w.stop()


def test_rejected_messages_past_their_retention_are_deleted(wardline_factory, db):
    prefix = unique_prefix()
    insert = ("INSERT INTO rejected_messages (journal_id, journal_position, received_at, topic, device_id, reason, detail, "
              "payload, payload_size) VALUES (%s, 1, now() - %s * interval '1 day', 't', %s, 'wrong_type', 'd', '', 0)")
    db.query(insert + " RETURNING id", str(uuid.uuid4()), 40, prefix + "-old")
    db.query(insert + " RETURNING id", str(uuid.uuid4()), 2, prefix + "-recent")
    db.query("INSERT INTO rejected_message_counts VALUES (%s, 'wrong_type', now() - interval '40 days', 7, now() - interval '40 days') "
             "RETURNING device_id", prefix + "-old")
    w = wardline_factory(WARDLINE_REJECTED_RETENTION_DAYS=30).start()
    assert db.wait_for("SELECT count(*) FROM rejected_messages WHERE device_id = %s", 0, prefix + "-old", timeout=30) == 0
    assert db.scalar("SELECT count(*) FROM rejected_messages WHERE device_id = %s", prefix + "-recent") == 1
    assert db.scalar("SELECT count(*) FROM rejected_message_counts WHERE device_id = %s", prefix + "-old") == 0
    assert metric(w, "wardline_rejected_expired_total") >= 1
    w.stop()


def test_a_device_alarm_with_a_hostile_message_is_still_raised_without_the_text(wardline_factory, db, publisher):
    """The code is a key and must be clean; the text is only shown. A 2 kB message with control
    characters is refused on its own, and the device's apnoea alarm is raised with Wardline's text."""
    prefix = unique_prefix()
    device = prefix + "-vent"
    w = wardline_factory().start()
    publisher.publish(f"devices/{device}/alerts",
                      {"v": 1, "code": "apnea", "priority": "high", "message": "no breath\n" + "\u0007" * 2000})
    publisher.wait_all_acked()
    assert db.wait_for("SELECT count(*) FROM alerts WHERE device_id = %s AND rule_id = 'device.alert.apnea'", 1, device,
                       timeout=30) == 1, "the device's alarm was lost with its text"
    priority, message = db.query("SELECT priority, message FROM alerts WHERE device_id = %s", device)[0]
    assert priority == "high" and message == f"{device}: apnea"
    assert db.wait_for("SELECT count(*) FROM rejected_messages WHERE device_id = %s AND detail LIKE %s", 1, device,
                       "%the alarm was raised without it", timeout=10) == 1
    w.stop()

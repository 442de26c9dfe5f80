"""Alarms: raised by the engine from real readings, stored with their history, continued after a restart."""
import signal
import time

from conftest import now_ms, unique_prefix

OPEN = "SELECT count(*) FROM alerts WHERE patient_id = %s AND rule_id = %s AND state <> 'resolved'"


def desaturate(publisher, device, patient, start_seq, seconds, start_ts, spo2=85):
    for i in range(seconds):
        publisher.publish(f"devices/{device}/vitals",
                          {"v": 1, "seq": start_seq + i, "ts": start_ts + i * 1000, "patient_id": patient,
                           "hr": 88, "spo2": spo2})
    publisher.wait_all_acked()


def test_sustained_desaturation_raises_one_stored_alarm_that_survives_a_restart(wardline_factory, db, publisher):
    prefix = unique_prefix()
    device, patient = prefix + "-oxi", "PAT-" + prefix
    w = wardline_factory().start()
    t0 = now_ms() - 120_000
    desaturate(publisher, device, patient, 1, 30, t0)
    assert db.wait_for(OPEN, 1, patient, "spo2.low", timeout=30) == 1
    alarm_id, priority, state, category, message = db.query(
        "SELECT id, priority, state, category, message FROM alerts WHERE patient_id = %s AND rule_id = 'spo2.low'",
        patient)[0]
    assert (priority, state, category) == ("high", "active", "physiological")
    assert "SpO2" in message
    kinds = [k for (k,) in db.query("SELECT kind FROM alert_transitions WHERE alert_id = %s ORDER BY revision", alarm_id)]
    assert kinds[0] == "raised"
    assert "alarm raised" in w.log() and "SpO2 85" not in w.log(), "logs name the alarm, never the patient's values"

    assert w.stop(signal.SIGTERM) == 0
    w.start()
    assert "open alarms restored" in w.log()
    desaturate(publisher, device, patient, 31, 30, t0 + 30_000)
    time.sleep(2)
    assert db.scalar(OPEN, patient, "spo2.low") == 1, "the open alarm continues; it is not raised again"
    assert db.scalar("SELECT count(*) FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id "
                     "WHERE a.patient_id = %s AND t.kind = 'raised'", patient) == 1
    w.stop()


def test_a_one_second_artefact_raises_nothing(wardline_factory, db, publisher):
    prefix = unique_prefix()
    device, patient = prefix + "-oxi", "PAT-" + prefix
    w = wardline_factory().start()
    t0 = now_ms() - 120_000
    for i in range(60):
        spo2 = 70 if i == 30 else 97  # one motion-artefact sample
        publisher.publish(f"devices/{device}/vitals",
                          {"v": 1, "seq": i + 1, "ts": t0 + i * 1000, "patient_id": patient, "hr": 80, "spo2": spo2})
    publisher.wait_all_acked()
    assert db.wait_for("SELECT count(*) FROM vitals WHERE device_id = %s", 60, device) == 60
    time.sleep(1)
    assert db.scalar("SELECT count(*) FROM alerts WHERE patient_id = %s", patient) == 0
    w.stop()


def test_per_patient_threshold_override_and_spo2_scale_come_from_the_database(wardline_factory, db, publisher):
    """A clinician lowered patient A's SpO2 limit to 85 and put patient B on scale 2 (target 88-92):
    at SpO2 88 for half a minute neither alarms, while patient C on hospital defaults does."""
    import json
    prefix = unique_prefix()
    a, b, c = ("PAT-" + prefix + s for s in ("-a", "-b", "-c"))
    db.query("INSERT INTO threshold_overrides (patient_id, rule_id, vital, direction, bands, clear_at, updated_by) "
             "VALUES (%s, 'spo2.low', 'spo2', 'below', %s::jsonb, 87, 'dr-house') RETURNING 1",
             a, json.dumps([{"limit": 85, "priority": "high", "persistence_ms": 10000}]))
    db.query("INSERT INTO patient_settings (patient_id, spo2_scale) VALUES (%s, 2) RETURNING 1", b)
    w = wardline_factory(WARDLINE_ASSIGNMENT_REFRESH_S=1).start()
    t0 = now_ms() - 120_000
    for patient in (a, b, c):
        desaturate(publisher, patient.lower() + "-oxi", patient, 1, 30, t0, spo2=88)
    assert db.wait_for(OPEN, 1, c, "spo2.low", timeout=30) == 1
    time.sleep(1)
    assert db.scalar(OPEN, a, "spo2.low") == 0, "the patient's own limit (85) holds, not the hospital's (92)"
    assert db.scalar(OPEN, b, "spo2.low") == 0, "scale 2: 88 % is on target"

    # Raising A's limit back above 88 while Wardline runs takes effect within a refresh.
    db.query("UPDATE threshold_overrides SET bands = %s::jsonb, clear_at = 93 WHERE patient_id = %s RETURNING 1",
             json.dumps([{"limit": 90, "priority": "high", "persistence_ms": 10000}]), a)
    time.sleep(2.5)
    desaturate(publisher, a.lower() + "-oxi", a, 31, 30, t0 + 30_000, spo2=88)
    assert db.wait_for(OPEN, 1, a, "spo2.low", timeout=30) == 1
    w.stop()

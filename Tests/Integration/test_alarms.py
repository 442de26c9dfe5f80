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

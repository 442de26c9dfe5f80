"""Rule sets in files (issue 15 part 1) against the real services: serve reads WARDLINE_RULES_FILE
at start (an invalid file stops it, naming every problem), a ward set applies to its ward's
patients, each alarm records the set's version, and SIGHUP reloads the file: a broken one is
refused and the rules in force stay, a good one takes effect."""
import json
import shutil
import signal
import time

from conftest import REPO, now_ms, unique_prefix

RULES = REPO / "rules"


def oximetry(publisher, device, patient, seqs, t0, spo2):
    for i in seqs:
        publisher.publish(f"devices/{device}/vitals",
                          {"v": 1, "seq": i, "ts": t0 + i * 1000, "patient_id": patient, "hr": 80, "spo2": spo2})
    publisher.wait_all_acked()


def test_an_invalid_rule_file_stops_serve_with_every_problem(wardline_factory, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "wardline.rules/1", "version": "x", "anomalies": [], "news2": {},
                               "thresholds": [{"vital": "spo2", "direction": "below", "clear_at": 80,
                                               "bands": [{"limit": 90, "priority": "urgent"}]}]}))
    w = wardline_factory(WARDLINE_RULES_FILE=str(bad))
    w.start(wait=False)
    assert w.proc.wait(timeout=60) != 0
    log = w.log()
    assert "thresholds[0].bands[0].priority" in log and '"urgent" is not one of' in log, log[-2000:]
    assert "cannot start" in log


def test_a_ward_set_its_version_on_each_alarm_and_a_reload_on_sighup(wardline_factory, db, publisher, tmp_path):
    rules = tmp_path / "rules.json"
    shutil.copy(RULES / "respiratory-ward.json", rules)
    prefix = unique_prefix().upper()
    copd, general = f"PAT-{prefix}-RESP", f"PAT-{prefix}-GEN"
    for patient, ward in ((copd, "RESP"), (general, "GEN")):
        db.query("INSERT INTO patients (patient_id, ward, bed) VALUES (%s, %s, '1') RETURNING patient_id", patient, ward)
    w = wardline_factory(WARDLINE_RULES_FILE=str(rules)).start()
    w.wait_for_log("rule set loaded")
    assert "respiratory-2026.12" in w.log()

    # SpO2 89 %: inside the respiratory ward's target range (88-92 %), below the hospital's 92 %.
    t0 = now_ms() - 120_000
    oximetry(publisher, copd.lower() + "-oxi", copd, range(1, 41), t0, 89)
    oximetry(publisher, general.lower() + "-oxi", general, range(1, 41), t0, 89)
    assert db.wait_for("SELECT count(*) FROM alerts WHERE patient_id = %s AND rule_id = 'spo2.low'", 1, general, timeout=30) == 1
    assert db.wait_for("SELECT count(*) FROM vitals WHERE patient_id = %s", 40, copd, timeout=30) == 40
    assert db.scalar("SELECT count(*) FROM alerts WHERE patient_id = %s AND rule_id = 'spo2.low'", copd) == 0
    assert db.scalar("SELECT rule_set FROM alerts WHERE patient_id = %s AND rule_id = 'spo2.low'", general) == "respiratory-2026.12"
    admin = w.token("admin.it", "admin", "*")
    status, body, _ = w.api("GET", f"/api/v1/alarms?patient_id={general}", admin)
    assert status == 200 and body["data"][0]["rule_set"] == "respiratory-2026.12", body

    # A broken file: refused, the rules in force stay.
    rules.write_text('{"format": "wardline.rules/1", "version": "broken"')
    w.proc.send_signal(signal.SIGHUP)
    w.wait_for_log("rule set reload refused")
    assert any("not JSON" in line and "rule set reload refused" in line for line in w.log().splitlines())

    # The respiratory ward's limit moved to the hospital's: the COPD patient's 89 % now alarms, by the new version.
    new = json.loads((RULES / "respiratory-ward.json").read_text())
    new["version"] = "respiratory-2026.12b"
    new["wards"]["RESP"]["thresholds"][0]["bands"][0]["limit"] = 90
    new["wards"]["RESP"]["thresholds"][0]["clear_at"] = 91
    rules.write_text(json.dumps(new))
    w.proc.send_signal(signal.SIGHUP)
    w.wait_for_log("rule set reloaded")
    oximetry(publisher, copd.lower() + "-oxi", copd, range(41, 81), t0, 89)
    assert db.wait_for("SELECT rule_set FROM alerts WHERE patient_id = %s AND rule_id = 'spo2.low'", "respiratory-2026.12b",
                       copd, timeout=30) == "respiratory-2026.12b"
    assert w.stop() == 0

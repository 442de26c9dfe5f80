"""Replay of recorded history (issue 15 part 2) against the real database: the simulator records a
stretch of a ward (stable patients with artefacts, plus sepsis and hypoxia), then `wardline replay`
runs it again. With the rules that recorded it, it raises the same alarms at the same moments;
with a candidate that lengthens SpO2 persistence it reports fewer spo2.low alarms and each high
alarm it raises later, by how much."""
import json
import re
import subprocess
import time

from conftest import BIN, REPO, now_ms, unique_prefix
from test_firmware_sim import sim

RULES = REPO / "rules"


def replay(w, start, end, candidate, *extra):
    out = subprocess.run([str(BIN), "replay", "--from", str(start), "--to", str(end), "--rules", str(candidate),
                          "--current", str(RULES / "hospital-default.json"), *extra],
                         env=w.env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_replay_reproduces_the_live_alarms_and_compares_a_candidate(wardline_factory, db, tmp_path, publisher):
    prefix = "r" + unique_prefix().lower()[-6:]
    w = wardline_factory(WARDLINE_RULES_FILE=str(RULES / "hospital-default.json")).start()
    start = now_ms() - 1000
    # Beside the simulated ward, three patients whose SpO2 dips to 89 % for 25 s and comes back:
    # the medium alarm (15 s) sounds, a 60 s persistence would let it pass.
    t0 = now_ms() - 600_000
    for k in range(3):
        patient = f"PAT-{prefix}-dip{k}"
        for i in range(120):
            spo2 = 89 if 30 <= i < 55 else 97
            publisher.publish(f"devices/oxi-{prefix}-dip{k}/vitals", {"v": 1, "seq": i + 1, "ts": t0 + i * 1000,
                                                                    "patient_id": patient, "hr": 80, "spo2": spo2})
    publisher.wait_all_acked()
    out = subprocess.run(sim("--devices", 20, "--mix", "stable:14,sepsis:3,hypoxia:3", "--speed", 60, "--duration", 20,
                             "--id-prefix", prefix, "--artefacts-per-hour", 6, "--oximeter-share", 0.3, "--seed", 11, "--quiet"),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    summary = dict(kv.split("=") for kv in out.stdout.split())
    assert summary["published"] == summary["acked"] and summary["errors"] == "0"
    # The readings of the acknowledged messages (the rest are the devices' own alerts and status), once all are in.
    count = lambda: db.scalar("SELECT count(*) FROM vitals WHERE device_id LIKE %s", "%" + prefix + "%")
    stored, deadline = -1, time.time() + 60
    while time.time() < deadline and stored != count():
        stored = count()
        time.sleep(1.5)
    assert stored > 10_000
    time.sleep(1)
    assert w.stop() == 0
    end = now_ms()
    live = db.query("SELECT id, rule_id FROM alerts WHERE category = 'physiological' AND patient_id LIKE %s", "%" + prefix + "%")
    assert any(r == "spo2.low" for _, r in live), "the recorded stretch holds desaturations"

    same = replay(w, start, end, RULES / "hospital-default.json")
    print("\n" + same)
    checked = re.search(r"check against the live run: (\d+) of the (\d+) alarms", same)
    assert checked and checked.group(1) == checked.group(2) and int(checked.group(2)) >= len(live), same
    assert "High-priority alarms: the candidate raises every one" in same

    candidate = json.loads((RULES / "hospital-default.json").read_text())
    candidate["version"] = "spo2-persistence-60s"
    spo2 = next(r for r in candidate["thresholds"] if r["id"] == "spo2.low")
    for band in spo2["bands"]:
        band["persistence_s"] = 60
    path = tmp_path / "candidate.json"
    path.write_text(json.dumps(candidate))
    compared = replay(w, start, end, path)
    print(compared)
    rows = {m.group(1) + "|" + m.group(2): (float(m.group(3)), float(m.group(4)))
            for m in re.finditer(r"^\s+(spo2\.low)\s+(\w+)\s+([\d.]+)\s+([\d.]+)", compared, re.M)}
    assert rows, compared
    assert sum(c for _, c in rows.values()) < sum(f for f, _ in rows.values()), "a longer persistence raises fewer spo2.low alarms"
    later = [l for l in compared.splitlines() if l.startswith("!!! LATER") and "spo2.low" in l]
    missed = [l for l in compared.splitlines() if l.startswith("!!! MISSED")]
    assert later or missed, compared
    assert compared.index("!!!") < compared.index("alarms per patient-day"), "missed or later high alarms come first"
    for line in later:
        assert re.search(r"by \d+\.\d s of patient time$", line), line
        assert float(re.search(r"by (\d+\.\d) s", line).group(1)) >= 40, "60 s instead of 10-15 s of persistence"
    rate = re.search(r"([\d]+) readings/s end to end", compared)
    assert rate and int(rate.group(1)) > 0

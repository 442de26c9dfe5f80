"""Replay of recorded history (issue 15 part 2) against the real database: the simulator records a
stretch of a ward (stable patients with artefacts, plus sepsis and hypoxia), then `wardline replay`
runs it again. With the rules that recorded it, it raises the same alarms at the same moments;
with a candidate that lengthens SpO2 persistence it reports fewer spo2.low alarms and each high
alarm it raises later, by how much. The same through REST (`POST /api/v1/replays`, admins only)
and on the replay page in Chromium, each checked against the command line's `--json`."""
import json
import re
import subprocess
import time

from selenium.webdriver.support.ui import WebDriverWait

from conftest import BIN, REPO, now_ms, unique_prefix
from test_firmware_sim import sim
from test_ward_page import browser, css  # noqa: F401  (the headless Chromium fixture)

RULES = REPO / "rules"


def replay(w, start, end, candidate, *extra):
    out = subprocess.run([str(BIN), "replay", "--from", str(start), "--to", str(end), "--rules", str(candidate),
                          "--current", str(RULES / "hospital-default.json"), *extra],
                         env=w.env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_replay_reproduces_the_live_alarms_and_compares_a_candidate(wardline_factory, db, tmp_path, publisher, browser):  # noqa: F811
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
    # A ventilator's own apnoea alarm (physiological, from the device): replayed from device_events,
    # it is raised again at the same moment.
    vent = f"vent-{prefix}-dip1"
    publisher.publish(f"devices/{vent}/vitals", {"v": 1, "seq": 1, "ts": t0, "patient_id": f"PAT-{prefix}-dip1", "rr": 14})
    publisher.wait_all_acked()
    publisher.publish(f"devices/{vent}/alerts", {"v": 1, "code": "apnea", "priority": "high", "message": "no breath"})
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
    assert any(r == "device.alert.apnea" for _, r in live), "and the ventilator's own alarm"
    assert db.scalar("SELECT count(*) FROM device_events WHERE device_id = %s AND kind = 'alert' AND code = 'apnea'", vent) == 1
    device_events = db.scalar("SELECT count(*) FROM device_events WHERE received_at >= to_timestamp(%s / 1000.0) "
                              "AND received_at < to_timestamp(%s / 1000.0)", start, end)
    assert device_events > 1, "the simulator's status messages are recorded too"

    same = replay(w, start, end, RULES / "hospital-default.json")
    print("\n" + same)
    checked = re.search(r"check against the live run: (\d+) of the (\d+) alarms", same)
    assert checked and checked.group(1) == checked.group(2) and int(checked.group(2)) >= len(live), same
    assert f"and {device_events} device alerts and status messages" in same, same
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

    # The same comparison through REST, as the command line's --json prints it.
    cli = json.loads(replay(w, start, end, path, "--json"))
    assert cli["high_alarms"]["later"] or cli["high_alarms"]["missed"]
    assert cli["device_events"] == device_events
    w.start()
    admin, charge = w.token("ce1", "admin", "*"), w.token("cn1", "charge_nurse", "4B")
    default = json.loads((RULES / "hospital-default.json").read_text())
    request = {"from": start, "to": end, "candidate": candidate, "in_force": default}
    for who in [charge, w.token("ph1", "physician", "*"), w.token("rr1", "rapid_response", "*")]:
        status, body, _ = w.api("POST", "/api/v1/replays", who, request)
        assert status == 403 and body["error"]["code"] == "forbidden", body
    assert w.api("GET", "/api/v1/replays", charge)[0] == 403
    status, body, _ = w.api("POST", "/api/v1/replays", admin, request)
    assert status == 202, body
    job = body["data"]
    assert job["state"] == "running" and job["candidate_version"] == "spo2-persistence-60s" and job["requested_by"] == "ce1"
    # One at a time on a node: the second is told when to try again.
    status, busy, headers = w.api("POST", "/api/v1/replays", admin, request)
    assert status == 409 and busy["error"]["code"] == "replay_running" and busy["error"]["retry_after"] > 0, busy
    assert w.api("GET", f"/api/v1/replays/{job['id']}", charge)[0] == 403
    done = poll(w, admin, job["id"])
    result = done["result"]
    for key in ["readings", "device_events", "patients", "by_rule", "high_alarms", "live_check"]:
        assert result[key] == cli[key], key
    for side in ["in_force", "candidate"]:
        for key in ["version", "alarms", "median_duration_s", "p90_duration_s", "ended_within_10_s", "only_here", "only_here_listed"]:
            assert result[side][key] == cli[side][key], (side, key)
    assert result["live_check"]["reproduced"] == result["live_check"]["compared"] >= len(live)
    assert done["readings_replayed"] == result["readings"] == stored
    listed = w.api("GET", "/api/v1/replays", admin)[1]["data"]
    assert listed[0]["id"] == job["id"] and "result" not in listed[0], "newest first, without results"
    assert w.api("GET", "/api/v1/replays/no-such-replay", admin)[0] == 404

    # Without in_force: the rules in force on this node (WARDLINE_RULES_FILE), the same here.
    status, body, _ = w.api("POST", "/api/v1/replays", admin, {"from": start, "to": end, "candidate": candidate})
    assert status == 202 and body["data"]["in_force_version"] == default["version"], body
    assert poll(w, admin, body["data"]["id"])["result"]["by_rule"] == cli["by_rule"]

    # A broken rule set is refused with every problem at its path; so are a bad period and ward.
    broken = json.loads(json.dumps(candidate))
    broken["thresholds"][0]["bands"][0]["persistence_s"] = -5
    del broken["version"]
    status, body, _ = w.api("POST", "/api/v1/replays", admin, {"from": start, "to": end, "candidate": broken})
    fields = [d["field"] for d in body["error"]["details"]]
    assert status == 400 and "candidate.version" in fields and any(f.startswith("candidate.thresholds[0].bands[0]") for f in fields), body
    for bad, field in [({"from": end, "to": start}, "from"), ({"from": start, "to": start + 8 * 86_400_000}, "to"),
                       ({"from": "yesterday", "to": end}, "from"), ({"from": start, "to": end, "ward": "4B/../x"}, "ward"),
                       ({"from": start, "to": end, "candidate": "rules/hospital-default.json"}, "candidate")]:
        status, body, _ = w.api("POST", "/api/v1/replays", admin, {"candidate": candidate, **bad})
        assert status == 400 and body["error"]["details"][0]["field"] == field, (bad, body)

    # The page: a period and the candidate file; the verdict on high alarms first, then the rules.
    browser.get(f"{w.url}/replay.html#token={admin}")
    wait = WebDriverWait(browser, 60, poll_frequency=0.1)
    wait.until(lambda d: d.execute_script("return !!document.querySelector('#replay-from').value"))
    browser.execute_script(
        "const local = (ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60000).toISOString().slice(0, 19);"
        "document.querySelector('#replay-from').value = local(arguments[0]);"
        "document.querySelector('#replay-to').value = local(arguments[1]);", start - 1000, end + 1000)
    css(browser, "#replay-candidate")[0].send_keys(str(path))
    css(browser, "#replay-form button[type=submit]")[0].click()
    wait.until(lambda d: css(d, "#replay[data-state='ready']") or css(d, "#replay[data-state='error']"))
    assert css(browser, "#replay[data-state='ready']"), css(browser, "#replay-status")[0].text
    # The page asked for whole seconds around the period: it shows what the API answered it.
    mine = w.api("GET", "/api/v1/replays", admin)[1]["data"][0]
    shown = w.api("GET", f"/api/v1/replays/{mine['id']}", admin)[1]["data"]["result"]
    assert mine["requested_by"] == "ce1" and mine["candidate_version"] == "spo2-persistence-60s"
    high = css(browser, "#high")[0]
    assert high.get_attribute("class") == "alert"
    assert int(high.get_attribute("data-later")) == len(shown["high_alarms"]["later"]) == len(cli["high_alarms"]["later"])
    assert int(high.get_attribute("data-missed")) == len(shown["high_alarms"]["missed"]) == len(cli["high_alarms"]["missed"])
    assert len(css(browser, "#later tbody tr")) == len(shown["high_alarms"]["later"])
    assert len(css(browser, "#by-rule tbody tr")) == len(shown["by_rule"])
    assert len(css(browser, "#by-rule .bar")) == 2 * len(shown["by_rule"]), "a bar per rule set and rule"
    spo2_row = [r for r in shown["by_rule"] if r["rule_id"] == "spo2.low"][0]
    cells = css(browser, f"#by-rule tr[data-key='spo2.low|{spo2_row['priority']}'] td")
    fmt = lambda v: str(int(v)) if float(v).is_integer() else f"{v:.2f}"  # noqa: E731  (the page's fmt)
    assert cells[2].text == fmt(spo2_row["in_force_per_patient_day"]) and cells[3].text == fmt(spo2_row["candidate_per_patient_day"])
    check = shown["live_check"]
    assert f"raised {check['reproduced']} of the {check['compared']}" in css(browser, "#live-check")[0].text
    assert browser.page_source.index('id="high"') < browser.page_source.index('id="by-rule"'), "the verdict comes first"
    assert admin not in browser.current_url

    # A file that is not a rule set: its problems listed on the page.
    bad_file = tmp_path / "broken.json"
    bad_file.write_text(json.dumps(broken))
    css(browser, "#replay-candidate")[0].send_keys(str(bad_file))
    css(browser, "#replay-form button[type=submit]")[0].click()
    wait.until(lambda d: css(d, "#replay[data-state='error']"))
    problems = [li.text for li in css(browser, "#replay-problems li")]
    assert any(p.startswith("candidate.version") for p in problems), problems


def poll(w, token, replay_id, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, body, _ = w.api("GET", f"/api/v1/replays/{replay_id}", token)
        assert status == 200, body
        if body["data"]["state"] != "running":
            assert body["data"]["state"] == "done", body["data"]
            return body["data"]
        time.sleep(0.3)
    raise AssertionError(f"replay {replay_id} still running after {timeout}s")

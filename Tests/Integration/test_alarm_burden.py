"""The alarm-burden report (issue 15 part 3) against the real database: alarms raised by published
readings and acknowledged through REST (one at once, one after 11 s), flapping, escalations and
readings written beside them, every figure of the report checked against the stored rows; who may
read it; bad parameters; the report page in Chromium."""
import time
import urllib.parse

import psycopg
import pytest
from selenium.webdriver.support.ui import WebDriverWait

from conftest import now_ms, unique_prefix
from test_ward_page import browser, css  # noqa: F401  (the headless Chromium fixture)

HOUR = 3_600_000


def admit(w, admin, patient, ward, bed):
    status, body, _ = w.api("PUT", f"/api/v1/patients/{patient}", admin, {"ward": ward, "bed": bed})
    assert status == 200, body


def desaturate(publisher, device, patient, seconds, start_ts, spo2=85):
    for i in range(seconds):
        publisher.publish(f"devices/{device}/vitals", {"v": 1, "seq": i + 1, "ts": start_ts + i * 1000,
                                                       "patient_id": patient, "hr": 88, "spo2": spo2})
    publisher.wait_all_acked()


def wait_alarm(w, token, patient, rule="spo2.low", timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = [a for a in w.api("GET", f"/api/v1/alarms?patient_id={patient}&state=all", token)[1]["data"] if a["rule_id"] == rule]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no {rule} alarm for {patient}")


def execute(db, sql, *params):
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute(sql, params)


def stored_alarm(db, alarm_id, patient, device, rule, priority, raised, resolved, level=0):
    """An alarm written as the alarm writer writes one: its row and its raise and resolution."""
    execute(db, """
        INSERT INTO alerts (id, patient_id, device_id, rule_id, category, vital, priority, state, latching, condition_present,
                            message, condition_since, raised_at, active_since, resolved_at, escalation_level, revision, updated_at)
        VALUES (%s, %s, %s, %s, 'physiological', 'hr', %s, 'resolved', false, false, 'HR high',
                to_timestamp(%s / 1000.0), to_timestamp(%s / 1000.0), to_timestamp(%s / 1000.0), to_timestamp(%s / 1000.0),
                %s, 2 + %s, to_timestamp(%s / 1000.0))
        """, alarm_id, patient, device, rule, priority, raised, raised, raised, resolved, level, level, resolved)
    execute(db, """INSERT INTO alert_transitions (alert_id, revision, kind, from_state, to_state, priority, at, escalation_level)
                   VALUES (%s, 1, 'raised', NULL, 'active', %s, to_timestamp(%s / 1000.0), 0)""", alarm_id, priority, raised)
    for n in range(1, level + 1):
        execute(db, """INSERT INTO alert_transitions (alert_id, revision, kind, from_state, to_state, priority, at, escalation_level)
                       VALUES (%s, %s, 'escalated', 'active', 'active', %s, to_timestamp(%s / 1000.0), %s)""",
                alarm_id, 1 + n, priority, raised + n * 60_000, n)
    execute(db, """INSERT INTO alert_transitions (alert_id, revision, kind, from_state, to_state, priority, at, escalation_level,
                                                  resolution)
                   VALUES (%s, %s, 'resolved', 'active', 'resolved', %s, to_timestamp(%s / 1000.0), %s, 'condition_cleared')""",
            alarm_id, 2 + level, priority, resolved, level)


def percentile(values, p):
    """percentile_cont: linear between the two nearest ranks."""
    if not values:
        return None
    v = sorted(values)
    pos = p * (len(v) - 1)
    lo = int(pos)
    return v[lo] + (v[min(lo + 1, len(v) - 1)] - v[lo]) * (pos - lo)


def expected_report(db, ward, start, end):
    """Every figure, worked out here from the stored rows (not by the report's SQL)."""
    rows = db.query("""
        SELECT a.id, a.patient_id, a.device_id, a.rule_id, a.priority, (extract(epoch FROM a.raised_at) * 1000)::bigint,
               (SELECT (extract(epoch FROM min(t.at)) * 1000)::bigint FROM alert_transitions t WHERE t.alert_id = a.id AND t.kind = 'acknowledged')
          FROM alerts a JOIN patients p ON p.patient_id = a.patient_id WHERE p.ward = %s""", ward)
    alarms = [r for r in rows if start <= r[5] < end]
    times = db.query("""SELECT v.patient_id, (extract(epoch FROM v.time) * 1000)::bigint FROM vitals v
                          JOIN patients p ON p.patient_id = v.patient_id WHERE p.ward = %s""", ward)
    hours = len({(pid, t // HOUR) for pid, t in times if start <= t < end})
    days = hours / 24
    ids = {r[0] for r in alarms}
    levels = {}
    for (level,) in db.query("SELECT escalation_level FROM alert_transitions WHERE kind = 'escalated' AND alert_id = ANY(%s)", list(ids)):
        levels[level] = levels.get(level, 0) + 1
    by_rule = {}
    for r in alarms:
        by_rule[(r[3], r[4])] = by_rule.get((r[3], r[4]), 0) + 1
    delays = [(r[6] - r[5]) / 1000 for r in alarms if r[6] is not None]
    flapping = []
    for key in sorted({(r[1], r[3]) for r in alarms}):
        raises = sorted(r[5] for r in alarms if (r[1], r[3]) == key)
        most = max(sum(1 for b in raises if a <= b <= a + HOUR) for a in raises)
        if most >= 3:
            flapping.append({"patient_id": key[0], "rule_id": key[1], "raises": len(raises), "most_in_an_hour": most})

    def noisiest(index):
        counts = {}
        for r in alarms:
            if r[index] is not None:
                counts[r[index]] = counts.get(r[index], 0) + 1
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        return [{"id": k, "alarms": n, "per_day": n / ((end - start) / 86_400_000)} for k, n in top]

    quick = sorted((r for r in alarms if r[6] is not None and r[6] - r[5] <= 10_000), key=lambda r: (r[5], r[0]))
    return {
        "hours": hours, "days": days, "alarms": len(alarms),
        "by_rule": sorted(({"rule_id": k[0], "priority": k[1], "alarms": n, "per_patient_day": n / days} for k, n in by_rule.items()),
                          key=lambda x: (-x["alarms"], x["rule_id"], x["priority"])),
        "acknowledged": len(delays), "never": len(alarms) - len(delays),
        "median": percentile(delays, 0.5), "p90": percentile(delays, 0.9),
        "escalations": [{"level": k, "count": levels[k]} for k in sorted(levels)],
        "flapping": flapping, "patients": noisiest(1), "devices": noisiest(2),
        "quick": [{"alarm_id": r[0], "patient_id": r[1], "rule_id": r[3], "seconds": (r[6] - r[5]) / 1000} for r in quick],
    }


def close(a, b):
    return a is None and b is None or (a is not None and b is not None and abs(a - b) < 1e-6)


def test_the_alarm_burden_report(wardline_factory, db, publisher, browser):  # noqa: F811
    w = wardline_factory().start()
    p = unique_prefix()
    ward, other_ward = "RPT-" + p, "RPX-" + p
    admin = w.token("a1", "admin", "*")
    quick_patient, late_patient, flapper, elsewhere = (f"PAT-{p}-{n}" for n in ("q", "l", "f", "x"))
    for bed, patient in enumerate((quick_patient, late_patient, flapper), 1):
        admit(w, admin, patient, ward, str(bed))
    admit(w, admin, elsewhere, other_ward, "1")
    time.sleep(1.5)  # the ward directory refreshes each second
    charge = w.token("c-" + p, "charge_nurse", ward)

    start = now_ms() - 2 * HOUR
    desaturate(publisher, p + "-oxq", quick_patient, 30, now_ms() - 30_000)
    desaturate(publisher, p + "-oxl", late_patient, 30, now_ms() - 30_000)
    desaturate(publisher, p + "-oxx", elsewhere, 30, now_ms() - 30_000)
    quick = wait_alarm(w, charge, quick_patient)
    assert w.api("POST", f"/api/v1/alarms/{urllib.parse.quote(quick['id'], safe='')}/acknowledge", charge, {})[0] == 200
    late = wait_alarm(w, charge, late_patient)

    # Flapping: the same patient and rule raised and resolved three times in 40 min, and once more
    # three hours earlier (outside the period); one of them escalated twice. Readings in two hours.
    t0 = now_ms() - 90 * 60_000
    for n in range(3):
        stored_alarm(db, f"{flapper}/hr.high/{n}", flapper, p + "-ecg", "hr.high", "medium", t0 + n * 20 * 60_000,
                     t0 + n * 20 * 60_000 + 120_000, level=2 if n == 1 else 0)
    stored_alarm(db, f"{flapper}/hr.high/old", flapper, p + "-ecg", "hr.high", "medium", start - HOUR, start - HOUR + 60_000, level=1)
    for seq, at in enumerate((t0, t0 + 60_000, t0 + HOUR), 1):
        execute(db, """INSERT INTO vitals (time, device_id, patient_id, seq, hr, received_at)
                       VALUES (to_timestamp(%s / 1000.0), %s, %s, %s, 130, now())""", at, p + "-ecg", flapper, seq)

    late_raised = late["raised_at"] if isinstance(late["raised_at"], int) else None
    time.sleep(max(0.0, (late_raised + 11_000 - now_ms()) / 1000) if late_raised else 11)
    assert w.api("POST", f"/api/v1/alarms/{urllib.parse.quote(late['id'], safe='')}/acknowledge", charge, {})[0] == 200
    assert db.wait_for("SELECT state FROM alerts WHERE id = %s", "acknowledged", late["id"], timeout=10) == "acknowledged"
    end = now_ms() + 60_000

    path = f"/api/v1/reports/alarm-burden?ward={ward}&from={start}&to={end}"
    status, body, _ = w.api("GET", path, charge)
    assert status == 200, body
    r = body["data"]
    e = expected_report(db, ward, start, end)
    assert r["ward"] == ward and r["from"] == start and r["to"] == end
    assert r["patient_hours"] == e["hours"] and close(r["patient_days"], e["days"])
    assert r["alarms"] == e["alarms"] and close(r["alarms_per_patient_day"], e["alarms"] / e["days"])
    assert [x["rule_id"] for x in r["by_rule"]] == [x["rule_id"] for x in e["by_rule"]]
    assert [(x["priority"], x["alarms"]) for x in r["by_rule"]] == [(x["priority"], x["alarms"]) for x in e["by_rule"]]
    assert all(close(x["per_patient_day"], y["per_patient_day"]) for x, y in zip(r["by_rule"], e["by_rule"]))
    a = r["acknowledgement"]
    assert a["acknowledged"] == e["acknowledged"] == 2, "the two acknowledged through REST"
    assert a["never_acknowledged"] == e["never"]
    assert close(a["median_s"], e["median"]) and close(a["p90_s"], e["p90"])
    assert r["escalations"] == e["escalations"] == [{"level": 1, "count": 1}, {"level": 2, "count": 1}]
    assert r["flapping"] == e["flapping"]
    assert {"patient_id": flapper, "rule_id": "hr.high", "raises": 3, "most_in_an_hour": 3} in r["flapping"]
    assert [(x["id"], x["alarms"]) for x in r["noisiest_patients"]] == [(x["id"], x["alarms"]) for x in e["patients"]]
    assert all(close(x["per_day"], y["per_day"]) for x, y in zip(r["noisiest_patients"], e["patients"]))
    assert r["noisiest_patients"][0] == {"id": flapper, "alarms": 3, "per_day": pytest.approx(3 / ((end - start) / 86_400_000))}
    assert [(x["id"], x["alarms"]) for x in r["noisiest_devices"]] == [(x["id"], x["alarms"]) for x in e["devices"]]
    assert elsewhere not in [x["id"] for x in r["noisiest_patients"]], "another ward's patient is not counted"
    q = r["quick_acknowledgements"]
    assert q["within_s"] == 10 and q["count"] == len(e["quick"])
    assert [x["alarm_id"] for x in q["alarms"]] == [x["alarm_id"] for x in e["quick"]]
    assert all(close(x["seconds"], y["seconds"]) for x, y in zip(q["alarms"], e["quick"]))
    assert quick["id"] in [x["alarm_id"] for x in q["alarms"]], "acknowledged at once: a likely nuisance"
    assert late["id"] not in [x["alarm_id"] for x in q["alarms"]], "acknowledged after 11 s"

    # Who may read it: the ward's charge nurse and admins only.
    assert w.api("GET", path, admin)[0] == 200
    for role, on in (("nurse", ward), ("physician", ward), ("charge_nurse", other_ward)):
        status, body, _ = w.api("GET", path, w.token(f"{role}-{p}", role, on))
        assert status == 403 and body["error"]["code"] == "forbidden", (role, on, body)
    # Bounded parameters, each refusal naming its field.
    base = f"/api/v1/reports/alarm-burden?ward={ward}"
    for query, field in ((f"&from={start}&to={start + 32 * 86_400_000}", "to"), (f"&from={end}&to={start}", "from"),
                         (f"&from=yesterday&to={end}", "from"), (f"&from={start}", "to"),
                         (f"&from=-9223372036854775808&to={end}", "from"),
                         (f"&from=2026-01-01T00:00:00Z&to=2026-02-02T00:00:01Z", "to")):
        status, body, _ = w.api("GET", base + query, charge)
        assert status == 400 and body["error"]["details"][0]["field"] == field, (query, body)
    status, body, _ = w.api("GET", f"/api/v1/reports/alarm-burden?ward={'W' * 65}&from={start}&to={end}", charge)
    assert status == 400 and body["error"]["details"][0]["field"] == "ward"
    assert w.api("GET", f"/api/v1/reports/alarm-burden?from={start}&to={end}", charge)[0] == 400
    assert w.api("GET", "/api/v1/reports/alarm-burden?ward=2026-01-01T00:00:00Z&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z",
                 admin)[0] == 200, "ISO 8601 periods"

    # The page shows the same numbers.
    browser.get(f"{w.url}/reports.html?ward={ward}&from={start}&to={end}#token={charge}")
    wait = WebDriverWait(browser, 15, poll_frequency=0.05)
    wait.until(lambda d: css(d, "#report[data-state='ready']"))
    figure = lambda name: css(browser, f"[data-figure='{name}']")[0].text  # noqa: E731
    assert figure("alarms") == str(r["alarms"])
    assert figure("never_acknowledged") == str(a["never_acknowledged"])
    assert figure("quick") == str(q["count"])
    assert figure("median_s") == f"{a['median_s']:.1f}"
    assert figure("patient_days") == f"{r['patient_days']:.2f}"
    assert len(css(browser, "#by-rule tbody tr")) == len(r["by_rule"])
    assert css(browser, f"#flapping tr[data-key='{flapper}|hr.high']"), "the flapping alarm is listed"
    assert [t.get_attribute("data-key") for t in css(browser, "#noisy-patients tbody tr")] == [x["id"] for x in r["noisiest_patients"]]
    assert len(css(browser, "#noisy-patients .bar")) == len(r["noisiest_patients"]), "a bar per patient"
    assert len(css(browser, "#escalations tbody tr")) == 2
    assert charge not in browser.current_url, "the token leaves the address bar"

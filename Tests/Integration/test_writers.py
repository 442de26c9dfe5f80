"""No missed alarm: a row the database refuses is put aside and the writers go on; alarm
transitions survive kill -9 and a SIGTERM while the database is down (issue 12, parts 3 and 4)."""
import random
import signal
import threading
import time

import psycopg

from conftest import ADMIN_URL, TEST_DB, Publisher, now_ms, unique_prefix

SPO2_ALARMS = ("SELECT id, priority, state FROM alerts WHERE patient_id = %s AND rule_id = 'spo2.low' "
               "ORDER BY raised_at")
KINDS = ("SELECT t.kind FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id "
         "WHERE a.patient_id = %s AND a.rule_id = 'spo2.low' ORDER BY t.at, t.revision")
COUNT_KINDS = ("SELECT count(*) FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id "
               "WHERE a.patient_id = %s AND a.rule_id = 'spo2.low'")
SPO2_OUTBOX = "SELECT count(*) FROM outbox WHERE key = %s AND payload->'data'->>'rule_id' = 'spo2.low'"
# A closed port: task-queue rows are written with their alarm, never published (no pages leak).
NO_RABBITMQ = "amqp://wardline:wardline@127.0.0.1:1/wardline"


def oximeter(pub, device, patient, seq, ts, spo2, hr=80):
    pub.publish(f"devices/{device}/vitals",
                {"v": 1, "seq": seq, "ts": ts, "patient_id": patient, "hr": hr, "spo2": spo2})


def episode(pub, device, patient, start_seq, t0, low=30, high=15, spo2=85):
    """`low` seconds (device time) at `spo2`, then `high` at 97: a high alarm raised, then latched."""
    for i in range(low + high):
        oximeter(pub, device, patient, start_seq + i, t0 + i * 1000, spo2 if i < low else 97)
    pub.wait_all_acked()


def ddl(db, sql):
    with psycopg.connect(db.url, autocommit=True) as c:
        c.execute(sql)


def metric(w, name):
    return {line.split(" ")[0]: float(line.split(" ")[1]) for line in w.api("GET", "/metrics")[1].splitlines()
            if line.startswith(name)}


class DatabaseOutage:
    """Makes this run's database refuse every connection, without touching the shared server
    (other engineers' tests keep theirs): no new connections, and the open ones are ended."""

    def __enter__(self):
        with psycopg.connect(ADMIN_URL, autocommit=True) as c:
            c.execute(f"ALTER DATABASE {TEST_DB} ALLOW_CONNECTIONS false")
            c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (TEST_DB,))
        return self

    def end(self):
        with psycopg.connect(ADMIN_URL, autocommit=True) as c:
            c.execute(f"ALTER DATABASE {TEST_DB} ALLOW_CONNECTIONS true")

    def __exit__(self, *exc):
        self.end()


def test_refused_rows_are_put_aside_and_every_writer_keeps_going(wardline_factory, db, publisher):
    prefix = unique_prefix()
    good, poison = "PAT-" + prefix + "-good", "PAT-POISON-" + prefix
    good_dev, poison_dev = prefix + "-good", prefix + "-poison"
    refusals = {
        "alerts": f"CHECK (patient_id <> '{poison}')",
        "vitals": f"CHECK (NOT (device_id = '{good_dev}' AND seq = 7))",
        "device_status": f"CHECK (device_id <> '{prefix}-badstatus')",
        "rejected_messages": f"CHECK (coalesce(device_id, '') <> '{prefix}-badrej')",
        "device_events": f"CHECK (device_id <> '{prefix}-badalert')",
    }
    for table, check in refusals.items():
        ddl(db, f"ALTER TABLE {table} ADD CONSTRAINT refuse_{prefix} {check}")
    try:
        w = wardline_factory(WARDLINE_RABBITMQ_URL=NO_RABBITMQ).start()
        t0 = now_ms() - 300_000
        publisher.publish(f"devices/{prefix}-badstatus/status", "online")
        publisher.publish(f"devices/{prefix}-goodstatus/status", "online")
        publisher.publish(f"devices/{prefix}-badrej/vitals", b"{not json")
        publisher.publish(f"devices/{prefix}-goodrej/vitals", b"{not json")
        for kind in ["bad", "good"]:
            publisher.publish(f"devices/{prefix}-{kind}alert/alerts", {"v": 1, "code": "apnea", "priority": "high", "message": "no breath"})
        # Both patients desaturate in the same seconds, so their transitions share batches.
        for i in range(45):
            oximeter(publisher, poison_dev, poison, i + 1, t0 + i * 1000, 85 if i < 30 else 97)
            oximeter(publisher, good_dev, good, i + 1, t0 + i * 1000, 85 if i < 30 else 97)
        publisher.wait_all_acked()

        assert db.wait_for("SELECT count(*) FROM alerts WHERE patient_id = %s AND rule_id = 'spo2.low'", 1, good) == 1
        assert db.wait_for("SELECT count(*) FROM put_aside WHERE writer = 'alarms' AND row LIKE %s", 2,
                           f"%{poison}%") == 2, "the poison patient's raise and latch are put aside"
        assert db.scalar("SELECT count(*) FROM alerts WHERE patient_id = %s", poison) == 0
        good_id = db.scalar("SELECT id FROM alerts WHERE patient_id = %s", good)
        assert db.wait_for(COUNT_KINDS, 2, good) == 2
        assert [k for (k,) in db.query(KINDS, good)] == ["raised", "latched"]
        assert db.wait_for("SELECT count(*) FROM outbox WHERE key = %s AND payload->'data'->>'rule_id' = 'spo2.low'",
                           2, good) == 2
        assert db.scalar("SELECT count(*) FROM outbox WHERE key = %s", poison) == 0
        assert db.scalar("SELECT count(*) FROM task_outbox WHERE payload::text LIKE %s", f"%{good_id}%") >= 1
        assert db.scalar("SELECT count(*) FROM task_outbox WHERE payload::text LIKE %s", f"%{poison}%") == 0

        # The vitals writer: one reading, one status, one rejection, one device alert refused; their
        # neighbours stored, and the refused alert's alarm raised all the same (the engine's).
        assert db.wait_for("SELECT count(*) FROM vitals WHERE device_id = %s", 44, good_dev) == 44
        assert db.scalar("SELECT count(*) FROM vitals WHERE device_id = %s", poison_dev) == 45
        aside = dict(db.query("SELECT kind, count(*) FROM put_aside WHERE writer = 'vitals' AND "
                              "(row_key LIKE %s OR row LIKE %s) GROUP BY kind", prefix + "-%", f"%{prefix}-%"))
        assert aside == {"reading": 1, "device_status": 1, "rejected_message": 1, "device_alert": 1}, aside
        assert db.scalar("SELECT error_sqlstate FROM put_aside WHERE row_key LIKE %s", good_dev + "/7/%") == "23514"
        assert db.scalar("SELECT count(*) FROM device_status WHERE device_id = %s", prefix + "-goodstatus") == 1
        assert db.wait_for("SELECT count(*) FROM rejected_messages WHERE device_id = %s", 1, prefix + "-goodrej") == 1
        assert db.scalar("SELECT count(*) FROM device_events WHERE device_id = %s AND kind = 'alert'", prefix + "-goodalert") == 1
        assert db.scalar("SELECT count(*) FROM device_events WHERE device_id = %s", prefix + "-goodstatus") == 1
        for kind in ["bad", "good"]:
            assert db.wait_for("SELECT count(*) FROM alerts WHERE device_id = %s AND rule_id = 'device.alert.apnea'", 1,
                               f"{prefix}-{kind}alert") == 1

        m = metric(w, "wardline_put_aside_total")
        # At least the raise and the latch (a stale-data alarm for the silent poison device may follow).
        assert m['wardline_put_aside_total{writer="alarms"}'] >= 2 and m['wardline_put_aside_total{writer="vitals"}'] >= 4, m
        log = w.log()
        assert "alarm transition refused by the database" in log and "critical" in log
        assert "SpO2 85" not in log, "the critical line names the alarm, never the patient's values"

        # Both writers keep going.
        later = "PAT-" + prefix + "-later"
        episode(publisher, prefix + "-later", later, 1, t0 + 60_000)
        assert db.wait_for("SELECT count(*) FROM alerts WHERE patient_id = %s", 1, later) == 1
        assert db.wait_for("SELECT count(*) FROM vitals WHERE device_id = %s", 45, prefix + "-later") == 45
        assert w.stop() == 0
    finally:
        for table in refusals:
            ddl(db, f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS refuse_{prefix}")


def test_sigterm_with_the_database_down_leaves_alarm_transitions_to_the_next_start(wardline_factory, db, publisher):
    prefix = unique_prefix()
    reference, patient = "PAT-" + prefix + "-ref", "PAT-" + prefix + "-out"
    # Earlier tests' alarms still open in the shared database would be restored, and their timers
    # (escalation, stale data) would make transitions during the outage that no message caused:
    # this test is about its own patients' transitions only.
    db.query("UPDATE alerts SET state = 'resolved', resolved_at = now() WHERE state <> 'resolved' RETURNING id")
    w = wardline_factory(WARDLINE_SHUTDOWN_GRACE_S=2).start()
    t0 = now_ms() - 200_000
    # The same episode with the database up, for comparison.
    episode(publisher, prefix + "-ref", reference, 1, t0)
    assert db.wait_for(COUNT_KINDS, 2, reference) == 2
    expected = [k for (k,) in db.query(KINDS, reference)]
    assert expected == ["raised", "latched"]

    outage = DatabaseOutage().__enter__()
    try:
        raised = w.log().count("alarm raised")
        episode(publisher, prefix + "-out", patient, 1, t0)
        w.wait_for_log("alarm raised", occurrences=raised + 1)
        time.sleep(1.5)  # the latch, and the writers' first failed attempts
        assert w.stop() == 0
        log = w.log()
        assert "alarm transitions not stored stay in the journal" in log
        assert "not stored at shutdown" not in log, "nothing is lost"
    finally:
        outage.end()

    w.start()
    assert db.wait_for(COUNT_KINDS, 2, patient) == 2
    assert db.wait_for("SELECT count(*) FROM vitals WHERE device_id = %s", 45, prefix + "-out") == 45
    time.sleep(1)
    assert [k for (k,) in db.query(KINDS, patient)] == expected, "the same transitions, once"
    assert [(p, s) for _, p, s in db.query(SPO2_ALARMS, patient)] == [("high", "active")]
    assert db.scalar("SELECT condition_present FROM alerts WHERE patient_id = %s", patient) is False
    assert db.wait_for(SPO2_OUTBOX, 2, patient) == 2
    # The reference patient's transitions, replayed from the journal too, are not stored twice.
    assert [k for (k,) in db.query(KINDS, reference)] == expected
    assert db.scalar(SPO2_OUTBOX, reference) == 2
    assert w.stop() == 0


# Kill -9 loop: six oximeters, a reading every 200 ms of wall time and every second of device time.
LATCHING, RESOLVING = 3, 3
READINGS = 360
CYCLE = 60


def spo2_at(index, j):
    """Latching patients dip to 85 for 25 s (a high alarm raised, then latched, returning at each
    dip); resolving ones to 91 for 20 s (a medium alarm raised and resolved each time)."""
    offset = 7 * (index % 3)
    phase = (j - offset) % CYCLE
    if j < offset or not 10 <= phase < (35 if index < LATCHING else 30):
        return 97
    return 85 if index < LATCHING else 91


def expected_episodes(index):
    runs, run = 0, 0
    for j in range(READINGS):
        if spo2_at(index, j) < 97:
            run += 1
        else:
            runs += run > 0
            run = 0
    return runs


def test_kill_9_at_random_moments_loses_and_duplicates_no_alarm_transition(wardline_factory, db):
    prefix = unique_prefix()
    rng = random.Random(prefix)
    patients = [f"PAT-{prefix}-{i}" for i in range(LATCHING + RESOLVING)]
    w = wardline_factory().start()
    pub = Publisher(prefix=prefix)
    t0 = now_ms() - 420_000
    started = time.time()

    def stream():
        for j in range(READINGS):
            for i, patient in enumerate(patients):
                oximeter(pub, f"{prefix}-ox{i}", patient, j + 1, t0 + j * 1000, spo2_at(i, j))
            time.sleep(max(0.0, started + (j + 1) * 0.2 - time.time()))
        pub.wait_all_acked(240)

    publishing = threading.Thread(target=stream)
    publishing.start()
    kills = 0
    while publishing.is_alive() and time.time() - started < READINGS * 0.2 - 3:
        time.sleep(rng.uniform(1.0, 3.5))
        w.stop(signal.SIGKILL)
        kills += 1
        w.start()
    publishing.join()
    pub.close()
    assert kills >= 10

    for i, patient in enumerate(patients):
        assert db.wait_for("SELECT count(*) FROM vitals WHERE device_id = %s", READINGS, f"{prefix}-ox{i}",
                           timeout=120) == READINGS
    time.sleep(2)
    for i, patient in enumerate(patients):
        episodes = expected_episodes(i)
        alarms = db.query(SPO2_ALARMS, patient)
        kinds = [k for (k,) in db.query(KINDS, patient)]
        if i < LATCHING:
            # One alarm, latched after each dip and returning at the next: nothing lost, nothing twice.
            assert [(p, s) for _, p, s in alarms] == [("high", "active")], (patient, alarms)
            assert kinds == ["raised"] + ["latched", "condition_returned"] * (episodes - 1) + ["latched"], (patient, kinds)
        else:
            assert [(p, s) for _, p, s in alarms] == [("medium", "resolved")] * episodes, (patient, alarms)
            assert kinds == ["raised", "resolved"] * episodes, (patient, kinds)
        other = db.scalar("SELECT count(*) FROM alerts WHERE patient_id = %s AND rule_id <> 'spo2.low' "
                          "AND category = 'physiological'", patient)
        assert other == 0, (patient, db.query("SELECT rule_id, raised_at FROM alerts WHERE patient_id = %s", patient))
        assert db.wait_for(SPO2_OUTBOX, len(kinds), patient) == len(kinds)
    transitions = db.scalar("SELECT count(*) FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id "
                            "WHERE a.patient_id LIKE %s", f"PAT-{prefix}-%")
    print(f"\nkill -9 loop: {kills} kills, {len(patients)} patients, {transitions} transitions compared")
    assert w.stop() == 0

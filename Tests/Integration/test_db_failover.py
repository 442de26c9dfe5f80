"""Database failover (issue 14 part 3): Wardline follows a promoted PostgreSQL standby through a
multi-host URL (`target_session_attrs=read-write`), and a server that stops taking writes under
open connections is left rather than retried forever.

Each test has a primary and a synchronous standby of its own, made by `deploy/services.sh` under
their own WARDLINE_VAR and ports (start-db, start-standby, promote-standby), so the shared
database the other tests use is never touched.
"""
import os
import pathlib
import shutil
import signal
import subprocess
import threading
import time

import psycopg
import pytest

from conftest import REPO, VAR, BIN, Db, Publisher, now_ms, reading, unique_prefix

SERVICES = REPO / "deploy" / "services.sh"
PRIMARY_PORT = int(os.environ.get("WARDLINE_PG_PORT", "15432")) + 10
STANDBY_PORT = int(os.environ.get("WARDLINE_PG_STANDBY_PORT", "15433")) + 10


def port_answers(port):
    import socket
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class DbPair:
    """A primary and its streaming standby, each a PostgreSQL 15 + TimescaleDB cluster of its own."""

    def __init__(self, name):
        # Under WARDLINE_VAR, not pytest's tmp_path: the server's own user must reach the folders.
        self.var = VAR / f"it-{name}"
        self.primary_port, self.standby_port = PRIMARY_PORT, STANDBY_PORT
        self.env = dict(os.environ, WARDLINE_VAR=str(self.var), WARDLINE_PG_PORT=str(self.primary_port),
                        WARDLINE_PG_STANDBY_PORT=str(self.standby_port))
        self.orphan_shmid = None

    def services(self, *args):
        out = subprocess.run([str(SERVICES), *args], env=self.env, capture_output=True, text=True)
        assert out.returncode == 0, f"services.sh {' '.join(args)}:\n{out.stdout}\n{out.stderr}"
        return out.stdout

    def url(self, role, database="wardline"):
        """Both servers, libpq keeping the one that takes writes: what Wardline is given."""
        return (f"postgresql://{role}@127.0.0.1:{self.primary_port},127.0.0.1:{self.standby_port}/{database}"
                f"?target_session_attrs=read-write&connect_timeout=5&passfile={self.var}/secrets/postgres-{role}.pgpass")

    def at(self, port, role="postgres", database="wardline"):
        """One server, whatever it is (the tests read a standby, or the old primary, through it)."""
        return f"postgresql://{role}@127.0.0.1:{port}/{database}?passfile={self.var}/secrets/postgres-{role}.pgpass"

    def start(self):
        for port in (self.primary_port, self.standby_port):
            assert not port_answers(port), f"port {port} is taken; set WARDLINE_PG_PORT/WARDLINE_PG_STANDBY_PORT"
        shutil.rmtree(self.var, ignore_errors=True)
        self.services("start-db")
        migrate = subprocess.run([str(BIN), "migrate"], env=dict(os.environ, WARDLINE_DATABASE_URL=self.url("wardline_owner")),
                                 capture_output=True, text=True)
        assert migrate.returncode == 0, migrate.stderr
        self.services("start-standby")
        return self

    def postmaster(self, folder):
        pid_file = self.var / "pg" / folder / "postmaster.pid"
        return int(pid_file.read_text().split()[0])

    def kill_primary(self):
        """kill -9 of the primary's postmaster and every one of its processes at once: a crash."""
        parent = self.postmaster("data")
        # Its System V segment outlives it (the next start in that folder would remove it; the
        # folder goes instead, so stop() does). postmaster.pid's 7th line: key, id.
        lines = (self.var / "pg" / "data" / "postmaster.pid").read_text().splitlines()
        self.orphan_shmid = (lines[6].split()[1], parent) if len(lines) > 6 and len(lines[6].split()) == 2 else None
        children = []
        for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                children.append(int(stat.parent.name))
        for pid in [parent, *children]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop(self):
        subprocess.run([str(SERVICES), "stop-standby"], env=self.env, capture_output=True)
        subprocess.run([str(SERVICES), "stop-db"], env=self.env, capture_output=True)
        shutil.rmtree(self.var, ignore_errors=True)
        if self.orphan_shmid:
            shmid, creator = self.orphan_shmid
            info = subprocess.run(["ipcs", "-m", "-i", shmid], capture_output=True, text=True).stdout.split()
            if f"cpid={creator}" in info and "nattch=0" in info:
                subprocess.run(["ipcrm", "-m", shmid], capture_output=True)


@pytest.fixture
def pair(request):
    p = DbPair(request.node.name.split("[")[0].replace("test_", "")[:24]).start()
    yield p
    p.stop()


def scalar(url, sql, *params):
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as c:
        return c.execute(sql, params).fetchone()[0]


COUNT_PREFIX = "SELECT count(*) FROM vitals WHERE device_id LIKE %s"
PER_DEVICE = ("SELECT device_id, count(*), count(DISTINCT seq), min(seq), max(seq) FROM vitals "
              "WHERE device_id LIKE %s GROUP BY device_id ORDER BY device_id")
KINDS = ("SELECT t.kind FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id "
         "WHERE a.patient_id = %s AND a.rule_id = 'spo2.low' ORDER BY t.at, t.revision")
SPO2_ALARMS = "SELECT priority, state FROM alerts WHERE patient_id = %s AND rule_id = 'spo2.low' ORDER BY raised_at"

# Three oximeters dip to 85 for 25 s of device time (a high alarm raised, latched, returning at the
# next dip), three to 91 for 20 s (a medium alarm raised and resolved each time), as in
# test_writers.py's kill -9 loop; beside them, plain monitors. A step is 1 s of device time.
LATCHING, RESOLVING, PLAIN = 3, 3, 24
STEPS, CYCLE, STEP_S = 180, 60, 0.1


def spo2_at(index, j):
    offset = 7 * (index % 3)
    phase = (j - offset) % CYCLE
    if j < offset or not 10 <= phase < (35 if index < LATCHING else 30):
        return 97
    return 85 if index < LATCHING else 91


def expected_episodes(index):
    runs, run = 0, 0
    for j in range(STEPS):
        if spo2_at(index, j) < 97:
            run += 1
        else:
            runs += run > 0
            run = 0
    return runs


class Stream:
    """Publishes step after step on its own thread, at STEP_S of wall time per step."""

    def __init__(self, prefix, patients=True, plain=PLAIN, steps=STEPS):
        self.prefix, self.steps = prefix, steps
        self.oximeters = [(f"{prefix}-ox{i}", f"PAT-{prefix}-{i}") for i in range(LATCHING + RESOLVING)] if patients else []
        self.plain = [f"{prefix}-m{d:02d}" for d in range(plain)]
        self.step = 0
        self.pub = Publisher()
        self.thread = threading.Thread(target=self.run)

    @property
    def devices(self):
        return len(self.oximeters) + len(self.plain)

    def run(self):
        t0 = now_ms() - (self.steps + 120) * 1000
        started = time.time()
        for j in range(self.steps):
            for i, (device, patient) in enumerate(self.oximeters):
                self.pub.publish(f"devices/{device}/vitals",
                                 {"v": 1, "seq": j + 1, "ts": t0 + j * 1000, "patient_id": patient, "hr": 80, "spo2": spo2_at(i, j)})
            for device in self.plain:
                self.pub.publish(f"devices/{device}/vitals", reading(device, j + 1, ts=t0 + j * 1000))
            self.step = j + 1
            time.sleep(max(0.0, started + (j + 1) * STEP_S - time.time()))
        self.pub.wait_all_acked(120)

    def start(self):
        self.thread.start()
        return self

    def wait_step(self, step, timeout=60):
        deadline = time.time() + timeout
        while self.step < step and time.time() < deadline:
            time.sleep(0.01)
        assert self.step >= step

    def finish(self):
        self.thread.join(120)
        self.pub.close()
        assert not self.thread.is_alive()


def assert_every_reading_once(db, stream):
    expected = stream.devices * stream.steps
    got = db.wait_for(COUNT_PREFIX, expected, stream.prefix + "-%", timeout=60)
    rows = db.query(PER_DEVICE, stream.prefix + "-%")
    wrong = [r for r in rows if r[1:] != (stream.steps, stream.steps, 1, stream.steps)]
    assert got == expected and len(rows) == stream.devices and not wrong, (got, expected, wrong[:5])


def assert_every_alarm_transition_once(db, stream):
    """Each oximeter's spo2.low alarms and transitions, exactly as its dips make them; returns
    (patient, transition kinds) for each."""
    out = []
    for i, (_, patient) in enumerate(stream.oximeters):
        episodes = expected_episodes(i)
        kinds = [k for (k,) in db.query(KINDS, patient)]
        alarms = db.query(SPO2_ALARMS, patient)
        if i < LATCHING:
            assert alarms == [("high", "active")], (patient, alarms)
            assert kinds == ["raised"] + ["latched", "condition_returned"] * (episodes - 1) + ["latched"], (patient, kinds)
        else:
            assert alarms == [("medium", "resolved")] * episodes, (patient, alarms)
            assert kinds == ["raised", "resolved"] * episodes, (patient, kinds)
        out.append((patient, kinds))
    return out


def wait_until(probe, timeout, every=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    return None


def assert_the_standby_is_set_up_least_privileged(pair):
    """What start-standby made: a synchronous standby with TimescaleDB, streaming as a role that may
    replicate over loopback with its SCRAM password and do nothing else."""
    primary, standby = pair.at(pair.primary_port, database="postgres"), pair.at(pair.standby_port)
    with psycopg.connect(primary, autocommit=True) as c:
        rules = c.execute("SELECT type, database, user_name, address, auth_method, error FROM pg_hba_file_rules").fetchall()
        assert all(method in ("scram-sha-256", "reject") and error is None for *_, method, error in rules), rules
        replication = [r for r in rules if r[1] == ["replication"]]
        assert replication and all(r[2] == ["wardline_replication"] and r[3] in ("127.0.0.1", "::1")
                                   and r[4] == "scram-sha-256" for r in replication), replication
        flags = c.execute("SELECT rolreplication, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles "
                          "WHERE rolname = 'wardline_replication'").fetchone()
        assert flags == (True, False, False, False, False)
        assert c.execute("SELECT sync_state, state FROM pg_stat_replication WHERE application_name = 'wardline_standby'"
                         ).fetchone() == ("sync", "streaming")
    with pytest.raises(psycopg.OperationalError, match="rejects connection"):
        psycopg.connect(pair.at(pair.primary_port, role="wardline_replication")).close()
    secret = pair.var / "secrets" / "postgres-wardline_replication.password"
    assert secret.stat().st_mode & 0o777 == 0o600 and (secret.parent.stat().st_mode & 0o777) == 0o700
    auto = (pair.var / "pg" / "standby" / "postgresql.auto.conf").read_text()
    assert "passfile=" in auto and "password=" not in auto and secret.read_text().strip() not in auto
    with psycopg.connect(standby, autocommit=True) as c:
        in_recovery, timescaledb = c.execute(
            "SELECT pg_is_in_recovery(), (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb')").fetchone()
        assert in_recovery is True and timescaledb
        assert c.execute("SELECT count(*) FROM timescaledb_information.hypertables WHERE hypertable_name = 'vitals'").fetchone()[0] == 1


def test_promote_the_database_standby_mid_stream_nothing_lost(pair, wardline_factory):
    assert_the_standby_is_set_up_least_privileged(pair)
    prefix = unique_prefix()
    w = wardline_factory(WARDLINE_DATABASE_URL=pair.url("wardline"), WARDLINE_RABBITMQ_URL="").start()
    stream = Stream(prefix).start()
    stream.wait_step(70)  # mid-stream, as the first oximeter's second dip begins (its alarm raises during the switch)
    before_kill = scalar(pair.at(pair.primary_port), COUNT_PREFIX, prefix + "-%")
    assert before_kill > 0, "Wardline writes to the primary"

    killed, killed_at = time.monotonic(), time.time()
    pair.kill_primary()
    pair.services("promote-standby")
    promoted = time.monotonic()
    new_primary = pair.at(pair.standby_port)
    # A reading Wardline received after the kill can only have been committed by the new primary
    # (what the standby replays at its promotion was all committed before the kill).
    after_kill = COUNT_PREFIX + " AND received_at > to_timestamp(%s)"
    assert wait_until(lambda: scalar(new_primary, after_kill, prefix + "-%", killed_at) > 0, timeout=30, every=0.02), \
        "no reading reached the promoted standby"
    recovered = time.monotonic()
    print(f"\nfailover: kill -9 → standby promoted {promoted - killed:.2f} s; kill -9 → first reading received after "
          f"the kill stored on the new primary {recovered - killed:.2f} s (stream at step {stream.step} of {STEPS})")

    stream.finish()
    db = Db(pair.url("wardline_owner"))
    assert_every_reading_once(db, stream)

    # Alarm transitions: every one, once, in order, though some were raised while no database took writes.
    time.sleep(2)
    for patient, kinds in assert_every_alarm_transition_once(db, stream):
        # Their DomainEvents in the outbox with them, and delivered to Kafka by a relay that moved too.
        assert db.wait_for("SELECT count(*) FROM outbox WHERE key = %s AND payload->'data'->>'rule_id' = 'spo2.low'",
                           len(kinds), patient) == len(kinds)
    assert db.wait_for("SELECT count(*) FROM outbox WHERE key LIKE %s AND delivered_at IS NULL", 0,
                       f"PAT-{prefix}-%", timeout=30) == 0

    # Every other connection moved as well: the heartbeat row, the settings refresher, a REST worker.
    instance = w.env["WARDLINE_MQTT_CLIENT_ID"]
    assert db.wait_for("SELECT beat_at > now() - interval '5 seconds' FROM system_heartbeats WHERE instance = %s",
                       True, instance, timeout=15)
    assert wait_until(lambda: w.api("GET", "/ready")[0] == 200, timeout=15, every=0.2), w.api("GET", "/ready")
    log = w.log()
    assert "database unavailable" in log
    assert f"127.0.0.1:{pair.standby_port}" in log.split("database unavailable", 1)[1], "the writer names the server it moved to"
    if "cannot refresh assignments" in log:
        assert "alarm settings readable again" in log
    assert w.stop() == 0


def test_a_primary_that_turns_read_only_is_left_not_retried(pair, wardline_factory):
    """A server that stops taking writes under open connections (read-only, as at a full disk or a
    fence): every connection in use leaves it (no loop on SQLSTATE 25006 read_only_sql_transaction,
    no reads of a server that is not the primary), /ready says so, and once a server takes writes
    again everything held is written, once."""
    prefix = unique_prefix()
    w = wardline_factory(WARDLINE_DATABASE_URL=pair.url("wardline"), WARDLINE_RABBITMQ_URL="").start()
    stream = Stream(prefix, patients=False, steps=150).start()
    stream.wait_step(40)
    primary = pair.at(pair.primary_port, database="postgres")
    with psycopg.connect(primary, autocommit=True) as c:
        c.execute("ALTER SYSTEM SET default_transaction_read_only = on")
        c.execute("SELECT pg_reload_conf()")
        turned = c.execute("SELECT clock_timestamp()").fetchone()[0]

    # REST calls all along, so each API worker uses its connection.
    answers = []
    asking = threading.Event()

    def ask():
        while not asking.is_set():
            answers.append((time.monotonic(), w.api("GET", "/ready")[0]))
            time.sleep(0.1)

    asker = threading.Thread(target=ask)
    asker.start()
    try:
        time.sleep(6)
        # A connection made before the change that still runs statements seconds after it is one
        # retrying a read-only server (the first statement after a reload is how a session learns).
        stuck = scalar(primary, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'wardline' AND backend_start < %s "
                                "AND query_start > %s + interval '2 seconds'", turned, turned)
        held = scalar(primary.replace("/postgres?", "/wardline?"), COUNT_PREFIX, prefix + "-%")
        assert stuck == 0, scalar(primary, "SELECT string_agg(state || ' ' || left(query, 60), ' | ') FROM pg_stat_activity "
                                           "WHERE usename = 'wardline' AND backend_start < %s", turned)
        assert any(status == 503 for _, status in answers), "/ready says the database takes no writes"

        with psycopg.connect(primary, autocommit=True) as c:
            c.execute("ALTER SYSTEM RESET default_transaction_read_only")
            c.execute("SELECT pg_reload_conf()")
        restored = time.monotonic()
        app = Db(pair.url("wardline_owner"))
        assert wait_until(lambda: app.scalar(COUNT_PREFIX, prefix + "-%") > held, timeout=30, every=0.02)
        print(f"\nread-only primary: {held} of this test's readings stored before; writable again → first reading "
              f"stored {time.monotonic() - restored:.2f} s")
        assert wait_until(lambda: answers[-1][1] == 200, timeout=15, every=0.1)
    finally:
        asking.set()
        asker.join()
    stream.finish()
    assert_every_reading_once(Db(pair.url("wardline_owner")), stream)
    log = w.log()
    assert "25006" in log and "database unavailable" in log, log[-3000:]
    assert w.stop() == 0


def test_promote_the_standby_under_split_roles_nothing_lost(pair, wardline_factory, tmp_path):
    """The same stream through one ingest node and two engine nodes: the engines' partition locks
    and floors live in the database, so the primary's death takes every lock with it; the nodes
    adopt the partitions again on the promoted standby and nothing is lost or stored twice."""
    prefix = unique_prefix()
    stream = Stream(prefix)
    db = Db(pair.url("wardline_owner"))
    for device, patient in stream.oximeters:
        db.query("INSERT INTO device_assignments (device_id, patient_id, ward, bed) VALUES (%s, %s, 'F', '1') RETURNING id",
                 device, patient)
    for device in stream.plain:
        db.query("INSERT INTO device_assignments (device_id, patient_id, ward, bed) VALUES (%s, %s, 'F', '2') RETURNING id",
                 device, "PAT-" + device)

    def node(name, role):
        folder = tmp_path / name
        folder.mkdir()
        w = wardline_factory(WARDLINE_VAR=str(folder), WARDLINE_ROLE=role, WARDLINE_PAYLOAD_PATIENT_ID="refuse",
                             WARDLINE_DATABASE_URL=pair.url("wardline"), WARDLINE_RABBITMQ_URL="")
        w.log_path = folder / "wardline.log"
        return w

    engines = [node(f"engine{i}", "engine") for i in range(2)]
    for e in engines:
        e.start(wait=False)
    for e in engines:
        e.wait_for_log("partition adopted", timeout=60)
    ingest = node("ingest", "ingest").start()
    stream.start()
    stream.wait_step(70)
    killed, killed_at = time.monotonic(), time.time()
    pair.kill_primary()
    pair.services("promote-standby")
    after_kill = COUNT_PREFIX + " AND received_at > to_timestamp(%s)"
    assert wait_until(lambda: scalar(pair.at(pair.standby_port), after_kill, prefix + "-%", killed_at) > 0, timeout=30, every=0.02), \
        "no reading reached the promoted standby"
    recovered = time.monotonic() - killed
    stream.finish()
    assert_every_reading_once(db, stream)
    time.sleep(2)
    assert_every_alarm_transition_once(db, stream)
    # Every partition held again, by exactly one of the two, on the new primary.
    held = sum(int(m) for e in engines for m in [e.log().count("partition adopted")])
    assert held >= 2 * 12, "the partitions were not adopted again after the failover"
    assert any("partitions lost with the database session" in e.log() for e in engines)
    owners = db.query("SELECT count(DISTINCT objid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
                      "AND objid < 65535 AND mode = 'ExclusiveLock'")[0][0]
    assert owners == 12, owners
    print(f"\nsplit roles: kill -9 of the primary → first reading received after it stored on the promoted standby "
          f"{recovered:.2f} s; every reading once, every alarm transition once")
    ingest.stop()
    for e in engines:
        assert e.stop() == 0

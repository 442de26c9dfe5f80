"""Shared fixtures for Wardline's integration tests.

They run against the real services that deploy/services.sh starts (mosquitto, TimescaleDB) and
the real `wardline` binary, from the outside, the way a device and an operator see it.
"""
import os
import pathlib
import signal
import subprocess
import threading
import time
import urllib.parse
import uuid

import paho.mqtt.client as mqtt
import psycopg
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("WARDLINE_BIN", REPO / ".build" / "debug" / "wardline"))
MQTT_HOST = os.environ.get("WARDLINE_MQTT_HOST", "127.0.0.1")
MQTT_PORT = int(os.environ.get("WARDLINE_MQTT_PORT", "18830"))
# deploy/env.sh's services; every one of them asks for a password (deploy/services.sh keeps them
# under $WARDLINE_VAR/secrets).
VAR = pathlib.Path(os.environ.get("WARDLINE_VAR", REPO / "var"))
PG_PORT = int(os.environ.get("WARDLINE_PG_PORT", "15432"))
RABBITMQ_URL = os.environ.get("WARDLINE_RABBITMQ_URL", "amqp://wardline@127.0.0.1:15673/wardline")


def _pg_url(role, database):
    return f"postgresql://{role}@127.0.0.1:{PG_PORT}/{database}?passfile={VAR}/secrets/postgres-{role}.pgpass"


# Wardline's own role (serve, worker): reads and writes Wardline's tables, nothing else.
APP_URL = os.environ.get("WARDLINE_DATABASE_URL", _pg_url("wardline", "wardline"))
# The owner of Wardline's tables: migrates, and lets a test alter a table (test_writers).
OWNER_URL = os.environ.get("WARDLINE_OWNER_DATABASE_URL", _pg_url("wardline_owner", "wardline"))
# The superuser, for what only it may do: refuse connections to this run's database, end sessions.
ADMIN_URL = os.environ.get("WARDLINE_ADMIN_DATABASE_URL", _pg_url("postgres", "postgres"))
# The broker speaks TLS only and refuses anonymous clients: every test client connects with the
# deploy scripts' CA and an account made through `wardline devices provision` (admin from env.sh).
MQTT_CA_FILE = os.environ.get("WARDLINE_MQTT_CA_FILE", str(VAR / "tls" / "ca.crt"))
# Its own name per worktree or CI job sharing one PostgreSQL: each run drops and recreates it.
TEST_DB = os.environ.get("WARDLINE_TEST_DB", "wardline_it")


def with_database(url, database):
    """The same libpq URL naming another database (its ?passfile= kept)."""
    return urllib.parse.urlsplit(url)._replace(path="/" + database).geturl()


def with_password(url, password):
    """The same URL with another password (a login that must be refused)."""
    u = urllib.parse.urlsplit(url)
    return u._replace(netloc=f"{u.username}:{password}@{u.hostname}:{u.port}").geturl()


def now_ms():
    return int(time.time() * 1000)


def services(*args):
    subprocess.run([str(REPO / "deploy" / "services.sh"), *args], check=True, stdout=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def owner_database_url():
    """A fresh database for this test run, made as deploy/services.sh makes Wardline's (owner,
    TimescaleDB, grants) and migrated by `wardline migrate` as the owner; the owner's URL."""
    services("fresh-db", TEST_DB)
    url = with_database(OWNER_URL, TEST_DB)
    subprocess.run([str(BIN), "migrate"], env=dict(os.environ, WARDLINE_DATABASE_URL=url), check=True, capture_output=True)
    return url


@pytest.fixture(scope="session")
def database_url(owner_database_url):
    """What Wardline connects to in this run: its own, least-privileged role."""
    return with_database(APP_URL, TEST_DB)


class Db:
    def __init__(self, url):
        self.url = url

    def query(self, sql, *params):
        for attempt in range(60):
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    return conn.execute(sql, params).fetchall()
            except psycopg.OperationalError:
                if attempt == 59:
                    raise
                time.sleep(0.5)

    def scalar(self, sql, *params):
        rows = self.query(sql, *params)
        return rows[0][0] if rows else None

    def wait_for(self, sql, expected, *params, timeout=120):
        """Polls until the query returns `expected`; returns the last value seen."""
        deadline = time.time() + timeout
        value = None
        while time.time() < deadline:
            value = self.scalar(sql, *params)
            if value == expected:
                return value
            time.sleep(0.25)
        return value


@pytest.fixture
def db(owner_database_url):
    """The tests look and set up as the owner; Wardline itself runs as its own role."""
    return Db(owner_database_url)


class Wardline:
    """One `wardline serve` process with its own journal folder and MQTT session."""

    def __init__(self, database_url, workdir, **settings):
        self.env = dict(os.environ, WARDLINE_DATABASE_URL=database_url, WARDLINE_VAR=str(workdir),
                        WARDLINE_MQTT_CLIENT_ID="wardline-it-" + uuid.uuid4().hex[:8],
                        WARDLINE_STATS_INTERVAL_S="1", WARDLINE_LOG_LEVEL="info",
                        WARDLINE_HTTP_PORT=str(free_port()), WARDLINE_JWT_SECRET=TEST_JWT_SECRET,
                        WARDLINE_DASHBOARD_DIR=str(REPO / "dashboards"), WARDLINE_ASSIGNMENT_REFRESH_S="1",
                        # No task queue unless a test asks (test_taskqueue.py): other tests' alarms
                        # would otherwise leave pages queued for the next worker.
                        WARDLINE_RABBITMQ_URL="",
                        # Most tests stamp readings minutes in the past on purpose; the device.clock
                        # alarm that would raise is tested on its own (test_device_clocks.py).
                        WARDLINE_DEVICE_CLOCK_ALARM_S="0",
                        # Most tests publish readings that name their patient (`reading()` below)
                        # from devices nobody assigned, as the demo and the simulator do. The default,
                        # refuse (only a device assignment makes a reading a patient's), and the
                        # mismatch rejection are tested on their own (test_ingest.py).
                        WARDLINE_PAYLOAD_PATIENT_ID="unassigned")
        self.settings = settings
        self.env.update({k: str(v) for k, v in settings.items()})
        self.http_port = int(self.env["WARDLINE_HTTP_PORT"])
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.log_path = pathlib.Path(workdir) / "wardline.log"
        self.proc = None

    def start(self, wait=True):
        # Its own broker account, bound to its own client id, like a second Wardline node.
        if "WARDLINE_MQTT_USERNAME" not in self.settings:
            client_id = self.env["WARDLINE_MQTT_CLIENT_ID"]
            if self.env.get("WARDLINE_MQTT_USERNAME") != client_id:
                self.env["WARDLINE_MQTT_PASSWORD"] = provision("wardline", client_id)[client_id]
                self.env["WARDLINE_MQTT_USERNAME"] = client_id
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([str(BIN), "serve"], env=self.env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        if wait:
            self.wait_for_log("mqtt connected", occurrences=self.log().count("mqtt connected") + 1)
        return self

    def log(self):
        return self.log_path.read_text() if self.log_path.exists() else ""

    def token(self, user, role, ward, ttl="1h", secret=None):
        """A token minted by `wardline token` (with another secret, to forge a bad signature)."""
        env = dict(self.env, WARDLINE_JWT_SECRET=secret or self.env["WARDLINE_JWT_SECRET"])
        out = subprocess.run([str(BIN), "token", "--user", user, "--role", role, "--ward", ward, f"--ttl={ttl}"],
                             env=env, check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def api(self, method, path, token=None, body=None, headers=None):
        """One REST call; returns (status, envelope, response headers)."""
        import json as _json
        import urllib.error
        import urllib.request
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else _json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                raw, status, rh = r.read(), r.status, dict(r.headers)
        except urllib.error.HTTPError as e:
            raw, status, rh = e.read(), e.code, dict(e.headers)
        ctype = rh.get("content-type", rh.get("Content-Type", ""))
        return status, (_json.loads(raw) if "json" in ctype else raw.decode()), {k.lower(): v for k, v in rh.items()}

    def wait_for_log(self, text, occurrences=1, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.log().count(text) >= occurrences:
                return
            if self.proc and self.proc.poll() is not None:
                raise AssertionError(f"wardline exited ({self.proc.returncode}) before logging {text!r}:\n{self.log()}")
            time.sleep(0.05)
        raise AssertionError(f"wardline did not log {text!r} within {timeout}s:\n{self.log()[-3000:]}")

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        code = self.proc.returncode if self.proc else None
        self.proc = None
        return code


@pytest.fixture
def wardline_factory(database_url, tmp_path):
    started = []

    def make(**settings):
        w = Wardline(database_url, tmp_path, **settings)
        started.append(w)
        return w

    yield make
    for w in started:
        w.stop(signal.SIGKILL)
        client_id = w.env["WARDLINE_MQTT_CLIENT_ID"]
        if w.env.get("WARDLINE_MQTT_USERNAME") == client_id:
            forget_session(client_id, w.env["WARDLINE_MQTT_PASSWORD"])
            revoke(client_id)
    # The nodes this test started are decommissioned, as an operator would: otherwise every later
    # worker pages the technical on-call for each of them at start, one webhook call apiece.
    by_database = {}
    for w in started:
        by_database.setdefault(w.env["WARDLINE_DATABASE_URL"], []).append(w.env["WARDLINE_MQTT_CLIENT_ID"])
    for url, instances in by_database.items():
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=5) as c:
                c.execute("UPDATE system_heartbeats SET stopped_at = now() WHERE instance = ANY(%s) AND stopped_at IS NULL",
                          (instances,))
        except psycopg.Error:
            pass  # a test's own database that is gone or read-only (test_db_failover)


class Worker(Wardline):
    """One `wardline worker` process (the task queue's consumer), logging beside serve's log."""

    def __init__(self, database_url, workdir, *args, **settings):
        settings.setdefault("WARDLINE_RABBITMQ_URL", RABBITMQ_URL)
        super().__init__(database_url, workdir, **settings)
        self.args = list(args)
        self.log_path = pathlib.Path(workdir) / "worker.log"

    def start(self, wait=True):
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([str(BIN), "worker", *self.args], env=self.env, stdout=log, stderr=log)
        if wait:
            self.wait_for_log("worker consuming", occurrences=self.log().count("worker consuming") + 1)
        return self


@pytest.fixture
def worker_factory(database_url, tmp_path):
    started = []

    def make(*args, **settings):
        w = Worker(database_url, tmp_path, *args, **settings)
        started.append(w)
        return w

    yield make
    for w in started:
        w.stop(signal.SIGKILL)


def provision(kind, *ids):
    """Broker accounts through `wardline devices provision`: {id: password}."""
    out = subprocess.run([str(BIN), "devices", "provision", "--kind", kind, *ids], check=True, capture_output=True, text=True)
    return dict(line.split(" ", 1) for line in out.stdout.splitlines())


def revoke(*ids):
    return subprocess.run([str(BIN), "devices", "revoke", *ids], capture_output=True, text=True)


def mqtt_client(client_id, password, username=None, protocol=mqtt.MQTTv311, clean_session=True):
    """A paho client over TLS (the deploy scripts' CA) with a broker account."""
    kwargs = {} if protocol == mqtt.MQTTv5 else {"clean_session": clean_session}
    c = mqtt.Client(client_id=client_id, protocol=protocol, **kwargs)
    c.tls_set(ca_certs=MQTT_CA_FILE)
    c.username_pw_set(username or client_id, password)
    return c


class GatewayPool:
    """Gateway accounts (publish for any device) for the test publishers, made as needed and
    handed out so no two live connections share one (a bound client id takes over the other)."""

    def __init__(self):
        self.free, self.made = [], []
        self.lock = threading.Lock()

    def take(self, n):
        with self.lock:
            if len(self.free) < n:
                ids = [f"it-gw-{uuid.uuid4().hex[:8]}" for _ in range(max(8, n))]
                made = provision("gateway", *ids)
                self.free += made.items()
                self.made += ids
            taken, self.free = self.free[:n], self.free[n:]
            return taken

    def give(self, accounts):
        with self.lock:
            self.free += accounts

    def revoke_all(self):
        for i in range(0, len(self.made), 50):
            revoke(*self.made[i:i + 50])
        self.made, self.free = [], []


GATEWAYS = GatewayPool()


@pytest.fixture(scope="session", autouse=True)
def _broker_accounts():
    yield
    GATEWAYS.revoke_all()


def wardline_account(prefix="it-reader"):
    """(client id, password) of a fresh account with Wardline's rights (reads every device)."""
    client_id = f"{prefix}-{uuid.uuid4().hex[:6]}"
    return client_id, provision("wardline", client_id)[client_id]


def forget_session(client_id, password):
    """Ends a test's persistent MQTT session, so the broker stops queueing for it."""
    c = mqtt_client(client_id, password)
    try:
        c.connect(MQTT_HOST, MQTT_PORT, keepalive=10)
        c.loop_start()
        time.sleep(0.2)
        c.disconnect()
        c.loop_stop()
    except OSError:
        pass


def reading(device, seq, ts=None, **vitals):
    body = {"v": 1, "seq": seq, "ts": ts if ts is not None else now_ms(), "patient_id": "PAT-" + device}
    body.update(vitals or {"hr": 60 + seq % 40, "spo2": 95 + seq % 5, "rr": 16, "temp": 36.9, "sbp": 120, "dbp": 80})
    return body


class Publisher:
    """Publishes at QoS 1 over a few connections and waits for every PUBACK."""

    def __init__(self, connections=4, prefix="it"):
        self.clients = []
        self.acked = 0
        self.sent = 0
        self.lock = threading.Lock()
        self.accounts = GATEWAYS.take(connections)
        for gateway, password in self.accounts:
            c = mqtt_client(gateway, password)
            c.max_inflight_messages_set(1000)
            c.max_queued_messages_set(0)
            c.on_publish = self._on_publish
            c.connect(MQTT_HOST, MQTT_PORT, keepalive=60)
            c.loop_start()
            self.clients.append(c)

    def _on_publish(self, client, userdata, mid):
        with self.lock:
            self.acked += 1

    def publish(self, topic, payload, qos=1, retain=False):
        client = self.clients[hash(topic) % len(self.clients)]
        data = payload if isinstance(payload, (bytes, str)) else __import__("json").dumps(payload)
        info = client.publish(topic, data, qos=qos, retain=retain)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, mqtt.error_string(info.rc)
        self.sent += 1
        # Keep paho's own queue bounded so memory stays flat on big runs.
        while self.sent - self.acked > 20000:
            time.sleep(0.001)

    def wait_all_acked(self, timeout=120):
        deadline = time.time() + timeout
        while self.acked < self.sent and time.time() < deadline:
            time.sleep(0.01)
        assert self.acked == self.sent, f"broker acknowledged {self.acked} of {self.sent}"

    def close(self):
        for c in self.clients:
            c.disconnect()
            c.loop_stop()
        self.clients = []
        GATEWAYS.give(self.accounts)
        self.accounts = []


@pytest.fixture
def publisher():
    p = Publisher()
    yield p
    p.close()


TEST_JWT_SECRET = "integration-test-secret-0123456789"


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique_prefix():
    return "t" + uuid.uuid4().hex[:6]

"""A private mosquitto, rendered from deploy/mosquitto/mosquitto.conf, for tests that kill the broker.

It listens on its own free ports with its own persistence folder, so killing it never disturbs the
shared broker other tests use. Used by test_broker_crash.py and bench/broker-crash.py.

Security as shipped: TLS with the deploy scripts' CA and broker certificate (copied from the
folder of WARDLINE_MQTT_CA_FILE), and its own dynamic security file from
deploy/mosquitto/dynsec_init.py (its own admin and wardline passwords). Devices get accounts
through `wardline devices provision` against this broker.
"""
import os
import pathlib
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import paho.mqtt.client as mqtt

REPO = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "deploy" / "mosquitto" / "mosquitto.conf"
DYNSEC_INIT = REPO / "deploy" / "mosquitto" / "dynsec_init.py"
CA_FILE = pathlib.Path(os.environ.get("WARDLINE_MQTT_CA_FILE", str(REPO / "var" / "tls" / "ca.crt")))
BIN = pathlib.Path(os.environ.get("WARDLINE_BIN", REPO / ".build" / "debug" / "wardline"))
MOSQUITTO = os.environ.get("WARDLINE_MOSQUITTO") or shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render(port, var, overrides=None, mtls_port=None):
    """The project's broker config with its placeholders filled; `overrides` replaces (or adds)
    whole settings by name, e.g. {"autosave_interval": "1"}."""
    text = TEMPLATE.read_text().replace("@PORT@", str(port)).replace("@VAR@", str(var))
    text = text.replace("@MTLS_PORT@", str(mtls_port or free_port()))
    overrides = dict(overrides or {})
    lines = []
    for line in text.splitlines():
        key = line.split(" ", 1)[0]
        if key in overrides:
            lines.append(f"{key} {overrides.pop(key)}")
        else:
            lines.append(line)
    lines += [f"{k} {v}" for k, v in overrides.items()]
    return "\n".join(lines) + "\n"


class Broker:
    """One mosquitto process of our own; `kill9` and `start` again keep its persistence folder."""

    def __init__(self, overrides=None):
        self.port = free_port()
        # Not under pytest's tmp_path: that is private to root, and mosquitto drops to its own user.
        self.var = pathlib.Path(tempfile.mkdtemp(prefix="wardline-broker-"))
        for d in ("mosquitto/data", "run", "log"):
            (self.var / d).mkdir(parents=True, exist_ok=True)
        self.conf = self.var / "mosquitto.conf"
        self.conf.write_text(render(self.port, self.var, overrides))
        (self.var / "tls").mkdir()
        for name in ("ca.crt", "server.crt", "server.key"):
            shutil.copy(CA_FILE.parent / name, self.var / "tls" / name)
        (self.var / "mosquitto" / "dynsec").mkdir()
        subprocess.run(["/usr/bin/python3", str(DYNSEC_INIT), str(self.var / "mosquitto" / "dynsec" / "dynsec.json"),
                        str(self.var / "credentials")], check=True)
        self.passwords = {n: (self.var / "credentials" / f"{n}.password").read_text().strip() for n in ("admin", "wardline")}
        self.accounts = {}
        self.log = self.var / "log" / "mosquitto.log"
        self.log.touch()
        (self.var / "run" / "mosquitto.pid").touch()
        if os.geteuid() == 0:
            user = pwd.getpwnam("mosquitto")
            for p in [self.var, *self.var.rglob("*")]:
                os.chown(p, user.pw_uid, user.pw_gid)
        self.proc = None

    def account(self, kind, name):
        """The password of account `name` (made once, through `wardline devices provision`)."""
        if name not in self.accounts:
            env = dict(os.environ, WARDLINE_MQTT_HOST="127.0.0.1", WARDLINE_MQTT_PORT=str(self.port),
                       WARDLINE_MQTT_CA_FILE=str(CA_FILE), WARDLINE_MQTT_ADMIN_USERNAME="admin",
                       WARDLINE_MQTT_ADMIN_PASSWORD=self.passwords["admin"])
            out = subprocess.run([str(BIN), "devices", "provision", "--kind", kind, name], env=env, check=True,
                                 capture_output=True, text=True)
            self.accounts[name] = out.stdout.split()[1]
        return self.accounts[name]

    def client(self, client_id, password, clean_session=True):
        """A paho client over TLS with the account named like its client id."""
        c = mqtt.Client(client_id=client_id, clean_session=clean_session)
        c.tls_set(ca_certs=str(CA_FILE))
        c.username_pw_set(client_id, password)
        return c

    def start(self, timeout=10):
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"mosquitto did not open port {self.port}:\n{self.log.read_text()[-2000:]}")

    def save_now(self, timeout=10):
        """SIGUSR1: the broker writes its persistence file; returns once the file is new."""
        db = self.var / "mosquitto" / "data" / "mosquitto.db"
        before = db.stat().st_mtime_ns if db.exists() else 0
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if db.exists() and db.stat().st_mtime_ns != before:
                time.sleep(0.2)
                return
            time.sleep(0.02)
        raise AssertionError("mosquitto did not save on SIGUSR1")

    def kill9(self):
        self.proc.kill()
        self.proc.wait(timeout=10)

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.var, ignore_errors=True)


class OfflineSession:
    """Stands in for Wardline: a persistent session subscribed to the vitals, then away."""

    def __init__(self, broker):
        self.broker = broker
        self.client_id = "wardline"  # this broker's own Wardline account, bound to that client id
        self.received = set()
        self.lock = threading.Lock()
        self._run(lambda c: None, 0.3)

    def _run(self, body, seconds):
        c = self.broker.client(self.client_id, self.broker.passwords["wardline"], clean_session=False)
        c.on_message = self._on_message
        c.on_connect = lambda c, u, f, rc: c.subscribe("devices/+/vitals", qos=1)
        c.connect("127.0.0.1", self.broker.port, keepalive=30)
        c.loop_start()
        time.sleep(seconds)
        body(c)
        c.disconnect()
        c.loop_stop()

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.received.add(int(msg.payload.split(b'"seq":')[1].split(b",")[0]))

    def collect(self, quiet=2.0, timeout=60):
        """Reconnects and takes what the broker kept, until nothing new for `quiet` seconds."""
        def wait(c):
            deadline, last, seen = time.time() + timeout, time.time(), -1
            while time.time() < deadline and time.time() - last < quiet:
                with self.lock:
                    n = len(self.received)
                if n != seen:
                    seen, last = n, time.time()
                time.sleep(0.05)
        self._run(wait, 0.2)
        return self.received


class Device:
    """Publishes readings at QoS 1 and remembers which the broker acknowledged (PUBACK)."""

    def __init__(self, broker, device="mon-crash"):
        self.device = device
        self.acked = set()
        self.sent = {}      # mid -> seq, waiting for its PUBACK
        self.early = set()  # PUBACKs that beat `publish` to recording their mid
        self.lock = threading.Lock()
        self.c = broker.client(device, broker.account("device", device))
        self.c.max_inflight_messages_set(100)
        self.c.max_queued_messages_set(0)
        self.c.on_publish = self._on_publish
        self.c.connect("127.0.0.1", broker.port, keepalive=30)
        self.c.loop_start()

    # paho calls this holding its own lock, which `publish` also takes: never hold ours across it.
    def _on_publish(self, client, userdata, mid):
        with self.lock:
            if mid in self.sent:
                self.acked.add(self.sent.pop(mid))
            else:
                self.early.add(mid)

    def publish(self, seq):
        payload = '{"v":1,"seq":%d,"ts":%d,"hr":72,"spo2":97}' % (seq, int(time.time() * 1000))
        info = self.c.publish(f"devices/{self.device}/vitals", payload, qos=1)
        with self.lock:
            if info.mid in self.early:
                self.early.discard(info.mid)
                self.acked.add(seq)
            else:
                self.sent[info.mid] = seq
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    def publish_all(self, count, timeout=300):
        """Publishes `count` readings, waits for every PUBACK; returns the seconds it took."""
        start = time.time()
        for seq in range(count):
            self.publish(seq)
            while len(self.sent) > 100:
                time.sleep(0.0005)
        deadline = time.time() + timeout
        while len(self.acked) < count and time.time() < deadline:
            time.sleep(0.005)
        return time.time() - start

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()

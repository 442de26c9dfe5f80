"""The device simulator against the real broker, seen by a bare subscriber."""
import json
import os
import pathlib
import signal
import subprocess
import tempfile
import threading
import time
import uuid


from conftest import GATEWAYS, MQTT_HOST, MQTT_PORT, REPO, mqtt_client, provision, revoke, wardline_account

SIM = REPO / "firmware-sim" / "build" / "wardline-sim"


class Listener:
    """A bare QoS 1 subscriber that keeps what the fleet sends, by topic."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.lock = threading.Lock()
        self.vitals, self.status, self.times = {}, {}, []
        self.account = wardline_account("sim-test")
        self.client = mqtt_client(*self.account)
        self.client.on_message = self.on_message
        self.client.connect(MQTT_HOST, MQTT_PORT, 30)
        self.client.subscribe([("devices/+/vitals", 1), ("devices/+/status", 1)])
        self.client.loop_start()
        time.sleep(0.3)

    def on_message(self, client, userdata, msg):
        device = msg.topic.split("/")[1]
        if self.prefix not in device:
            return
        with self.lock:
            if msg.topic.endswith("/vitals"):
                body = json.loads(msg.payload)
                for r in body if isinstance(body, list) else [body]:
                    self.vitals.setdefault(device, []).append(r["seq"])
                self.times.append(time.time())
            else:
                self.status[device] = json.loads(msg.payload)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()
        revoke(self.account[0])


def credentials_file(accounts):
    """A 0600 file of `id password` lines, as `wardline devices provision` prints them."""
    fd, path = tempfile.mkstemp(prefix="wardline-sim-", suffix=".credentials")
    with os.fdopen(fd, "w") as f:
        f.writelines(f"{i} {pw}\n" for i, pw in accounts)
    return path


_GATEWAY_FILE = []


def sim(*args):
    """The simulator's command line; shared connections use the test run's gateway accounts."""
    assert SIM.exists(), f"{SIM} is not built: run make -C firmware-sim"
    extra = []
    if "--per-device-connections" not in args and "--list-ids" not in args:
        if not _GATEWAY_FILE:  # the simulator's own, never lent to a Publisher meanwhile
            _GATEWAY_FILE.append(credentials_file(GATEWAYS.take(4)))
        extra = ["--gateway-credentials", _GATEWAY_FILE[0]]
    return [str(SIM), "--host", MQTT_HOST, "--port", str(MQTT_PORT), *map(str, args), *extra]


def provisioned_fleet(*args):
    """Provisions the devices of the fleet these arguments make; returns (credentials file, ids)."""
    ids = subprocess.run(sim(*args, "--list-ids"), check=True, capture_output=True, text=True).stdout.split()
    return credentials_file(provision("device", *ids).items()), ids


def test_load_mode_holds_its_rate_and_every_device_counts_up():
    prefix = "s" + uuid.uuid4().hex[:5]
    listener = Listener(prefix)
    out = subprocess.run(sim("--devices", 200, "--rate", 2000, "--duration", 6, "--id-prefix", prefix, "--quiet",
                             "--artefacts-per-hour", 0), capture_output=True, text=True, timeout=60)
    time.sleep(1)
    listener.close()
    assert out.returncode == 0, out.stderr
    summary = dict(kv.split("=") for kv in out.stdout.split())
    assert summary["errors"] == "0" and summary["published"] == summary["acked"]
    # The rate the subscriber saw over the steady middle of the run, within 5 % of the target.
    times = sorted(listener.times)
    middle = [t for t in times if times[0] + 1 <= t < times[0] + 5]
    assert abs(len(middle) / 4.0 - 2000) <= 100, f"{len(middle) / 4.0:.0f} readings/s"
    assert len(listener.vitals) == 200
    for device, seqs in listener.vitals.items():
        assert seqs == list(range(1, len(seqs) + 1)), f"{device} seq not strictly increasing without gaps"
    assert all(s["state"] == "online" and 0 <= s["battery"] <= 100 for s in listener.status.values())
    assert len(listener.status) == 200, "every device's retained status arrived"


def test_retained_status_and_last_will_per_device():
    prefix = "w" + uuid.uuid4().hex[:5]
    fleet, ids = provisioned_fleet("--devices", 5, "--id-prefix", prefix)
    proc = subprocess.Popen(sim("--devices", 5, "--per-device-connections", "--credentials", fleet, "--id-prefix", prefix,
                                "--quiet"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(2)
    late = Listener(prefix)          # subscribes after the fact: only retained status can reach it
    time.sleep(1)
    assert len(late.status) == 5 and all(s["state"] == "online" for s in late.status.values())
    proc.send_signal(signal.SIGKILL)  # vanish without a DISCONNECT: the broker publishes each will
    proc.wait()
    deadline = time.time() + 60
    while time.time() < deadline and not all(s["state"] == "offline" for s in late.status.values()):
        time.sleep(0.2)
    late.close()
    revoke(*ids)
    os.unlink(fleet)
    assert all(s["state"] == "offline" for s in late.status.values()), late.status


def test_bad_arguments_and_unreachable_broker_are_clear_errors():
    bad = subprocess.run(sim("--devices", "many"), capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2 and "--devices 'many' must be a number" in bad.stderr
    missing = subprocess.run(sim("--scenario", "/nonexistent.scn"), capture_output=True, text=True, timeout=10)
    assert missing.returncode == 2 and "cannot read scenario" in missing.stderr
    down = subprocess.run([str(SIM), "--port", "1", "--devices", "2"], capture_output=True, text=True, timeout=10)
    assert down.returncode == 1 and "cannot connect to broker 127.0.0.1:1" in down.stderr


def test_bad_devices_against_wardline_every_good_reading_stored_every_bad_one_rejected(wardline_factory, db):
    prefix = "b" + uuid.uuid4().hex[:5]
    # Every rejection stored, beyond the default sampling budget per device, reason and hour.
    w = wardline_factory(WARDLINE_REJECTED_SAMPLES_PER_DEVICE_REASON=100000).start()
    out = subprocess.run(sim("--devices", 50, "--rate", 500, "--duration", 4, "--bad-share", 0.3, "--id-prefix", prefix,
                             "--artefacts-per-hour", 0, "--quiet"), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    summary = {k: int(float(v.rstrip("/s"))) for k, v in (kv.split("=") for kv in out.stdout.split())}
    assert summary["bad"] > 0 and summary["duplicates"] > 0
    like = f"%{prefix}%"
    assert db.wait_for("SELECT count(*) FROM vitals WHERE device_id LIKE %s", summary["good"], like) == summary["good"]
    assert db.wait_for("SELECT count(*) FROM rejected_messages WHERE device_id LIKE %s", summary["bad"], like) == summary["bad"]
    reasons = {r for (r,) in db.query("SELECT DISTINCT reason FROM rejected_messages WHERE device_id LIKE %s", like)}
    assert reasons == {"malformed_json", "wrong_type", "impossible_value", "future_timestamp"}
    assert w.proc.poll() is None
    w.stop()


def test_accelerated_sepsis_scenario_raises_alarms_through_the_whole_pipeline(wardline_factory, db):
    """Thirty minutes of sepsis-like deterioration in 15 seconds: the engine raises threshold alarms
    and a high NEWS2 alarm for that patient, and they are stored."""
    prefix = "e" + uuid.uuid4().hex[:5]
    w = wardline_factory().start()
    out = subprocess.run(sim("--devices", 1, "--scenario", REPO / "firmware-sim" / "scenarios" / "sepsis.scn",
                             "--speed", 120, "--duration", 15, "--oximeter-share", 0, "--artefacts-per-hour", 0,
                             "--id-prefix", prefix, "--seed", 7, "--quiet"), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    patient = f"PAT-{prefix}00000"
    assert db.wait_for("SELECT count(*) FROM alerts WHERE patient_id = %s AND rule_id = 'news2' AND priority = 'high'",
                       1, patient, timeout=30) == 1
    rules = {r for (r,) in db.query("SELECT rule_id FROM alerts WHERE patient_id = %s", patient)}
    assert len(rules & {"rr.high", "sbp.low", "spo2.low", "temp.high", "hr.high"}) >= 3, rules
    w.stop()


def test_probe_off_scenario_raises_a_technical_alarm_not_a_physiological_one(wardline_factory, db):
    prefix = "p" + uuid.uuid4().hex[:5]
    w = wardline_factory().start()
    out = subprocess.run(sim("--devices", 1, "--scenario", REPO / "firmware-sim" / "scenarios" / "probe-off.scn",
                             "--speed", 30, "--duration", 8, "--oximeter-share", 1, "--artefacts-per-hour", 0,
                             "--id-prefix", prefix, "--quiet"), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    patient = f"PAT-{prefix}00000"
    assert db.wait_for("SELECT count(*) FROM alerts WHERE patient_id = %s AND category = 'technical'", 1, patient,
                       timeout=20) >= 1
    rules = db.query("SELECT rule_id, category FROM alerts WHERE patient_id = %s", patient)
    assert all(category == "technical" for _, category in rules), rules
    assert any("probe_off" in rule for rule, _ in rules), rules
    w.stop()


def test_the_fleet_lists_its_devices_and_patients_for_assignment():
    """deploy/run.sh assigns these pairs through REST before the run (same flags, same fleet)."""
    out = subprocess.run(sim("--devices", 6, "--mix", "demo", "--id-prefix", "L", "--list-devices"),
                         capture_output=True, text=True, timeout=20, check=True)
    pairs = [line.split(" ") for line in out.stdout.splitlines()]
    assert len(pairs) == 6 and all(len(p) == 2 for p in pairs), out.stdout
    assert [p[1] for p in pairs] == [f"PAT-L{i:05d}" for i in range(6)]
    assert all(d.split("-")[0] in ("mon", "oxi") and d.endswith(f"L{i:05d}") for i, (d, _) in enumerate(pairs))

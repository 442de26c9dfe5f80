"""The broker enforces who may say what: seen from the outside, the way an attacker holding one
device's credentials (or none) would try it."""
import json
import os
import socket
import ssl
import subprocess
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

from conftest import (BIN, MQTT_CA_FILE, MQTT_HOST, MQTT_PORT, REPO, mqtt_client, provision, revoke, unique_prefix,
                      wardline_account)

MTLS_PORT = int(os.environ.get("WARDLINE_MQTT_MTLS_PORT", "18831"))


def connack(client, port=MQTT_PORT, timeout=5):
    """Connects and returns the broker's CONNACK code (0: accepted), or the exception."""
    got = threading.Event()
    result = {}

    def on_connect(c, u, flags, rc, properties=None):
        result["rc"] = rc if isinstance(rc, int) else rc.value
        got.set()
    client.on_connect = on_connect
    try:
        client.connect(MQTT_HOST, port, keepalive=10)
    except (OSError, ssl.SSLError) as e:
        return e
    client.loop_start()
    got.wait(timeout)
    return result.get("rc")


def close(client):
    client.disconnect()
    client.loop_stop()


class Reader:
    """A Wardline-role account that sees every device message that gets through the broker."""

    def __init__(self, *topics):
        self.account = wardline_account("it-reader")
        self.messages = []
        self.client = mqtt_client(*self.account)
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        assert connack(self.client) == 0
        self.client.subscribe([(t, 1) for t in topics])
        time.sleep(0.3)

    def close(self):
        close(self.client)
        revoke(self.account[0])


def pub_v5(device, password, topic, client_id=None):
    """mosquitto_pub under MQTT v5 (-d shows the PUBACK reason code); returns its debug output."""
    config = f"-h {MQTT_HOST}\n-p {MQTT_PORT}\n--cafile {MQTT_CA_FILE}\n-u {device}\n-P {password}\n"
    home = f"/tmp/wardline-it-{uuid.uuid4().hex[:8]}"
    os.makedirs(home, mode=0o700)
    with open(os.open(f"{home}/mosquitto_pub", os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(config)  # options from a file: no password on the command line
    try:
        out = subprocess.run(["mosquitto_pub", "-V", "5", "-d", "-q", "1", "-i", client_id or device, "-t", topic, "-m", "{}"],
                             env=dict(os.environ, XDG_CONFIG_HOME=home), capture_output=True, text=True, timeout=10)
        return out.stdout + out.stderr
    finally:
        os.unlink(f"{home}/mosquitto_pub")
        os.rmdir(home)


def test_anonymous_clients_and_plain_tcp_are_refused():
    anonymous = mqtt.Client(client_id="it-anon-" + uuid.uuid4().hex[:6])
    anonymous.tls_set(ca_certs=MQTT_CA_FILE)
    assert connack(anonymous) == 5, "anonymous CONNECT must be refused (not authorised)"
    close(anonymous)
    # No plain listener: MQTT without TLS gets no CONNACK at all.
    plain = mqtt.Client(client_id="it-plain-" + uuid.uuid4().hex[:6])
    assert connack(plain, timeout=3) is None
    close(plain)
    # A broker certificate from another CA is refused by the client.
    stranger = mqtt.Client(client_id="it-ca-" + uuid.uuid4().hex[:6])
    stranger.tls_set(ca_certs="/etc/ssl/certs/ca-certificates.crt")
    assert isinstance(connack(stranger), (ssl.SSLError, OSError))
    close(stranger)


def test_a_device_may_say_only_its_own_things():
    p = unique_prefix()
    a, b = f"mon-{p}-a", f"mon-{p}-b"
    creds = provision("device", a, b)
    reader = Reader("devices/+/vitals", "devices/+/commands", "devices/+/status")
    try:
        # Under MQTT v5 the broker says so: PUBACK reason 135 (not authorised) for B's topic.
        assert "RC:135" in pub_v5(a, creds[a], f"devices/{b}/vitals")
        assert "RC:135" in pub_v5(a, creds[a], f"devices/{a}/commands"), "a device may not command itself"
        own = pub_v5(a, creds[a], f"devices/{a}/vitals")
        assert "RC:135" not in own and "PUBACK" in own
        # Under 3.1.1 the PUBACK comes back and the message is dropped: only A's own arrives.
        dev = mqtt_client(a, creds[a])
        assert connack(dev) == 0
        for topic in (f"devices/{b}/vitals", f"devices/{b}/status", f"devices/{a}/vitals"):
            dev.publish(topic, json.dumps({"v": 1, "seq": 1, "ts": 1}), qos=1).wait_for_publish(5)
        time.sleep(1)
        close(dev)
        topics = [t for t, _ in reader.messages if p in t]
        assert topics.count(f"devices/{a}/vitals") == 2 and not any(b in t for t in topics), topics
    finally:
        reader.close()
        revoke(a, b)


def test_a_device_cannot_read_another_devices_commands_nor_subscribe_widely():
    p = unique_prefix()
    a, b = f"mon-{p}-a", f"mon-{p}-b"
    creds = provision("device", a, b)
    try:
        got = {a: [], b: []}
        granted = {}
        clients = {}
        for device, filters in ((a, [f"devices/{b}/commands", "devices/+/commands", "devices/#", "#", f"devices/{a}/commands"]),
                                (b, [f"devices/{b}/commands"])):
            c = mqtt_client(device, creds[device], protocol=mqtt.MQTTv5)
            c.on_message = lambda cl, u, m, device=device: got[device].append(m.topic)
            c.on_subscribe = lambda cl, u, mid, codes, props, device=device: granted.__setitem__(device, [x.value for x in codes])
            assert connack(c) == 0
            c.subscribe([(f, 1) for f in filters])
            clients[device] = c
        time.sleep(0.5)
        assert granted[a] == [135, 135, 135, 135, 1], granted  # only its own commands, at QoS 1
        sender, password = wardline_account("it-cmd")
        wardline = mqtt_client(sender, password)
        assert connack(wardline) == 0
        for device in (a, b):
            wardline.publish(f"devices/{device}/commands", b'{"command":"identify"}', qos=1).wait_for_publish(5)
        time.sleep(1)
        close(wardline)
        revoke(sender)
        for c in clients.values():
            close(c)
        assert got[a] == [f"devices/{a}/commands"] and got[b] == [f"devices/{b}/commands"], got
    finally:
        revoke(a, b)


def test_a_device_cannot_take_wardlines_client_id_or_another_devices(wardline_factory):
    p = unique_prefix()
    a, b = f"mon-{p}-a", f"mon-{p}-b"
    creds = provision("device", a, b)
    w = wardline_factory().start()
    try:
        for client_id in ("wardline", w.env["WARDLINE_MQTT_CLIENT_ID"], b, a + "-2"):
            c = mqtt_client(client_id, creds[a], username=a)
            assert connack(c) == 5, f"device {a} connected as client id {client_id}"
            close(c)
        # Wardline kept its session all along.
        time.sleep(0.5)
        assert "mqtt connection lost" not in w.log()
        # Nor can a gateway's account, which speaks for many devices, take Wardline's id.
        gw = f"it-gw-{p}"
        gateway = mqtt_client(w.env["WARDLINE_MQTT_CLIENT_ID"], provision("gateway", gw)[gw], username=gw)
        assert connack(gateway) == 5
        close(gateway)
        revoke(gw)
    finally:
        revoke(a, b)
        w.stop()


def test_rest_provisioning_is_admin_only_and_a_revoked_device_is_disconnected_and_refused(wardline_factory, db):
    p = unique_prefix()
    device = f"mon-{p}"
    w = wardline_factory().start()
    admin = w.token("it-admin", "admin", "*")
    nurse = w.token("it-nurse", "nurse", "4B")
    path = f"/api/v1/devices/{device}/credentials"
    assert w.api("POST", path, nurse)[0] == 403
    assert w.api("POST", path)[0] == 401
    assert w.api("GET", path, admin)[0] == 405
    assert w.api("POST", "/api/v1/devices/bad%2Fid/credentials", admin)[0] in (400, 404)
    status, body, _ = w.api("POST", path, admin)
    assert status == 201, body
    password = body["data"]["password"]
    assert body["data"]["username"] == device == body["data"]["client_id"] and len(password) >= 32
    assert w.api("POST", path, admin)[0] == 409, "credentials are shown once; a second POST does not replace them"

    # The device connects with them, over TLS, and its reading is stored.
    dropped = threading.Event()
    dev = mqtt_client(device, password)
    dev.on_disconnect = lambda c, u, rc: dropped.set()
    assert connack(dev) == 0
    dev.publish(f"devices/{device}/vitals", json.dumps({"v": 1, "seq": 1, "ts": int(time.time() * 1000),
                                                         "patient_id": "PAT-" + device, "hr": 70}), qos=1).wait_for_publish(5)
    assert db.wait_for("SELECT count(*) FROM vitals WHERE device_id = %s", 1, device, timeout=30) == 1

    assert w.api("DELETE", path, nurse)[0] == 403
    status, body, _ = w.api("DELETE", path, admin)
    assert status == 200, body
    assert dropped.wait(5), "the broker disconnects a revoked device"
    dev.loop_stop()
    again = mqtt_client(device, password)
    assert connack(again) == 5, "a revoked device's password no longer works"
    close(again)
    assert w.api("DELETE", path, admin)[0] == 404
    # Wardline's own account and other kinds are not the REST endpoint's to revoke.
    assert w.api("DELETE", f"/api/v1/devices/{w.env['WARDLINE_MQTT_CLIENT_ID']}/credentials", admin)[0] == 409
    assert password not in w.log()
    w.stop()


def test_cli_provisioning_prints_each_password_once_and_revoke_shuts_the_device_out():
    p = unique_prefix()
    ids = [f"mon-{p}-{i}" for i in range(3)]
    out = subprocess.run([str(BIN), "devices", "provision", *ids], capture_output=True, text=True, check=True)
    lines = [line.split(" ") for line in out.stdout.splitlines()]
    assert [i for i, _ in lines] == ids and len({pw for _, pw in lines}) == 3
    again = subprocess.run([str(BIN), "devices", "provision", ids[0]], capture_output=True, text=True)
    assert again.returncode == 1 and "already has broker credentials" in again.stderr
    bad = subprocess.run([str(BIN), "devices", "provision", "mon/1"], capture_output=True, text=True)
    assert bad.returncode == 1 and "is not a broker id" in bad.stderr
    dev = mqtt_client(ids[0], lines[0][1])
    assert connack(dev) == 0
    close(dev)
    done = revoke(*ids)
    assert done.returncode == 0 and done.stdout.count("revoked") == 3
    dev = mqtt_client(ids[0], lines[0][1])
    assert connack(dev) == 5
    close(dev)
    # The admin's and Wardline's own accounts are never revoked this way.
    refused = revoke("admin")
    assert refused.returncode == 1 and "reserved" in refused.stderr
    # `wardline config` masks every broker password.
    shown = subprocess.run([str(BIN), "config"], capture_output=True, text=True, check=True).stdout
    assert "WARDLINE_MQTT_PASSWORD=***" in shown and "WARDLINE_MQTT_ADMIN_PASSWORD=***" in shown
    assert os.environ["WARDLINE_MQTT_ADMIN_PASSWORD"] not in shown


def test_mtls_listener_needs_a_certificate_from_the_ca_and_still_the_password():
    p = unique_prefix()
    device = f"mon-{p}"
    password = provision("device", device)[device]
    cert, key = subprocess.run([str(REPO / "deploy" / "device-cert.sh"), device], check=True, capture_output=True,
                               text=True).stdout.split()
    try:
        # No client certificate: the broker ends the TLS session (TLS 1.3: at the first read).
        ctx = ssl.create_default_context(cafile=MQTT_CA_FILE)
        with socket.create_connection((MQTT_HOST, MTLS_PORT), timeout=5) as raw:
            with pytest.raises((ssl.SSLError, ConnectionError)):
                with ctx.wrap_socket(raw, server_hostname=MQTT_HOST) as tls:
                    tls.sendall(b"\xc0\x00")  # PINGREQ
                    assert tls.recv(2) != b"\xd0\x00", "answered without a client certificate"
                    raise ConnectionError("closed")
        c = mqtt.Client(client_id=device)
        c.tls_set(ca_certs=MQTT_CA_FILE, certfile=cert, keyfile=key)
        assert connack(c, port=MTLS_PORT) == 5, "a certificate alone is not an account"
        close(c)
        c.username_pw_set(device, password)
        assert connack(c, port=MTLS_PORT) == 0
        close(c)
        other = mqtt.Client(client_id="wardline")
        other.tls_set(ca_certs=MQTT_CA_FILE, certfile=cert, keyfile=key)
        other.username_pw_set(device, password)
        assert connack(other, port=MTLS_PORT) == 5, "the certificate does not free the client id"
        close(other)
    finally:
        revoke(device)
        for f in (cert, key):
            os.unlink(f)


def test_a_gateway_publishes_for_any_device_but_reads_nothing():
    p = unique_prefix()
    gw = f"it-gw-{p}"
    password = provision("gateway", gw)[gw]
    try:
        c = mqtt_client(gw, password, protocol=mqtt.MQTTv5)
        granted = []
        c.on_subscribe = lambda cl, u, mid, codes, props: granted.extend(x.value for x in codes)
        assert connack(c) == 0
        c.subscribe([("devices/+/vitals", 1), ("devices/+/commands", 1)])
        time.sleep(0.5)
        close(c)
        assert granted == [135, 135]
        assert "RC:135" in pub_v5(gw, password, f"devices/mon-{p}/commands")
        assert "RC:135" not in pub_v5(gw, password, f"devices/mon-{p}/vitals")
    finally:
        revoke(gw)


def test_socket_level_tls_is_the_deploy_scripts_ca_and_names_loopback():
    ctx = ssl.create_default_context(cafile=MQTT_CA_FILE)
    with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=MQTT_HOST) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")

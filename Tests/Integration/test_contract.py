"""The running server against its own description, property-based: schemathesis (from PyPI, in the
venv deploy/install.sh makes) generates requests from Sources/WardlineAPI/openapi.yaml, valid and
invalid, and checks every answer (status documented, body matching its schema, 405 with Allow for
undeclared methods, invalid input refused, valid input not refused with 400). Then the seed's
Idempotency-Key on POSTs, and bytes no parser should choke on."""
import json
import os
import pathlib
import re
import socket
import subprocess
import threading
import time
import uuid

from conftest import MQTT_HOST, MQTT_PORT, REPO, VAR, mqtt_client, provision, unique_prefix

SPEC = REPO / "Sources" / "WardlineAPI" / "openapi.yaml"
CONFIG = pathlib.Path(__file__).with_name("schemathesis.toml")
VENV = pathlib.Path(os.environ.get("WARDLINE_VENV", VAR / "venv"))
# Bounded and seeded: the same requests every run, in well under two minutes on two cores. One
# worker: hypothesis parsing lambdas in two threads trips CPython 3.11's "AST constructor recursion
# depth mismatch".
EXAMPLES = int(os.environ.get("WARDLINE_SCHEMATHESIS_EXAMPLES", "30"))
SEED = int(os.environ.get("WARDLINE_SCHEMATHESIS_SEED", "13"))


def test_the_server_keeps_its_contract(wardline_factory, tmp_path):
    st = VENV / "bin" / "st"
    assert st.exists(), f"{st} is missing: deploy/install.sh makes the venv with schemathesis"
    w = wardline_factory(WARDLINE_RATE_LIMIT_PER_S=0).start()  # the fuzzer is one token at full speed; 429 is tested in test_web_edge.py
    admin = w.token("contract-admin", "admin", "*", ttl="2h")
    # Every REST worker connected to the database first: an answer of 503 (with retry_after) while
    # PostgreSQL is out of connections is honest, but it is not what this test is about.
    deadline = time.time() + 60
    ready = 0
    while ready < 8 and time.time() < deadline:
        ready = ready + 1 if w.api("GET", "/ready")[0] == 200 else 0
        time.sleep(0.1)
    assert ready >= 8, "wardline never became ready (is PostgreSQL out of connections?)"
    report = tmp_path / "schemathesis.json"
    started = time.time()
    run = subprocess.run(
        [str(st), "--config-file", str(CONFIG), "--no-color", "run", str(SPEC), "--url", w.url,
         "-H", f"Authorization: Bearer {admin}", "--checks", "all", "--max-examples", str(EXAMPLES), "--seed", str(SEED),
         "--generation-database", "none", "--workers", "1", "--request-timeout", "10",
         "--report", "json", "--report-json-path", str(report)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    elapsed = time.time() - started
    summary = run.stdout[-12000:]
    print(summary)
    print(f"schemathesis: {elapsed:.0f}s")
    assert run.returncode == 0, f"schemathesis found disagreements (exit {run.returncode}):\n{summary}\n{run.stderr[-3000:]}"
    assert "wardline exited" not in w.log()
    assert w.proc.poll() is None, "the server survived every generated request"
    assert re.search(r"\b\d+ generated\b", run.stdout) or report.exists()


class Commands:
    """The device itself, with its own broker account (the only one that may read its command
    topic), subscribed to its commands; counts what arrives."""

    def __init__(self, device):
        self.messages = []
        self.subscribed = threading.Event()
        self.client = mqtt_client(device, provision("device", device)[device])
        self.client.on_message = lambda c, u, m: self.messages.append(json.loads(m.payload))
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.connect(MQTT_HOST, MQTT_PORT, keepalive=30)
        self.client.loop_start()
        self.client.subscribe(f"devices/{device}/commands", qos=1)
        assert self.subscribed.wait(10)

    def settled(self, expected, timeout=20, quiet=3.0):
        """The messages once `expected` have come and nothing more for `quiet` seconds (the shared
        broker is slow under the suite's load; a duplicate would arrive within the quiet time)."""
        deadline = time.time() + timeout
        while len(self.messages) < expected and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(quiet)
        return list(self.messages)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def test_a_retried_command_is_published_once_and_its_answer_replayed(wardline_factory):
    w = wardline_factory().start()
    admin = w.token("idem-admin", "admin", "*")
    device = unique_prefix() + "-mon"
    path = f"/api/v1/devices/{device}/commands"
    commands = Commands(device)
    try:
        key = {"Idempotency-Key": "retry-" + uuid.uuid4().hex}
        body = {"command": "silence", "args": {"seconds": 60}}
        first = w.api("POST", path, admin, body, headers=key)
        second = w.api("POST", path, admin, body, headers=key)
        assert first[0] == 202, first
        assert second[0] == 202 and second[1] == first[1], "the retry gets the first answer, word for word"
        assert second[2].get("idempotent-replayed") == "true"
        assert "idempotent-replayed" not in first[2]
        assert len(commands.settled(1)) == 1, commands.messages
        # Another user's identical key is another key: its work is done.
        other = w.token("idem-admin-2", "admin", "*")
        assert w.api("POST", path, other, body, headers=key)[0] == 202
        # A new key is a new command.
        assert w.api("POST", path, admin, body, headers={"Idempotency-Key": "retry-" + uuid.uuid4().hex})[0] == 202
        assert len(commands.settled(3)) == 3, commands.messages
        # No key: every request is its own.
        assert w.api("POST", path, admin, body)[0] == 202
    finally:
        commands.close()


def test_the_same_key_for_another_request_is_refused(wardline_factory):
    w = wardline_factory().start()
    admin = w.token("idem-admin", "admin", "*")
    device = unique_prefix() + "-mon"
    path = f"/api/v1/devices/{device}/commands"
    commands = Commands(device)
    try:
        key = {"Idempotency-Key": "k-" + uuid.uuid4().hex}
        assert w.api("POST", path, admin, {"command": "identify"}, headers=key)[0] == 202
        status, body, _ = w.api("POST", path, admin, {"command": "reboot"}, headers=key)
        assert status == 422, body
        assert body["error"]["code"] == "idempotency_key_reused" and "different request" in body["message"]
        # The same key on another device's path is another request too.
        status, body, _ = w.api("POST", f"/api/v1/devices/{device}-2/commands", admin, {"command": "identify"}, headers=key)
        assert status == 422, body
        assert [m["command"] for m in commands.settled(1)] == ["identify"]
        # A refused request keeps no key: put right, the same key does the work.
        bad = {"Idempotency-Key": "k-" + uuid.uuid4().hex}
        assert w.api("POST", path, admin, {"command": "dance"}, headers=bad)[0] == 400
        assert w.api("POST", path, admin, {"command": "identify"}, headers=bad)[0] == 202
        assert w.api("POST", path, admin, {"command": "identify"}, headers={"Idempotency-Key": ""})[0] == 400
    finally:
        commands.close()


def test_undeclared_methods_are_405_with_allow(wardline_factory):
    w = wardline_factory().start()
    admin = w.token("a1", "admin", "*")
    cases = [("PATCH", "/api/v1/patients/P1", "PUT, DELETE"), ("DELETE", "/api/v1/alarms", "GET"),
             ("POST", "/health", "GET"), ("PUT", "/api/v1/care-assignments", "GET, POST"),
             ("GET", "/api/v1/alarms/P1/spo2.low/1/acknowledge", "POST"),
             ("DELETE", "/api/v1/devices/d1/commands", "POST"), ("OPTIONS", "/api/v1/me", "GET")]
    for method, path, allow in cases:
        status, body, headers = w.api(method, path, admin)
        assert status == 405, (method, path, status, body)
        assert headers.get("allow") == allow, (method, path, headers)
        assert body["error"]["code"] == "method_not_allowed"
    # Without a token too: the method is wrong whoever asks.
    assert w.api("PATCH", "/api/v1/patients/P1")[0] == 405
    assert w.api("GET", "/api/v1/nowhere", admin)[0] == 404


def raw(w, request_line):
    """One request written by hand (bytes urllib would refuse to send); the status, or None if
    the connection was dropped without an answer."""
    with socket.create_connection(("127.0.0.1", w.http_port), timeout=5) as s:
        s.sendall(request_line + b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return (int(m.group(1)), data) if m else (None, data)


def test_bad_bytes_in_a_query_or_path_are_400(wardline_factory):
    w = wardline_factory().start()
    token = w.token("a1", "admin", "*").encode()
    for target in [b"/api/v1/alarms?patient_id=%ff%fe", b"/api/v1/care-assignments?user_id=a%09b", b"/api/v1/alarms?state=open%01",
                   b"/api/v1/patients/%ff/thresholds", b"/api/v1/patients/P%7f1/vitals", b"/api/v1/alarms?%1b=1"]:
        status, data = raw(w, b"GET " + target + b" HTTP/1.1\r\nAuthorization: Bearer " + token)
        assert status == 400, (target, data[:300])
        assert b'"bad_request"' in data, (target, data[:300])
    assert w.api("GET", "/health")[0] == 200


def test_a_body_too_large_is_refused_in_the_error_envelope(wardline_factory):
    import test_openapi
    w = wardline_factory().start()
    token = w.token("a1", "admin", "*").encode()
    status, data = raw(w, b"POST /api/v1/care-assignments HTTP/1.1\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 2097152\r\nAuthorization: Bearer " + token)
    assert status == 413, data[:300]
    body = json.loads(data.split(b"\r\n\r\n", 1)[1].split(b"\n")[0])
    test_openapi.conforms("/api/v1/care-assignments", "POST", 413, body)
    assert body["error"]["code"] == "payload_too_large"


def test_a_nul_byte_in_a_query_or_path_is_400_not_a_dropped_connection(wardline_factory):
    """A decoded NUL anywhere in the query, at the end of a value too, reaches Wardline by its length
    (libwebsockets 4.3 as deploy/install.sh builds and patches it; 4.1 shut the socket inside its
    parser); in the path the patched parser makes it DEL. Either way it is refused like any control
    character, in the error envelope."""
    w = wardline_factory().start()
    token = w.token("a1", "admin", "*").encode()
    for target in [b"/api/v1/alarms?patient_id=%00", b"/api/v1/alarms?patient_id=P%001", b"/api/v1/alarms?state=open&patient_id=P1%00",
                   b"/api/v1/alarms?patient_id=P1%00%00&state=open", b"/api/v1/alarms?%00=1", b"/api/v1/alarms?state%00=open",
                   b"/api/v1/patients/P%001/vitals", b"/api/v1/patients/P1%00/thresholds", b"/api/v1/alarms%00"]:
        status, data = raw(w, b"GET " + target + b" HTTP/1.1\r\nAuthorization: Bearer " + token)
        assert status == 400, (target, data[:300])
        assert b'"bad_request"' in data and b"holds invalid UTF-8 or a control character" in data, (target, data[:300])
    assert w.api("GET", "/api/v1/alarms?state=open&patient_id=P1", token.decode())[0] == 200

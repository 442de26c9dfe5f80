"""The REST API from a client's side: tokens, the envelope, access by ward and care, history,
alarms and their acknowledgement, devices, commands, readiness and metrics."""
import json
import os
import subprocess
import urllib.parse
import threading
import time


from conftest import BIN, MQTT_HOST, MQTT_PORT, VAR, mqtt_client, now_ms, provision, unique_prefix, with_password


def admit(w, admin, patient, ward, bed):
    status, body, _ = w.api("PUT", f"/api/v1/patients/{patient}", admin, {"ward": ward, "bed": bed})
    assert status == 200, body


def desaturate(publisher, device, patient, seconds, start_ts, spo2=85, seq0=1):
    for i in range(seconds):
        publisher.publish(f"devices/{device}/vitals", {"v": 1, "seq": seq0 + i, "ts": start_ts + i * 1000,
                                                       "patient_id": patient, "hr": 88, "spo2": spo2})
    publisher.wait_all_acked()


def test_tokens_are_checked_on_every_call(wardline_factory):
    w = wardline_factory().start()
    status, body, headers = w.api("GET", "/api/v1/alarms")
    assert status == 401 and body["success"] is False and body["error"]["code"] == "unauthorized"
    assert "no token" in body["message"] and headers.get("www-authenticate") == "Bearer"
    forged = w.token("n1", "nurse", "4B", secret="someone-elses-secret-key")
    status, body, _ = w.api("GET", "/api/v1/alarms", forged)
    assert status == 401 and "signature" in body["message"]
    expired = w.token("n1", "nurse", "4B", ttl="-60")
    status, body, _ = w.api("GET", "/api/v1/alarms", expired)
    assert status == 401 and body["message"] == "token expired"
    status, body, _ = w.api("GET", "/api/v1/alarms", "not-a-token")
    assert status == 401
    assert w.api("GET", "/health")[0] == 200, "health needs no token"


def test_envelope_ids_validation_and_unknown_routes(wardline_factory):
    w = wardline_factory().start()
    admin = w.token("a1", "admin", "*")
    status, body, headers = w.api("GET", "/api/v1/me", admin, headers={"X-Request-ID": "req-42", "X-Correlation-ID": "corr-7"})
    assert status == 200
    assert set(body) >= {"status", "success", "message", "data", "timestamp", "request_id"}
    assert body["request_id"] == "req-42" and headers["x-request-id"] == "req-42" and headers["x-correlation-id"] == "corr-7"
    assert body["data"]["user"] == {"id": "a1", "role": "admin", "ward": "*"}

    status, body, _ = w.api("GET", "/api/v1/patients/P1/vitals?bucket=banana", admin)
    assert status == 400 and body["error"]["code"] == "validation_error"
    assert body["error"]["details"][0]["field"] == "bucket"
    status, body, _ = w.api("GET", "/api/v1/patients/P1/vitals?from=yesterday", admin)
    assert status == 400 and body["error"]["details"][0]["field"] == "from"
    status, body, _ = w.api("POST", "/api/v1/care-assignments", admin, b"{not json")
    assert status == 400 and body["error"]["code"] == "malformed_json"
    status, body, _ = w.api("PUT", "/api/v1/patients/P1", admin, {"ward": 7})
    assert status == 400 and body["error"]["details"][0]["field"] == "ward"
    assert w.api("GET", "/api/v1/nowhere", admin)[0] == 404
    assert w.api("DELETE", "/api/v1/alarms", admin)[0] == 405
    assert w.api("GET", "/no-such-page.html")[0] == 404


def test_access_follows_ward_and_care_assignment(wardline_factory):
    w = wardline_factory().start()
    p = unique_prefix()
    admin = w.token("a1", "admin", "*")
    charge = w.token("c-" + p, "charge_nurse", "4B-" + p)
    nurse = w.token("n-" + p, "nurse", "4B-" + p)
    other_ward_charge = w.token("c7-" + p, "charge_nurse", "7A-" + p)
    admit(w, admin, f"PAT-{p}-1", "4B-" + p, "1")
    admit(w, admin, f"PAT-{p}-2", "4B-" + p, "2")
    # A charge nurse assigns her nurse to bed 1; not to another ward's patient.
    status, body, _ = w.api("POST", "/api/v1/care-assignments", charge, {"user_id": "n-" + p, "patient_id": f"PAT-{p}-1"})
    assert status == 201, body
    status, body, _ = w.api("POST", "/api/v1/care-assignments", other_ward_charge, {"user_id": "x", "patient_id": f"PAT-{p}-1"})
    assert status == 403
    status, body, _ = w.api("POST", "/api/v1/care-assignments", nurse, {"user_id": "n-" + p, "patient_id": f"PAT-{p}-2"})
    assert status == 403, "a nurse cannot assign herself patients"
    deadline = time.time() + 10
    while time.time() < deadline:
        patients = [x["patient_id"] for x in w.api("GET", "/api/v1/patients", nurse)[1]["data"]]
        if patients == [f"PAT-{p}-1"]:
            break
        time.sleep(0.2)
    assert patients == [f"PAT-{p}-1"]
    assert w.api("GET", f"/api/v1/patients/PAT-{p}-1/vitals", nurse)[0] == 200
    status, body, _ = w.api("GET", f"/api/v1/patients/PAT-{p}-2/vitals", nurse)
    assert status == 403 and "not in your care" in body["message"]
    status, body, _ = w.api("GET", f"/api/v1/patients/PAT-{p}-1/vitals", other_ward_charge)
    assert status == 403 and "another ward" in body["message"]
    assert w.api("GET", f"/api/v1/patients/PAT-{p}-2/vitals", charge)[0] == 200
    # Ending the care assignment ends the access.
    assert w.api("DELETE", f"/api/v1/care-assignments/n-{p}/PAT-{p}-1", charge)[0] == 200
    deadline = time.time() + 10
    while time.time() < deadline and w.api("GET", f"/api/v1/patients/PAT-{p}-1/vitals", nurse)[0] != 403:
        time.sleep(0.2)
    assert w.api("GET", f"/api/v1/patients/PAT-{p}-1/vitals", nurse)[0] == 403


def test_history_in_time_buckets_and_latest_news2(wardline_factory, publisher):
    w = wardline_factory().start()
    p = unique_prefix()
    admin = w.token("a1", "admin", "*")
    patient, device = "PAT-" + p, p + "-mon"
    admit(w, admin, patient, "4B", "3")
    t0 = (now_ms() // 60_000) * 60_000 - 5 * 60_000  # five whole minutes ago
    for i in range(180):  # three minutes, one reading a second, HR 60..119 each minute
        publisher.publish(f"devices/{device}/vitals", {"v": 1, "seq": i + 1, "ts": t0 + i * 1000, "patient_id": patient,
                                                       "hr": 60 + i % 60, "spo2": 97, "rr": 16, "temp": 37.0,
                                                       "sbp": 120, "dbp": 80, "o2": False, "acvpu": "A"})
    publisher.wait_all_acked()
    deadline = time.time() + 20
    while time.time() < deadline:
        status, body, _ = w.api("GET", f"/api/v1/patients/{patient}/vitals?from={t0}&to={t0 + 180_000}&bucket=1m", admin)
        if status == 200 and sum(pt["count"] for pt in body["data"]["points"]) == 180:
            break
        time.sleep(0.3)
    points = body["data"]["points"]
    assert body["data"]["bucket_seconds"] == 60 and len(points) == 3
    assert [pt["time"] for pt in points] == [t0, t0 + 60_000, t0 + 120_000]
    assert points[0]["hr"] == {"min": 60, "avg": 89.5, "max": 119}
    assert points[0]["spo2"]["avg"] == 97 and points[0]["sbp"]["max"] == 120
    iso_from = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 / 1000))
    status, body, _ = w.api("GET", f"/api/v1/patients/{patient}/vitals?from={iso_from}&to={t0 + 60_000}&bucket=30s", admin)
    assert status == 200 and len(body["data"]["points"]) == 2
    status, body, _ = w.api("GET", f"/api/v1/patients/{patient}/news2", admin)
    assert status == 200 and body["data"]["news2"]["complete"] is True
    assert body["data"]["news2"]["risk"] in ("low", "low_medium", "medium", "high")


def test_alarms_list_history_and_acknowledge(wardline_factory, db, publisher):
    w = wardline_factory().start()
    p = unique_prefix()
    admin = w.token("a1", "admin", "*")
    patient, device = "PAT-" + p, p + "-oxi"
    admit(w, admin, patient, "4B-" + p, "5")
    nurse = w.token("n-" + p, "nurse", "4B-" + p)
    physician = w.token("d-" + p, "physician", "4B-" + p)
    desaturate(publisher, device, patient, 30, now_ms() - 60_000)
    deadline = time.time() + 20
    alarms = []
    while time.time() < deadline and not alarms:
        alarms = [a for a in w.api("GET", f"/api/v1/alarms?patient_id={patient}&priority=high", physician)[1]["data"]
                  if a["rule_id"] == "spo2.low"]
        time.sleep(0.2)
    assert alarms and alarms[0]["state"] == "active" and alarms[0]["patient_id"] == patient
    alarm_id = alarms[0]["id"]
    assert w.api("POST", f"/api/v1/alarms/{alarm_id}/acknowledge", nurse, {})[0] == 403, "not her patient"
    status, body, _ = w.api("POST", f"/api/v1/alarms/{alarm_id}/acknowledge", physician, {})
    assert status == 200, body
    assert body["data"]["state"] == "acknowledged" and body["data"]["acknowledged_by"] == "d-" + p
    assert db.wait_for("SELECT state FROM alerts WHERE id = %s", "acknowledged", alarm_id, timeout=10) == "acknowledged"
    status, body, _ = w.api("GET", "/api/v1/alarms/" + urllib.parse.quote(alarm_id, safe=""), physician)
    assert [h["kind"] for h in body["data"]["history"]][:2] == ["raised", "acknowledged"]
    assert body["data"]["history"][1]["by"] == "d-" + p
    status, body, _ = w.api("POST", f"/api/v1/alarms/{alarm_id}/acknowledge", physician, {})
    assert status == 409, "acknowledging twice is refused clearly"
    assert w.api("POST", "/api/v1/alarms/no-such-alarm/acknowledge", physician, {})[0] == 404
    assert w.api("GET", "/api/v1/alarms?state=sideways", physician)[0] == 400


def test_devices_assignment_thresholds_and_commands(wardline_factory, db, publisher):
    w = wardline_factory().start()
    p = unique_prefix()
    admin = w.token("a1", "admin", "*")
    charge = w.token("c-" + p, "charge_nurse", "4B-" + p)
    physician = w.token("d-" + p, "physician", "4B-" + p)
    patient, device = "PAT-" + p, p + "-mon"
    status, body, _ = w.api("PUT", f"/api/v1/devices/{device}/assignment", charge, {"patient_id": patient})
    assert status == 409 and body["error"]["code"] == "patient_not_admitted"
    admit(w, admin, patient, "4B-" + p, "9")
    status, body, _ = w.api("PUT", f"/api/v1/devices/{device}/assignment", charge, {"patient_id": patient})
    assert status == 200, body
    assert db.scalar("SELECT patient_id FROM device_assignments WHERE device_id = %s AND discharged_at IS NULL", device) == patient
    devices = {d["device_id"]: d for d in w.api("GET", "/api/v1/devices", charge)[1]["data"]}
    assert devices[device]["patient_id"] == patient and devices[device]["bed"] == "9"

    rule = {"vital": "spo2", "direction": "below", "clear_at": 90,
            "bands": [{"limit": 88, "priority": "high", "persistence_ms": 5000}]}
    assert w.api("PUT", f"/api/v1/patients/{patient}/thresholds/spo2.low", charge, rule)[0] == 403, "limits are prescribed"
    unsafe = dict(rule, clear_at=80)
    status, body, _ = w.api("PUT", f"/api/v1/patients/{patient}/thresholds/spo2.low", physician, unsafe)
    assert status == 400 and "could never clear" in body["message"]
    status, body, _ = w.api("PUT", f"/api/v1/patients/{patient}/thresholds/spo2.low", physician, rule)
    assert status == 200, body
    overrides = w.api("GET", f"/api/v1/patients/{patient}/thresholds", physician)[1]["data"]["overrides"]
    assert overrides[0]["bands"][0]["limit"] == 88

    received = []
    got = threading.Event()
    # The device itself, with its own account: it may read its own commands and no one else's.
    sub = mqtt_client(device, provision("device", device)[device])
    sub.on_message = lambda c, u, m: (received.append((m.topic, json.loads(m.payload))), got.set())
    sub.connect(MQTT_HOST, MQTT_PORT)
    sub.subscribe(f"devices/{device}/commands", qos=1)
    sub.loop_start()
    time.sleep(0.3)
    status, body, _ = w.api("POST", f"/api/v1/devices/{device}/commands", charge, {"command": "set_interval", "args": {"seconds": 5}},
                            headers={"X-Request-ID": "cmd-req-1"})
    assert status == 202, body
    assert got.wait(5)
    sub.loop_stop()
    topic, payload = received[0]
    assert topic == f"devices/{device}/commands"
    assert payload["command"] == "set_interval" and payload["args"] == {"seconds": 5} and payload["by"] == "c-" + p
    assert payload["request_id"] == "cmd-req-1"
    status, body, _ = w.api("POST", f"/api/v1/devices/{device}/commands", charge, {"command": "self_destruct"})
    assert status == 400 and body["error"]["details"][0]["field"] == "command"
    # Arguments are bounded, and only the allowlisted ones exist.
    for bad, field in [({"command": "set_interval", "args": {"seconds": 0}}, "args.seconds"),
                       ({"command": "set_interval", "args": {"seconds": 3601}}, "args.seconds"),
                       ({"command": "silence", "args": {"seconds": 121}}, "args.seconds"),
                       ({"command": "silence"}, "args.seconds"),
                       ({"command": "silence", "args": {"seconds": "60"}}, "args"),
                       ({"command": "identify", "args": {"seconds": 5}}, "args.seconds"),
                       ({"command": "reboot", "args": {"now": 1}}, "args.now")]:
        status, body, _ = w.api("POST", f"/api/v1/devices/{device}/commands", charge, bad)
        assert status == 400 and body["error"]["details"][0]["field"] == field, (bad, body)


def test_ready_and_metrics(wardline_factory, publisher):
    w = wardline_factory().start()
    status, body, _ = w.api("GET", "/ready")
    assert status == 200 and body["data"]["ready"] is True
    assert body["data"]["components"]["database"]["ok"] and body["data"]["components"]["mqtt"]["ok"]
    p = unique_prefix()
    publisher.publish(f"devices/{p}/vitals", b"{broken")
    publisher.wait_all_acked()
    deadline = time.time() + 10
    while time.time() < deadline:
        status, text, headers = w.api("GET", "/metrics")
        if 'wardline_rejected_total{reason="malformed_json"} 0' not in text:
            break
        time.sleep(0.2)
    assert status == 200 and headers["content-type"].startswith("text/plain")
    for name in ["wardline_readings_accepted_total", "wardline_ring_occupancy", "wardline_batch_write_seconds_count",
                 "wardline_websocket_sessions", "wardline_alarms_open", 'wardline_rejected_total{reason="malformed_json"}']:
        assert name in text, name
    assert 'wardline_rejected_total{reason="malformed_json"} 0' not in text


def test_not_ready_when_the_broker_is_unreachable(wardline_factory):
    w = wardline_factory(WARDLINE_MQTT_PORT="1").start(wait=False)
    w.wait_for_log("ward page, REST API and WebSocket hub listening")
    deadline = time.time() + 10
    status = None
    while time.time() < deadline:
        status, body, _ = w.api("GET", "/ready")
        if status == 503:
            break
        time.sleep(0.2)
    assert status == 503 and body["data"]["components"]["mqtt"]["ok"] is False
    assert "mqtt" in body["message"]
    assert w.proc.poll() is None, "an unreachable broker is waited for, never a crash loop"


def test_rs256_tokens_from_an_identity_provider(wardline_factory, tmp_path):
    key, pub = tmp_path / "idp.key", tmp_path / "idp.pub"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-out", str(pub)], check=True, capture_output=True)
    w = wardline_factory(WARDLINE_JWT_PUBLIC_KEY_FILE=str(pub)).start()
    minted = subprocess.run([str(BIN), "token", "--user", "idp-user", "--role", "physician", "--ward", "4B",
                             "--private-key", str(key)], env=w.env, check=True, capture_output=True, text=True).stdout.strip()
    status, body, _ = w.api("GET", "/api/v1/me", minted)
    assert status == 200 and body["data"]["user"]["id"] == "idp-user"
    status, body, _ = w.api("GET", "/api/v1/me", w.token("h", "admin", "*"))
    assert status == 401 and "HS256" in body["message"], "beside an identity provider, HS256 is off unless kept"
    kept = wardline_factory(WARDLINE_JWT_PUBLIC_KEY_FILE=str(pub), WARDLINE_JWT_ALLOW_HS256="true").start()
    assert kept.api("GET", "/api/v1/me", kept.token("h", "admin", "*"))[0] == 200, "HS256 kept beside it"
    assert kept.api("GET", "/api/v1/me", minted)[0] == 200
    plain = wardline_factory().start()
    status, body, _ = plain.api("GET", "/api/v1/me", minted)
    assert status == 401 and "RS256" in body["message"], "without the public key, RS256 is refused with the reason"


class CommandListener:
    """The device itself on its command topic, with its own broker account (the only one allowed
    to read it)."""

    def __init__(self, device):
        self.received = []
        self.client = mqtt_client(device, provision("device", device)[device])
        self.client.on_message = lambda c, u, m: self.received.append(json.loads(m.payload))
        self.client.connect(MQTT_HOST, MQTT_PORT)
        self.client.subscribe(f"devices/{device}/commands", qos=1)
        self.client.loop_start()
        time.sleep(0.3)

    def commands(self, wait=1.0):
        time.sleep(wait)
        return [c["command"] + ":" + c["by"] for c in self.received]

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def test_devices_are_touched_only_by_staff_of_the_wards_involved(wardline_factory, db):
    """Findings of issue 13: a 7A charge nurse removed a 4B device's assignment (200), a 7A physician
    silenced a 4B device (202). Both are refused now, and every device route asks the same policy."""
    w = wardline_factory().start()
    p = unique_prefix()
    ward, other = "4B-" + p, "7A-" + p
    admin = w.token("a1", "admin", "*")
    charge = w.token("c-" + p, "charge_nurse", ward)
    charge7a = w.token("c7-" + p, "charge_nurse", other)
    physician = w.token("d-" + p, "physician", ward)
    physician7a = w.token("d7-" + p, "physician", other)
    nurse = w.token("n-" + p, "nurse", ward)
    colleague = w.token("n2-" + p, "nurse", ward)
    rapid = w.token("r-" + p, "rapid_response", "*")
    patient, patient7a, device = f"PAT-{p}", f"PAT-{p}-7a", f"{p}-mon"
    admit(w, admin, patient, ward, "1")
    admit(w, admin, patient7a, other, "1")
    assert w.api("PUT", f"/api/v1/devices/{device}/assignment", charge, {"patient_id": patient})[0] == 200
    assert w.api("POST", "/api/v1/care-assignments", charge, {"user_id": "n-" + p, "patient_id": patient})[0] == 201
    assigned = "SELECT patient_id FROM device_assignments WHERE device_id = %s AND discharged_at IS NULL"

    # Finding 2: another ward's charge nurse can neither remove the device nor take it for her patient.
    status, body, _ = w.api("DELETE", f"/api/v1/devices/{device}/assignment", charge7a)
    assert status == 403 and body["error"]["code"] == "forbidden" and "ward " + ward in body["message"], body
    status, body, _ = w.api("PUT", f"/api/v1/devices/{device}/assignment", charge7a, {"patient_id": patient7a})
    assert status == 403, body
    # ... nor can the 4B charge nurse move it onto a 7A patient (the target's ward is checked too).
    assert w.api("PUT", f"/api/v1/devices/{device}/assignment", charge, {"patient_id": patient7a})[0] == 403
    assert w.api("DELETE", f"/api/v1/devices/{device}/assignment", physician)[0] == 403, "physicians do not admit devices"
    assert db.scalar(assigned, device) == patient
    assert device not in [d["device_id"] for d in w.api("GET", "/api/v1/devices", charge7a)[1]["data"]]
    assert device in [d["device_id"] for d in w.api("GET", "/api/v1/devices", charge)[1]["data"]]

    # Finding 3: another ward's physician cannot command the device; her ward's can.
    listener = CommandListener(device)
    try:
        silence = {"command": "silence", "args": {"seconds": 60}}
        status, body, _ = w.api("POST", f"/api/v1/devices/{device}/commands", physician7a, silence)
        assert status == 403 and "another ward" in body["message"], body
        assert w.api("POST", f"/api/v1/devices/{device}/commands", physician, silence)[0] == 202
        # Nurses may silence the devices of their own patients (WARDLINE_COMMAND_ROLES: nurse:silence), nothing else.
        deadline = time.time() + 10
        while w.api("POST", f"/api/v1/devices/{device}/commands", nurse, silence)[0] != 202 and time.time() < deadline:
            time.sleep(0.2)  # the care assignment reaches the directory within a refresh
        status, body, _ = w.api("POST", f"/api/v1/devices/{device}/commands", nurse, {"command": "reboot"})
        assert status == 403 and "may not send reboot" in body["message"], body
        assert w.api("POST", f"/api/v1/devices/{device}/commands", colleague, silence)[0] == 403, "not her patient"
        assert w.api("POST", f"/api/v1/devices/{device}/commands", rapid, silence)[0] == 403, "not a commanding role by default"
        assert w.api("POST", f"/api/v1/devices/{device}/commands", charge7a, {"command": "identify"})[0] == 403
        sent = listener.commands()
        assert sorted(sent) == sorted([f"silence:d-{p}", f"silence:n-{p}"]), sent
    finally:
        listener.close()

    # Admission follows the same rule: the 7A charge nurse cannot move a 4B patient to her ward.
    assert w.api("PUT", f"/api/v1/patients/{patient}", charge7a, {"ward": other, "bed": "2"})[0] == 403
    assert w.api("DELETE", f"/api/v1/patients/{patient}", charge7a)[0] == 403
    assert w.api("PUT", f"/api/v1/patients/{patient}/thresholds/spo2.low", physician7a,
                 {"vital": "spo2", "direction": "below", "clear_at": 90,
                  "bands": [{"limit": 88, "priority": "high", "persistence_ms": 5000}]})[0] == 403
    # Her own ward's charge nurse may take the device off.
    assert w.api("DELETE", f"/api/v1/devices/{device}/assignment", charge)[0] == 200
    assert db.scalar(assigned, device) is None


def test_commands_come_only_from_the_roles_the_hospital_configures(wardline_factory):
    w = wardline_factory(WARDLINE_COMMAND_ROLES="admin,physician:identify").start()
    p = unique_prefix()
    admin = w.token("a1", "admin", "*")
    admit(w, admin, f"PAT-{p}", "4B-" + p, "1")
    device = f"{p}-mon"
    assert w.api("PUT", f"/api/v1/devices/{device}/assignment", admin, {"patient_id": f"PAT-{p}"})[0] == 200
    physician = w.token("d-" + p, "physician", "4B-" + p)
    charge = w.token("c-" + p, "charge_nurse", "4B-" + p)
    assert w.api("POST", f"/api/v1/devices/{device}/commands", physician, {"command": "identify"})[0] == 202
    assert w.api("POST", f"/api/v1/devices/{device}/commands", physician, {"command": "reboot"})[0] == 403
    assert w.api("POST", f"/api/v1/devices/{device}/commands", charge, {"command": "identify"})[0] == 403
    assert w.api("POST", f"/api/v1/devices/{device}/commands", admin, {"command": "reboot"})[0] == 202


def test_issuer_and_audience_are_checked_when_configured(wardline_factory):
    w = wardline_factory(WARDLINE_JWT_ISSUER="https://idp.wardline.test", WARDLINE_JWT_AUDIENCE="wardline-it").start()

    def mint(*extra):
        return subprocess.run([str(BIN), "token", "--user", "u1", "--role", "admin", "--ward", "*", *extra], env=w.env,
                              check=True, capture_output=True, text=True).stdout.strip()

    assert w.api("GET", "/api/v1/me", mint())[0] == 200, "wardline token carries the configured iss and aud"
    status, body, _ = w.api("GET", "/api/v1/me", mint("--issuer", "https://elsewhere.test"))
    assert status == 401 and "(iss)" in body["message"], body
    status, body, _ = w.api("GET", "/api/v1/me", mint("--audience", "pharmacy"))
    assert status == 401 and "(aud)" in body["message"], body
    status, body, _ = w.api("GET", "/api/v1/me", mint("--issuer", "", "--audience", ""))
    assert status == 401, "a token without iss is refused when an issuer is configured"


def test_the_public_demo_secret_never_listens_beyond_loopback(wardline_factory):
    w = wardline_factory(WARDLINE_HTTP_HOST="0.0.0.0", WARDLINE_JWT_SECRET="wardline-dev-secret-change-me")
    w.start(wait=False)
    assert w.proc.wait(timeout=30) == 78
    assert "WARDLINE_JWT_SECRET is the public demo default and WARDLINE_HTTP_HOST=0.0.0.0" in w.log()
    assert "wardline-dev-secret-change-me" not in w.log()
    # With a secret of its own it listens there.
    own = wardline_factory(WARDLINE_HTTP_HOST="0.0.0.0").start()
    assert own.api("GET", "/health")[0] == 200


def test_config_logs_and_ready_never_show_a_secret(wardline_factory, database_url, tmp_path):
    secrets = {"jwt": "jwt-secret-for-the-config-test-42", "mqtt": "mqtt-password-42",
               "rabbit": "rabbit-password-42", "file": "jwt-secret-from-the-file-42"}
    # The database URL with Wardline's real password in it (instead of its passfile), as an
    # operator might write it: it must be masked everywhere too.
    db_password = (VAR / "secrets" / "postgres-wardline.password").read_text().strip()
    db_url = with_password(database_url, db_password).split("?", 1)[0]
    env = dict(os.environ, WARDLINE_JWT_SECRET=secrets["jwt"], WARDLINE_MQTT_PASSWORD=secrets["mqtt"],
               WARDLINE_RABBITMQ_URL=f"amqp://wardline:{secrets['rabbit']}@127.0.0.1:1/wardline", WARDLINE_DATABASE_URL=db_url)
    out = subprocess.run([str(BIN), "config"], env=env, check=True, capture_output=True, text=True).stdout
    for s in list(secrets.values()) + [db_password]:
        assert s not in out, s
    assert "WARDLINE_JWT_SECRET=***" in out and "WARDLINE_MQTT_PASSWORD=***" in out
    assert "amqp://wardline:***@127.0.0.1:1/wardline" in out and "WARDLINE_DATABASE_URL=" + db_url.replace(db_password, "***") in out
    # A secret from the WARDLINE_CONFIG file is masked too.
    conf = tmp_path / "wardline.conf"
    conf.write_text(f"WARDLINE_JWT_SECRET={secrets['file']}\n")
    file_env = {k: v for k, v in env.items() if k != "WARDLINE_JWT_SECRET"}
    out = subprocess.run([str(BIN), "config"], env=dict(file_env, WARDLINE_CONFIG=str(conf)), check=True,
                         capture_output=True, text=True).stdout
    assert secrets["file"] not in out and "WARDLINE_JWT_SECRET=***" in out
    # Running, with a broker that refuses (nothing listens on port 1): not in the log, nor in /ready.
    w = wardline_factory(WARDLINE_JWT_SECRET=secrets["jwt"], WARDLINE_DATABASE_URL=db_url,
                         WARDLINE_RABBITMQ_URL=f"amqp://wardline:{secrets['rabbit']}@127.0.0.1:1/wardline").start()
    ready = json.dumps(w.api("GET", "/ready")[1])
    time.sleep(2)
    for s in (secrets["jwt"], secrets["rabbit"], db_password):
        assert s not in w.log() and s not in ready, s

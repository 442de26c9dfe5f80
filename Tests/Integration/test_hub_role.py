"""`serve --role hub` against the real services: one `serve` (role all) raises alarms and scores
readings, which reach Kafka through the outbox and the readings feed; two hub nodes, which have
no MQTT and no engine, serve the ward page, REST and sockets from those topics. An acknowledgement
through a hub goes to the patient's partition of the device topic and is answered from
`engine_command_results` (written here, standing in for the engine node). The ward page survives
the loss of its hub (kill -9) by moving to the other one."""
import json
import os
import pathlib
import signal
import subprocess
import threading
import time

import pytest
import websocket
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import BIN, Wardline, forget_session, free_port, now_ms, revoke, unique_prefix
from test_ward_page import browser  # noqa: F401  (the headless Chromium fixture)

DEVICE_TOPIC = "wardline.device-messages"
DEVICE_PARTITIONS = 12


class HubNode(Wardline):
    """One `wardline serve --role hub`: no MQTT account, its own folder and log."""

    def start(self, wait=True):
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([str(BIN), "serve", "--role", "hub"], env=self.env, stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        if wait:
            # Both feeds have their partitions assigned at the end.
            self.wait_for_log("hub feed reading", occurrences=2)
        return self


def partition_of(key, partitions=DEVICE_PARTITIONS):
    """PatientPartition.of: FNV-1a (64 bit) of the key, modulo the partition count."""
    h = 0xCBF29CE484222325
    for b in key.encode():
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h % partitions


@pytest.fixture(scope="module")
def ward(database_url, tmp_path_factory):
    """serve (role all, with the readings feed) and hubs A and B, each the other's peer."""
    root = tmp_path_factory.mktemp("hub-role")
    serve = Wardline(database_url, root / "serve", WARDLINE_KAFKA_READINGS_TOPIC="wardline.readings")
    (root / "serve").mkdir()
    ports = [free_port(), free_port()]
    hubs = []
    for name, own, other in (("a", ports[0], ports[1]), ("b", ports[1], ports[0])):
        (root / name).mkdir()
        hubs.append(HubNode(database_url, root / name, WARDLINE_HTTP_PORT=own, WARDLINE_HUB_PEERS=f"http://127.0.0.1:{other}",
                            WARDLINE_KAFKA_READINGS_TOPIC="wardline.readings"))
    serve.start()
    for h in hubs:
        h.start()
    # A feed assigned "at the end" learns where the end is on its first fetch: let it.
    time.sleep(1.5)
    yield serve, hubs[0], hubs[1]
    for node in (serve, *hubs):
        node.stop(signal.SIGKILL)
    client_id = serve.env["WARDLINE_MQTT_CLIENT_ID"]
    if serve.env.get("WARDLINE_MQTT_USERNAME") == client_id:
        forget_session(client_id, serve.env["WARDLINE_MQTT_PASSWORD"])
        revoke(client_id)


def connect(node, token, origin=None):
    kwargs = {"origin": origin} if origin else {}
    return websocket.create_connection(f"ws://127.0.0.1:{node.http_port}/ws?token={token}", timeout=5, **kwargs)


def frames(ws, seconds, stop=lambda m: False):
    out = []
    deadline = time.time() + seconds
    ws.settimeout(0.1)
    while time.time() < deadline:
        try:
            raw = ws.recv()
        except websocket.WebSocketTimeoutException:
            continue
        if raw:
            out.append(json.loads(raw))
            if stop(out[-1]):
                break
    return out


def until(ws, event, seconds=10, where=lambda d: True):
    for m in frames(ws, seconds, stop=lambda m: m["event"] == event and where(m["data"])):
        if m["event"] == event and where(m["data"]):
            return m
    raise AssertionError(f"no {event} within {seconds}s")


def desaturate(publisher, patient):
    """30 s of SpO2 84 %, back-dated: raises a high-priority spo2.low alarm at once."""
    t0 = now_ms() - 60_000
    for i in range(30):
        publisher.publish(f"devices/{patient}-oxi/vitals", {"v": 1, "seq": i + 1, "ts": t0 + i * 1000, "patient_id": patient,
                                                           "hr": 90, "spo2": 84})
    publisher.wait_all_acked()


def admit(node, admin, patient, ward_name, bed):
    assert node.api("PUT", f"/api/v1/patients/{patient}", admin, {"ward": ward_name, "bed": bed})[0] == 200


def open_alarm(node, token, patient, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, body, _ = node.api("GET", f"/api/v1/alarms?patient_id={patient}", token)
        if status == 200 and body["data"]:
            return body["data"][0]
        time.sleep(0.2)
    raise AssertionError(f"no open alarm for {patient} within {timeout}s")


def acknowledgements_on_the_device_topic(env, alarm_id, want, timeout=6):
    """The hub's acknowledge records for this alarm: (key, partition, kind byte, command)."""
    deadline = time.time() + timeout
    found = []
    while time.time() < deadline:
        out = subprocess.run([str(BIN), "events", "--topic", DEVICE_TOPIC, "--idle", "0.7"], capture_output=True, text=True,
                             timeout=30, env=env)
        found = []
        for line in out.stdout.splitlines():
            e = json.loads(line)
            value = e["value"] if isinstance(e["value"], str) else ""
            start = value.find('{"alarm_id"')
            if start < 0:
                continue
            command = json.loads(value[start:])
            if command["alarm_id"] == alarm_id:
                found.append((e["key"], e["partition"], value[0], command))
        if len(found) >= want:
            return found
    return found


def test_a_nurse_on_a_hub_gets_her_patients_alarm_and_readings_and_no_one_elses(ward, publisher, db):
    serve, hub_a, _ = ward
    p = unique_prefix()
    admin = hub_a.token("a1", "admin", "*")
    ward_name = "4B-" + p
    mine, theirs = f"PAT-{p}-1", f"PAT-{p}-2"
    admit(hub_a, admin, mine, ward_name, "1")
    admit(hub_a, admin, theirs, ward_name, "2")
    assert hub_a.api("POST", "/api/v1/care-assignments", admin, {"user_id": "n-" + p, "patient_id": mine})[0] == 201
    assert hub_a.api("POST", "/api/v1/care-assignments", admin, {"user_id": "m-" + p, "patient_id": theirs})[0] == 201
    time.sleep(1.5)  # the hub's directory refresh (1 s in the tests)
    nurse = connect(hub_a, hub_a.token("n-" + p, "nurse", ward_name))
    other = connect(hub_a, hub_a.token("m-" + p, "nurse", ward_name))
    until(nurse, "session:ready")
    until(other, "session:ready")
    nurse.send(json.dumps({"event": "subscribe:patient", "data": {"patient_id": mine}}))
    until(nurse, "subscribed")
    other.send(json.dumps({"event": "subscribe:patient", "data": {"patient_id": mine}}))
    refused = until(other, "error")["data"]
    assert refused["code"] == "forbidden" and refused["patient_id"] == mine
    other.send(json.dumps({"event": "subscribe:patient", "data": {"patient_id": theirs}}))
    until(other, "subscribed")

    # Two records no hub can read, through the outbox ahead of the alarm: skipped and counted.
    for junk in ('{"event_type": "vitals.alert.raised", "data": {"alert_id": "x"}}', '{"not": "an alarm event"}'):
        db.query("INSERT INTO outbox (event_id, topic, key, payload) VALUES (gen_random_uuid(), 'wardline.alerts', %s, %s::jsonb) "
                 "RETURNING id", mine, junk)
    desaturate(publisher, mine)
    got = frames(nurse, 15, stop=lambda m: m["event"] == "alert:critical")
    vitals = [m["data"] for m in got if m["event"] == "vitals:update"]
    alarms = [m["data"] for m in got if m["event"] == "alert:critical"]
    assert alarms, f"no alert:critical on hub A: {[m['event'] for m in got]}"
    assert alarms[0]["patient_id"] == mine and alarms[0]["rule_id"] == "spo2.low" and alarms[0]["state"] == "active"
    assert alarms[0]["transition"] == "raised" and alarms[0]["priority"] == "high"
    assert vitals and all(v["patient_id"] == mine for v in vitals), "scored readings reach the socket from the readings topic"
    assert vitals[-1]["vitals"]["spo2"] == 84 and "news2" in vitals[-1]
    # The same alarm as the store holds.
    stored = open_alarm(hub_a, admin, mine)
    assert stored["id"] == alarms[0]["id"] and stored["revision"] == alarms[0]["revision"]
    # The other nurse hears nothing of a patient she does not look after.
    leaked = [m for m in frames(other, 2) if (m.get("data") or {}).get("patient_id") == mine]
    assert leaked == [], leaked
    # /news2 from the hub's own copy of the feed.
    status, body, _ = hub_a.api("GET", f"/api/v1/patients/{mine}/news2", hub_a.token("n-" + p, "nurse", ward_name))
    assert status == 200 and body["data"]["news2"]["total"] == vitals[-1]["news2"]["total"]
    feed = sorted(ln for ln in hub_a.api("GET", "/metrics")[1].splitlines() if ln.startswith("wardline_hub_feed"))
    assert feed[0] == "wardline_hub_feed_bad_records_total 2" and feed[1] != "wardline_hub_feed_records_total 0", feed
    assert "hub feed: record skipped" in hub_a.log() and mine not in hub_a.log(), "where and why, never whose"
    nurse.close()
    other.close()


def test_an_acknowledgement_through_a_hub_goes_to_the_patients_partition_and_is_answered_by_the_engine(ward, publisher, db):
    serve, hub_a, _ = ward
    p = unique_prefix()
    ward_name = "4B-" + p
    patient = f"PAT-{p}-1"
    admin = hub_a.token("a1", "admin", "*")
    admit(hub_a, admin, patient, ward_name, "1")
    charge = hub_a.token("c-" + p, "charge_nurse", ward_name)
    stranger = hub_a.token("s-" + p, "charge_nurse", "7A-" + p)
    desaturate(publisher, patient)
    alarm = open_alarm(hub_a, admin, patient)

    # Another ward's charge nurse may not: 403, and nothing goes to the engine.
    status, body, _ = hub_a.api("POST", f"/api/v1/alarms/{alarm['id']}/acknowledge", stranger, {})
    assert status == 403 and body["error"]["code"] == "forbidden"

    answer = {}
    started = time.time()
    t = threading.Thread(target=lambda: answer.update(
        r=hub_a.api("POST", f"/api/v1/alarms/{alarm['id']}/acknowledge", charge, {}), at=time.time()))
    t.start()
    records = acknowledgements_on_the_device_topic(hub_a.env, alarm["id"], want=1)
    assert len(records) == 1, f"{len(records)} acknowledge records for the alarm on {DEVICE_TOPIC}"
    key, partition, kind, command = records[0]
    assert key == patient and partition == partition_of(patient), (key, partition)
    assert kind == "\x02", "kind acknowledge"
    assert command["user_id"] == "c-" + p and len(command["request_id"]) == 36
    # The engine node's part: apply it, then answer.
    db.query("UPDATE alerts SET state = 'acknowledged', acknowledged_by = %s, acknowledged_at = now(), revision = revision + 1 "
             "WHERE id = %s RETURNING id", "c-" + p, alarm["id"])
    db.query("INSERT INTO engine_command_results (request_id, status, code, message, alarm_id) VALUES (%s::uuid, 200, 'ok', "
             "'acknowledged', %s) RETURNING request_id", command["request_id"], alarm["id"])
    t.join(10)
    status, body, _ = answer["r"]
    assert status == 200, body
    assert body["data"]["id"] == alarm["id"] and body["data"]["state"] == "acknowledged"
    assert body["data"]["acknowledged_by"] == "c-" + p
    assert answer["at"] - started < 5, "answered from the row, not after the 5 s wait"

    # No answer from any engine: 503 after 5 s, and the command was sent all the same.
    started = time.time()
    status, body, _ = hub_a.api("POST", f"/api/v1/alarms/{alarm['id']}/acknowledge", charge, {})
    waited = time.time() - started
    assert status == 503 and body["error"]["code"] == "engine_busy", body
    assert 4.5 <= waited < 8, waited
    records = acknowledgements_on_the_device_topic(hub_a.env, alarm["id"], want=2)
    assert len(records) == 2 and len({r[3]["request_id"] for r in records}) == 2, records

    # An engine that refuses: its status, code and message.
    t = threading.Thread(target=lambda: answer.update(r=hub_a.api("POST", f"/api/v1/alarms/{alarm['id']}/acknowledge", charge, {})))
    t.start()
    records = acknowledgements_on_the_device_topic(hub_a.env, alarm["id"], want=3)
    db.query("INSERT INTO engine_command_results (request_id, status, code, message, alarm_id) VALUES (%s::uuid, 409, "
             "'not_open', 'alarm is no longer open', %s) RETURNING request_id", records[-1][3]["request_id"], alarm["id"])
    t.join(10)
    status, body, _ = answer["r"]
    assert status == 409 and body["error"]["code"] == "not_open" and body["message"] == "alarm is no longer open", body

    # The socket's acknowledge frame takes the same road; a refusal comes back as an error frame.
    ws = connect(hub_a, charge)
    until(ws, "session:ready")
    ws.send(json.dumps({"event": "alert:acknowledge", "data": {"alarm_id": alarm["id"]}}))
    records = acknowledgements_on_the_device_topic(hub_a.env, alarm["id"], want=4)
    assert len(records) == 4 and records[-1][0] == patient and records[-1][1] == partition_of(patient)
    db.query("INSERT INTO engine_command_results (request_id, status, code, message, alarm_id) VALUES (%s::uuid, 409, "
             "'not_open', 'alarm is no longer open', %s) RETURNING request_id", records[-1][3]["request_id"], alarm["id"])
    error = until(ws, "error", where=lambda d: d.get("alarm_id") == alarm["id"])["data"]
    assert error["code"] == "not_open", error
    ws.close()


def test_only_the_peer_hubs_origins_may_call_across_origins(ward):
    _, hub_a, hub_b = ward
    token = hub_a.token("c1", "charge_nurse", "4B")
    peer = hub_b.url
    status, _, headers = hub_a.api("OPTIONS", "/api/v1/alarms", headers={"Origin": peer, "Access-Control-Request-Method": "GET",
                                                                        "Access-Control-Request-Headers": "authorization"})
    assert status == 204 and headers.get("access-control-allow-origin") == peer
    assert "authorization" in headers.get("access-control-allow-headers", "")
    status, _, headers = hub_a.api("GET", "/api/v1/alarms?state=open", token, headers={"Origin": peer})
    assert status == 200 and headers.get("access-control-allow-origin") == peer
    for stranger in ("http://127.0.0.1:1", "http://evil.example", "null"):
        status, _, headers = hub_a.api("GET", "/api/v1/alarms?state=open", token, headers={"Origin": stranger})
        assert "access-control-allow-origin" not in headers, (stranger, headers)
        status, _, headers = hub_a.api("OPTIONS", "/api/v1/alarms", headers={"Origin": stranger, "Access-Control-Request-Method": "GET"})
        assert "access-control-allow-origin" not in headers, (stranger, headers)
    # The socket: the peer's page may open one, another site's may not.
    ws = connect(hub_a, token, origin=peer)
    until(ws, "session:ready")
    ws.close()
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(hub_a, token, origin="http://evil.example")
    assert refused.value.status_code == 403


def css(driver, selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def banner_patients(driver):
    return {e.get_attribute("data-patient") for e in css(driver, "#alarm-list > [data-alarm-id]")}


def test_the_ward_page_moves_to_the_other_hub_when_its_own_dies(ward, publisher, browser, db):  # noqa: F811
    serve, hub_a, hub_b = ward
    p = unique_prefix()
    ward_name = "4B-" + p
    admin = hub_a.token("a1", "admin", "*")
    gap, after = f"PAT-{p}-1", f"PAT-{p}-2"
    admit(hub_a, admin, gap, ward_name, "1")
    admit(hub_a, admin, after, ward_name, "2")
    time.sleep(1.5)
    token = hub_a.token("c-" + p, "charge_nurse", ward_name)
    browser.get(f"{hub_a.url}/#token={token}")
    wait = WebDriverWait(browser, 15, poll_frequency=0.05)
    wait.until(lambda d: css(d, "#connection-state[data-state='live']"))
    assert browser.execute_script("return document.body.dataset.hub") == hub_a.url
    assert browser.execute_script("return window.wardline.hubs.list") == [hub_a.url, hub_b.url]

    # Hub A dies and hub B stalls: the page has no hub while the next alarm is raised.
    hub_a.stop(signal.SIGKILL)
    os.kill(hub_b.proc.pid, signal.SIGSTOP)
    try:
        desaturate(publisher, gap)
        assert db.wait_for("SELECT count(*) FROM outbox WHERE key = %s AND delivered_at IS NOT NULL", 1, gap, timeout=20) == 1
        assert browser.execute_script("return document.getElementById('connection-state').dataset.state") != "live"
    finally:
        os.kill(hub_b.proc.pid, signal.SIGCONT)
    WebDriverWait(browser, 25, poll_frequency=0.1).until(
        lambda d: d.execute_script("return document.body.dataset.hub") == hub_b.url
        and css(d, "#connection-state[data-state='live']"))
    wait.until(lambda d: gap in banner_patients(d))

    # Raised after the move: on hub B's socket.
    desaturate(publisher, after)
    wait.until(lambda d: after in banner_patients(d))
    assert {gap, after} <= banner_patients(browser)
    # The page (served by hub A) may call hub B's REST API across origins: Chromium enforces CORS.
    status = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0] + '/api/v1/alarms?state=open', {headers: {Authorization: 'Bearer ' + arguments[1]}})"
        ".then(r => done(r.status), e => done(String(e)));", hub_b.url, token)
    assert status == 200, status

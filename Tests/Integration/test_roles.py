"""Past one machine (issue 14): one ingest node, three engine nodes and two hub nodes on the real
Tansu, PostgreSQL, RabbitMQ and mosquitto. An engine node is killed with -9 in the middle of a
patient's desaturation; the node that adopts its partitions raises the alarm once, continues the
alarm that was already open without raising it again, and no reading is lost or stored twice. A
nurse's socket on hub A receives the alarm the adopting engine computed; her acknowledgement
through hub A is applied by that engine and cancels the escalation. (The ward page moving to the
other hub after a kill -9 of its own is test_hub_role.py's browser test.)"""
import json
import signal
import time

from conftest import now_ms, unique_prefix
from test_hub_role import HubNode, connect, frames, until
from test_taskqueue import RABBITMQ_URL, gateway, webhook_worker  # noqa: F401  (gateway: the webhook fixture)

PARTITIONS = 12


def partition_of(key, partitions=PARTITIONS):
    """PatientPartition.of: FNV-1a 64 of the key, modulo the partition count."""
    h = 0xcbf29ce484222325
    for b in key.encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h % partitions


def node(wardline_factory, tmp_path, name, role, **settings):
    folder = tmp_path / name
    folder.mkdir()
    w = wardline_factory(WARDLINE_VAR=str(folder), WARDLINE_ROLE=role, WARDLINE_PAYLOAD_PATIENT_ID="refuse",
                         WARDLINE_ALARM_REPLAY_S=str(settings.pop("replay_s", 0)), **settings)
    w.log_path = folder / "wardline.log"
    return w


def adopted(node, partition):
    return any("partition adopted" in line and f"partition={partition} " in line for line in node.log().splitlines())


def oximetry(publisher, device, patient, seqs, t0, spo2):
    for i in seqs:
        publisher.publish(f"devices/{device}/vitals",
                          {"v": 1, "seq": i, "ts": t0 + i * 1000, "patient_id": patient, "hr": 90, "spo2": spo2})


def test_an_engine_node_killed_mid_deterioration_its_patients_alarm_once(wardline_factory, worker_factory, gateway, tmp_path,
                                                                        db, publisher, database_url):
    prefix = unique_prefix().upper()
    falling = f"PAT-{prefix}-A"
    # A second patient on the same partition, whose alarm is already open when the node dies.
    open_already = next(f"PAT-{prefix}-B{i}" for i in range(1000) if partition_of(f"PAT-{prefix}-B{i}") == partition_of(falling))
    steady = next(f"PAT-{prefix}-C{i}" for i in range(1000) if partition_of(f"PAT-{prefix}-C{i}") == partition_of(falling))
    devices = {falling: falling.lower() + "-oxi", open_already: open_already.lower() + "-oxi", steady: steady.lower() + "-oxi"}
    for patient, device in devices.items():
        db.query("INSERT INTO device_assignments (device_id, patient_id, ward, bed) VALUES (%s, %s, 'ROLES', '1') RETURNING id",
                 device, patient)

    ward = "ROLES-" + prefix
    db.query("INSERT INTO patients (patient_id, ward, bed) VALUES (%s, %s, '1') RETURNING patient_id", falling, ward)
    db.query("INSERT INTO care_assignments (user_id, patient_id) VALUES (%s, %s) RETURNING user_id", "n-" + prefix, falling)
    worker = webhook_worker(worker_factory, gateway, WARDLINE_ESCALATION_S=6)
    engines = [node(wardline_factory, tmp_path, f"engine{i}", "engine", WARDLINE_RABBITMQ_URL=RABBITMQ_URL,
                    WARDLINE_ESCALATION_S=6) for i in range(3)]
    for e in engines:
        e.start(wait=False)
    for e in engines:
        e.wait_for_log("partition adopted", timeout=60)
    ingest = node(wardline_factory, tmp_path, "ingest", "ingest").start()
    hubs = []
    for name in ("hubA", "hubB"):
        (tmp_path / name).mkdir()
        hubs.append(HubNode(database_url, tmp_path / name))
    hubs[0].env["WARDLINE_HUB_PEERS"] = hubs[1].url
    hubs[1].env["WARDLINE_HUB_PEERS"] = hubs[0].url
    for h in hubs:
        h.start()
    hub_a = hubs[0]
    time.sleep(1.5)  # a hub's feeds learn where the end is on their first fetch
    nurse_token = hub_a.token("n-" + prefix, "nurse", ward)
    nurse = connect(hub_a, nurse_token)
    until(nurse, "session:ready")
    nurse.send(json.dumps({"event": "subscribe:patient", "data": {"patient_id": falling}}))
    until(nurse, "subscribed")
    # Every partition has exactly one owner, and the three nodes share them.
    deadline = time.time() + 30
    while time.time() < deadline:
        held = {e: e.log().count("partition adopted") for e in engines}
        if sum(held.values()) == PARTITIONS:
            break
        time.sleep(0.2)
    assert sum(held.values()) == PARTITIONS and all(n > 0 for n in held.values()), held
    owners = db.query("SELECT count(DISTINCT objid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
                      "AND objid < 65535 AND classid = (SELECT classid FROM pg_locks WHERE locktype = 'advisory' "
                      "AND objid = 65535 LIMIT 1)")[0][0]
    assert owners == PARTITIONS

    t0 = now_ms() - 90_000
    oximetry(publisher, devices[open_already], open_already, range(1, 31), t0, 84)
    oximetry(publisher, devices[falling], falling, range(1, 6), t0, 84)  # not yet past the persistence delay
    publisher.wait_all_acked()
    assert db.wait_for("SELECT count(*) FROM alerts WHERE patient_id = %s AND rule_id = 'spo2.low'", 1, open_already,
                       timeout=30) == 1
    assert db.wait_for("SELECT count(*) FROM vitals WHERE patient_id = %s", 5, falling, timeout=30) == 5
    assert db.scalar("SELECT count(*) FROM alerts WHERE patient_id = %s", falling) == 0

    p = partition_of(falling)
    # With no replay horizon the floor follows the writers: the next owner reads only what comes
    # after the open alarm was stored, so only the store can tell it the alarm is open.
    # The floor moves in steps of the horizon's granule as newer records arrive: one more reading
    # on the partition, a second later, carries it past the open alarm.
    time.sleep(1)
    steady_from = now_ms()
    publisher.publish(f"devices/{devices[steady]}/vitals", {"v": 1, "seq": 1, "ts": now_ms(), "patient_id": steady,
                                                            "hr": 70, "spo2": 97, "rr": 14})
    publisher.wait_all_acked()
    assert db.wait_for("SELECT count(*) FROM engine_partitions WHERE topic = 'wardline.device-messages' AND partition = %s "
                       "AND floor_received_at >= %s", 1, p, steady_from, timeout=10) == 1, \
        "the partition's floor did not follow the writers"
    owner = next(e for e in engines if adopted(e, p))
    survivors = [e for e in engines if e is not owner]
    owner.stop(signal.SIGKILL)
    killed = time.time()

    oximetry(publisher, devices[falling], falling, range(6, 31), t0, 84)
    oximetry(publisher, devices[open_already], open_already, range(31, 71), t0, 84)
    publisher.wait_all_acked()
    raised = None
    while time.time() < killed + 30:
        if db.scalar("SELECT count(*) FROM alerts WHERE patient_id = %s AND rule_id = 'spo2.low'", falling):
            raised = time.time()
            break
        time.sleep(0.1)
    assert raised, "no engine raised the falling patient's alarm after its owner was killed"
    print(f"\nkill -9 of the owning engine → alarm stored {raised - killed:.2f} s later")
    assert raised - killed < 15
    # Hub A, which computes nothing, shows the alarm the adopting engine raised.
    shown = until(nurse, "alert:critical", seconds=15, where=lambda d: d["patient_id"] == falling)["data"]
    stored_id = db.scalar("SELECT id FROM alerts WHERE patient_id = %s AND rule_id = 'spo2.low'", falling)
    assert shown["id"] == stored_id and shown["transition"] == "raised"
    print(f"kill -9 → alert:critical on hub A {time.time() - killed:.2f} s")
    # Her acknowledgement through hub A: applied by the owner, answered, and the escalation cancelled.
    status, body, _ = hub_a.api("POST", f"/api/v1/alarms/{stored_id}/acknowledge", nurse_token, {})
    assert status == 200 and body["data"]["id"] == stored_id, body
    assert db.wait_for("SELECT state FROM alerts WHERE id = %s", "acknowledged", stored_id, timeout=10) == "acknowledged"
    assert db.scalar("SELECT acknowledged_by FROM alerts WHERE id = %s", stored_id) == "n-" + prefix
    acked = until(nurse, "alert:updated", seconds=10, where=lambda d: d["id"] == stored_id and d["state"] == "acknowledged")
    assert acked["data"]["acknowledged_by"] == "n-" + prefix
    assert gateway.wait_for(falling, "on_call"), "the adopting engine's page did not reach the on-call clinician"
    deadline = time.time() + 15
    cancelled = []
    while not cancelled and time.time() < deadline:
        cancelled = [ln for ln in worker.log().splitlines() if "escalation cancelled" in ln and f"alert_id={stored_id}" in ln]
        time.sleep(0.1)
    assert cancelled, "the escalation of the acknowledged alarm was not cancelled"
    assert gateway.pages(falling, "charge_nurse") == [], "nobody else is paged"
    nurse.close()
    assert db.wait_for("SELECT count(*) FROM vitals WHERE patient_id = %s", 30, falling, timeout=30) == 30
    assert db.wait_for("SELECT count(*) FROM vitals WHERE patient_id = %s", 70, open_already, timeout=30) == 70
    time.sleep(2)
    # Exactly once: one alarm each, one 'raised' transition each.
    for patient in (falling, open_already):
        assert db.scalar("SELECT count(*) FROM alerts WHERE patient_id = %s AND rule_id = 'spo2.low'", patient) == 1, patient
        assert db.scalar("SELECT count(*) FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id "
                         "WHERE a.patient_id = %s AND t.kind = 'raised'", patient) == 1, patient
    assert sum(adopted(s, p) for s in survivors) == 1, "not exactly one node adopted the dead node's partition"
    assert sum(s.log().count("partition adopted") for s in survivors) >= PARTITIONS
    ingest.stop()
    for s in survivors:
        assert s.stop() == 0
    for h in hubs:
        assert h.stop() == 0

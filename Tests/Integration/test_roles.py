"""Past one machine (issue 14): one ingest node and three engine nodes on the real Tansu,
PostgreSQL and mosquitto. An engine node is killed with -9 in the middle of a patient's
desaturation; the node that adopts its partitions raises the alarm once, continues the alarm
that was already open without raising it again, and no reading is lost or stored twice."""
import signal
import time

from conftest import now_ms, unique_prefix

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


def test_an_engine_node_killed_mid_deterioration_its_patients_alarm_once(wardline_factory, tmp_path, db, publisher):
    prefix = unique_prefix().upper()
    falling = f"PAT-{prefix}-A"
    # A second patient on the same partition, whose alarm is already open when the node dies.
    open_already = next(f"PAT-{prefix}-B{i}" for i in range(1000) if partition_of(f"PAT-{prefix}-B{i}") == partition_of(falling))
    steady = next(f"PAT-{prefix}-C{i}" for i in range(1000) if partition_of(f"PAT-{prefix}-C{i}") == partition_of(falling))
    devices = {falling: falling.lower() + "-oxi", open_already: open_already.lower() + "-oxi", steady: steady.lower() + "-oxi"}
    for patient, device in devices.items():
        db.query("INSERT INTO device_assignments (device_id, patient_id, ward, bed) VALUES (%s, %s, 'ROLES', '1') RETURNING id",
                 device, patient)

    engines = [node(wardline_factory, tmp_path, f"engine{i}", "engine") for i in range(3)]
    for e in engines:
        e.start(wait=False)
    for e in engines:
        e.wait_for_log("partition adopted", timeout=60)
    ingest = node(wardline_factory, tmp_path, "ingest", "ingest").start()
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

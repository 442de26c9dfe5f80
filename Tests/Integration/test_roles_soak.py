"""The longer soak of the split roles (issue 14), run by bench/roles-soak.sh, not by CI: 1 ingest
and 3 engine nodes under the 30-device stream of test_db_failover.py for WARDLINE_SOAK_MINUTES,
an engine node killed with -9 and started again every WARDLINE_SOAK_KILL_EVERY_S seconds. At the
end every reading is stored once and every alarm transition once, in order."""
import os
import random
import signal
import time

import pytest

from conftest import Db, unique_prefix
from test_db_failover import CYCLE, KINDS, LATCHING, SPO2_ALARMS, Stream, spo2_at

MINUTES = float(os.environ.get("WARDLINE_SOAK_MINUTES", "0"))
KILL_EVERY_S = float(os.environ.get("WARDLINE_SOAK_KILL_EVERY_S", "20"))

pytestmark = pytest.mark.skipif(MINUTES <= 0, reason="the soak runs from bench/roles-soak.sh (WARDLINE_SOAK_MINUTES)")


def episodes(index, steps):
    runs, run = 0, 0
    for j in range(steps):
        if spo2_at(index, j) < 97:
            run += 1
        else:
            runs += run > 0
            run = 0
    return runs + (run > 0)


def test_split_roles_soak_with_engine_kills(wardline_factory, tmp_path, owner_database_url):
    steps = int(MINUTES * 600)
    prefix = unique_prefix()
    stream = Stream(prefix, steps=steps)
    db = Db(owner_database_url)
    for device, patient in stream.oximeters:
        db.query("INSERT INTO device_assignments (device_id, patient_id, ward, bed) VALUES (%s, %s, 'S', '1') RETURNING id",
                 device, patient)
    for device in stream.plain:
        db.query("INSERT INTO device_assignments (device_id, patient_id, ward, bed) VALUES (%s, %s, 'S', '2') RETURNING id",
                 device, "PAT-" + device)

    def node(name, role):
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        w = wardline_factory(WARDLINE_VAR=str(folder), WARDLINE_ROLE=role, WARDLINE_PAYLOAD_PATIENT_ID="refuse",
                             WARDLINE_MQTT_CLIENT_ID=f"soak-{prefix}-{name}")
        w.log_path = folder / "wardline.log"
        return w

    engines = [node(f"engine{i}", "engine") for i in range(3)]
    for e in engines:
        e.start(wait=False)
    for e in engines:
        e.wait_for_log("partition adopted", timeout=60)
    ingest = node("ingest", "ingest").start()
    stream.start()
    kills = 0
    while stream.thread.is_alive():
        time.sleep(KILL_EVERY_S)
        if not stream.thread.is_alive():
            break
        victim = random.choice(engines)
        victim.stop(signal.SIGKILL)
        kills += 1
        victim.start(wait=False)
    stream.finish()
    expected = stream.devices * steps
    got = db.wait_for("SELECT count(*) FROM vitals WHERE device_id LIKE %s", expected, prefix + "-%", timeout=120)
    assert got == expected, (got, expected)
    assert db.scalar("SELECT count(*) FROM (SELECT device_id, seq FROM vitals WHERE device_id LIKE %s "
                     "GROUP BY 1, 2 HAVING count(*) > 1) d", prefix + "-%") == 0
    time.sleep(3)
    for i, (_, patient) in enumerate(stream.oximeters):
        kinds = [k for (k,) in db.query(KINDS, patient)]
        alarms = db.query(SPO2_ALARMS, patient)
        n = episodes(i, steps)
        if i < LATCHING:
            assert len(alarms) == 1 and kinds[0] == "raised" and kinds.count("raised") == 1, (patient, alarms, kinds)
        else:
            assert len(alarms) == n and kinds.count("raised") == n, (patient, len(alarms), n, kinds)
    print(f"\nsoak: {MINUTES} min, {expected} readings, {kills} engine kills: every reading once, every alarm once")
    ingest.stop()
    for e in engines:
        e.stop()

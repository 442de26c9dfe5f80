"""Device clocks that are minutes wrong, forged future readings and disagreeing devices never hide a
desaturation (issue 12, fault 1), and each device's clock offset is measured and shown."""
import time
import urllib.request

from conftest import now_ms, unique_prefix

OPEN = "SELECT count(*) FROM alerts WHERE patient_id = %s AND rule_id = %s AND state <> 'resolved'"


def oximeter(publisher, device, patient, seconds, spo2=80, start_seq=1, end_ts=None):
    """`seconds` readings one device-second apart, the last stamped now (a correct clock)."""
    end = end_ts if end_ts is not None else now_ms()
    for i in range(seconds):
        publisher.publish(f"devices/{device}/vitals",
                          {"v": 1, "seq": start_seq + i, "ts": end - (seconds - 1 - i) * 1000,
                           "patient_id": patient, "hr": 92, "spo2": spo2})


def test_a_fast_monitor_clock_no_longer_hides_a_desaturation(wardline_factory, db, publisher):
    """The issue's case: patient A gets 40 s of SpO2 80 from an oximeter with a correct clock;
    patient B the same, after one normal reading from a monitor whose clock runs 120 s fast. Both
    alarm; the monitor's clock is a technical alarm, in REST and /metrics."""
    p = unique_prefix()
    a, b = "PAT-" + p + "-a", "PAT-" + p + "-b"
    w = wardline_factory(WARDLINE_DEVICE_CLOCK_ALARM_S=60).start()
    monitor = p + "-mon-b"
    publisher.publish(f"devices/{monitor}/status", {"state": "online", "battery": 90})
    publisher.publish(f"devices/{monitor}/vitals", {"v": 1, "seq": 1, "ts": now_ms() + 120_000, "patient_id": b,
                                                    "hr": 80, "spo2": 97, "rr": 16, "sbp": 120})
    publisher.wait_all_acked()
    time.sleep(0.3)
    oximeter(publisher, p + "-oxi-a", a, 40)
    oximeter(publisher, p + "-oxi-b", b, 40)
    publisher.wait_all_acked()
    assert db.wait_for(OPEN, 1, a, "spo2.low", timeout=30) == 1
    assert db.wait_for(OPEN, 1, b, "spo2.low", timeout=30) == 1, "the fast monitor hid patient B's desaturation"
    assert db.scalar("SELECT priority FROM alerts WHERE patient_id = %s AND rule_id = 'spo2.low'", b) == "high"
    assert db.wait_for("SELECT count(*) FROM alerts WHERE patient_id = %s AND rule_id = 'device.clock' AND device_id = %s",
                       1, b, monitor, timeout=10) == 1
    assert db.scalar("SELECT category FROM alerts WHERE rule_id = 'device.clock' AND device_id = %s", monitor) == "technical"

    admin = w.token("a1", "admin", "*")
    deadline, offset = time.time() + 10, None
    while time.time() < deadline and offset is None:
        devices = {d["device_id"]: d for d in w.api("GET", "/api/v1/devices", admin)[1]["data"]}
        offset = devices.get(monitor, {}).get("clock_offset_ms")
        time.sleep(0.5)
    assert offset is not None and 119_000 <= offset <= 121_000, offset
    metrics = urllib.request.urlopen(w.url + "/metrics", timeout=5).read().decode()
    values = dict(line.split(" ", 1) for line in metrics.splitlines() if line and not line.startswith("#"))
    assert float(values["wardline_device_clock_offset_max_ms"]) >= 119_000  # a gauge: written as 120000.0
    assert float(values["wardline_devices_clock_beyond_bound"]) >= 1
    w.stop()


def test_a_forged_future_reading_and_a_disagreeing_device_hide_nothing(wardline_factory, db, publisher):
    """Patient C: a reading stamped 4 minutes ahead from another device id naming C, with normal
    values, then a desaturation. Patient D: two oximeters, 80 % and 97 %, at once: the worse one
    alarms and a technical alarm says they disagree."""
    p = unique_prefix()
    c, d = "PAT-" + p + "-c", "PAT-" + p + "-d"
    w = wardline_factory().start()
    publisher.publish(f"devices/{p}-rogue/vitals", {"v": 1, "seq": 1, "ts": now_ms() + 240_000, "patient_id": c,
                                                    "hr": 80, "spo2": 98})
    publisher.wait_all_acked()
    time.sleep(0.3)
    oximeter(publisher, p + "-oxi-c", c, 40)
    # The disagreement must last 10 s of Wardline's clock, so these two send in real time.
    for i in range(14):
        t = now_ms()
        publisher.publish(f"devices/{p}-oxi-d1/vitals", {"v": 1, "seq": i + 1, "ts": t, "patient_id": d, "hr": 92, "spo2": 80})
        publisher.publish(f"devices/{p}-oxi-d2/vitals", {"v": 1, "seq": i + 1, "ts": t, "patient_id": d, "hr": 92, "spo2": 97})
        time.sleep(1)
    publisher.wait_all_acked()
    assert db.wait_for(OPEN, 1, c, "spo2.low", timeout=30) == 1, "a forged future reading hid the desaturation"
    assert db.wait_for(OPEN, 1, d, "spo2.low", timeout=30) == 1, "the reassuring oximeter cancelled the other"
    assert db.wait_for(OPEN, 1, d, "disagree.spo2", timeout=30) == 1
    assert db.scalar("SELECT category FROM alerts WHERE patient_id = %s AND rule_id = 'disagree.spo2'", d) == "technical"
    w.stop()

"""Issue 12, part 8: the broker's own window. What a kill -9 of mosquitto loses while Wardline's
persistent session is away, with the shipped deploy/mosquitto/mosquitto.conf.

mosquitto 2.0 persists by writing its whole store every `autosave_interval` seconds; it sends a
PUBACK before that save, so a kill -9 loses what it acknowledged since the last save (even
`autosave_on_changes` cannot close that: README, "The broker's own window"). These tests pin the
bound: a clean restart loses nothing, and a kill -9 loses only readings acknowledged within the
last autosave window. Each runs its own broker (broker_instance.py), never the shared one.
"""
import re
import time

import pytest

from broker_instance import TEMPLATE, Broker, Device, OfflineSession


def shipped(setting):
    match = re.search(rf"^{setting}\s+(\S+)", TEMPLATE.read_text(), re.M)
    return match.group(1) if match else None


@pytest.fixture
def broker():
    b = Broker().start()
    yield b
    b.close()


def test_a_clean_broker_restart_keeps_every_acknowledged_reading(broker):
    session = OfflineSession(broker)
    device = Device(broker)
    device.publish_all(2000)
    assert len(device.acked) == 2000
    device.close()
    broker.proc.terminate()  # SIGTERM: the broker saves its store before it exits
    broker.proc.wait(timeout=60)
    broker.start()
    assert session.collect() == set(range(2000))


def test_a_broker_kill_9_loses_at_most_the_last_autosave_window(broker):
    interval = int(shipped("autosave_interval"))
    assert shipped("persistence") == "true" and interval <= 5, "the README documents a window of seconds"
    session = OfflineSession(broker)
    broker.save_now()  # the session itself is on disk
    device = Device(broker)
    device.publish_all(2000)  # older than the window when the broker dies: must survive
    older = set(device.acked)
    assert len(older) == 2000
    time.sleep(interval + 2)
    for seq in range(2000, 4000):  # acknowledged just before the kill: may be lost
        device.publish(seq)
    deadline = time.time() + 60
    while len(device.acked) < 4000 and time.time() < deadline:
        time.sleep(0.005)
    acked = set(device.acked)
    broker.kill9()
    device.c.loop_stop()
    broker.start()
    got = session.collect()
    lost = acked - got
    print(f"kill -9 with autosave_interval {interval}: {len(lost)} of {len(acked)} acknowledged readings lost, "
          f"all from the last {interval + 2} s")
    assert older <= got, "a reading acknowledged before the last autosave window was lost"
    assert lost <= acked - older

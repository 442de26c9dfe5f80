#!/usr/bin/env python3
"""What a kill -9 of mosquitto loses while Wardline's persistent session is offline, and what the
persistence settings cost. Runs private brokers from deploy/mosquitto/mosquitto.conf (own port,
own folder); never touches the shared one.

  /usr/bin/python3 bench/broker-crash.py [--readings N] [--rounds R] [SETTING=VALUE ...]

Each SETTING=VALUE replaces that line of the shipped config (e.g. autosave_on_changes=true
autosave_interval=1); with none, the shipped config is measured. Prints, per round:
  burst: N published and acknowledged, then kill -9 -> acknowledged readings lost
  stream: kill -9 while a device keeps publishing -> acknowledged-before-the-kill readings lost
  rate: QoS 1 readings/s with every PUBACK awaited (the offline session's queue growing)
With --simulator firmware-sim/build/wardline-sim it also times N readings (--sim-readings) from
the simulator (200 devices, deep in-flight window) into an offline session's queue.
"""
import argparse
import pathlib
import subprocess
import sys
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "Tests" / "Integration"))
from broker_instance import Broker, Device, OfflineSession  # noqa: E402


def burst(overrides, n):
    b = Broker(overrides).start()
    try:
        session = OfflineSession(b)
        b.save_now()  # the session itself is on disk; what follows measures the readings only
        d = Device(b)
        seconds = d.publish_all(n)
        acked = set(d.acked)
        d.close()
        b.kill9()
        b.start()
        got = session.collect()
        return len(acked), len(acked - got), n / seconds
    finally:
        b.close()


def stream(overrides, seconds):
    b = Broker(overrides).start()
    try:
        session = OfflineSession(b)
        b.save_now()
        d = Device(b)
        stop = threading.Event()

        def run():
            seq = 0
            while not stop.is_set():
                d.publish(seq)
                seq += 1
                while len(d.sent) > 100 and not stop.is_set():
                    time.sleep(0.0005)
        t = threading.Thread(target=run)
        t.start()
        time.sleep(seconds)
        with d.lock:
            acked = set(d.acked)
        b.kill9()
        stop.set()
        t.join()
        d.c.loop_stop()
        b.start()
        got = session.collect()
        return len(acked), len(acked - got)
    finally:
        b.close()


def simulator_rate(overrides, simulator, n):
    b = Broker(overrides).start()
    try:
        OfflineSession(b)
        b.save_now()
        out = subprocess.run([simulator, "--port", str(b.port), "--devices", "200", "--rate", "1000000",
                              "--count", str(n), "--quiet"], capture_output=True, text=True, timeout=1800, check=True)
        saves = b.log.read_text().count("Saving in-memory database")
        return out.stdout.strip().splitlines()[-1], saves
    finally:
        b.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--readings", type=int, default=5000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--stream-seconds", type=float, default=3.0)
    p.add_argument("--simulator", help="path of wardline-sim, to time its readings too")
    p.add_argument("--sim-readings", type=int, default=1_000_000)
    p.add_argument("settings", nargs="*")
    a = p.parse_args()
    overrides = dict(s.split("=", 1) for s in a.settings)
    print("config:", overrides or "shipped deploy/mosquitto/mosquitto.conf")
    for r in range(a.rounds):
        acked, lost, rate = burst(overrides, a.readings)
        print(f"round {r + 1} burst:  {acked} acknowledged, kill -9 after the last PUBACK: {lost} lost; "
              f"{rate:,.0f} readings/s")
        acked, lost = stream(overrides, a.stream_seconds)
        print(f"round {r + 1} stream: {acked} acknowledged before kill -9 mid-stream: {lost} lost")
        if a.simulator:
            line, saves = simulator_rate(overrides, a.simulator, a.sim_readings)
            print(f"round {r + 1} simulator: {line} (broker saves: {saves})")


if __name__ == "__main__":
    main()

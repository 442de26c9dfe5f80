"""Issue 12, part 5: a disk that fills up pauses intake, says why, loses nothing, never crashes.

The journal lives on a 16 MB tmpfs of its own (mounted by the test, so it needs root). Segments are
1 MB and the floor 4 MB, so intake pauses below 5 MB free and resumes at 6 MB. A second tmpfs with
few inodes refuses a segment while bytes look free: the path where a message is not journalled
and so must not be acknowledged.
"""
import os
import signal
import subprocess
import time

import pytest

from conftest import Publisher, reading, unique_prefix

COUNT = "SELECT count(*) FROM vitals WHERE device_id = %s"


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    var = tmp_path / "var"
    var.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(var)], check=True)
    yield var
    subprocess.run(["umount", "-l", str(var)], check=False)


def free_mb(path):
    s = os.statvfs(path)
    return s.f_bavail * s.f_frsize / (1 << 20)


def fill(path, leave_mb):
    """Writes a filler file until about `leave_mb` MB are free (0: until the disk refuses)."""
    with open(path / f"filler-{time.monotonic_ns()}", "wb") as f:
        chunk = b"\0" * (64 << 10)
        try:
            while free_mb(path) > leave_mb + 0.07:
                f.write(chunk)
                f.flush()
        except OSError:
            pass


def ready(w):
    status, body, _ = w.api("GET", "/ready")
    return status, body


def wait_until(check, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def metric(w, name):
    _, text, _ = w.api("GET", "/metrics")
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def test_a_full_disk_pauses_intake_says_why_and_loses_nothing(wardline_factory, db, small_disk):
    device = unique_prefix() + "-mon"
    topic = f"devices/{device}/vitals"
    w = wardline_factory(WARDLINE_VAR=str(small_disk), WARDLINE_JOURNAL_SEGMENT_MB="1",
                         WARDLINE_JOURNAL_MIN_FREE_MB="4").start()
    pub = Publisher(connections=1, prefix=device)
    seq = 0

    def publish(n):
        nonlocal seq
        for _ in range(n):
            seq += 1
            pub.publish(topic, reading(device, seq))
        pub.wait_all_acked()

    try:
        publish(200)
        assert db.wait_for(COUNT, 200, device) == 200
        assert ready(w)[0] == 200

        # Below the watermark: /ready says so at once, and the next message pauses intake.
        fill(small_disk, leave_mb=3)
        status, body = wait_until(lambda: (lambda r: r if r[0] == 503 else None)(ready(w)), what="/ready 503")
        assert "journal: disk free 3 MB below watermark 5 MB" in body["error"]["details"] or \
            "journal: disk free 3 MB below watermark 5 MB" in body["message"], body
        publish(300)  # the broker acknowledges them all: it holds them for Wardline's session
        w.wait_for_log("journal has no room; intake paused")
        status, body = wait_until(lambda: (lambda r: r if "intake paused" in r[1]["message"] else None)(ready(w)),
                                  what="/ready saying intake paused")
        assert status == 503
        assert "journal: disk free 3 MB below watermark 5 MB; intake paused" in body["message"], body
        assert metric(w, "wardline_intake_paused") == 1
        assert metric(w, "wardline_journal_watermark_bytes") == 5 << 20
        time.sleep(1)  # the message that found the disk low was kept: let its batch commit
        held = db.scalar(COUNT, device)
        time.sleep(2)
        assert db.scalar(COUNT, device) == held < 500, "intake stays paused while the disk is low"
        assert w.proc.poll() is None, "no crash"

        # Now truly full, and Wardline killed: it must come up, say why, and wait (no crash loop).
        fill(small_disk, leave_mb=0)
        assert free_mb(small_disk) < 0.1
        w.stop(signal.SIGKILL)
        w.start(wait=False)
        w.wait_for_log("journal has no room; intake paused", occurrences=2)
        publish(300)
        time.sleep(3)
        assert w.proc.poll() is None, "starting on a full disk must not crash"
        assert "SIGBUS" not in w.log() and "Fatal error" not in w.log()
        status, body = ready(w)
        assert status == 503 and "intake paused" in body["message"], body
        assert "mqtt connected" not in w.log().split("journal has no room; intake paused")[-1]

        # Space is back: intake resumes and every reading the broker acknowledged arrives once.
        for f in small_disk.glob("filler-*"):
            f.unlink()
        w.wait_for_log("journal has room again; intake resumed")
        assert db.wait_for(COUNT, 800, device, timeout=120) == 800
        rows = db.query("SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM vitals WHERE device_id = %s", device)
        assert rows[0] == (800, 800, 1, 800)
        wait_until(lambda: ready(w)[0] == 200, what="/ready 200 again")
        assert metric(w, "wardline_intake_paused") == 0
        assert w.stop() == 0
    finally:
        pub.close()


@pytest.fixture
def few_inodes(tmp_path):
    """A tmpfs with room for bytes but only 64 files: a full inode table refuses a new segment
    while the free-space watermark sees plenty of space (the journal's last line of defence)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    var = tmp_path / "var"
    var.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,nr_inodes=64", "tmpfs", str(var)], check=True)
    yield var
    subprocess.run(["umount", "-l", str(var)], check=False)


def test_a_segment_the_disk_refuses_is_never_acknowledged(wardline_factory, db, few_inodes):
    device = unique_prefix() + "-mon"
    topic = f"devices/{device}/vitals"
    w = wardline_factory(WARDLINE_VAR=str(few_inodes), WARDLINE_JOURNAL_SEGMENT_MB="1",
                         WARDLINE_JOURNAL_MIN_FREE_MB="1").start()
    pub = Publisher(connections=1, prefix=device)
    try:
        for seq in range(1, 201):
            pub.publish(topic, reading(device, seq))
        pub.wait_all_acked()
        assert db.wait_for(COUNT, 200, device) == 200

        fillers = few_inodes / "inodes"
        fillers.mkdir()
        made = 0
        try:
            while True:
                (fillers / str(made)).touch()
                made += 1
        except OSError:
            pass
        # Enough to need a second 1 MB segment, which cannot be created.
        for seq in range(201, 6201):
            pub.publish(topic, reading(device, seq))
        pub.wait_all_acked()
        w.wait_for_log("the disk refused a new segment")
        status, body = ready(w)
        assert status == 503 and "journal: the disk refused a new segment" in body["message"], body
        assert "intake paused" in body["message"]
        assert metric(w, "wardline_journal_failures_total") >= 1
        stuck = db.scalar(COUNT, device)
        assert stuck < 6200
        assert w.proc.poll() is None

        for f in fillers.iterdir():
            f.unlink()
        assert db.wait_for(COUNT, 6200, device, timeout=120) == 6200
        rows = db.query("SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM vitals WHERE device_id = %s", device)
        assert rows[0] == (6200, 6200, 1, 6200)
        w.wait_for_log("journal has room again; intake resumed")
        assert w.stop() == 0
    finally:
        pub.close()

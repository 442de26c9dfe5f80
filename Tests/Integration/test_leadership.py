"""Singleton jobs led through a PostgreSQL advisory lock (issue 14): however many workers run, one
sends each scheduled ward summary; however many serve, one deletes rejected messages past the
retention. A leader killed with -9 loses its session, and with it the lock, and another takes over.

Against the real services: two `wardline worker` processes on the real RabbitMQ and PostgreSQL,
a paging gateway inside the test (test_taskqueue's), and `wardline serve` for the retention.
"""
import math
import time
import uuid

import psycopg

from conftest import now_ms
from test_taskqueue import Gateway

# LeadDuty's keys (FNV-1a 64 of the duty's name), as the README lists them.
WARD_SUMMARY_KEY = -8083895966367229924
REJECTED_RETENTION_KEY = -4792337509592655494


def hhmm(epoch_s):
    return time.strftime("%H:%M", time.gmtime(epoch_s))


def wait_until(predicate, timeout, what, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def standing(worker):
    """The worker's last word on the ward summary lead: 'leading', 'not leading' or None."""
    log = worker.log()
    took = log.rfind("] leading the ward summary")
    left = max(log.rfind("] no longer leading the ward summary"), log.rfind("] standing by for the ward summary"))
    return None if took < 0 and left < 0 else "leading" if took > left else "not leading"


def summaries_for(gateway, slot_s):
    return [b for b in gateway.of_kind("ward_summary") if b.get("period_end") == slot_s * 1000]


def test_one_worker_sends_each_scheduled_summary_and_another_takes_over_after_a_kill_9(worker_factory, db, tmp_path):
    gateway = Gateway()
    try:
        # Two slots a minute apart, the first at least 45 s away so both workers are up by then.
        first = math.ceil((time.time() + 45) / 60) * 60
        second = first + 60
        workers = {}
        for name in ("a", "b"):
            w = worker_factory(WARDLINE_NOTIFY_CHANNELS="log,webhook", WARDLINE_WEBHOOK_URL=gateway.url,
                               WARDLINE_WEBHOOK_TIMEOUT_MS=2000, WARDLINE_SUMMARY_AT=f"{hhmm(first)},{hhmm(second)}")
            w.log_path = tmp_path / f"worker-{name}.log"
            workers[name] = w.start()

        def roles():
            leading = [w for w in workers.values() if standing(w) == "leading"]
            waiting = [w for w in workers.values() if standing(w) == "not leading"]
            return (leading[0], waiting[0]) if len(leading) == 1 and len(waiting) == 1 else None

        wait_until(roles, 60, "one worker leading the ward summary, the other standing by")
        # The lock is held by the leader's own session, named for the job.
        holders = db.query("SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                           "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
                           "(SELECT oid FROM pg_database WHERE datname = current_database()) "
                           "AND l.objsubid = 1 AND ((l.classid::bigint << 32) | l.objid::bigint) = %s",
                           WARD_SUMMARY_KEY)
        assert holders == [("wardline-lead:wardline.ward_summary",)], holders

        wait_until(lambda: summaries_for(gateway, first), first - time.time() + 90, f"the {hhmm(first)} summary")
        time.sleep(5)  # room for a second copy, were one sent
        assert len(summaries_for(gateway, first)) == 1, "exactly one worker sends the scheduled summary"
        assert sum(w.log().count("ward summary scheduled") for w in workers.values()) == 1
        leader, follower = wait_until(roles, 30, "one leader after the first slot")
        assert db.scalar("SELECT count(*) FROM task_outbox WHERE route = 'report' AND (payload->>'period_end')::bigint = %s",
                         first * 1000) == 1

        # kill -9: no resignation; PostgreSQL ends the session when the socket closes, freeing the lock.
        took_before = follower.log().count("] leading the ward summary")
        slot_lines_before = follower.log().count("ward summary already sent for this slot")
        leader.proc.kill()
        killed = time.time()
        wait_until(lambda: follower.log().count("] leading the ward summary") > took_before, 60,
                   "the other worker taking the lead")
        handover = time.time() - killed
        print(f"\nward summary lead handed over {handover:.2f} s after kill -9 of the leader")
        assert handover < 15, handover
        # It owed the first slot too (it saw it pass while standing by): found it sent, sent nothing.
        leader.proc.wait(timeout=30)
        if "ward summary scheduled" in leader.log() and slot_lines_before == 0:
            wait_until(lambda: follower.log().count("ward summary already sent for this slot") > slot_lines_before, 30,
                       "the new leader finding the first slot already sent")

        wait_until(lambda: summaries_for(gateway, second), second - time.time() + 90, f"the {hhmm(second)} summary")
        time.sleep(5)
        assert len(summaries_for(gateway, second)) == 1
        assert len(summaries_for(gateway, first)) == 1, "the takeover did not send the first slot again"
        assert "ward summary scheduled" in follower.log()
        assert sum(w.log().count("ward summary scheduled") for w in workers.values()) == 2
        assert summaries_for(gateway, second)[0]["period_hours"] == 24
        follower.stop()
        assert "no longer leading the ward summary" in follower.log(), "a clean stop lets go of the lock"
        with psycopg.connect(db.url, autocommit=True) as c:
            assert c.execute("SELECT pg_try_advisory_lock(%s)", (WARD_SUMMARY_KEY,)).fetchone()[0], "and it is free"
    finally:
        gateway.close()


def test_only_the_serve_leading_the_retention_deletes_old_rejected_messages(wardline_factory, db, database_url):
    def old_rejection():
        return db.query("INSERT INTO rejected_messages (journal_id, journal_position, received_at, topic, device_id, reason, "
                        "detail, payload, payload_size) VALUES (%s, 1, now() - interval '40 days', 'devices/x/vitals', 'x', "
                        "'malformed_json', 'test', '{', 1) RETURNING id", str(uuid.uuid4()))[0][0]

    def retention(w):
        return w.api("GET", "/ready")[1]["data"]["components"]["rejected_retention"]["detail"]

    # Another node leads the retention: this test's own session holds the lock.
    other = psycopg.connect(database_url, autocommit=True)
    try:
        assert other.execute("SELECT pg_try_advisory_lock(%s)", (REJECTED_RETENTION_KEY,)).fetchone()[0]
        row = old_rejection()
        w = wardline_factory(WARDLINE_REJECTED_RETENTION_DAYS=30).start()
        wait_until(lambda: retention(w).startswith("standing by"), 30, "/ready saying serve stands by for the retention")
        time.sleep(3)
        assert db.scalar("SELECT count(*) FROM rejected_messages WHERE id = %s", row) == 1, "only the leader deletes"
        assert "standing by for the rejected-message retention" in w.log()
    finally:
        other.close()  # the other node goes away: its session, and the lock, end
    released = time.time()
    wait_until(lambda: db.scalar("SELECT count(*) FROM rejected_messages WHERE id = %s", row) == 0, 60,
               "the new leader deleting the old rejection")
    print(f"\nretention lead taken and old rejections deleted {time.time() - released:.2f} s after the other leader left")
    assert retention(w).startswith("leading")
    assert "leading the rejected-message retention" in w.log()
    # A clean stop resigns at once.
    assert w.stop() == 0
    assert "no longer leading the rejected-message retention" in w.log()
    with psycopg.connect(database_url, autocommit=True) as c:
        assert c.execute("SELECT pg_try_advisory_lock(%s)", (REJECTED_RETENTION_KEY,)).fetchone()[0]

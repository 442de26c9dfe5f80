"""No missed alarm when the alarm system itself fails (issue 12, parts 6 and 7): a paging gateway
down for the best part of a minute during a desaturation, and `serve` frozen with SIGSTOP.

The gateways are test_taskqueue's HTTP servers. RabbitMQ's queues are shared with whatever else
runs on the dev broker (there is no queue prefix setting): another worker consuming wardline.page at
the same time would take these pages, so run this file while no other task-queue test runs.
"""
import os
import re
import signal
import time

from conftest import RABBITMQ_URL, now_ms, unique_prefix
from test_taskqueue import Gateway, dead_letters, desaturate, wait_until_drained, webhook_worker

# Compressed clocks: retries 0.5, 1, 2, 3 s (the cap), a circuit cool-down of 5 s, heartbeats every
# second and a 5 s stall bound, so a two-minute outage is shown in 45 s.
PAGING = dict(WARDLINE_RETRY_MAX_ATTEMPTS=3, WARDLINE_RETRY_BASE_MS=500, WARDLINE_RETRY_MAX_MS=3000,
              WARDLINE_BREAKER_FAILURES=3, WARDLINE_BREAKER_COOLDOWN_MS=5000)
WATCH = dict(WARDLINE_HEARTBEAT_S=1, WARDLINE_STALL_AFTER_S=5)


def wait_until(check, timeout, every=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    return check()


def paging_component(w):
    status, body, _ = w.api("GET", "/ready")
    return body["data"]["components"].get("paging")


def test_a_page_goes_through_the_fallback_while_the_gateway_is_down_and_to_the_gateway_once_it_is_back(
        wardline_factory, worker_factory, db, publisher):
    gateway, fallback = Gateway(status=503), Gateway()
    try:
        worker = webhook_worker(worker_factory, gateway, WARDLINE_PAGE_FALLBACK_CHANNEL=fallback.url, **PAGING, **WATCH)
        wait_until_drained()
        w = wardline_factory(WARDLINE_ESCALATION_S=600, WARDLINE_RABBITMQ_URL=RABBITMQ_URL, **PAGING, **WATCH).start()
        patient = "PAT-" + unique_prefix()
        down_at = time.time()
        desaturate(publisher, patient)

        through_fallback = fallback.wait_for(patient, "on_call", timeout=30)
        assert through_fallback, "the page reached the fallback webhook"
        arrived, page = through_fallback[0]
        assert page["alarm"]["rule_id"] == "spo2.low" and page["recipients"] == ["on-call-nurse"]
        tries_before = [t for t, _ in gateway.pages(patient, "on_call") if t <= arrived]
        # Three attempts, or fewer once the circuit is open (none: straight to the fallback). The circuit
        # counts every notice through the gateway, and the worker may just have paged the technical
        # on-call, through it, about serves that earlier tests killed.
        assert len(tries_before) <= 3, f"at most three attempts on the gateway first, got {len(tries_before)}"
        fallback_ms = arrived - page["alarm"]["active_since"]

        paging = wait_until(lambda: (c := paging_component(w)) and not c["ok"] and c, timeout=15)
        assert paging and paging["required"] is False and "webhook failing since" in paging["detail"], paging
        assert "pages go through fallback-webhook" in paging["detail"]
        status, body, _ = w.api("GET", "/ready")
        assert status == 200 and body["data"]["degraded"] is True and "paging" in body["message"]

        # The gateway stays down for 45 s in all; meanwhile the page is retried, never dead-lettered.
        time.sleep(max(0, down_at + 45 - time.time()))
        assert not [d for d in dead_letters() if (d["job"].get("alarm") or {}).get("patient_id") == patient]
        # While the circuit is open the page's retries fail fast; every cool-down one delivery probes
        # the gateway — whichever page comes first (the dev broker carries other tests' pages too).
        with gateway.lock:
            attempts = len([t for (t, _, _) in gateway.posts if t >= down_at * 1000])
        assert attempts >= 4, f"the gateway was probed through the outage ({attempts} POSTs)"
        assert len(fallback.pages(patient)) == 1, "the fallback got it once"

        gateway.status = 200
        up = now_ms()
        back = wait_until(lambda: [t for t, _ in gateway.pages(patient, "on_call") if t >= up], timeout=20)
        assert back, "the page reached the gateway once it was back"
        back_ms = back[0] - up
        # At worst: the 5 s cool-down until a probe (any page) closes the circuit, then the cap (3 s) to
        # this page's next attempt.
        assert back_ms < 5000 + 3000 + 3000, back_ms
        time.sleep(4)
        assert len([t for t, _ in gateway.pages(patient, "on_call") if t >= up]) == 1, "delivered: no more attempts"
        assert len(fallback.pages(patient)) == 1
        assert not [d for d in dead_letters() if (d["job"].get("alarm") or {}).get("patient_id") == patient]
        assert db.scalar("SELECT state FROM alerts WHERE id = %s", page["alarm"]["alert_id"]) == "active"

        assert wait_until(lambda: (c := paging_component(w)) and c["ok"], timeout=10), "paging is reported well again"
        log = worker.log()
        assert "circuit open" in log and "circuit closed" in log
        line = [l for l in log.splitlines() if "page delivered" in l and page["job_id"] in l and "channels=webhook" in l]
        assert line, "the worker logs the delivery on the gateway"
        high_ms = int(re.search(r"high_priority_to_page_ms=(\d+)", line[0]).group(1))
        print(f"\nhigh priority -> page through the fallback {fallback_ms} ms; gateway back -> page on it {back_ms} ms "
              f"(high_priority_to_page_ms {high_ms}); {attempts} POSTs to the gateway during the 45 s outage")
        w.stop()
    finally:
        gateway.close()
        fallback.close()


def system_alarms(gateway, subject, state=None):
    with gateway.lock:
        return [(t, b) for (t, b, _) in gateway.posts if b.get("kind") == "system_alarm" and b.get("subject") == subject
                and (state is None or b.get("state") == state)]


def test_the_worker_pages_the_technical_on_call_when_serve_stops_reporting(wardline_factory, worker_factory, db):
    gateway = Gateway()
    try:
        watched(wardline_factory, worker_factory, gateway, db)
    finally:
        gateway.close()


def watched(wardline_factory, worker_factory, gateway, db):
    w = wardline_factory(WARDLINE_RABBITMQ_URL=RABBITMQ_URL, **WATCH).start()
    instance = w.env["WARDLINE_MQTT_CLIENT_ID"]
    webhook_worker(worker_factory, gateway, WARDLINE_ONCALL_TECHNICAL="tech-1,tech-2", **WATCH)
    assert wait_until(lambda: (c := paging_component(w)) and c["ok"], timeout=10), "serve sees the worker report"
    time.sleep(2)
    assert system_alarms(gateway, instance) == [], "a serve that reports is no outage"

    stopped = now_ms()
    os.kill(w.proc.pid, signal.SIGSTOP)
    try:
        paged = wait_until(lambda: system_alarms(gateway, instance, "failure"), timeout=20, every=0.05)
        assert paged, "the technical on-call was paged"
        arrived, body = paged[0]
        assert body["recipients"] == ["tech-1", "tech-2"] and body["role"] == "technical_on_call"
        assert "ALARM SYSTEM FAILURE" in body["text"] and "no heartbeat" in body["reason"]
        paged_ms = arrived - stopped
        # The bound counts from serve's last beat, up to one period (1 s, and the write) before the stop;
        # then up to one check period (1 s) and the delivery.
        assert 5000 - 1500 <= paged_ms <= 5000 + 1000 + 1500, paged_ms
        time.sleep(3)
        assert len(system_alarms(gateway, instance, "failure")) == 1, "once per outage"
    finally:
        os.kill(w.proc.pid, signal.SIGCONT)
    resumed = now_ms()
    recovered = wait_until(lambda: system_alarms(gateway, instance, "recovered"), timeout=15, every=0.05)
    assert recovered, "the recovery was sent"
    recovered_ms = recovered[0][0] - resumed
    assert recovered[0][1]["how"] == "reporting again" and recovered[0][1]["outage_ms"] >= 5000
    time.sleep(3)
    assert len(system_alarms(gateway, instance)) == 2, "one page, one recovery: no false stall after SIGCONT"
    status, body, _ = w.api("GET", "/ready")
    assert status == 200 and body["data"]["ready"] is True, body
    print(f"\nSIGSTOP -> technical on-call paged {paged_ms} ms (bound 5 s, heartbeat 1 s); SIGCONT -> recovery {recovered_ms} ms")
    assert w.stop() == 0
    assert db.scalar("SELECT stopped_at IS NOT NULL FROM system_heartbeats WHERE instance = %s", instance) is True
    time.sleep(7)
    assert len(system_alarms(gateway, instance)) == 2, "a stop on purpose (SIGTERM) is no outage"


def test_a_stalled_database_write_makes_serve_unready_and_names_it(wardline_factory, db):
    """A real stall: serve's heartbeat write waits on a row lock the test holds."""
    import psycopg
    w = wardline_factory(**WATCH).start()
    instance = w.env["WARDLINE_MQTT_CLIENT_ID"]
    assert db.wait_for("SELECT count(*) FROM system_heartbeats WHERE instance = %s", 1, instance, timeout=10) == 1
    with psycopg.connect(db.url) as conn:
        conn.execute("SELECT 1 FROM system_heartbeats WHERE instance = %s FOR UPDATE", (instance,))
        locked = time.time()

        def unready():
            status, body, _ = w.api("GET", "/ready")
            return status == 503 and body
        body = wait_until(unready, timeout=15, every=0.2)
        assert body, "serve turned unready"
        stalled_after = time.time() - locked
        part = body["data"]["components"]["database_writes"]
        assert part["ok"] is False and part["required"] is True and part["detail"].startswith("stalled for ")
        assert "database_writes: stalled for" in body["message"]
        assert body["data"]["components"]["engine"]["ok"] and body["data"]["components"]["intake"]["ok"], "only the stuck part"
        conn.rollback()
    status, body, _ = wait_until(lambda: (r := w.api("GET", "/ready"))[0] == 200 and r, timeout=10)
    assert body["data"]["components"]["database_writes"]["ok"]
    assert "alarm system problem" in w.log() and "database_writes: stalled for" in w.log()
    print(f"\nheartbeat write blocked -> /ready 503 naming database_writes after {stalled_after:.1f} s (bound 5 s)")


def test_many_silent_nodes_and_a_slow_gateway_do_not_hold_up_a_patient_page(wardline_factory, worker_factory, db, publisher):
    """Twelve serve nodes gone silent at once, a gateway that takes 1.5 s per answer: the worker owes
    the technical on-call twelve notices (18 s of deliveries), and they share its loop with the
    patients' pages. It spends at most about a second per check on them, so a patient's page goes
    out between two notices, and every notice still goes out, once."""
    slow = Gateway(delay=1.5)
    p = unique_prefix()
    silent = [f"silent-{p}-{i}" for i in range(12)]
    try:
        for instance in silent:
            db.query("INSERT INTO system_heartbeats (instance, role, beat_at) VALUES (%s, 'serve', now() - interval '1 minute') "
                     "RETURNING instance", instance)
        w = wardline_factory(WARDLINE_RABBITMQ_URL=RABBITMQ_URL, WARDLINE_ESCALATION_S=600, **WATCH).start()
        worker = webhook_worker(worker_factory, slow, WARDLINE_ONCALL_TECHNICAL="tech-1", **WATCH)
        assert wait_until(lambda: any(system_alarms(slow, s, "failure") for s in silent), timeout=20), "the first notice went out"
        patient = "PAT-" + p
        desaturate(publisher, patient)
        assert wait_until(lambda: db.scalar("SELECT count(*) FROM alerts WHERE patient_id = %s AND priority = 'high'", patient),
                          timeout=20, every=0.02), "the alarm was raised"
        stored = now_ms()
        delivered = lambda: sum(1 for s in silent if system_alarms(slow, s, "failure"))  # noqa: E731
        owed_then = len(silent) - delivered()
        assert owed_then >= 3, "the test needs notices still owed when the page is due"
        paged = slow.wait_for(patient, None, timeout=30)
        assert paged, "the patient was paged"
        arrived = paged[0][0]
        notices_before = sum(1 for s in silent for t, _ in system_alarms(slow, s, "failure") if t < arrived)
        assert notices_before < len(silent), f"the page waited for all {len(silent)} notices:\n{worker.log()[-3000:]}"
        # One notice in hand (1.5 s) and the next check, at most; not the owed ones behind it.
        assert arrived - stored < 2500, (arrived - stored, owed_then)
        assert wait_until(lambda: delivered() == len(silent), timeout=60), "every notice went out"
        time.sleep(2)
        assert all(len(system_alarms(slow, s, "failure")) == 1 for s in silent), "each once"
        print(f"\npatient page at {arrived - stored:+d} ms from its alarm seen stored, with {owed_then} notices still owed then")
        w.stop()
    finally:
        for instance in silent:
            db.query("UPDATE system_heartbeats SET stopped_at = now() WHERE instance = %s RETURNING instance", instance)
        slow.close()

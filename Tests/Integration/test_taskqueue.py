"""The task queue against the real RabbitMQ: pages to a webhook, escalation timers, retries and
dead letters, and a broker that is down or refuses Wardline's login.

The webhook is a small HTTP server inside the test, standing in for the hospital's paging gateway.
Queues are shared with whatever else ran on the dev broker, so every assertion picks its own
patient's jobs out of what arrives.
"""
import http.server
import json
import os
import statistics
import subprocess
import threading
import time

import pytest

from conftest import BIN, RABBITMQ_URL, now_ms, services, unique_prefix, with_password

RABBITMQ_PORT = int(os.environ.get("WARDLINE_RABBITMQ_PORT", "15673"))


class Gateway:
    """A paging gateway: records every POST (arrival time in epoch ms, JSON body) and answers
    `status` (200, or an error to make deliveries fail)."""

    def __init__(self, status=200, delay=0.0):
        self.status = status
        self.delay = delay
        self.posts = []
        self.lock = threading.Lock()
        gateway = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with gateway.lock:
                    gateway.posts.append((now_ms(), json.loads(body), self.headers.get("X-Wardline-Job-Id")))
                time.sleep(gateway.delay)  # a slow gateway: the POST is recorded, the answer comes later
                reply = b"ok" if gateway.status < 300 else b"gateway down for maintenance"
                self.send_response(gateway.status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/page"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of_kind(self, kind):
        with self.lock:
            return [b for (_, b, _) in self.posts if b.get("kind") == kind]

    def pages(self, patient, tier=None):
        with self.lock:
            return [(t, b) for (t, b, _) in self.posts if b.get("kind") == "page"
                    and b.get("alarm", {}).get("patient_id") == patient and (tier is None or b["tier"] == tier)]

    def wait_for(self, patient, tier, count=1, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = self.pages(patient, tier)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        return self.pages(patient, tier)

    def close(self):
        self.server.shutdown()


@pytest.fixture
def gateway():
    g = Gateway()
    yield g
    g.close()


def desaturate(publisher, patient, seconds=30):
    """SpO2 84 % for `seconds` readings: past the persistence delay, a high-priority alarm."""
    t0 = now_ms() - 120_000
    for i in range(seconds):
        publisher.publish(f"devices/{patient.lower()}-oxi/vitals",
                          {"v": 1, "seq": i + 1, "ts": t0 + i * 1000, "patient_id": patient, "hr": 90, "spo2": 84})
    publisher.wait_all_acked()


def queue_depths():
    out = subprocess.run([str(BIN), "queues"], capture_output=True, text=True, timeout=30, check=True)
    return {q["queue"]: q["messages"] for q in map(json.loads, out.stdout.splitlines())}


def wait_until_drained(queue="wardline.page", timeout=60):
    """Pages left by an earlier run would be delivered first and add to the measured latency."""
    deadline = time.time() + timeout
    while queue_depths()[queue] > 0 and time.time() < deadline:
        time.sleep(0.2)


def webhook_worker(worker_factory, gateway, *args, **settings):
    return worker_factory(*args, WARDLINE_NOTIFY_CHANNELS="log,webhook", WARDLINE_WEBHOOK_URL=gateway.url,
                          WARDLINE_WEBHOOK_TIMEOUT_MS=2000, **settings).start()


def test_a_critical_alarm_pages_the_on_call_clinician_through_the_webhook(wardline_factory, worker_factory, gateway, db,
                                                                          publisher):
    webhook_worker(worker_factory, gateway, WARDLINE_ONCALL_PRIMARY="pager-1001,pager-1002")
    wait_until_drained()
    w = wardline_factory(WARDLINE_ESCALATION_S=600, WARDLINE_RABBITMQ_URL=RABBITMQ_URL).start()
    latencies, patients = [], []
    for _ in range(5):
        patient = "PAT-" + unique_prefix()
        patients.append(patient)
        desaturate(publisher, patient)
        got = gateway.wait_for(patient, "on_call")
        assert got, f"no page reached the webhook for {patient}"
        arrived, page = got[0]
        assert page["recipients"] == ["pager-1001", "pager-1002"] and page["level"] == 0
        assert page["alarm"]["rule_id"] == "spo2.low" and page["alarm"]["priority"] == "high"
        assert "SpO2" in page["text"] and page["job_id"]
        raised_at = page["alarm"]["raised_at"]
        latencies.append(arrived - raised_at)
    for patient in patients:
        # The relay marks a row after its confirm, so the page can reach the webhook first.
        assert db.wait_for("SELECT count(*) FROM task_outbox WHERE payload->'alarm'->>'patient_id' = %s "
                           "AND published_at IS NULL", 0, patient, timeout=10) == 0, "every job of the alarm was published"
    print(f"\nalarm raised -> webhook received, ms (5 alarms): min {min(latencies)}, "
          f"median {statistics.median(latencies)}, max {max(latencies)}")
    assert max(latencies) < 2000
    w.stop()


def test_an_unacknowledged_alarm_escalates_at_the_configured_time(wardline_factory, worker_factory, gateway, publisher):
    webhook_worker(worker_factory, gateway, WARDLINE_ESCALATION_S=3)
    w = wardline_factory(WARDLINE_ESCALATION_S=3, WARDLINE_RABBITMQ_URL=RABBITMQ_URL).start()
    patient = "PAT-" + unique_prefix()
    desaturate(publisher, patient)
    first = gateway.wait_for(patient, "on_call")
    assert first
    raised_at = first[0][1]["alarm"]["raised_at"]
    charge = gateway.wait_for(patient, "charge_nurse", timeout=20)
    assert charge, "the charge nurse was not paged"
    after = (charge[0][0] - raised_at) / 1000
    print(f"\nescalation to the charge nurse {after:.2f} s after the raise (configured 3 s)")
    assert 3 <= after < 6
    physician = gateway.wait_for(patient, "physician", timeout=20)
    assert physician and 6 <= (physician[0][0] - raised_at) / 1000 < 10, "then the physician, one period later"
    assert physician[0][1]["recipients"] == ["physician-on-call"]
    w.stop()


def test_the_first_page_after_a_quiet_spell_goes_out_without_a_reconnect(wardline_factory, worker_factory, gateway,
                                                                         publisher):
    """rabbitmq-c sends heartbeats only inside its own calls: an idle publisher went silent and
    RabbitMQ closed it after two missed beats (30 s each), so the first page after a quiet minute
    failed, was logged as the task queue being unavailable and waited for a reconnect."""
    worker = webhook_worker(worker_factory, gateway, WARDLINE_ESCALATION_S=3)
    w = wardline_factory(WARDLINE_ESCALATION_S=3, WARDLINE_RABBITMQ_URL=RABBITMQ_URL).start()
    time.sleep(100)  # a quiet ward: nothing published by serve's relay or the worker for over two beats
    patient = "PAT-" + unique_prefix()
    desaturate(publisher, patient)
    first = gateway.wait_for(patient, "on_call")
    assert first, "the page after the quiet spell did not arrive"
    # The escalation is published by the worker's own publisher, idle until now too.
    assert gateway.wait_for(patient, "charge_nurse", timeout=20), "the escalation after the quiet spell did not arrive"
    assert "task queue unavailable" not in w.log(), "serve's relay lost its idle connection to RabbitMQ"
    assert "cannot use the task queue" not in worker.log(), "the worker lost its idle publisher connection"
    w.stop()


def test_an_acknowledged_alarm_does_not_escalate(wardline_factory, worker_factory, gateway, db, publisher):
    worker = webhook_worker(worker_factory, gateway, WARDLINE_ESCALATION_S=4)
    w = wardline_factory(WARDLINE_ESCALATION_S=4, WARDLINE_RABBITMQ_URL=RABBITMQ_URL).start()
    patient = "PAT-" + unique_prefix()
    desaturate(publisher, patient)
    assert gateway.wait_for(patient, "on_call")
    alert_id = db.scalar("SELECT id FROM alerts WHERE patient_id = %s AND rule_id = 'spo2.low'", patient)
    status, body, _ = w.api("POST", "/api/v1/alarms/" + alert_id + "/acknowledge", w.token("nurse-kim", "admin", "*"), {})
    assert status == 200, body
    assert db.wait_for("SELECT state FROM alerts WHERE id = %s", "acknowledged", alert_id, timeout=10) == "acknowledged"
    cancelled = []
    deadline = time.time() + 15
    while not cancelled and time.time() < deadline:
        cancelled = [l for l in worker.log().splitlines() if "escalation cancelled" in l and f"alert_id={alert_id}" in l]
        time.sleep(0.1)
    assert cancelled and "acknowledged by nurse-kim" in cancelled[0]
    time.sleep(1)
    assert gateway.pages(patient, "charge_nurse") == [], "nobody else is paged"
    w.stop()


def dead_letters():
    out = subprocess.run([str(BIN), "dead-letters"], capture_output=True, text=True, timeout=30, check=True)
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_a_page_that_keeps_failing_goes_to_the_dead_letters_only_once_its_alarm_is_acknowledged(
        wardline_factory, worker_factory, db, publisher):
    gateway = Gateway(status=503)
    try:
        # The breaker's threshold above the attempts: this test is about the retry policy alone.
        worker = webhook_worker(worker_factory, gateway, WARDLINE_RETRY_MAX_ATTEMPTS=3, WARDLINE_RETRY_BASE_MS=300,
                                WARDLINE_RETRY_MAX_MS=1200, WARDLINE_BREAKER_FAILURES=50)
        w = wardline_factory(WARDLINE_ESCALATION_S=600, WARDLINE_RABBITMQ_URL=RABBITMQ_URL).start()
        patient = "PAT-" + unique_prefix()
        desaturate(publisher, patient)
        tries = gateway.wait_for(patient, "on_call", count=5, timeout=30)
        assert len(tries) == 5, "past its three attempts: the alarm is active, the page goes on"
        gaps = [b[0] - a[0] for a, b in zip(tries, tries[1:])]
        assert 300 <= gaps[0] < 1500 and 600 <= gaps[1] < 2500 and 1200 <= gaps[2] < 3500 and 1200 <= gaps[3] < 3500, \
            f"backoff 300, 600, then 1200 ms (the cap), got {gaps}"
        worker.wait_for_log("channel=fallback-log")  # after the third attempt, the log channel of last resort
        assert not [d for d in dead_letters() if (d["job"].get("alarm") or {}).get("patient_id") == patient]
        alert_id = db.scalar("SELECT id FROM alerts WHERE patient_id = %s AND rule_id = 'spo2.low'", patient)
        status, body, _ = w.api("POST", "/api/v1/alarms/" + alert_id + "/acknowledge", w.token("nurse-kim", "admin", "*"), {})
        assert status == 200, body
        worker.wait_for_log("sent to the dead-letter queue")
        time.sleep(1.5)
        count = len(gateway.pages(patient))
        time.sleep(2)
        assert len(gateway.pages(patient)) == count, "no attempt after the dead letter"
        mine = [d for d in dead_letters() if (d["job"].get("alarm") or {}).get("patient_id") == patient]
        assert len(mine) == 1
        headers = mine[0]["headers"]
        assert headers["x-wardline-queue"] == "wardline.page" and headers["x-wardline-attempts"] >= 5
        assert "acknowledged by nurse-kim" in headers["x-wardline-reason"]
        assert "HTTP 503" in headers["x-wardline-reason"] and "gateway down" in headers["x-wardline-reason"]
        assert headers["x-wardline-delivered"] == "fallback,log", "it did reach the fallback (and the log channel)"
        assert mine[0]["job"]["kind"] == "page"
        w.stop()
    finally:
        gateway.close()


def test_wrong_credentials_are_a_clear_error_and_wardline_keeps_running(wardline_factory, worker_factory, db, publisher):
    bad = with_password(RABBITMQ_URL, "wrong-password")
    w = wardline_factory(WARDLINE_RABBITMQ_URL=bad).start()
    worker = worker_factory(WARDLINE_RABBITMQ_URL=bad).start(wait=False)
    expected = f"ACCESS_REFUSED: wrong credentials for user wardline at 127.0.0.1:{RABBITMQ_PORT}"
    w.wait_for_log(expected)
    worker.wait_for_log(expected)
    patient = "PAT-" + unique_prefix()
    desaturate(publisher, patient)
    assert db.wait_for("SELECT count(*) FROM alerts WHERE patient_id = %s", 1, patient, timeout=30) == 1, \
        "alarms are still raised and stored"
    assert db.wait_for("SELECT count(*) FROM task_outbox WHERE payload->'alarm'->>'patient_id' = %s "
                       "AND published_at IS NULL", 2, patient, timeout=10) == 2, "its page and timer wait in the outbox"
    status, body, _ = w.api("GET", "/ready")
    rabbit = body["data"]["components"]["rabbitmq"]
    assert status == 200 and body["data"]["degraded"] is True and rabbit["ok"] is False and rabbit["required"] is False
    assert "ACCESS_REFUSED" in rabbit["detail"] and "ACCESS_REFUSED" in body["message"], body
    time.sleep(3)
    assert w.proc.poll() is None and worker.proc.poll() is None, "both keep running: no crash loop"
    assert w.log().count(expected) == 1 and worker.log().count(expected) == 1, "said once, not every retry"
    assert w.stop() == 0 and worker.stop() == 0


def test_an_unreachable_broker_is_a_clear_error(worker_factory, wardline_factory):
    nowhere = "amqp://wardline:wardline@127.0.0.1:1/wardline"
    w = wardline_factory(WARDLINE_RABBITMQ_URL=nowhere).start()
    worker = worker_factory(WARDLINE_RABBITMQ_URL=nowhere).start(wait=False)
    w.wait_for_log("broker unreachable at 127.0.0.1:1")
    worker.wait_for_log("broker unreachable at 127.0.0.1:1")
    body = w.api("GET", "/ready")[1]
    assert body["data"]["degraded"] is True and "127.0.0.1:1" in body["data"]["components"]["rabbitmq"]["detail"]
    time.sleep(1)
    assert w.proc.poll() is None and worker.proc.poll() is None
    assert w.stop() == 0 and worker.stop() == 0


def test_pages_raised_while_rabbitmq_is_down_are_sent_when_it_returns(wardline_factory, worker_factory, gateway, db,
                                                                     publisher):
    w = wardline_factory(WARDLINE_ESCALATION_S=600, WARDLINE_RABBITMQ_URL=RABBITMQ_URL).start()
    patient = "PAT-" + unique_prefix()
    services("stop-rabbitmq")
    try:
        desaturate(publisher, patient)
        assert db.wait_for("SELECT count(*) FROM task_outbox WHERE payload->'alarm'->>'patient_id' = %s "
                           "AND published_at IS NULL", 2, patient, timeout=30) == 2
        w.wait_for_log("task queue unavailable")
    finally:
        services("start-rabbitmq")
    webhook_worker(worker_factory, gateway)
    assert gateway.wait_for(patient, "on_call", timeout=60), "the page that waited is delivered"
    assert db.wait_for("SELECT count(*) FROM task_outbox WHERE payload->'alarm'->>'patient_id' = %s "
                       "AND published_at IS NULL", 0, patient, timeout=30) == 0
    w.stop()


def test_the_ward_summary_counts_the_last_day_per_ward(wardline_factory, worker_factory, gateway, db, publisher):
    w = wardline_factory(WARDLINE_ESCALATION_S=600, WARDLINE_RABBITMQ_URL=RABBITMQ_URL).start()
    ward = "WARD-" + unique_prefix()
    patient = "PAT-" + unique_prefix()
    db.query("INSERT INTO device_assignments (device_id, patient_id, ward, bed) VALUES (%s, %s, %s, '4') RETURNING id",
             patient.lower() + "-oxi", patient, ward)
    desaturate(publisher, patient)
    assert db.wait_for("SELECT count(*) FROM alerts WHERE patient_id = %s", 1, patient, timeout=30) == 1
    webhook_worker(worker_factory, gateway, "--summary-now")
    deadline = time.time() + 20
    while not gateway.of_kind("ward_summary") and time.time() < deadline:
        time.sleep(0.1)
    summaries = gateway.of_kind("ward_summary")
    assert summaries, "no ward summary reached the webhook"
    mine = [line for line in summaries[0]["wards"] if line["ward"] == ward]
    assert mine and mine[0]["raised"] == 1 and mine[0]["high"] == 1 and mine[0]["acknowledged"] == 0
    assert summaries[0]["period_hours"] == 24
    end = summaries[0]["period_end"]
    query = f"ward={ward}&from={end - 86_400_000}&to={end}"
    assert mine[0]["report"] == "/reports.html?" + query, "the summary links its ward's alarm-burden report"
    assert mine[0]["report_api"] == "/api/v1/reports/alarm-burden?" + query
    w.stop()


def test_sigterm_finishes_the_page_in_hand_then_exits(wardline_factory, worker_factory, db, publisher):
    slow = Gateway(delay=1.5)
    try:
        worker = webhook_worker(worker_factory, slow, WARDLINE_RETRY_MAX_ATTEMPTS=1)
        w = wardline_factory(WARDLINE_ESCALATION_S=600, WARDLINE_RABBITMQ_URL=RABBITMQ_URL).start()
        patient = "PAT-" + unique_prefix()
        desaturate(publisher, patient)
        deadline = time.time() + 20
        while not slow.pages(patient) and time.time() < deadline:
            time.sleep(0.01)
        assert slow.pages(patient), "the page is in flight"
        started = time.time()
        assert worker.stop() == 0, "exits 0 after the job in hand"
        assert time.time() - started > 1.0, "it waited for the gateway's answer"
        assert "page delivered" in worker.log() and "worker stopped" in worker.log()
        assert f"job failed" not in worker.log(), "the slow answer arrived before the exit: delivered, not failed"
        again = webhook_worker(worker_factory, slow)
        time.sleep(2)
        assert len(slow.pages(patient)) == 1, "acknowledged: the next worker does not get it again"
        again.stop()
        w.stop()
    finally:
        slow.close()

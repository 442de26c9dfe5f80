"""The nurses' station page in a real headless Chromium, against the real Wardline: log in with a
token, see a tile follow a reading within a second, see the alarm banner when a patient
desaturates, acknowledge it, see it clear, and see the page turn stale when Wardline dies."""
import os
import signal
import time

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import RABBITMQ_URL, REPO, now_ms, unique_prefix

ARTIFACTS = REPO / "var" / "test-artifacts"


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(arg)
    service = Service(executable_path="/usr/bin/chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    yield driver
    driver.quit()


def admit(w, admin, patient, ward, bed):
    assert w.api("PUT", f"/api/v1/patients/{patient}", admin, {"ward": ward, "bed": bed})[0] == 200


def css(driver, selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def test_the_ward_page_live(wardline_factory, publisher, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    w = wardline_factory().start()
    p = unique_prefix()
    ward = "4B-" + p
    admin = w.token("a1", "admin", "*")
    patients = [f"PAT-{p}-{i}" for i in range(1, 4)]
    for i, patient in enumerate(patients, 1):
        admit(w, admin, patient, ward, str(i))
    time.sleep(1.5)
    token = w.token("c-" + p, "charge_nurse", ward)
    browser.get(f"{w.url}/#token={token}")
    wait = WebDriverWait(browser, 15, poll_frequency=0.02)
    wait.until(lambda d: css(d, "#connection-state[data-state='live']"))
    wait.until(lambda d: len(css(d, "[data-patient-id]")) == 3)
    assert token not in browser.current_url, "the token leaves the address bar"

    # A published reading shows on its tile within a second.
    target = patients[0]
    hr_cell = f"[data-patient-id='{target}'] [data-vital='hr']"
    seq = 1
    for value in (71, 77):
        publisher.publish(f"devices/{target}-mon/vitals", {"v": 1, "seq": seq, "ts": now_ms(), "patient_id": target,
                                                          "hr": value, "spo2": 97, "rr": 15, "temp": 36.8, "sbp": 121, "dbp": 79})
        seq += 1
        sent = time.time()
        WebDriverWait(browser, 5, poll_frequency=0.01).until(lambda d: str(value) in (css(d, hr_cell) or [None])[0].text)
        seen_after = time.time() - sent
        assert seen_after < 1.0, f"tile updated {seen_after:.3f} s after the reading was published"
    print(f"\npublish → tile: {seen_after * 1000:.0f} ms")

    # A desaturation raises a high-priority alarm: the banner shows it, with acknowledge.
    victim = patients[1]
    t0 = now_ms() - 40_000
    for i in range(40):
        publisher.publish(f"devices/{victim}-oxi/vitals", {"v": 1, "seq": i + 1, "ts": t0 + i * 1000, "patient_id": victim,
                                                          "hr": 112, "spo2": 84})
    publisher.wait_all_acked()
    banner_item = "[data-alarm-id]"
    wait.until(lambda d: any(victim in e.text or e.get_attribute("data-patient-id") == victim for e in css(d, banner_item)))
    browser.save_screenshot(str(ARTIFACTS / "ward-page-alarm.png"))
    items = [e for e in css(browser, banner_item) if victim in e.text or e.get_attribute("data-patient-id") == victim]
    alarm_id = items[0].get_attribute("data-alarm-id")
    items[0].find_element(By.CSS_SELECTOR, "[data-action='acknowledge']").click()
    wait.until(lambda d: not [e for e in css(d, banner_item) if e.get_attribute("data-alarm-id") == alarm_id
                              and e.is_displayed() and "acknowledged" not in (e.get_attribute("class") or "")])
    status, body, _ = w.api("GET", "/api/v1/alarms/" + alarm_id, admin)
    assert body["data"]["state"] == "acknowledged" and body["data"]["acknowledged_by"] == "c-" + p
    browser.save_screenshot(str(ARTIFACTS / "ward-page-acknowledged.png"))

    # Wardline dies: the page must not look live.
    w.stop(signal.SIGKILL)
    WebDriverWait(browser, 20, poll_frequency=0.1).until(
        lambda d: css(d, "#connection-state")[0].get_attribute("data-state") in ("stale", "connecting"))
    browser.save_screenshot(str(ARTIFACTS / "ward-page-stale.png"))
    assert os.path.getsize(ARTIFACTS / "ward-page-alarm.png") > 10_000


def test_the_ward_page_shows_a_failure_of_the_alarm_system_itself(wardline_factory, browser):
    """A task queue with no worker reporting: pages are not going out, and the ward must see it
    (IEC 60601-1-8). Then Wardline freezes: the page's own silence is such a failure too."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    w = wardline_factory(WARDLINE_RABBITMQ_URL=RABBITMQ_URL, WARDLINE_STALL_AFTER_S=3, WARDLINE_HEARTBEAT_S=1).start()
    token = w.token("c-" + unique_prefix(), "charge_nurse", "4B")
    browser.get(f"{w.url}/#token={token}")
    WebDriverWait(browser, 15, poll_frequency=0.05).until(lambda d: css(d, "#connection-state[data-state='live']"))
    banner = "#system-banner"
    WebDriverWait(browser, 15, poll_frequency=0.05).until(lambda d: css(d, banner)[0].is_displayed())
    assert css(browser, "#system-title")[0].text == "ALARM SYSTEM FAILURE"
    assert "paging" in css(browser, "#system-detail")[0].text and "no wardline worker" in css(browser, "#system-detail")[0].text
    assert css(browser, banner)[0].get_attribute("data-severity") == "failure"
    browser.save_screenshot(str(ARTIFACTS / "ward-page-system-failure.png"))

    os.kill(w.proc.pid, signal.SIGSTOP)
    try:
        WebDriverWait(browser, 50, poll_frequency=0.2).until(
            lambda d: "no contact with Wardline" in css(d, "#system-title")[0].text)
        assert css(browser, banner)[0].is_displayed()
        browser.save_screenshot(str(ARTIFACTS / "ward-page-silent.png"))
    finally:
        os.kill(w.proc.pid, signal.SIGCONT)


@pytest.fixture(scope="session")
def web_certificate(tmp_path_factory):
    """deploy/tls.sh's CA and web server certificate, made in a folder of this run's own."""
    import subprocess
    var = tmp_path_factory.mktemp("tls-var")
    subprocess.run([str(REPO / "deploy" / "tls.sh")], env=dict(os.environ, WARDLINE_VAR=str(var)), check=True,
                   capture_output=True)
    tls = var / "tls"
    assert oct((tls / "web.key").stat().st_mode & 0o777) == "0o600" and oct((tls / "ca.key").stat().st_mode & 0o777) == "0o600"
    spki = subprocess.run([str(REPO / "deploy" / "tls.sh"), "spki", str(tls / "web.crt")], check=True,
                          capture_output=True, text=True).stdout.strip()
    return tls, spki


def test_the_ward_page_over_https(wardline_factory, publisher, web_certificate):
    """HTTPS and wss from libwebsockets with deploy/tls.sh's certificate: Python checks it against
    the project's CA; Chromium, which has no system store here, is told to trust exactly that
    certificate's key (--ignore-certificate-errors-spki-list) and loads the page and its socket."""
    import json
    import ssl
    import urllib.error
    import urllib.request
    import websocket
    tls, spki = web_certificate
    w = wardline_factory(WARDLINE_TLS_CERT_FILE=tls / "web.crt", WARDLINE_TLS_KEY_FILE=tls / "web.key").start()
    base = f"https://127.0.0.1:{w.http_port}"
    assert f"url={base}/" in w.log(), "serve says where the page is, with https"
    trusted = ssl.create_default_context(cafile=str(tls / "ca.crt"))

    def api(method, path, token, body=None):
        req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10, context=trusted) as r:
            return r.status

    with pytest.raises(Exception):  # nothing but TLS on the port
        urllib.request.urlopen(f"http://127.0.0.1:{w.http_port}/health", timeout=5)
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):  # trusted through the project's CA only
        urllib.request.urlopen(base + "/health", timeout=5, context=ssl.create_default_context())
    p = unique_prefix()
    ward = "4B-" + p
    admin = w.token("a1", "admin", "*")
    patient = f"PAT-{p}-1"
    assert api("PUT", f"/api/v1/patients/{patient}", admin, {"ward": ward, "bed": "1"}) == 200
    # wss: the page's own https origin may open a socket, the same host over http may not.
    token = w.token("c-" + p, "charge_nurse", ward)
    sslopt = {"ca_certs": str(tls / "ca.crt")}
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(f"wss://127.0.0.1:{w.http_port}/ws?token={token}", timeout=5, sslopt=sslopt,
                                    origin=f"http://127.0.0.1:{w.http_port}")
    websocket.create_connection(f"wss://127.0.0.1:{w.http_port}/ws?token={token}", timeout=5, sslopt=sslopt,
                                origin=base).close()
    time.sleep(1.5)

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900",
                f"--ignore-certificate-errors-spki-list={spki}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path="/usr/bin/chromedriver"))
    try:
        driver.get(f"{base}/#token={token}")
        wait = WebDriverWait(driver, 15, poll_frequency=0.05)
        wait.until(lambda d: css(d, "#connection-state[data-state='live']"))
        assert driver.execute_script("return location.protocol + ' ' + window.isSecureContext") == "https: true"
        wait.until(lambda d: len(css(d, "[data-patient-id]")) == 1)
        publisher.publish(f"devices/{patient}-mon/vitals", {"v": 1, "seq": 1, "ts": now_ms(), "patient_id": patient,
                                                           "hr": 73, "spo2": 97, "rr": 15, "temp": 36.8, "sbp": 121, "dbp": 79})
        cell = f"[data-patient-id='{patient}'] [data-vital='hr']"
        wait.until(lambda d: "73" in (css(d, cell) or [None])[0].text)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "ward-page-https.png"))
    finally:
        driver.quit()

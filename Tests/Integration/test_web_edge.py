"""The web edge from outside: which pages may open a socket, how many sockets, how much body
without a token, and per-token rate limits, with alarms still delivered to a token that is limited."""
import json
import socket
import time

import pytest
import websocket

from conftest import unique_prefix
from test_openapi import conforms
from test_ward_socket import admit, desaturate, frames, until


def ws_url(w, token):
    return f"ws://127.0.0.1:{w.http_port}/ws?token={token}"


def refused_status(url, origin=None):
    """A handshake the server must refuse: (status, envelope) read off the socket."""
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        websocket.create_connection(url, timeout=5, **({"origin": origin} if origin else {}))
    port, path = url.split(":")[2].split("/", 1)
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
    extra = f"Origin: {origin}\r\n" if origin else ""
    s.sendall(f"GET /{path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n".encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lengths = [h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")]
        if lengths and len(body) >= int(lengths[0].split(b":")[1]):
            break
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert int(head.split()[1]) == e.value.status_code
    return e.value.status_code, json.loads(body or b"{}")


def metric(w, name):
    for line in w.api("GET", "/metrics")[1].splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    return None


def test_a_page_of_another_origin_cannot_open_a_socket(wardline_factory):
    w = wardline_factory().start()
    token = w.token("c1", "charge_nurse", "4B")
    status, body = refused_status(ws_url(w, token), origin="http://evil.example")
    assert status == 403 and body["error"]["code"] == "forbidden_origin" and body["success"] is False
    assert refused_status(ws_url(w, token), origin="null")[0] == 403
    assert refused_status(ws_url(w, token), origin=f"http://127.0.0.1:{w.http_port + 1}")[0] == 403
    assert metric(w, 'wardline_websocket_handshakes_refused_total{reason="origin"}') == 6
    # The ward page's own origins, and a program that sends no Origin at all (no browser does that).
    for kw in ({"origin": f"http://127.0.0.1:{w.http_port}"}, {"origin": f"http://localhost:{w.http_port}"},
               {"suppress_origin": True}):
        ws = websocket.create_connection(ws_url(w, token), timeout=5, **kw)
        until(ws, "session:ready")
        ws.close()
    # Configured origins replace the defaults.
    w2 = wardline_factory(WARDLINE_WS_ORIGINS="https://ward.example.org").start()
    token2 = w2.token("c1", "charge_nurse", "4B")
    assert refused_status(ws_url(w2, token2), origin=f"http://127.0.0.1:{w2.http_port}")[0] == 403
    ws = websocket.create_connection(ws_url(w2, token2), timeout=5, origin="https://ward.example.org")
    until(ws, "session:ready")


def test_sockets_beyond_the_limit_are_refused(wardline_factory):
    w = wardline_factory(WARDLINE_WS_MAX_CONNECTIONS="3").start()
    token = w.token("c1", "charge_nurse", "4B")
    open_ = [websocket.create_connection(ws_url(w, token), timeout=5) for _ in range(3)]
    for ws in open_:
        until(ws, "session:ready")
    status, body = refused_status(ws_url(w, token))
    assert status == 503 and body["error"]["code"] == "too_many_connections" and body["error"]["retry_after"] >= 1
    open_.pop().close()
    deadline = time.time() + 5
    while True:
        try:
            ws = websocket.create_connection(ws_url(w, token), timeout=5)
            break
        except websocket.WebSocketBadStatusException:
            assert time.time() < deadline, "a closed socket's place is not given back"
            time.sleep(0.1)
    until(ws, "session:ready")
    assert metric(w, 'wardline_websocket_handshakes_refused_total{reason="connections"}') >= 1
    assert w.api("GET", "/health")[0] == 200, "HTTP is not limited by the socket limit"


def raw_post(w, path, length, first_bytes, token=None):
    """Sends the headers of a POST announcing `length` bytes and only `first_bytes` of them; returns
    the status line and body the server answered with before the rest was sent."""
    s = socket.create_connection(("127.0.0.1", w.http_port), timeout=5)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{auth}"
              f"Content-Length: {length}\r\n\r\n".encode() + b"x" * first_bytes)
    data = b""
    try:
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < int(
                [h for h in data.split(b"\r\n") if h.lower().startswith(b"content-length:")][0].split(b":")[1]):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), json.loads(body or b"{}")


def test_a_big_body_without_a_token_is_refused_before_it_is_read(wardline_factory):
    w = wardline_factory().start()
    # 50 MB announced, 8 KiB sent: the answer comes before the rest, so it was never buffered.
    status, body = raw_post(w, "/api/v1/care-assignments", 50_000_000, 8192)
    assert status.split()[1] == "401" and body["error"]["code"] == "unauthorized" and "valid token" in body["message"]
    assert body["request_id"] and body["timestamp"]
    status, body = raw_post(w, "/api/v1/care-assignments", 50_000_000, 8192, token="garbage")
    assert status.split()[1] == "401"
    # Chunked, with no length to judge by: refused as soon as the chunks pass the bound.
    s = socket.create_connection(("127.0.0.1", w.http_port), timeout=5)
    s.sendall(b"POST /api/v1/care-assignments HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
              + (b"1000\r\n" + b"x" * 4096 + b"\r\n") * 3)
    assert s.recv(65536).startswith(b"HTTP/1.1 401")
    s.close()
    # With a valid token the bound is the ordinary 1 MiB (413), again answered before reading on.
    admin = w.token("a1", "admin", "*")
    status, body = raw_post(w, "/api/v1/care-assignments", 2_000_000, 8192, token=admin)
    assert status.split()[1] == "413" and body["error"]["code"] == "payload_too_large"
    # A small body without a token is the API's ordinary 401; with one it is judged as usual.
    assert w.api("POST", "/api/v1/care-assignments", None, {"user_id": "n1", "patient_id": "P"})[0] == 401
    assert w.api("POST", "/api/v1/care-assignments", admin, b"x" * 6000)[0] == 400
    assert metric(w, "wardline_http_unauthenticated_bodies_refused_total") == 3


def test_one_token_hammering_rest_is_limited_and_nobody_else_is(wardline_factory, publisher):
    w = wardline_factory(WARDLINE_RATE_LIMIT_PER_S="2", WARDLINE_RATE_LIMIT_BURST="5").start()
    p = unique_prefix()
    ward = "4B-" + p
    admin = w.token("a-" + p, "admin", "*")
    patient = "PAT-" + p
    admit(w, admin, patient, ward, "1")
    time.sleep(1.5)
    noisy = w.token("c-" + p, "charge_nurse", ward)
    ws = websocket.create_connection(ws_url(w, noisy), timeout=5)
    until(ws, "session:ready")

    answers = [w.api("GET", "/api/v1/me", noisy) for _ in range(12)]
    limited = [(s, b, h) for s, b, h in answers if s == 429]
    assert [s for s, _, _ in answers[:5]] == [200] * 5 and len(limited) >= 5, [s for s, _, _ in answers]
    status, body, headers = limited[0]
    assert body["success"] is False and body["status"] == 429 and body["error"]["code"] == "rate_limited"
    assert body["error"]["retry_after"] >= 1 and int(headers["retry-after"]) == body["error"]["retry_after"]
    assert body["request_id"] == headers["x-request-id"] and body["timestamp"] and body["error"]["details"] == []
    conforms("/api/v1/me", "get", 429, body)
    assert w.api("GET", "/api/v1/me", w.token("other-" + p, "charge_nurse", ward))[0] == 200, "another token is unaffected"

    # The limited token's socket still gets its alarms, and it can still acknowledge one.
    desaturate(publisher, patient, device=p)
    alarm = until(ws, "alert:critical", 10, lambda d: d["patient_id"] == patient)["data"]
    for _ in range(8):
        ws.send(json.dumps({"event": "ping", "data": {}}))
    got = frames(ws, 1.5)
    refusals = [f["data"] for f in got if f["event"] == "error" and f["data"]["code"] == "rate_limited"]
    assert refusals and refusals[0]["retry_after"] >= 1 and refusals[0]["event"] == "ping"
    assert len([f for f in got if f["event"] == "pong"]) < 8
    # What keeps the screen showing its patients has its own bucket: still served.
    ws.send(json.dumps({"event": "subscribe:patient", "data": {"patient_id": patient}}))
    until(ws, "subscribed")
    ws.send(json.dumps({"event": "alert:acknowledge", "data": {"alarm_id": alarm["id"]}}))
    updated = until(ws, "alert:updated", 5, lambda d: d["id"] == alarm["id"])["data"]
    assert updated["state"] == "acknowledged"
    # REST acknowledgements have their own bucket too: not refused while /me is.
    assert 429 in [w.api("GET", "/api/v1/me", noisy)[0] for _ in range(12)]
    assert w.api("POST", f"/api/v1/alarms/{alarm['id']}/acknowledge", noisy, {})[0] != 429
    assert metric(w, 'wardline_rate_limited_total{channel="rest"}') >= 6
    assert metric(w, 'wardline_rate_limited_total{channel="socket"}') >= 1

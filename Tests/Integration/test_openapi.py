"""The server against its own API description (Sources/WardlineAPI/openapi.yaml): every documented
operation is routed, and every answer in a realistic session matches the documented schema for its
status code."""
import re
import time
import urllib.parse

import jsonschema
import yaml

from conftest import REPO, now_ms, unique_prefix

SPEC = yaml.safe_load((REPO / "Sources" / "WardlineAPI" / "openapi.yaml").read_text())


def schema_for(template, method, status):
    op = SPEC["paths"][template][method.lower()]
    documented = str(status) in op["responses"] or (status >= 400 and "default" in op["responses"])
    assert documented, f"{method} {template} answered {status}, which is not documented"
    response = op["responses"].get(str(status), op["responses"].get("default"))
    if "$ref" in response:
        response = SPEC["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return next(iter(response["content"].values()))["schema"]


def conforms(template, method, status, body):
    schema = schema_for(template, method, status)
    resolver = jsonschema.RefResolver.from_schema(SPEC)
    jsonschema.Draft202012Validator(schema, resolver=resolver).validate(body)


def concrete(template, values):
    return re.sub(r"\{(\w+)\}", lambda m: urllib.parse.quote(values[m.group(1)], safe=""), template)


def test_every_documented_operation_is_routed(wardline_factory):
    w = wardline_factory().start()
    admin = w.token("a1", "admin", "*")
    values = {"patient_id": "PAT-nobody", "device_id": "dev-nobody", "alarm_id": "no/such/alarm", "rule_id": "spo2.low",
              "user_id": "nobody", "replay_id": "no-such-replay"}
    for template, ops in SPEC["paths"].items():
        for method in ops:
            if method == "parameters":
                continue
            status, body, _ = w.api(method.upper(), concrete(template, values), admin, {} if method in ("put", "post") else None)
            assert status != 405, (method, template)
            if status == 404 and isinstance(body, dict):
                assert not body["message"].startswith("no route"), (method, template, body)
            if isinstance(body, dict):
                conforms(template, method, status, body)
    status, body, _ = w.api("GET", "/api/v1/undocumented", admin)
    assert status == 404 and body["message"].startswith("no route")


def test_a_session_matches_the_description(wardline_factory, publisher):
    w = wardline_factory().start()
    p = unique_prefix()
    admin = w.token("a1", "admin", "*")
    physician = w.token("d-" + p, "physician", "4B-" + p)
    patient, device = "PAT-" + p, p + "-mon"
    calls = []

    def call(method, template, values=None, token=admin, body=None):
        status, answer, _ = w.api(method, concrete(template, values or {}), token, body)
        if isinstance(answer, dict):
            conforms(template, method, status, answer)
        calls.append((method, template, status))
        return status, answer

    assert call("PUT", "/api/v1/patients/{patient_id}", {"patient_id": patient}, body={"ward": "4B-" + p, "bed": "7"})[0] == 200
    call("PUT", "/api/v1/patients/{patient_id}", {"patient_id": patient}, body={"bed": 7})
    assert call("POST", "/api/v1/care-assignments", body={"user_id": "n-" + p, "patient_id": patient})[0] == 201
    call("PUT", "/api/v1/devices/{device_id}/assignment", {"device_id": device}, body={"patient_id": patient})
    t0 = now_ms() - 90_000
    for i in range(60):
        publisher.publish(f"devices/{device}/vitals", {"v": 1, "seq": i + 1, "ts": t0 + i * 1000, "patient_id": patient,
                                                       "hr": 88, "spo2": 84, "rr": 22, "temp": 38.2, "sbp": 100, "dbp": 60,
                                                       "o2": False, "acvpu": "A"})
    publisher.wait_all_acked()
    time.sleep(1.5)
    call("GET", "/health")
    call("GET", "/ready")
    call("GET", "/api/v1/me", token=physician)
    call("GET", "/api/v1/patients", token=physician)
    call("GET", "/api/v1/patients/{patient_id}/vitals", {"patient_id": patient}, token=physician)
    call("GET", "/api/v1/patients/{patient_id}/news2", {"patient_id": patient}, token=physician)
    call("PUT", "/api/v1/patients/{patient_id}/spo2-scale", {"patient_id": patient}, token=physician, body={"scale": 3})
    call("PUT", "/api/v1/patients/{patient_id}/thresholds/{rule_id}", {"patient_id": patient, "rule_id": "hr.high"}, token=physician,
         body={"vital": "hr", "direction": "above", "clear_at": 110, "bands": [{"limit": 120, "priority": "high"}]})
    call("GET", "/api/v1/patients/{patient_id}/thresholds", {"patient_id": patient}, token=physician)
    status, alarms = call("GET", "/api/v1/alarms", token=physician)
    assert status == 200 and alarms["data"], "the desaturation raised alarms"
    alarm_id = alarms["data"][0]["id"]
    call("GET", "/api/v1/alarms/{alarm_id}", {"alarm_id": alarm_id}, token=physician)
    call("POST", "/api/v1/alarms/{alarm_id}/acknowledge", {"alarm_id": alarm_id}, token=physician, body={})
    call("GET", "/api/v1/devices", token=physician)
    call("POST", "/api/v1/devices/{device_id}/commands", {"device_id": device}, token=physician, body={"command": "identify"})
    call("GET", "/api/v1/care-assignments", token=physician)
    call("DELETE", "/api/v1/care-assignments/{user_id}/{patient_id}", {"user_id": "n-" + p, "patient_id": patient})
    call("DELETE", "/api/v1/devices/{device_id}/assignment", {"device_id": device})
    call("DELETE", "/api/v1/patients/{patient_id}/thresholds/{rule_id}", {"patient_id": patient, "rule_id": "hr.high"}, token=physician)
    call("DELETE", "/api/v1/patients/{patient_id}", {"patient_id": patient})
    assert len({(m, t) for m, t, _ in calls}) >= 20

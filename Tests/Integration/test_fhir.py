"""GET /fhir/Observation from the health record's side: readings published over MQTT come back as
FHIR R4 Observations, every one of them (and every Bundle and OperationOutcome) validated by the
maintained `fhir.resources` models (PyPI, in the venv deploy/install.sh makes). fhir.resources 8
ships R5 at its top level and R4B beside it; R4B's Observation, Bundle and OperationOutcome are
R4's, so R4B is what R4 is checked with."""
import datetime
import json
import math
import os
import pathlib
import subprocess
import time
import urllib.parse

from conftest import VAR, now_ms, unique_prefix

VENV = pathlib.Path(os.environ.get("WARDLINE_VENV", VAR / "venv"))
VALIDATE = """
import json, sys
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
kinds = {"Bundle": Bundle, "Observation": Observation, "OperationOutcome": OperationOutcome}
errors = []
documents = json.load(sys.stdin)
for d in documents:
    try:
        kinds[d["resourceType"]].model_validate(d)
    except Exception as e:
        errors.append(str(e)[:800])
print(json.dumps({"validated": len(documents), "errors": errors}))
"""
LOINC, SNOMED, UCUM = "http://loinc.org", "http://snomed.info/sct", "http://unitsofmeasure.org"
VITAL_SIGNS = "http://hl7.org/fhir/StructureDefinition/vitalsigns"


def validate(documents):
    """Every document through fhir.resources; fails the test on the first that does not parse."""
    python = VENV / "bin" / "python"
    assert python.exists(), f"{python} is missing: deploy/install.sh makes the venv with fhir.resources"
    run = subprocess.run([str(python), "-c", VALIDATE], input=json.dumps(documents), capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    assert report["errors"] == [], report["errors"][:3]
    assert report["validated"] == len(documents)


def iso(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).isoformat(timespec="milliseconds")


def fhir(w, token, **params):
    """One search; (status, body, headers). Lists become repeated parameters (date=ge…&date=le…)."""
    query = urllib.parse.urlencode([(k, v) for k, vs in params.items() for v in (vs if isinstance(vs, list) else [vs])])
    return fhir_url(w, token, "/fhir/Observation?" + query)


def fhir_url(w, token, url):
    status, body, headers = w.api("GET", url, token)
    assert headers.get("content-type", "").startswith("application/fhir+json"), (status, headers, body)
    return status, body, headers


def observations(bundle):
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    return [e["resource"] for e in bundle.get("entry", [])]


def code_of(o):
    return o["code"]["coding"][0]["code"]


def setup_patient(w, p):
    """An admin's token, and a patient admitted to ward 4B-<p> with the id of its device."""
    admin = w.token("a-" + p, "admin", "*")
    patient, device = f"PAT-{p}", f"{p}-mon"
    status, body, _ = w.api("PUT", f"/api/v1/patients/{patient}", admin, {"ward": "4B-" + p, "bed": "3"})
    assert status == 200, body
    return admin, patient, device


def publish(publisher, db, device, patient, readings):
    for seq, (ts, vitals) in enumerate(readings, start=1):
        publisher.publish(f"devices/{device}/vitals", {"v": 1, "seq": seq, "ts": ts, "patient_id": patient, **vitals})
    publisher.wait_all_acked()
    assert db.wait_for("SELECT count(*) FROM vitals WHERE patient_id = %s", len(readings), patient, timeout=30) == len(readings)


# RR 22 (2), SpO2 90 on scale 1 (3), air (0), SBP 105 (1), HR 95 (1), alert (0), 38.5 °C (1): NEWS2 8.
UNWELL = {"hr": 95, "spo2": 90, "rr": 22, "temp": 38.5, "sbp": 105, "dbp": 64, "o2": False, "acvpu": "A"}


def test_readings_become_vital_signs_observations_filtered_and_paged(wardline_factory, publisher, db):
    w = wardline_factory().start()
    p = unique_prefix()
    admin, patient, device = setup_patient(w, p)
    t0 = now_ms() - 20 * 60_000
    readings = [(t0 + i * 60_000, dict(UNWELL, hr=95 + i)) for i in range(5)]
    # A pulse oximeter's reading: no blood pressure, no NEWS2 (a partial score would understate).
    readings.append((t0 + 5 * 60_000, {"hr": 70, "spo2": 98}))
    publish(publisher, db, device, patient, readings)

    status, bundle, headers = fhir(w, admin, patient=patient, _count=100)
    assert status == 200, bundle
    everything = observations(bundle)
    validate([bundle] + everything)
    assert [link["relation"] for link in bundle["link"]] == ["self"], "one page holds them all"
    assert len(everything) == 5 * 6 + 2
    for o in everything:
        assert o["status"] == "final"
        assert o["subject"] == {"reference": "Patient/" + patient}
        assert o["device"] == {"reference": "Device/" + device}
        assert "effectivePeriod" not in o
    by_time = {}
    for o in everything:
        by_time.setdefault(o["effectiveDateTime"], []).append(o)
    assert sorted(by_time) == sorted(iso(ts) for ts, _ in readings)
    for i, (ts, sent) in enumerate(readings):
        group = {code_of(o): o for o in by_time[iso(ts)]}
        if "sbp" not in sent:
            assert sorted(group) == ["2708-6", "8867-4"]
            continue
        assert sorted(group) == sorted(["8867-4", "2708-6", "9279-1", "8310-5", "85354-9", "1104051000000101"])
        for code, key, unit in [("8867-4", "hr", "/min"), ("2708-6", "spo2", "%"), ("9279-1", "rr", "/min"), ("8310-5", "temp", "Cel")]:
            q = group[code]["valueQuantity"]
            assert q["system"] == UCUM and q["code"] == unit, q
            assert math.isclose(q["value"], sent[key], abs_tol=1e-6), (code, q, sent)
            assert group[code]["category"][0]["coding"][0] == {
                "system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs", "display": "Vital Signs"}
            assert VITAL_SIGNS in group[code]["meta"]["profile"]
            assert group[code]["code"]["coding"][0]["system"] == LOINC
        assert [c["code"] for c in group["2708-6"]["code"]["coding"]] == ["2708-6", "59408-5"]
        bp = group["85354-9"]
        assert "valueQuantity" not in bp
        assert [(c["code"]["coding"][0]["code"], c["valueQuantity"]["value"], c["valueQuantity"]["code"]) for c in bp["component"]] == [
            ("8480-6", 105, "mm[Hg]"), ("8462-4", 64, "mm[Hg]")]
        news2 = group["1104051000000101"]
        assert news2["code"]["coding"][0]["system"] == SNOMED and news2["valueInteger"] == 8
        assert news2["category"][0]["coding"][0]["code"] == "survey"

    # code: one vital, several ORed, by system|code, and one Wardline never sends.
    _, b, _ = fhir(w, admin, patient=patient, code=f"{LOINC}|8867-4")
    assert [o["valueQuantity"]["value"] for o in observations(b)] == [95, 96, 97, 98, 99, 70]
    _, b, _ = fhir(w, admin, patient=patient, code="85354-9,59408-5")
    assert sorted(code_of(o) for o in observations(b)) == ["2708-6"] * 6 + ["85354-9"] * 5
    _, b, _ = fhir(w, admin, patient=patient, code=f"{SNOMED}|1104051000000101")
    assert [o["valueInteger"] for o in observations(b)] == [8] * 5
    _, b, _ = fhir(w, admin, patient=patient, code=f"{SNOMED}|8867-4")
    assert observations(b) == []

    # date: the second to the fourth reading, inclusive bounds at millisecond precision.
    _, b, _ = fhir(w, admin, patient=patient, date=["ge" + iso(readings[1][0]), "le" + iso(readings[3][0])], code="8867-4")
    assert [o["effectiveDateTime"] for o in observations(b)] == [iso(readings[i][0]) for i in (1, 2, 3)]
    _, b, _ = fhir(w, admin, patient=patient, date=["gt" + iso(readings[1][0]), "lt" + iso(readings[3][0])], code="8867-4")
    assert [o["effectiveDateTime"] for o in observations(b)] == [iso(readings[2][0])]

    # _count=2: next links that work, every page at most two, together exactly the whole set.
    status, page, _ = fhir(w, admin, patient=patient, _count=2)
    pages, seen = [page], observations(page)
    while (nxt := [link["url"] for link in page["link"] if link["relation"] == "next"]):
        assert len(observations(page)) == 2
        status, page, _ = fhir_url(w, admin, nxt[0])
        assert status == 200, page
        pages.append(page)
        seen += observations(page)
        assert len(pages) < 40
    assert len(pages) == math.ceil(len(everything) / 2)
    assert [o["identifier"] for o in seen] == [o["identifier"] for o in everything]
    validate(pages)


def test_a_long_range_is_answered_from_hourly_means(wardline_factory, publisher, db):
    w = wardline_factory().start()
    p = unique_prefix()
    admin, patient, device = setup_patient(w, p)
    hour = (now_ms() - 3 * 3_600_000) // 3_600_000 * 3_600_000
    readings = [(hour + 5 * 60_000, {"hr": 60, "spo2": 96}), (hour + 10 * 60_000, {"hr": 70, "spo2": 97}),
                (hour + 20 * 60_000, {"hr": 80, "sbp": 120, "dbp": 80}), (hour + 65 * 60_000, {"hr": 90})]
    publish(publisher, db, device, patient, readings)
    start = now_ms() - 48 * 3_600_000
    status, bundle, _ = fhir(w, admin, patient=patient, date=["ge" + iso(start), "le" + iso(now_ms())])
    assert status == 200, bundle
    found = observations(bundle)
    validate([bundle] + found)
    summary = [(o["effectivePeriod"]["start"], code_of(o)) for o in found]
    assert summary == [(iso(hour), "8867-4"), (iso(hour), "2708-6"), (iso(hour), "85354-9"), (iso(hour + 3_600_000), "8867-4")]
    first = found[0]
    assert "effectiveDateTime" not in first and first["effectivePeriod"]["end"] == iso(hour + 3_600_000)
    assert first["valueQuantity"] == {"value": 70, "unit": "beats/minute", "system": UCUM, "code": "/min"}
    assert first["note"] == [{"text": "mean of 3 readings over the hour (min 60, max 80)"}]
    assert {"system": "urn:wardline:fhir:aggregate", "code": "hourly-mean", "display": "Mean of the readings in one hour"} in first["meta"]["tag"]
    assert found[1]["valueQuantity"]["value"] == 96.5 and found[1]["note"][0]["text"].startswith("mean of 2 readings")
    assert [c["valueQuantity"]["value"] for c in found[2]["component"]] == [120, 80]
    assert found[3]["valueQuantity"]["value"] == 90 and found[3]["note"][0]["text"].startswith("mean of 1 reading ")
    # The same readings over 24 h are readings, not means.
    _, b, _ = fhir(w, admin, patient=patient, code="8867-4", date="ge" + iso(now_ms() - 20 * 3_600_000))
    assert [o.get("effectiveDateTime") for o in observations(b)] == [iso(ts) for ts, _ in readings]
    # Paging through the hours: one per page, all four.
    status, page, _ = fhir(w, admin, patient=patient, date=["ge" + iso(start)], _count=1)
    got = observations(page)
    while (nxt := [link["url"] for link in page["link"] if link["relation"] == "next"]):
        status, page, _ = fhir_url(w, admin, nxt[0])
        got += observations(page)
    assert [(o["effectivePeriod"]["start"], code_of(o)) for o in got] == summary


def test_refusals_are_operation_outcomes_and_a_nurse_sees_only_her_patients(wardline_factory, publisher, db):
    w = wardline_factory().start()
    p = unique_prefix()
    admin, patient, device = setup_patient(w, p)
    publish(publisher, db, device, patient, [(now_ms() - 60_000, {"hr": 72, "spo2": 97})])
    assigned = w.token("n-" + p, "nurse", "4B-" + p)
    other_ward = w.token("m-" + p, "nurse", "7A-" + p)
    status, body, _ = w.api("POST", "/api/v1/care-assignments", admin, {"user_id": "n-" + p, "patient_id": patient})
    assert status == 201, body
    outcomes = []

    for _ in range(50):  # the care assignment reaches the directory the REST workers read
        status, body, _ = fhir(w, assigned, patient="Patient/" + patient)
        if status == 200:
            break
        time.sleep(0.1)
    assert status == 200 and [code_of(o) for o in observations(body)] == ["8867-4", "2708-6"], body
    status, body, _ = fhir(w, other_ward, patient=patient)
    assert status == 403 and body["resourceType"] == "OperationOutcome", body
    assert body["issue"][0]["code"] == "forbidden" and body["issue"][0]["severity"] == "error"
    assert "entry" not in body and "valueQuantity" not in json.dumps(body)
    outcomes.append(body)

    status, body, headers = fhir(w, None, patient=patient)
    assert status == 401 and body["issue"][0]["code"] == "login" and headers.get("www-authenticate") == "Bearer"
    outcomes.append(body)
    for params, parameter in [({"patient": patient, "date": "ge2025-13-01"}, "date"),
                              ({"patient": patient, "date": "geyesterday"}, "date"),
                              ({"patient": patient, "date": ["ge2025-12-02", "le2025-12-01"]}, "date"),
                              ({"patient": patient, "_count": "0"}, "_count"),
                              ({"patient": patient, "_count": "1000"}, "_count"),
                              ({"patient": patient, "_cursor": "not-a-cursor"}, "_cursor"),
                              ({"date": "ge2025-12-01"}, "patient")]:
        status, body, _ = fhir(w, admin, **params)
        assert status == 400 and body["resourceType"] == "OperationOutcome", (params, body)
        assert body["issue"][0]["code"] == "invalid" and f"invalid {parameter}" in body["issue"][0]["diagnostics"], body
        outcomes.append(body)
    status, body, _ = fhir_url(w, admin, "/fhir/Patient")
    assert status == 404 and body["issue"][0]["code"] == "not-found"
    outcomes.append(body)
    validate(outcomes)

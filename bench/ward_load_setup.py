#!/usr/bin/python3
"""Set-up and check for bench/ward-load.sh.

  setup  admits the patients (PUT /api/v1/patients/{id}), creates the care assignments (nurse nK
         cares for patient K % patients, once per id prefix) and mints one nurse token per client
         (`wardline token`); writes tokens-<prefix>.txt (TOKEN PATIENT_ID per line) per prefix.
  check  compares each client's alert:critical alarm ids (ward-load --out TSV) with the alarms the
         database holds at high priority for its patient; prints missing deliveries, exits 1 if a
         non-stalled client missed one.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def call(base, token, method, path, body):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    for attempt in range(5):
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status
        except urllib.error.HTTPError as e:
            if e.code == 409:      # already there (a re-run)
                return e.code
            if attempt == 4:
                raise SystemExit(f"{method} {path}: HTTP {e.code}: {e.read()[:300]!r}")
        except OSError as e:
            if attempt == 4:
                raise SystemExit(f"{method} {path}: {e}")
        time.sleep(0.5 * (attempt + 1))


def patient_id(prefix, i):
    return f"PAT-{prefix}{i:05d}"


def setup(a):
    prefixes = a.prefixes.split(",")
    t0 = time.time()
    with ThreadPoolExecutor(16) as pool:
        admits = [(p, i) for p in prefixes for i in range(a.patients)]
        list(pool.map(lambda pi: call(a.base, a.admin_token, "PUT", f"/api/v1/patients/{patient_id(*pi)}",
                                      {"ward": a.ward, "bed": str(pi[1] + 1)}), admits))
        t1 = time.time()
        cares = [(k, p) for p in prefixes for k in range(a.nurses)]
        list(pool.map(lambda kp: call(a.base, a.admin_token, "POST", "/api/v1/care-assignments",
                                      {"user_id": f"n{kp[0]:04d}", "patient_id": patient_id(kp[1], kp[0] % a.patients)}), cares))
    t2 = time.time()
    env = dict(os.environ)

    def mint(k):
        out = subprocess.run([a.wardline, "token", "--user", f"n{k:04d}", "--role", "nurse", "--ward", a.ward],
                             env=env, check=True, capture_output=True, text=True).stdout.strip()
        return out.splitlines()[-1]

    with ThreadPoolExecutor(4) as pool:
        tokens = list(pool.map(mint, range(a.nurses)))
    t3 = time.time()
    for p in prefixes:
        with open(os.path.join(a.out_dir, f"tokens-{p}.txt"), "w") as f:
            for k, tok in enumerate(tokens):
                f.write(f"{tok} {patient_id(p, k % a.patients)}\n")
    print(f"setup: {len(admits)} patients admitted in {t1 - t0:.1f} s, {len(cares)} care assignments in {t2 - t1:.1f} s, "
          f"{len(tokens)} tokens minted in {t3 - t2:.1f} s")


def connect(url):
    """A database connection, waiting up to a minute: the dev PostgreSQL is shared and other
    workspaces' tests restart it."""
    import psycopg
    for attempt in range(120):
        try:
            return psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError:
            if attempt == 119:
                raise
            time.sleep(0.5)


def check(a):
    # Wait until the alarm writer has stored everything (the count stops moving).
    last, stable = -1, 0
    for _ in range(40):
        with connect(a.db) as conn:
            n = conn.execute("SELECT count(*) FROM alert_transitions").fetchone()[0]
        stable = stable + 1 if n == last else 0
        if stable >= 2:
            break
        last = n
        time.sleep(0.5)
    with connect(a.db) as conn:
        high = conn.execute("SELECT id, patient_id FROM alerts WHERE priority = 'high' AND patient_id LIKE %s",
                            (f"PAT-{a.prefix}%",)).fetchall()
        allp = conn.execute("SELECT priority, count(*) FROM alerts WHERE patient_id LIKE %s GROUP BY 1 ORDER BY 1",
                            (f"PAT-{a.prefix}%",)).fetchall()
        # Alarms that were at high priority at some rising transition (they may have been lowered since).
        ever_high = {r[0] for r in conn.execute(
            "SELECT DISTINCT t.alert_id FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id "
            "WHERE t.priority = 'high' AND t.kind IN ('raised', 'priority_raised', 'reactivated', 'condition_returned') "
            "AND a.patient_id LIKE %s", (f"PAT-{a.prefix}%",)).fetchall()}
    by_patient = {}
    for aid, pid in high:
        by_patient.setdefault(pid, set()).add(aid)
    rows = []
    with open(a.tsv) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            r = dict(zip(header, line.rstrip("\n").split("\t")))
            rows.append(r)
    missing, missing_stalled, extra, expected, delivered, entitled_clients = [], [], [], 0, 0, 0
    for r in rows:
        got = set(filter(None, r["critical_ids"].split(",")))
        want = by_patient.get(r["patient"], set())
        if want:
            entitled_clients += 1
        if r["stalled"] != "1":
            expected += len(want)
            delivered += len(want & got)
        for aid in sorted(want - got):
            (missing_stalled if r["stalled"] == "1" else missing).append((r["client"], r["patient"], aid))
        for aid in sorted(got - want - ever_high):
            extra.append((r["client"], r["patient"], aid))
    print(f"alarms (prefix {a.prefix}) by priority: " + ", ".join(f"{p}={n}" for p, n in allp))
    print(f"high-priority alarms: {len(high)} on {len(by_patient)} patients; entitled clients: {entitled_clients}; "
          f"deliveries expected (non-stalled clients): {expected}, delivered: {delivered}")
    print(f"missing_deliveries={len(missing)} (stalled clients, not counted: {len(missing_stalled)}) "
          f"critical_ids_not_high_in_db={len(extra)}")
    for m in missing[:20]:
        print(f"  MISSING client {m[0]} patient {m[1]} alarm {m[2]}")
    for m in extra[:5]:
        print(f"  extra (alert:critical for an alarm never high in the DB): client {m[0]} patient {m[1]} alarm {m[2]}")
    if a.min_alarms and len(high) < a.min_alarms:
        print(f"too few high-priority alarms to judge delivery ({len(high)} < {a.min_alarms})")
        return 1
    return 1 if missing else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--base", default="http://127.0.0.1:18090")
    s.add_argument("--admin-token", required=True)
    s.add_argument("--prefixes", default="X")
    s.add_argument("--patients", type=int, default=200)
    s.add_argument("--nurses", type=int, default=1000)
    s.add_argument("--ward", default="B")
    s.add_argument("--wardline", required=True)
    s.add_argument("--out-dir", required=True)
    c = sub.add_parser("check")
    c.add_argument("--db", required=True)
    c.add_argument("--tsv", required=True)
    c.add_argument("--prefix", required=True)
    c.add_argument("--min-alarms", type=int, default=1)
    a = ap.parse_args()
    sys.exit(setup(a) if a.cmd == "setup" else check(a))


if __name__ == "__main__":
    main()

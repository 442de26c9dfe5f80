#!/usr/bin/env python3
"""table.py: one markdown row per run from runs/*/summary.json"""
import glob, json, os
def f(v):
    return "-" if v is None else (f"{v/1000:.1f}" if isinstance(v, (int, float)) else str(v))
print("| run | start3 ok s | join: first-ok / settled s (churn) | close: reassigned / settled s (churn) | kill9: reassigned / settled s (churn) | stop/cont | overlap ms | concurrent proc | lost | dups (after commit) | commit backwards | commit errors |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for p in sorted(glob.glob("runs/*/summary.json")):
    d = json.load(open(p))
    ev = {e["event"]: e for e in d["events"]}
    def cell(name, key):
        e = ev.get(name)
        if not e: return ""
        return f"{f(e[key])} / {f(e['settle_ms'])} ({e['churn']})" + ("" if e["final_ok"] else " NOT-OK")
    zs = ""
    if "stop" in ev:
        zs = f"stop: reassigned {f(ev['stop']['reassigned_ms'])} s (churn {ev['stop']['churn']}); cont: settled {f(ev['cont']['settle_ms'])} s (churn {ev['cont']['churn']})" + ("" if ev['cont']['final_ok'] else " NOT-OK")
    ov = sum(d["overlap_ms_per_partition"].values())
    print(f"| {d['run']} | {f(ev['start3']['first_ok_ms'])} | {cell('join','first_ok_ms')} | {cell('close','reassigned_ms')} | {cell('kill9','reassigned_ms')} | {zs} | {ov} | {d['interleaved_processing']} | {d['lost']} | {d['duplicates']} ({d['duplicates_after_commit']}) | {d['committed_backwards']} | {d['commit_errors'] or '-'} |")

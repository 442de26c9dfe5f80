#!/usr/bin/env python3
"""analyze.py RUN_DIR — reads prod.log, c*.log, events.log of one run; prints JSON-ish summary.

events.log lines: "<ms> <label> <member-or-->"  labels: start3, join, close, kill9, stop, cont, end
"""
import glob, json, os, re, sys
from collections import defaultdict

NPART = 6


def lines(path):
    with open(path, errors="replace") as f:
        for ln in f:
            parts = ln.split()
            if len(parts) >= 3 and parts[0].isdigit():
                yield int(parts[0]), parts[1], parts[2], parts[3:]


def main(run):
    produced = set()
    for ts, who, kind, rest in lines(os.path.join(run, "prod.log")):
        if kind == "DR" and rest[-1] == "NO_ERROR":
            produced.add((int(rest[0]), int(rest[1])))
    events = []
    for ln in open(os.path.join(run, "events.log")):
        t, label, member = ln.split()[:3]
        events.append((int(t), label, member))
    events.sort()

    own_changes = []      # (ts, member, frozenset)
    msgs = []             # (ts, member, p, off)
    commits = []          # (ts, member, p, next, ok)
    assigns = []          # (ts, member, kind, parts)
    errs = defaultdict(int)
    for path in sorted(glob.glob(os.path.join(run, "c*.log"))):
        for ts, who, kind, rest in lines(path):
            if kind == "OWN":
                s = rest[0].split("=")[1]
                own_changes.append((ts, who, frozenset() if s == "-" else frozenset(map(int, s.split(",")))))
            elif kind == "MSG":
                msgs.append((ts, who, int(rest[0]), int(rest[1])))
            elif kind == "COMMIT":
                commits.append((ts, who, int(rest[0]), int(rest[1]), rest[2] == "NO_ERROR"))
                if rest[2] != "NO_ERROR":
                    errs["commit:" + rest[2]] += 1
            elif kind in ("ASSIGN", "REVOKE", "LOST"):
                assigns.append((ts, who, kind, rest[1].split("=")[1]))
            elif kind == "ERR":
                errs[" ".join(rest[:2])[:60]] += 1
    own_changes.sort(key=lambda x: x[0]); msgs.sort(); commits.sort(key=lambda x: x[0])

    # a member's ownership ends when it is killed (kill9) — its own log just stops
    dead_at = {m: t for t, l, m in events if l == "kill9"}

    # ownership timeline: state[member] = set; evaluate at each change point
    points = sorted(set([t for t, _, _ in own_changes] + list(dead_at.values()) + [t for t, _, _ in events]))
    cur = {}
    idx = 0
    timeline = []  # (ts, {p: [members]})
    for t in points:
        while idx < len(own_changes) and own_changes[idx][0] <= t:
            _, m, s = own_changes[idx]; cur[m] = s; idx += 1
        owners = defaultdict(list)
        for m, s in cur.items():
            if m in dead_at and t >= dead_at[m]:
                continue
            for p in s:
                owners[p].append(m)
        timeline.append((t, {p: sorted(owners.get(p, [])) for p in range(NPART)}))

    def good(state):
        return all(len(state[p]) == 1 for p in range(NPART))

    # overlap: intervals where a partition had >=2 owners (per members' own views)
    overlaps = []
    for i, (t, st) in enumerate(timeline):
        t2 = timeline[i + 1][0] if i + 1 < len(timeline) else t
        for p in range(NPART):
            if len(st[p]) > 1 and t2 > t:
                overlaps.append((p, st[p], t, t2 - t))
    # merge overlap durations per partition
    ov_ms = defaultdict(int)
    for p, ms, t, d in overlaps:
        ov_ms[p] += d

    # settle time per event: from event ts to the first time after it where every partition has
    # exactly one live owner and stays so until the next event (or end)
    res_events = []
    for j, (t, label, member) in enumerate(events):
        if label in ("end",):
            continue
        nxt = events[j + 1][0] if j + 1 < len(events) else float("inf")
        window = [(ts, st) for ts, st in timeline if t <= ts < nxt]
        settle = None
        for k in range(len(window)):
            if all(good(st) for _, st in window[k:]):
                settle = window[k][0] - t
                break
        final = window[-1][1] if window else None
        first_ok = next((ts - t for ts, st in window if good(st) and ts > t), None)
        before = [st for ts, st in timeline if ts < t]
        victim_parts = [p for p in range(NPART) if before and member in before[-1][p]]
        reassigned = None
        if victim_parts and label in ("kill9", "close", "stop"):
            for ts, st in window:
                if ts > t and all(any(m != member for m in st[p]) for p in victim_parts):
                    reassigned = ts - t
                    break
        unowned = 0
        for k, (ts, st) in enumerate(window):
            t2 = window[k + 1][0] if k + 1 < len(window) else min(nxt, ts)
            unowned += sum(1 for p in range(NPART) if not st[p]) * max(0, t2 - ts)
        churn = sum(1 for ts, m, k, s in assigns if t <= ts < nxt and s != "-")
        res_events.append(dict(event=label, member=member, settle_ms=settle, first_ok_ms=first_ok,
                               victim_parts=victim_parts, reassigned_ms=reassigned, churn=churn, unowned_partition_ms=unowned,
                               final_owners=final and {p: final[p] for p in range(NPART)},
                               final_ok=bool(final and good(final))))

    # message accounting
    consumed = defaultdict(list)
    for ts, m, p, off in msgs:
        consumed[(p, off)].append((ts, m))
    lost = sorted(produced - set(consumed))
    ok_commits = defaultdict(list)   # p -> [(ts, next)]
    for ts, m, p, nxt, ok in commits:
        if ok:
            ok_commits[p].append((ts, nxt))
    def committed_at(p, t):
        c = [n for ts, n in ok_commits[p] if ts <= t]
        return max(c) if c else 0
    dups = [(k, v) for k, v in consumed.items() if len(v) > 1]
    dup_unexpected = []   # redelivered although an offset beyond it had already been committed
    for (p, off), v in dups:
        for ts, m in v[1:]:
            if committed_at(p, ts) > off:
                dup_unexpected.append((p, off, v))
                break
    # committed offsets going backwards (successful commits, in time order, per partition)
    backwards = []
    last = {}
    for ts, m, p, nxt, ok in commits:
        if not ok:
            continue
        if p in last and nxt < last[p][0]:
            backwards.append(dict(p=p, frm=last[p], to=(nxt, m, ts)))
        last[p] = (nxt, m, ts)
    # concurrent processing: member A processes p, then B, then A again without A having
    # lost p in between (per A's own OWN lines) -> two members processed p at the same time
    interleave = []
    own_of = defaultdict(list)
    for t, m, st in own_changes:
        own_of[m].append((t, st))
    def owned_throughout(m, p, t1, t2):
        for t, st in own_of[m]:
            if t1 < t <= t2 and p not in st:
                return False
        return True
    seq = defaultdict(list)
    for ts, m, p, off in msgs:
        if not seq[p] or seq[p][-1][0] != m:
            seq[p].append((m, ts, off))
    for p, runs in seq.items():
        for i in range(2, len(runs)):
            m, ts, off = runs[i]
            prev_same = [r for r in runs[:i] if r[0] == m]
            if prev_same and runs[i - 1][0] != m and owned_throughout(m, p, prev_same[-1][1], ts):
                interleave.append(dict(p=p, member=m, ts=ts, off=off, other=runs[i - 1][0]))
    # resume check: each member's first message of a partition after an ASSIGN vs committed
    resume = []
    gains = defaultdict(list)
    prev = {}
    for t, m, st in own_changes:
        for p in st - prev.get(m, frozenset()):
            gains[(m, p)].append(t)
        prev[m] = st
    done = set()
    for ts, m, p, off in msgs:
        g = [t for t in gains.get((m, p), []) if t <= ts]
        if not g or (m, p, g[-1]) in done:
            continue
        done.add((m, p, g[-1]))
        comm = [nxt for t, mm, pp, nxt, ok in commits if ok and pp == p and t <= ts]
        cm = max(comm) if comm else 0
        resume.append(dict(p=p, member=m, first=off, committed=cm, gained_ms=g[-1] - events[0][0]))
    bad_resume = [r for r in resume if r["first"] != r["committed"]]

    out = dict(run=os.path.basename(run), produced=len(produced), consumed_distinct=len(consumed),
               deliveries=len(msgs), lost=len(lost), lost_sample=lost[:10], duplicates=len(dups),
               duplicates_after_commit=len(dup_unexpected), dup_unexpected_sample=dup_unexpected[:5],
               commits_ok=sum(1 for c in commits if c[4]), commit_errors=dict(errs),
               committed_backwards=len(backwards), backwards_sample=backwards[:5],
               overlap_ms_per_partition=dict(ov_ms), overlap_sample=overlaps[:6],
               interleaved_processing=len(interleave), interleave_sample=interleave[:6],
               resume_checks=len(resume), resume_mismatch=bad_resume[:8],
               events=res_events,
               callbacks=[(ts - events[0][0], m, k, s) for ts, m, k, s in sorted(assigns)])
    print(json.dumps(out, indent=1, default=list))


if __name__ == "__main__":
    main(sys.argv[1])

// Alarm state (merged from socket frames and the REST list of open alarms) and
// the alarm banner at the top of the page.

import { el, fmtAge, fmtClock, parseTime, serverNow, PRIORITY_RANK } from "./util.js";

/** Socket alert frames carry the alarm either flat or as {alarm, transition}. */
export function alarmFromFrame(data) {
  if (data && typeof data.alarm === "object" && data.alarm !== null) {
    return { ...data.alarm, transition: data.transition ?? data.alarm.transition };
  }
  return { ...data };
}

export class AlarmStore {
  constructor(onChange) {
    this.onChange = onChange;
    this.alarms = new Map(); // id -> alarm (open: active or acknowledged)
    this.resolved = new Map(); // id -> revision at which it was resolved (stale REST answers must not revive it)
    this.stamp = 0; // increases with every change, to reconcile with REST snapshots
  }

  /** Where a REST snapshot starts: changes after this stamp are newer than the snapshot. */
  mark() {
    return this.stamp;
  }

  /** Merge one alarm. Returns "new" | "updated" | "ignored" | "removed". */
  upsert(alarm, { silent = false } = {}) {
    if (!alarm || alarm.id === undefined || alarm.id === null) return "ignored";
    const id = String(alarm.id);
    const rev = typeof alarm.revision === "number" ? alarm.revision : null;
    const cur = this.alarms.get(id);
    if (cur && rev !== null && typeof cur.revision === "number" && rev < cur.revision) return "ignored";
    const tomb = this.resolved.get(id);
    if (tomb !== undefined && (rev === null || tomb === null || rev <= tomb)) return "ignored";
    let result;
    if (alarm.state === "resolved") {
      this.resolved.set(id, rev);
      if (!cur) return "ignored";
      this.alarms.delete(id);
      result = "removed";
    } else {
      this.alarms.set(id, { ...alarm, id, _stamp: ++this.stamp, _raisedAt: parseTime(alarm.raised_at) });
      result = cur ? "updated" : "new";
    }
    this.stamp++;
    if (!silent) this.onChange(result, alarm);
    return result;
  }

  /**
   * The REST list of open alarms, fetched from snapshot stamp `since` on: adopt
   * every alarm in it (unless the socket already told something newer) and drop
   * open alarms it no longer lists (resolved while we were not looking), unless
   * they changed after the request was sent.
   */
  reconcile(list, since) {
    const seen = new Set();
    const fresh = [];
    for (const a of list || []) {
      if (!a || a.id === undefined) continue;
      seen.add(String(a.id));
      const r = this.upsert(a, { silent: true });
      if (r === "new") fresh.push(a);
    }
    for (const [id, a] of [...this.alarms]) {
      if (!seen.has(id) && a._stamp <= since) this.alarms.delete(id);
    }
    this.stamp++;
    this.onChange("reconciled", null, fresh);
    return fresh;
  }

  get(id) {
    return this.alarms.get(String(id));
  }

  clear() {
    this.alarms.clear();
    this.stamp++;
    this.onChange("reconciled", null, []);
  }

  /** Open alarms, most urgent first: active before acknowledged, high before low, newest first. */
  open() {
    return [...this.alarms.values()].sort(compareAlarms);
  }

  /** What the banner shows: active high and medium alarms, high first, newest first. */
  bannerList() {
    return this.open().filter((a) => a.state === "active" && (a.priority === "high" || a.priority === "medium"));
  }

  forPatient(pid) {
    return this.open().filter((a) => a.patient_id === pid);
  }
}

export function compareAlarms(a, b) {
  const act = (x) => (x.state === "active" ? 1 : 0);
  return (
    act(b) - act(a) ||
    (PRIORITY_RANK[b.priority] || 0) - (PRIORITY_RANK[a.priority] || 0) ||
    (b._raisedAt ?? 0) - (a._raisedAt ?? 0)
  );
}

/** Label for who the alarm is about: "Bed 3 · PAT-00003". */
export function whoLabel(alarm, patients) {
  const p = patients.get(alarm.patient_id);
  return p ? `Bed ${p.bed} · ${alarm.patient_id}` : `${alarm.patient_id ?? "unknown patient"}`;
}

/**
 * The banner: one row per active high/medium alarm, keyed by alarm id so a row
 * (and its button) is never rebuilt while the nurse is about to press it.
 */
export class AlarmBanner {
  constructor(root, { onAcknowledge, onOpenPatient }) {
    this.root = root;
    this.list = root.querySelector("#alarm-list");
    this.summary = root.querySelector("#alarm-summary");
    this.rows = new Map(); // id -> {li, since, err, btn}
    this.onAcknowledge = onAcknowledge;
    this.onOpenPatient = onOpenPatient;
    this.pending = new Set();
  }

  render(alarms, patients) {
    const want = new Set(alarms.map((a) => String(a.id)));
    for (const [id, row] of this.rows) {
      if (!want.has(id)) {
        row.li.remove();
        this.rows.delete(id);
        this.pending.delete(id);
      }
    }
    let prev = null;
    for (const a of alarms) {
      const id = String(a.id);
      let row = this.rows.get(id);
      if (!row) {
        row = this.#row(a);
        this.rows.set(id, row);
      }
      this.#fill(row, a, patients);
      // keep DOM order = sorted order, moving only what is out of place
      const expectedNext = prev ? prev.nextSibling : this.list.firstChild;
      if (expectedNext !== row.li) this.list.insertBefore(row.li, expectedNext);
      prev = row.li;
    }
    const highs = alarms.filter((a) => a.priority === "high").length;
    this.root.hidden = alarms.length === 0;
    this.root.dataset.highest = highs ? "high" : alarms.length ? "medium" : "none";
    this.summary.textContent = alarms.length
      ? `${alarms.length} active alarm${alarms.length > 1 ? "s" : ""}` + (highs ? ` · ${highs} high priority` : "")
      : "";
    this.tick();
  }

  #row(a) {
    const id = String(a.id);
    const btn = el("button", { type: "button", class: "ack-btn", dataset: { action: "acknowledge", alarmId: id } }, "Acknowledge");
    btn.addEventListener("click", (ev) => {
      ev.stopPropagation();
      this.onAcknowledge(id);
    });
    const prio = el("span", { class: "alarm-prio" });
    const who = el("button", { type: "button", class: "alarm-who", title: "Open this patient's trends" });
    who.addEventListener("click", () => this.onOpenPatient(who.dataset.patient));
    const msg = el("span", { class: "alarm-msg" });
    const since = el("span", { class: "alarm-since", "aria-hidden": "true" });
    const extra = el("span", { class: "alarm-extra" });
    const err = el("span", { class: "alarm-err", role: "alert" });
    const li = el("li", { class: "alarm-item", dataset: { alarmId: id } }, prio, who, msg, extra, since, err, btn);
    return { li, prio, who, msg, since, extra, err, btn };
  }

  #fill(row, a, patients) {
    row.alarm = a;
    row.li.dataset.priority = a.priority;
    row.li.dataset.patient = a.patient_id ?? "";
    row.li.className = `alarm-item prio-${a.priority}`;
    row.prio.textContent = (a.priority || "").toUpperCase() + (a.category === "technical" ? " · TECH" : "");
    row.who.textContent = whoLabel(a, patients);
    row.who.dataset.patient = a.patient_id ?? "";
    row.msg.textContent = a.message || a.rule_id || "alarm";
    const bits = [];
    if (a.escalation_level > 0) bits.push(`escalated ×${a.escalation_level}`);
    if (a.latching && a.condition_present === false) bits.push("condition cleared — latched");
    row.extra.textContent = bits.join(" · ");
    const pending = this.pending.has(String(a.id));
    row.btn.disabled = pending;
    row.btn.textContent = pending ? "Acknowledging…" : "Acknowledge";
    row.btn.setAttribute("aria-label", `Acknowledge ${a.priority} alarm: ${row.msg.textContent}, ${row.who.textContent}`);
  }

  /** Updates the "raised … ago" text; called every second. */
  tick() {
    const now = serverNow();
    for (const row of this.rows.values()) {
      const t = row.alarm?._raisedAt;
      row.since.textContent = t ? `raised ${fmtAge(now - t)} ago · ${fmtClock(t)}` : "";
    }
  }

  setPending(id, on) {
    id = String(id);
    if (on) this.pending.add(id);
    else this.pending.delete(id);
    const row = this.rows.get(id);
    if (row) {
      row.btn.disabled = on;
      row.btn.textContent = on ? "Acknowledging…" : "Acknowledge";
      if (on) row.err.textContent = "";
    }
  }

  setError(id, text) {
    const row = this.rows.get(String(id));
    if (row) row.err.textContent = text;
  }
}

/** A short beep through Web Audio for a new high-priority alarm (if the browser allows sound). */
let audioCtx = null;
export function unlockAudio() {
  try {
    audioCtx = audioCtx || new (window.AudioContext || window.webkitAudioContext)();
    if (audioCtx.state === "suspended") audioCtx.resume();
  } catch {
    audioCtx = null;
  }
}
export function beep() {
  if (!audioCtx || audioCtx.state !== "running") return;
  const t0 = audioCtx.currentTime;
  for (let i = 0; i < 3; i++) {
    const osc = audioCtx.createOscillator();
    const gain = audioCtx.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.0001, t0 + i * 0.25);
    gain.gain.exponentialRampToValueAtTime(0.3, t0 + i * 0.25 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + i * 0.25 + 0.18);
    osc.connect(gain).connect(audioCtx.destination);
    osc.start(t0 + i * 0.25);
    osc.stop(t0 + i * 0.25 + 0.2);
  }
}

// The ward grid: one tile per patient, sorted by bed, updated in place.

import { el, fmtAge, fmtClock, parseTime, compareBeds, PRIORITY_RANK } from "./util.js";

export const NO_DATA_AFTER_MS = 30_000;

const RISK_LABEL = {
  low: "low risk",
  low_medium: "low–medium risk (3 in one parameter)",
  medium: "medium risk",
  high: "high risk",
};

const VITALS = [
  { key: "hr", label: "HR", unit: "bpm" },
  { key: "spo2", label: "SpO₂", unit: "%" },
  { key: "rr", label: "RR", unit: "/min" },
  { key: "bp", label: "BP", unit: "mmHg" },
  { key: "temp", label: "Temp", unit: "°C" },
];

function fmtValue(key, v) {
  if (v === null || v === undefined || v === "" || Number.isNaN(Number(v))) return "–";
  const n = Number(v);
  if (key === "temp") return n.toFixed(1);
  return String(Math.round(n));
}

export class TileGrid {
  constructor(root, { onOpen }) {
    this.root = root;
    this.onOpen = onOpen;
    this.patients = new Map(); // patient_id -> model
    this.deviceToPatient = new Map();
  }

  /** The patients from session:ready. Tiles of patients no longer listed go away. */
  setPatients(list) {
    const keep = new Set();
    for (const p of list || []) {
      if (!p || !p.patient_id) continue;
      keep.add(p.patient_id);
      let m = this.patients.get(p.patient_id);
      if (!m) {
        m = { id: p.patient_id, since: Date.now(), vitals: {}, devices: new Map(), lastAt: null, lastTime: null, news2: null, alarms: [], forbidden: null };
        m.tile = this.#build(m);
        this.patients.set(p.patient_id, m);
      }
      m.ward = p.ward;
      m.bed = p.bed ?? "?";
      m.forbidden = null;
      m.tile.querySelector(".bed").textContent = `Bed ${m.bed}`;
      m.tile.querySelector(".pid").textContent = `${p.patient_id}${p.ward ? " · " + p.ward : ""}`;
      m.tile.setAttribute("aria-label", `Bed ${m.bed}, ${p.patient_id}. Open trends.`);
    }
    for (const [id, m] of this.patients) {
      if (!keep.has(id)) {
        m.tile.remove();
        this.patients.delete(id);
      }
    }
    const sorted = [...this.patients.values()].sort((a, b) => compareBeds(a.bed, b.bed) || compareBeds(a.id, b.id));
    for (const m of sorted) this.root.append(m.tile);
    this.root.querySelector(".grid-empty")?.remove();
    if (!sorted.length) this.root.append(el("p", { class: "grid-empty" }, "No patients assigned to you."));
  }

  get(pid) {
    return this.patients.get(pid);
  }

  #build(m) {
    const cells = VITALS.map((v) => {
      const val =
        v.key === "bp"
          ? el("span", { class: "val", dataset: { vital: "bp" } }, el("span", { dataset: { vital: "sbp" } }, "–"), "/", el("span", { dataset: { vital: "dbp" } }, "–"))
          : el("span", { class: "val", dataset: { vital: v.key } }, "–");
      return el("div", { class: `vital v-${v.key}` }, el("span", { class: "lbl" }, v.label), val, el("span", { class: "unit" }, v.unit));
    });
    const tile = el(
      "article",
      { class: "tile", tabindex: "0", role: "button", dataset: { patientId: m.id } },
      el(
        "header",
        { class: "tile-head" },
        el("span", { class: "bed" }, "Bed"),
        el("span", { class: "pid" }, m.id),
        el("span", { class: "news2", dataset: { news2: "", risk: "none" }, title: "NEWS2: no score yet" }, el("span", { class: "news2-lbl" }, "NEWS2"), el("span", { class: "news2-val" }, "–"))
      ),
      el("div", { class: "vitals" }, cells),
      el(
        "footer",
        { class: "tile-foot" },
        el("span", { class: "chips" }),
        el("span", { class: "device", dataset: { role: "device", state: "unknown" } }),
        el("span", { class: "age", dataset: { role: "age" } }, "waiting for data")
      ),
      el("ul", { class: "tile-alarms" })
    );
    tile.addEventListener("click", () => this.onOpen(m.id));
    tile.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        this.onOpen(m.id);
      }
    });
    return tile;
  }

  /** A vitals:update frame. Returns the patient model, or null for a patient we do not show. */
  applyVitals(d) {
    const m = this.patients.get(d.patient_id);
    if (!m) return null;
    const t = parseTime(d.time) ?? Date.now();
    if (d.device_id) {
      this.deviceToPatient.set(d.device_id, m.id);
      const dev = m.devices.get(d.device_id);
      if (dev && dev.state === "offline") dev.state = "online"; // it is sending again
    }
    const v = d.vitals || {};
    // Per vital: keep the newest value. A frame without a vital (pulse oximeter: hr+spo2 only) keeps the other values.
    for (const k of ["hr", "spo2", "rr", "temp", "sbp", "dbp", "on_oxygen", "consciousness"]) {
      if (v[k] === null || v[k] === undefined) continue;
      const cur = m.vitals[k];
      if (cur && cur.time > t) continue; // out of order
      m.vitals[k] = { value: v[k], time: t };
    }
    if (d.news2 && (m.news2Time === undefined || t >= m.news2Time)) {
      m.news2 = d.news2;
      m.news2Time = t;
    }
    m.lastAt = Date.now(); // received (our clock): drives "no data"
    m.lastTime = Math.max(m.lastTime ?? 0, t); // measured (device/server clock)
    this.#renderVitals(m);
    this.#renderDevice(m);
    this.tickOne(m, Date.now());
    return m;
  }

  #renderVitals(m) {
    const tile = m.tile;
    const set = (key, value, time) => {
      const node = tile.querySelector(`[data-vital="${key}"]`);
      const txt = fmtValue(key, value);
      if (node.textContent !== txt) node.textContent = txt;
      if (time) node.title = `measured ${fmtClock(time)}`;
    };
    for (const k of ["hr", "spo2", "rr", "temp", "sbp", "dbp"]) set(k, m.vitals[k]?.value, m.vitals[k]?.time);
    const chips = [];
    if (m.vitals.on_oxygen?.value === true) chips.push(el("span", { class: "chip chip-o2" }, "On O₂"));
    const c = m.vitals.consciousness?.value;
    if (c && c !== "A") chips.push(el("span", { class: "chip chip-warn", title: "ACVPU consciousness (A = alert)" }, `ACVPU ${c}`));
    tile.querySelector(".chips").replaceChildren(...chips);

    const badge = tile.querySelector(".news2");
    const n = m.news2;
    if (n && typeof n.total === "number") {
      const complete = n.complete !== false;
      const text = complete ? String(n.total) : `≥${n.total}`;
      badge.dataset.news2 = text;
      badge.dataset.risk = n.risk || "none";
      badge.dataset.complete = String(complete);
      badge.querySelector(".news2-val").textContent = text;
      const missing = Array.isArray(n.missing) && n.missing.length ? n.missing.join(", ") : "";
      badge.title =
        `NEWS2 ${text} — ${RISK_LABEL[n.risk] || n.risk || ""}` +
        (n.scale === 2 ? " (SpO₂ scale 2)" : "") +
        (complete ? "" : `\nIncomplete: a lower bound. Missing: ${missing || "some parameters"}`);
      let hint = badge.querySelector(".news2-hint");
      if (!complete) {
        if (!hint) badge.append((hint = el("span", { class: "news2-hint" })));
        hint.textContent = "lower bound";
      } else hint?.remove();
    }
  }

  /** A device:status frame. */
  applyDevice(d) {
    const pid = d.patient_id || this.deviceToPatient.get(d.device_id);
    const m = pid && this.patients.get(pid);
    if (!m) return null;
    if (d.device_id) this.deviceToPatient.set(d.device_id, m.id);
    m.devices.set(d.device_id, { state: d.state, battery: d.battery, firmware: d.firmware, time: parseTime(d.time) });
    this.#renderDevice(m);
    return m;
  }

  #renderDevice(m) {
    const node = m.tile.querySelector(".device");
    const offline = [...m.devices.entries()].filter(([, s]) => s.state === "offline");
    const low = [...m.devices.entries()].filter(([, s]) => typeof s.battery === "number" && s.battery <= 20 && s.state !== "offline");
    if (offline.length) {
      node.dataset.state = "offline";
      node.textContent = `⚠ Device offline: ${offline.map(([id]) => id).join(", ")}`;
      node.title = offline.map(([id, s]) => `${id} offline since ${fmtClock(s.time)}`).join("\n");
    } else if (low.length) {
      node.dataset.state = "low-battery";
      node.textContent = `Battery ${low.map(([, s]) => s.battery + " %").join(", ")}`;
      node.title = low.map(([id, s]) => `${id}: battery ${s.battery} %`).join("\n");
    } else {
      node.dataset.state = m.devices.size ? "online" : "unknown";
      node.textContent = "";
      node.title = "";
    }
    m.tile.classList.toggle("device-offline", offline.length > 0);
  }

  /** The patient's open alarms: border colour and the muted list of acknowledged ones. */
  setAlarms(byPatient) {
    for (const m of this.patients.values()) {
      const list = byPatient.get(m.id) || [];
      m.alarms = list;
      const active = list.filter((a) => a.state === "active");
      const top = active.reduce((best, a) => ((PRIORITY_RANK[a.priority] || 0) > (PRIORITY_RANK[best] || 0) ? a.priority : best), null);
      m.tile.dataset.alarm = top || "none";
      const alarmingVitals = new Set(active.map((a) => a.vital).filter(Boolean));
      for (const cell of m.tile.querySelectorAll(".vital")) {
        const key = cell.querySelector("[data-vital]").dataset.vital;
        const hit = key === "bp" ? alarmingVitals.has("sbp") || alarmingVitals.has("dbp") || alarmingVitals.has("bp") : alarmingVitals.has(key);
        cell.classList.toggle("alarming", hit);
      }
      const ul = m.tile.querySelector(".tile-alarms");
      ul.replaceChildren(
        ...list.slice(0, 4).map((a) =>
          el(
            "li",
            { class: `tile-alarm prio-${a.priority} state-${a.state}`, dataset: { alarmId: a.id, state: a.state } },
            a.state === "acknowledged" ? `ACK'd${a.acknowledged_by ? " by " + a.acknowledged_by : ""}: ` : `${(a.priority || "").toUpperCase()}: `,
            a.message || a.rule_id
          )
        ),
        ...(list.length > 4 ? [el("li", { class: "tile-alarm more" }, `+${list.length - 4} more`)] : [])
      );
    }
  }

  markForbidden(pid, message) {
    const m = this.patients.get(pid);
    if (!m) return;
    m.forbidden = message;
    m.tile.classList.add("forbidden");
    m.tile.querySelector(".age").textContent = `not permitted: ${message}`;
  }

  /** Ages and "no data since" — every second. */
  tick(now = Date.now()) {
    for (const m of this.patients.values()) this.tickOne(m, now);
  }

  tickOne(m, now) {
    if (m.forbidden) return;
    const age = m.tile.querySelector(".age");
    let text;
    let nodata = false;
    if (m.lastAt === null) {
      // nothing at all since the tile appeared: after 30 s that is "no data" too
      nodata = now - m.since > NO_DATA_AFTER_MS;
      text = nodata ? `no data since ${fmtClock(m.since)}` : "waiting for data";
    } else if (now - m.lastAt > NO_DATA_AFTER_MS) {
      nodata = true;
      text = `no data since ${fmtClock(m.lastAt)}`;
    } else {
      text = `updated ${fmtAge(now - m.lastAt)} ago`;
    }
    if (age.textContent !== text) age.textContent = text;
    m.tile.classList.toggle("no-data", nodata);
    m.tile.dataset.fresh = nodata ? "no-data" : m.lastAt === null ? "waiting" : "fresh";
  }
}

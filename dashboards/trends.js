// The patient panel: 4-hour trend charts (hand-written SVG: avg line, min–max
// band, normal range shaded) and the patient's open alarms.

import { el, fmtHM, fmtClock, fmtAge, serverNow } from "./util.js";

export const TREND_HOURS = 4;
const MAX_POINTS = 240;
const SVG_NS = "http://www.w3.org/2000/svg";

// Normal range shaded on each chart = the NEWS2 zero-score range.
const CHARTS = [
  { id: "hr", title: "Heart rate", unit: "bpm", series: [{ key: "hr", cls: "s-hr" }], normal: [51, 90], floor: [40, 140] },
  { id: "spo2", title: "SpO₂", unit: "%", series: [{ key: "spo2", cls: "s-spo2" }], normal: [96, 100], floor: [85, 100], max: 100 },
  { id: "rr", title: "Respiration rate", unit: "/min", series: [{ key: "rr", cls: "s-rr" }], normal: [12, 20], floor: [6, 30] },
  {
    id: "bp",
    title: "Blood pressure",
    unit: "mmHg",
    series: [
      { key: "sbp", cls: "s-sbp", label: "systolic" },
      { key: "dbp", cls: "s-dbp", label: "diastolic" },
    ],
    normal: [111, 219],
    normalLabel: "systolic 111–219",
    floor: [40, 180],
  },
  { id: "temp", title: "Temperature", unit: "°C", series: [{ key: "temp", cls: "s-temp" }], normal: [36.1, 38.0], floor: [35, 39], decimals: 1 },
];

/** A bucket (seconds) that gives at most 240 points over the window. */
export function bucketSeconds(hours = TREND_HOURS) {
  return Math.max(60, Math.ceil((hours * 3600) / MAX_POINTS / 60) * 60);
}

function svg(tag, attrs = {}, ...children) {
  const n = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) n.setAttribute(k, String(v));
  for (const c of children) if (c) n.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return n;
}

function niceStep(span, target = 5) {
  const raw = span / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

/** Points of one series as [time, min, avg, max]; null buckets dropped. */
function seriesPoints(points, key) {
  const out = [];
  for (const p of points) {
    const v = p[key];
    if (v === null || v === undefined) continue;
    const avg = typeof v === "number" ? v : v.avg;
    if (avg === null || avg === undefined) continue;
    out.push([p.time, v.min ?? avg, avg, v.max ?? avg]);
  }
  return out;
}

/** Splits into runs where consecutive points are at most 2 buckets apart (gaps stay gaps). */
function runs(pts, gapMs) {
  const res = [];
  let cur = [];
  for (const p of pts) {
    if (cur.length && p[0] - cur[cur.length - 1][0] > gapMs) {
      res.push(cur);
      cur = [];
    }
    cur.push(p);
  }
  if (cur.length) res.push(cur);
  return res;
}

export function renderChart(spec, points, from, to, bucketMs) {
  const W = 640, H = 178, L = 46, R = 10, T = 18, B = 24;
  const data = spec.series.map((s) => ({ ...s, pts: seriesPoints(points, s.key) }));
  let lo = Math.min(spec.floor[0], spec.normal[0]);
  let hi = Math.max(spec.floor[1], spec.normal[1]);
  for (const s of data) for (const p of s.pts) {
    lo = Math.min(lo, p[1]);
    hi = Math.max(hi, p[3]);
  }
  const step = niceStep(hi - lo);
  lo = Math.floor(lo / step) * step;
  hi = Math.ceil(hi / step) * step;
  if (spec.max !== undefined) hi = Math.min(hi, spec.max);
  const x = (t) => L + ((t - from) / (to - from)) * (W - L - R);
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  const f = (n) => n.toFixed(1);

  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": `${spec.title} trend, last ${TREND_HOURS} hours` });
  // normal range
  const nlo = Math.max(lo, spec.normal[0]), nhi = Math.min(hi, spec.normal[1]);
  root.append(svg("rect", { class: "normal", x: L, y: f(y(nhi)), width: W - L - R, height: f(Math.max(0, y(nlo) - y(nhi))) }));
  // y grid + labels
  for (let v = lo; v <= hi + 1e-9; v += step) {
    root.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: f(y(v)), y2: f(y(v)) }));
    root.append(svg("text", { class: "ylab", x: L - 6, y: f(y(v) + 4), "text-anchor": "end" }, (spec.decimals ? v.toFixed(spec.decimals) : Math.round(v)).toString()));
  }
  // x ticks: every hour on the hour
  const hour = 3600_000;
  for (let t = Math.ceil(from / hour) * hour; t <= to; t += hour) {
    root.append(svg("line", { class: "grid", x1: f(x(t)), x2: f(x(t)), y1: T, y2: H - B }));
    root.append(svg("text", { class: "xlab", x: f(x(t)), y: H - 6, "text-anchor": "middle" }, fmtHM(t)));
  }
  root.append(svg("text", { class: "ylab unit", x: 4, y: 10 }, spec.unit));
  // series: band then avg line
  for (const s of data) {
    for (const run of runs(s.pts, bucketMs * 2.5)) {
      if (run.length === 1) {
        const [t, mn, av, mx] = run[0];
        root.append(svg("line", { class: `band-line ${s.cls}`, x1: f(x(t)), x2: f(x(t)), y1: f(y(mn)), y2: f(y(mx)) }));
        root.append(svg("circle", { class: `dot ${s.cls}`, cx: f(x(t)), cy: f(y(av)), r: 2.5 }));
        continue;
      }
      const up = run.map((p) => `${f(x(p[0]))},${f(y(p[3]))}`);
      const down = run.slice().reverse().map((p) => `${f(x(p[0]))},${f(y(p[1]))}`);
      root.append(svg("polygon", { class: `band ${s.cls}`, points: up.concat(down).join(" ") }));
      root.append(svg("polyline", { class: `avg ${s.cls}`, points: run.map((p) => `${f(x(p[0]))},${f(y(p[2]))}`).join(" ") }));
    }
  }
  if (data.every((s) => !s.pts.length)) {
    root.append(svg("text", { class: "nodata", x: (W + L) / 2, y: H / 2, "text-anchor": "middle" }, "no readings in the last 4 hours"));
  }
  return { node: root, data };
}

export class PatientPanel {
  constructor(root, { fetchTrends, onAcknowledge }) {
    this.root = root;
    this.fetchTrends = fetchTrends;
    this.onAcknowledge = onAcknowledge;
    this.pid = null;
    this.refreshTimer = null;
    this.title = root.querySelector("#panel-title");
    this.status = root.querySelector("#panel-status");
    this.alarmsList = root.querySelector("#panel-alarms");
    this.charts = root.querySelector("#panel-charts");
    root.querySelector("#panel-close").addEventListener("click", () => this.close());
    root.addEventListener("click", (ev) => {
      if (ev.target === root) this.close(); // click on the backdrop
    });
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && this.pid) this.close();
    });
  }

  isOpenFor(pid) {
    return this.pid === pid;
  }

  open(patient, alarms) {
    this.returnFocus = document.activeElement;
    this.pid = patient.id;
    this.root.hidden = false;
    this.root.dataset.patient = patient.id;
    this.title.textContent = `Bed ${patient.bed} · ${patient.id}${patient.ward ? " · ward " + patient.ward : ""}`;
    this.charts.replaceChildren();
    this.setAlarms(alarms);
    this.load();
    clearInterval(this.refreshTimer);
    this.refreshTimer = setInterval(() => this.load(), 60_000);
    this.root.querySelector("#panel-close").focus();
  }

  close() {
    this.pid = null;
    this.root.hidden = true;
    clearInterval(this.refreshTimer);
    this.returnFocus?.focus?.();
  }

  setAlarms(alarms) {
    if (!this.pid) return;
    if (!alarms.length) {
      this.alarmsList.replaceChildren(el("li", { class: "none" }, "No open alarms."));
      return;
    }
    const now = serverNow();
    this.alarmsList.replaceChildren(
      ...alarms.map((a) => {
        const raised = a._raisedAt;
        const li = el(
          "li",
          { class: `panel-alarm prio-${a.priority} state-${a.state}`, dataset: { alarmId: a.id } },
          el("span", { class: "alarm-prio" }, (a.priority || "").toUpperCase()),
          el("span", { class: "alarm-msg" }, a.message || a.rule_id),
          el(
            "span",
            { class: "alarm-since" },
            raised ? `raised ${fmtClock(raised)} (${fmtAge(now - raised)} ago)` : "",
            a.state === "acknowledged" ? ` · acknowledged${a.acknowledged_by ? " by " + a.acknowledged_by : ""}` : ""
          )
        );
        if (a.state === "active") {
          const b = el("button", { type: "button", class: "ack-btn small", dataset: { action: "acknowledge", alarmId: a.id } }, "Acknowledge");
          b.addEventListener("click", () => {
            b.disabled = true;
            b.textContent = "Acknowledging…";
            this.onAcknowledge(String(a.id));
          });
          li.append(b);
        }
        return li;
      })
    );
  }

  async load() {
    const pid = this.pid;
    if (!pid) return;
    const to = serverNow();
    const from = to - TREND_HOURS * 3600_000;
    const bucket = bucketSeconds();
    this.status.textContent = "Loading trends…";
    this.status.dataset.state = "loading";
    let res;
    try {
      res = await this.fetchTrends(pid, from, to, bucket);
    } catch (e) {
      if (this.pid !== pid) return;
      this.status.dataset.state = "error";
      this.status.replaceChildren(`Could not load trends: ${e.message}. `, el("button", { type: "button", class: "link", onclick: () => this.load() }, "Retry"));
      return;
    }
    if (this.pid !== pid) return;
    const points = (res?.points || []).slice().sort((a, b) => a.time - b.time);
    const bucketMs = (res?.bucket_seconds || bucket) * 1000;
    this.charts.replaceChildren(
      ...CHARTS.map((spec) => {
        const { node, data } = renderChart(spec, points, from, to, bucketMs);
        const latest = data
          .map((s) => s.pts[s.pts.length - 1])
          .map((p) => (p ? (spec.decimals ? p[2].toFixed(spec.decimals) : Math.round(p[2])) : "–"))
          .join("/");
        const legend = spec.series.length > 1 ? spec.series.map((s) => el("span", { class: `legend ${s.cls}` }, s.label)) : [];
        return el(
          "figure",
          { class: "chart-box", dataset: { chart: spec.id } },
          el("figcaption", {}, el("b", {}, spec.title), ` ${latest} ${spec.unit}`, el("span", { class: "normal-note" }, `normal ${spec.normalLabel || spec.normal.join("–")}`), ...legend),
          node
        );
      })
    );
    this.status.dataset.state = "ok";
    this.status.textContent = `Last ${TREND_HOURS} h, ${bucketMs / 60000}-min buckets (line: average, band: min–max). Updated ${fmtClock(Date.now())}.`;
  }
}

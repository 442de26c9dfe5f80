// The alarm-burden report page: pick a ward and a period, read
// GET /api/v1/reports/alarm-burden and show its tables with CSS bars.
// Same token handling as the ward page (fragment, sessionStorage, login form).
import { api } from "./connection.js";
import { claims, fmt, showLogin, signIn, toLocalInput } from "./signin.js";
import { el, parseTime } from "./util.js";

const $ = (s) => document.querySelector(s);
let token = null;

const figure = (name, label, value) =>
  el("div", { class: "figure" }, el("strong", { dataset: { figure: name } }, value), label);

/** A table; each row is [key, cells…] where a cell is a value or {bar, max, priority}. */
function table(id, headers, rows) {
  if (!rows.length) return el("p", { class: "empty", id }, "None in this period.");
  return el("table", { id },
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map(([key, ...cells]) => el("tr", { dataset: { key } }, cells.map((c, i) => {
      if (c && typeof c === "object" && "bar" in c) {
        const width = c.max > 0 ? (100 * c.bar) / c.max : 0;
        return el("td", { class: "barcell" }, el("div", { class: "bar", style: `width:${width}%`, dataset: { priority: c.priority || "" } }));
      }
      return el("td", { class: typeof c === "number" ? "num" : null, dataset: { col: headers[i] } }, typeof c === "number" ? fmt(c) : c ?? "—");
    })))));
}

function render(r) {
  const maxRule = Math.max(0, ...r.by_rule.map((x) => x.alarms));
  const maxPatient = Math.max(0, ...r.noisiest_patients.map((x) => x.alarms));
  const maxDevice = Math.max(0, ...r.noisiest_devices.map((x) => x.alarms));
  const maxEsc = Math.max(0, ...r.escalations.map((x) => x.count));
  const a = r.acknowledgement;
  const report = $("#report");
  report.replaceChildren(
    el("section", { id: "summary" }, el("h2", {}, `Ward ${r.ward}: ${new Date(r.from).toLocaleString()} – ${new Date(r.to).toLocaleString()}`),
      el("div", { class: "figures" },
        figure("alarms", "alarms", String(r.alarms)),
        figure("patient_days", "patient-days", fmt(r.patient_days)),
        figure("alarms_per_patient_day", "alarms per patient-day", fmt(r.alarms_per_patient_day)),
        figure("median_s", "median s to acknowledge", fmt(a.median_s, 1)),
        figure("p90_s", "90th percentile s", fmt(a.p90_s, 1)),
        figure("never_acknowledged", "never acknowledged", String(a.never_acknowledged)),
        figure("quick", `acknowledged within ${r.quick_acknowledgements.within_s} s`, String(r.quick_acknowledgements.count))),
      el("p", { class: "basis" }, `Patient-days: ${r.patient_days_basis}.`)),
    el("section", {}, el("h2", {}, "Alarms by rule and priority"),
      table("by-rule", ["rule", "priority", "alarms", "per patient-day", ""],
        r.by_rule.map((x) => [`${x.rule_id}|${x.priority}`, x.rule_id, x.priority, x.alarms, x.per_patient_day ?? null,
          { bar: x.alarms, max: maxRule, priority: x.priority }]))),
    el("section", {}, el("h2", {}, "Escalations"),
      table("escalations", ["level", "count", ""], r.escalations.map((x) => [String(x.level), String(x.level), x.count, { bar: x.count, max: maxEsc }]))),
    el("section", {}, el("h2", {}, `Flapping (≥ ${r.flapping_min_raises_in_an_hour} raises within an hour)`),
      table("flapping", ["patient", "rule", "raises", "most in an hour"],
        r.flapping.map((x) => [`${x.patient_id}|${x.rule_id}`, x.patient_id, x.rule_id, x.raises, x.most_in_an_hour]))),
    el("section", {}, el("h2", {}, "Noisiest patients"),
      table("noisy-patients", ["patient", "alarms", "per day", ""],
        r.noisiest_patients.map((x) => [x.id, x.id, x.alarms, x.per_day, { bar: x.alarms, max: maxPatient }]))),
    el("section", {}, el("h2", {}, "Noisiest devices"),
      table("noisy-devices", ["device", "alarms", "per day", ""],
        r.noisiest_devices.map((x) => [x.id, x.id, x.alarms, x.per_day, { bar: x.alarms, max: maxDevice }]))),
    el("section", {}, el("h2", {}, `Acknowledged within ${r.quick_acknowledgements.within_s} s (likely nuisance)`),
      table("quick", ["alarm", "patient", "rule", "seconds"],
        r.quick_acknowledgements.alarms.map((x) => [x.alarm_id, x.alarm_id, x.patient_id, x.rule_id, x.seconds]))),
  );
  report.dataset.state = "ready";
}

async function load(ward, from, to) {
  const status = $("#report-status");
  status.dataset.kind = "";
  status.textContent = "Loading…";
  $("#report").dataset.state = "loading";
  const q = `ward=${encodeURIComponent(ward)}&from=${from}&to=${to}`;
  history.replaceState(null, "", `${location.pathname}?${q}`); // a link to this report, without the token
  try {
    render(await api(`/reports/alarm-burden?${q}`, { token }));
    status.textContent = "";
  } catch (e) {
    $("#report").dataset.state = "error";
    $("#report").replaceChildren();
    status.dataset.kind = "error";
    status.textContent = e.status ? `${e.status}: ${e.message}` : e.message;
    if (e.status === 401) showLogin(`Signed out: ${e.message}`);
  }
}

function submit(ev) {
  ev?.preventDefault();
  const from = new Date($("#report-from").value).getTime();
  const to = new Date($("#report-to").value).getTime();
  if (!Number.isFinite(from) || !Number.isFinite(to)) return;
  load($("#report-ward").value.trim(), from, to);
}

function start(t) {
  token = t;
  const params = new URLSearchParams(location.search);
  const c = claims(t);
  const ward = params.get("ward") || (c && c.ward !== "*" ? c.ward : "");
  const to = parseTime(params.get("to")) ?? Date.now();
  const from = parseTime(params.get("from")) ?? to - 86_400_000;
  $("#report-ward").value = ward;
  $("#report-from").value = toLocalInput(from);
  $("#report-to").value = toLocalInput(to);
  // The inputs hold whole seconds; a linked period is asked for exactly as the link says.
  if (ward) load(ward, from, to);
}

$("#report-form").addEventListener("submit", submit);
signIn(start);
window.wardlineReport = { load };

// The replay page: a period, a ward and a candidate rule-set file; POST /api/v1/replays, then
// GET /api/v1/replays/{id} until it is done, and the comparison side by side. Missed or later
// high-priority alarms come first, in red: the one thing a candidate must not do.
import { api } from "./connection.js";
import { fmt, showLogin, signIn, toLocalInput } from "./signin.js";
import { el } from "./util.js";

const $ = (s) => document.querySelector(s);
const POLL_MS = 1000;
let token = null;

const figure = (name, label, value) =>
  el("div", { class: "figure" }, el("strong", { dataset: { figure: name } }, value), label);

const when = (ms) => new Date(ms).toLocaleString();

function alarms(id, list, extra) {
  if (!list.length) return el("p", { class: "empty", id }, "None.");
  return el("table", { id },
    el("thead", {}, el("tr", {}, ["patient", "raised", "rule", "priority", "value", "limit", ...(extra ? [extra.title] : [])].map((h) => el("th", {}, h)))),
    el("tbody", {}, list.map((a) => el("tr", { dataset: { key: a.alarm_id } },
      el("td", {}, a.patient_id ?? "—"), el("td", {}, when(a.raised_at)), el("td", {}, a.rule_id), el("td", {}, a.priority),
      el("td", { class: "num" }, fmt(a.value, 1)), el("td", { class: "num" }, fmt(a.threshold, 1)),
      extra ? el("td", { class: "num" }, extra.cell(a)) : null))));
}

/** Alarms per patient-day by rule and priority: a pair of bars per row, in force above candidate. */
function byRule(r) {
  const max = Math.max(0, ...r.by_rule.flatMap((x) => [x.in_force_per_patient_day, x.candidate_per_patient_day]));
  const bar = (v, side, priority) => el("div", { class: "bar", style: `width:${max > 0 ? (100 * v) / max : 0}%`, dataset: { side, priority } });
  return el("table", { id: "by-rule" },
    el("thead", {}, el("tr", {}, ["rule", "priority", r.in_force.version, r.candidate.version, ""].map((h) => el("th", {}, h)))),
    el("tbody", {}, r.by_rule.map((x) => el("tr", { dataset: { key: `${x.rule_id}|${x.priority}` } },
      el("td", {}, x.rule_id), el("td", {}, x.priority),
      el("td", { class: "num", dataset: { col: "in_force" } }, fmt(x.in_force_per_patient_day)),
      el("td", { class: "num", dataset: { col: "candidate" } }, fmt(x.candidate_per_patient_day)),
      el("td", { class: "barcell" }, bar(x.in_force_per_patient_day, "in_force", x.priority), bar(x.candidate_per_patient_day, "candidate", x.priority))))));
}

function sides(r) {
  const rows = [
    ["alarms", (s) => String(s.alarms)],
    ["per patient-day", (s) => fmt(s.alarms_per_patient_day)],
    ["median duration (s)", (s) => fmt(s.median_duration_s, 1)],
    ["90th percentile (s)", (s) => fmt(s.p90_duration_s, 1)],
    ["ended by themselves within 10 s", (s) => String(s.ended_within_10_s)],
    ["raised only by this set", (s) => String(s.only_here)],
  ];
  return el("table", { id: "sides" },
    el("thead", {}, el("tr", {}, el("th", {}, ""), el("th", {}, `in force (${r.in_force.version})`), el("th", {}, `candidate (${r.candidate.version})`))),
    el("tbody", {}, rows.map(([label, f]) => el("tr", { dataset: { key: label } },
      el("td", {}, label), el("td", { class: "num" }, f(r.in_force)), el("td", { class: "num" }, f(r.candidate))))));
}

function render(job) {
  const r = job.result;
  const h = r.high_alarms;
  const worse = h.missed.length + h.later.length > 0;
  const check = r.live_check;
  $("#replay").replaceChildren(
    el("section", { id: "high", class: worse ? "alert" : "clear", dataset: { missed: h.missed.length, later: h.later.length } },
      el("h2", {}, worse
        ? `The candidate misses ${h.missed.length} and delays ${h.later.length} of the ${h.in_force} high-priority alarms the rules in force raise`
        : `The candidate raises all ${h.in_force} high-priority alarms the rules in force raise, none later`),
      worse ? el("h3", {}, "Missed") : null, worse ? alarms("missed", h.missed) : null,
      worse ? el("h3", {}, "Later") : null,
      worse ? alarms("later", h.later, { title: "later by (s of patient time)", cell: (a) => a.later_by_s.toFixed(1) }) : null),
    el("section", { id: "summary" },
      el("h2", {}, `${when(r.from)} – ${when(r.to)}${job.ward ? `, ward ${job.ward}` : ""}`),
      el("div", { class: "figures" },
        figure("readings", "readings", String(r.readings)),
        figure("patients", "patients", String(r.patients)),
        figure("device_events", "device alerts and status", String(r.device_events)),
        figure("patient_days", "patient-days", fmt(r.patient_days)),
        figure("rate", "readings/s", fmt(r.readings_per_s, 0))),
      el("p", { class: "basis", id: "live-check" },
        `The rules in force raised ${check.reproduced} of the ${check.compared} alarms the live run stored under them again at the same moment` +
        (check.other_rule_sets ? ` (${check.other_rule_sets} stored under other rule sets not compared).` : "."))),
    el("section", {}, el("h2", {}, "Alarms per patient-day by rule and priority"), byRule(r)),
    el("section", {}, el("h2", {}, "Side by side"), sides(r)),
    el("section", {}, el("h2", {}, `Raised only by the rules in force (${r.in_force.only_here})`), alarms("only-in-force", r.in_force.only_here_listed)),
    el("section", {}, el("h2", {}, `Raised only by the candidate (${r.candidate.only_here})`), alarms("only-candidate", r.candidate.only_here_listed)),
  );
  $("#replay").dataset.state = "ready";
}

function fail(e) {
  const status = $("#replay-status");
  $("#replay").dataset.state = "error";
  status.dataset.kind = "error";
  status.textContent = e.status ? `${e.status}: ${e.message}` : e.message;
  const problems = $("#replay-problems");
  problems.replaceChildren(...(e.details || []).map((d) => el("li", {}, `${d.field}: ${d.problem}`)));
  problems.hidden = !(e.details || []).length;
  if (e.status === 401) showLogin(`Signed out: ${e.message}`);
}

async function follow(id) {
  const status = $("#replay-status");
  for (;;) {
    const job = await api(`/replays/${encodeURIComponent(id)}`, { token });
    if (job.state === "done") {
      status.textContent = "";
      render(job);
      return;
    }
    if (job.state === "failed") throw new Error(job.error || "the replay failed");
    status.textContent = `Replaying… ${job.readings_replayed} readings`;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function readRuleSet(input, name) {
  const file = input.files[0];
  if (!file) return undefined;
  try {
    return JSON.parse(await file.text());
  } catch {
    throw Object.assign(new Error(`${name}: ${file.name} is not JSON`), { details: [] });
  }
}

async function submit(ev) {
  ev?.preventDefault();
  const status = $("#replay-status");
  status.dataset.kind = "";
  $("#replay-problems").hidden = true;
  $("#replay").replaceChildren();
  $("#replay").dataset.state = "loading";
  try {
    const body = {
      from: new Date($("#replay-from").value).getTime(),
      to: new Date($("#replay-to").value).getTime(),
      candidate: await readRuleSet($("#replay-candidate"), "candidate"),
    };
    const ward = $("#replay-ward").value.trim();
    if (ward) body.ward = ward;
    const inForce = await readRuleSet($("#replay-in-force"), "compare with");
    if (inForce) body.in_force = inForce;
    status.textContent = "Starting…";
    const job = await api("/replays", { token, method: "POST", body });
    await follow(job.id);
  } catch (e) {
    fail(e);
  }
}

function start(t) {
  token = t;
  const to = Date.now();
  $("#replay-from").value = toLocalInput(to - 86_400_000);
  $("#replay-to").value = toLocalInput(to);
}

$("#replay-form").addEventListener("submit", submit);
signIn(start);
window.wardlineReplay = { follow };

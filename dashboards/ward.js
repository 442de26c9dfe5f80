// Wardline nurses' station: login, wiring of socket frames to the alarm
// banner, the ward grid and the patient panel.

import { api, ApiError, Connection, hubBase, hubs, learnHubs } from "./connection.js";
import { AlarmStore, AlarmBanner, alarmFromFrame, whoLabel, beep, unlockAudio } from "./alarms.js";
import { TileGrid } from "./tiles.js";
import { PatientPanel } from "./trends.js";
import { el, fmtAge, fmtClock, noteServerTime } from "./util.js";

const TOKEN_KEY = "wardline.token";
const SUBSCRIBE_WAIT_MS = 3000; // fetch open alarms once subscribed (or after this long)
const ALARM_RESYNC_MS = 30_000; // safety net: re-read open alarms this often while live
// The link silent this long is a failure of the alarm system as this screen sees it: alarms
// raised meanwhile are not reaching it (red banner and sound, beyond the yellow "connection lost").
const SILENT_FAILURE_MS = 30_000;

const $ = (sel) => document.querySelector(sel);

const app = {
  token: null,
  conn: null,
  user: null,
  pendingSubs: new Set(),
  subsTimer: null,
  resyncTimer: null,
  alarmFetchSeq: 0,
  system: null, // the server's last system:status
  lastFrameAt: 0,
  silentSince: 0, // when the link went stale (0: live)
  systemShown: "",
};

// ---------- token ----------

function tokenFromFragment() {
  const m = location.hash.match(/(?:^#|&)token=([^&]+)/);
  if (!m) return null;
  history.replaceState(null, "", location.pathname + location.search); // never leave the token in the address bar
  return decodeURIComponent(m[1]).trim();
}

export function jwtClaims(token) {
  try {
    const part = token.split(".")[1];
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
    return JSON.parse(decodeURIComponent(escape(atob(b64))));
  } catch {
    return null;
  }
}

/** Why this token cannot be used, or null. */
function tokenProblem(token) {
  if (!token || token.split(".").length !== 3) return "That is not a token (a JWT has three parts separated by dots).";
  const c = jwtClaims(token);
  if (c && typeof c.exp === "number" && c.exp * 1000 < Date.now()) return "Your token has expired — paste a new one.";
  return null;
}

// ---------- UI pieces ----------

const store = new AlarmStore(onAlarmsChanged);
const banner = new AlarmBanner($("#alarm-banner"), { onAcknowledge: acknowledge, onOpenPatient: openPatient });
const grid = new TileGrid($("#ward-grid"), { onOpen: openPatient });
const panel = new PatientPanel($("#patient-panel"), {
  fetchTrends: (pid, from, to, bucket) =>
    api(`/patients/${encodeURIComponent(pid)}/vitals?from=${encodeURIComponent(new Date(from).toISOString())}&to=${encodeURIComponent(new Date(to).toISOString())}&bucket=${bucket}s`, { token: app.token }).catch(authGuard),
  onAcknowledge: acknowledge,
});

function toast(message, kind = "info", ms = 8000) {
  const t = el("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  const close = el("button", { type: "button", class: "toast-close", "aria-label": "Dismiss" }, "×");
  close.addEventListener("click", () => t.remove());
  t.append(close);
  $("#toasts").append(t);
  if (ms) setTimeout(() => t.remove(), ms);
  while ($("#toasts").children.length > 5) $("#toasts").firstChild.remove();
}

function openPatient(pid) {
  const m = grid.get(pid);
  if (!m) return;
  panel.open(m, store.forPatient(pid));
}

let knownHigh = new Set();
function onAlarmsChanged() {
  const bannerAlarms = store.bannerList();
  banner.render(bannerAlarms, grid.patients);
  const byPatient = new Map();
  for (const a of store.open()) {
    if (!byPatient.has(a.patient_id)) byPatient.set(a.patient_id, []);
    byPatient.get(a.patient_id).push(a);
  }
  grid.setAlarms(byPatient);
  if (panel.pid) panel.setAlarms(byPatient.get(panel.pid) || []);
  // Sound once for each high alarm that newly appears in the banner.
  const highs = new Set(bannerAlarms.filter((a) => a.priority === "high").map((a) => String(a.id)));
  if ([...highs].some((id) => !knownHigh.has(id))) beep();
  knownHigh = highs;
  updateTitle();
}

function updateTitle() {
  const n = store.bannerList().length;
  const stale = app.conn && app.conn.state === "stale";
  document.title = (n ? `(${n}) ALARM — ` : "") + (stale ? "NOT LIVE — " : "") + "Wardline";
}

// ---------- connection state ----------

function onConnState(state, detail) {
  const ind = $("#connection-state");
  ind.dataset.state = state;
  const label = { live: "LIVE", stale: "NOT LIVE", connecting: "Connecting…", unauthorized: "Signed out" }[state];
  if (ind.textContent !== label) ind.textContent = label;
  document.body.dataset.conn = state;
  const staleBar = $("#stale-banner");
  // Anything on screen that is not live must say so: a lost link, or a sign-out with old data still shown.
  const signedOutWithData = state === "unauthorized" && grid.patients.size > 0;
  staleBar.hidden = !(state === "stale" || signedOutWithData);
  staleBar.dataset.reason = state;
  if (signedOutWithData) {
    $("#stale-title").textContent = "SIGNED OUT — data not live";
    $("#stale-detail").textContent = "Sign in again to resume live vitals and alarms.";
  }
  if (state === "live") app.silentSince = 0;
  else if (!app.silentSince && (state === "stale" || state === "connecting")) app.silentSince = detail.lastFrameAt || Date.now();
  app.lastFrameAt = detail.lastFrameAt || app.lastFrameAt;
  renderSystem();
  if (state === "stale") {
    $("#stale-title").textContent = "CONNECTION LOST — data not live";
    const last = detail.lastFrameAt ? `Last data ${fmtClock(detail.lastFrameAt)} (${fmtAge(Date.now() - detail.lastFrameAt)} ago). ` : "";
    const retry = detail.socketOpen ? "Waiting for the server…" : detail.retryInMs > 0 ? `Reconnecting in ${Math.ceil(detail.retryInMs / 1000)} s (attempt ${detail.attempt}).` : "Reconnecting…";
    $("#stale-detail").textContent = last + retry;
  }
  updateTitle();
}

// ---------- the alarm system's own state ----------

/** The red banner: the server says a part of the alarm system failed, or this screen has heard nothing for too long. */
function renderSystem() {
  const bar = $("#system-banner");
  const silentFor = app.silentSince ? Date.now() - app.silentSince : 0;
  let title = "", detail = "", severity = "failure";
  if (app.silentSince && silentFor > SILENT_FAILURE_MS && app.token) {
    title = "ALARM SYSTEM FAILURE — no contact with Wardline";
    detail = `Nothing received for ${fmtAge(silentFor)}: alarms are not reaching this screen. Watch the bedside monitors; call technical on-call.`;
  } else if (app.system && app.system.ok === false && !app.silentSince) {
    const failure = (app.system.problems || []).some((p) => p.severity === "failure");
    severity = failure ? "failure" : "degraded";
    title = failure ? "ALARM SYSTEM FAILURE" : "ALARM SYSTEM DEGRADED";
    detail = (app.system.problems || []).map((p) => `${p.component}: ${p.detail}`).join(" · ");
  }
  bar.hidden = !title;
  bar.dataset.severity = severity;
  $("#system-title").textContent = title;
  $("#system-detail").textContent = detail;
  const shown = title && severity === "failure" ? title : "";
  if (shown && shown !== app.systemShown) beep();
  app.systemShown = shown;
  document.body.dataset.system = title ? severity : "ok";
}

// ---------- frames ----------

function onFrame(event, data) {
  switch (event) {
    case "session:ready":
      return onSessionReady(data);
    case "subscribed":
      app.pendingSubs.delete(data.patient_id);
      if (app.pendingSubs.size === 0 && app.subsTimer) {
        clearTimeout(app.subsTimer);
        app.subsTimer = null;
        loadOpenAlarms();
      }
      return;
    case "unsubscribed":
      return;
    case "heartbeat":
      noteServerTime(data.time);
      return;
    case "system:status":
      app.system = data;
      renderSystem();
      return;
    case "vitals:update":
      grid.applyVitals(data);
      return;
    case "alert:critical":
    case "alert:updated": {
      const a = alarmFromFrame(data);
      store.upsert(a);
      // Shown (the banner is redrawn synchronously): confirm it, so the server knows this screen is alive.
      if (data.id !== undefined && data.revision !== undefined) {
        app.conn?.send("alert:received", { alarm_id: String(data.id), revision: Number(data.revision) });
      }
      return;
    }
    case "device:status": {
      const m = grid.applyDevice(data);
      if (m && data.state === "offline") toast(`Bed ${m.bed} (${m.id}): device ${data.device_id} went offline`, "warn");
      return;
    }
    case "notification:new": {
      const m = data.patient_id && grid.get(data.patient_id);
      toast((m ? `Bed ${m.bed} · ${m.id}: ` : "") + (data.message || data.kind || "notification"), data.kind === "error" ? "error" : "info");
      return;
    }
    case "error":
      return onErrorFrame(data);
    default:
      return; // unknown events are ignored (forward compatible)
  }
}

function onSessionReady(data) {
  learnHubs(data.hubs);
  document.body.dataset.hub = hubBase();
  app.system = null; // the server sends system:status after session:ready only while something is wrong
  app.user = data.user || {};
  $("#user-id").textContent = app.user.id ?? "?";
  $("#user-role").textContent = app.user.role ?? "?";
  $("#user-ward").textContent = app.user.ward ?? "—";
  $("#user-info").hidden = false;
  $("#ward-name").textContent = app.user.ward ? `· Ward ${app.user.ward}` : "";
  grid.setPatients(data.patients || []);
  // join each patient's room, then read the open alarms (after subscribing, so nothing falls between)
  app.pendingSubs = new Set();
  for (const p of data.patients || []) {
    if (!p?.patient_id) continue;
    app.pendingSubs.add(p.patient_id);
    app.conn.send("subscribe:patient", { patient_id: p.patient_id });
  }
  clearTimeout(app.subsTimer);
  app.subsTimer = setTimeout(() => {
    app.subsTimer = null;
    loadOpenAlarms();
  }, app.pendingSubs.size ? SUBSCRIBE_WAIT_MS : 0);
  onAlarmsChanged();
}

function onErrorFrame(d) {
  const msg = d.message || d.code || "error";
  if (d.alarm_id !== undefined && d.alarm_id !== null) {
    banner.setPending(d.alarm_id, false);
    banner.setError(d.alarm_id, `Not acknowledged: ${msg}`);
    return;
  }
  if (d.patient_id) {
    app.pendingSubs.delete(d.patient_id);
    if (d.code === "forbidden") grid.markForbidden(d.patient_id, msg);
    else toast(`${d.patient_id}: ${msg}`, "error");
    return;
  }
  toast(`Server: ${msg}`, "error");
}

// ---------- REST ----------

/** A 401 from REST: the token is no good any more. Returns true when it was one. */
function signOutIf401(e) {
  if (!(e instanceof ApiError && e.status === 401)) return false;
  showLogin(/expired/i.test(e.message + " " + e.code) ? "Your token has expired — paste a new one." : `Signed out: ${e.message || "token not accepted"}`);
  return true;
}

/** Promise .catch helper: sign out on 401, pass the error on. */
function authGuard(e) {
  signOutIf401(e);
  throw e;
}

async function loadOpenAlarms() {
  if (!app.token) return;
  const seq = ++app.alarmFetchSeq;
  const since = store.mark();
  try {
    const list = await api("/alarms?state=open", { token: app.token });
    if (seq !== app.alarmFetchSeq) return; // a newer request is under way
    const fresh = store.reconcile(Array.isArray(list) ? list : [], since);
    for (const a of fresh) if (a.state === "active") console.info("wardline: open alarm learned from REST", a.id);
    $("#alarm-sync").textContent = `alarms synced ${fmtClock(Date.now())}`;
    $("#alarm-sync").dataset.state = "ok";
  } catch (e) {
    if (signOutIf401(e)) return;
    $("#alarm-sync").textContent = `could not load open alarms: ${e.message} — retrying`;
    $("#alarm-sync").dataset.state = "error";
    setTimeout(() => app.conn?.live && loadOpenAlarms(), 5000);
  }
}

async function acknowledge(id) {
  id = String(id);
  banner.setPending(id, true);
  try {
    const a = await api(`/alarms/${encodeURIComponent(id)}/acknowledge`, { method: "POST", body: {}, token: app.token });
    banner.setPending(id, false);
    if (a && a.id !== undefined) store.upsert(a);
    else loadOpenAlarms();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      banner.setPending(id, false);
      signOutIf401(e);
      return;
    }
    if (e instanceof ApiError && e.network && app.conn?.send("alert:acknowledge", { alarm_id: id })) {
      // REST did not get through but the socket is up: the answer comes as alert:updated or error.
      setTimeout(() => {
        if (store.get(id)?.state === "active") {
          banner.setPending(id, false);
          banner.setError(id, "No answer from the server — try again");
        }
      }, 10_000);
      return;
    }
    banner.setPending(id, false);
    banner.setError(id, `Not acknowledged: ${e.message}`);
    if (e instanceof ApiError && (e.status === 404 || e.status === 409)) loadOpenAlarms(); // it changed meanwhile
  }
  onAlarmsChanged();
}

// ---------- login / session ----------

function showLogin(reason) {
  app.conn?.stop();
  app.conn = null;
  app.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(app.resyncTimer);
  $("#login-reason").textContent = reason || "";
  $("#login-reason").hidden = !reason;
  $("#login").hidden = false;
  $("#user-info").hidden = true;
  onConnState("unauthorized", {});
  $("#token-input").focus();
}

function startSession(token) {
  const problem = tokenProblem(token);
  if (problem) return showLogin(problem);
  app.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("#login").hidden = true;
  const c = jwtClaims(token);
  if (c) $("#user-id").textContent = c.sub ?? c.user_id ?? "";
  app.conn?.stop();
  app.conn = new Connection(token, {
    onFrame,
    onState: onConnState,
    onAuthFailure: (reason) => showLogin(/expired/i.test(reason) ? "Your token has expired — paste a new one." : `Signed out by the server: ${reason}`),
    onConnectFailed: () => {
      // A browser hides the HTTP status of a refused WebSocket handshake; ask REST whether the token is the reason.
      api("/alarms?state=open", { token }).catch((e) => {
        if (app.token === token) signOutIf401(e);
      });
    },
  });
  app.conn.start();
  clearInterval(app.resyncTimer);
  app.resyncTimer = setInterval(() => app.conn?.live && loadOpenAlarms(), ALARM_RESYNC_MS);
}

$("#login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  unlockAudio();
  const t = $("#token-input").value.trim().replace(/^Bearer\s+/i, "");
  $("#token-input").value = "";
  startSession(t);
});

$("#logout").addEventListener("click", () => {
  store.clear();
  showLogin("Logged out.");
});

// Sound needs one user gesture before the browser lets a page beep.
for (const ev of ["pointerdown", "keydown"]) document.addEventListener(ev, unlockAudio, { once: true, capture: true });

// Overlays (patient panel, login) start below the sticky alarm banner + status bar, so an
// alarm raised while a panel is open is still seen.
new ResizeObserver(() => document.documentElement.style.setProperty("--top-h", `${$("#top").offsetHeight}px`)).observe($("#top"));

// once a second: ages, "raised … ago", "no data since"
setInterval(() => {
  banner.tick();
  grid.tick();
  renderSystem();
  $("#clock").textContent = fmtClock(Date.now());
}, 1000);

// ---------- start ----------

const fromFragment = tokenFromFragment();
const initial = fromFragment || sessionStorage.getItem(TOKEN_KEY);
if (initial) startSession(initial);
else showLogin("");

// A new #token=… pasted into this tab's address bar is a hash change, not a reload.
window.addEventListener("hashchange", () => {
  const t = tokenFromFragment();
  if (t) {
    store.clear();
    startSession(t);
  }
});

// for the console / tests
window.wardline = { app, store, grid, renderSystem, hubs };

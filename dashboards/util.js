// Small helpers shared by the dashboard modules: DOM building, time formatting,
// and an estimate of the server's clock (from heartbeat frames) so that
// "raised 2 min ago" is right even when this workstation's clock is off.

let serverOffsetMs = 0; // server clock minus local clock

/** Epoch ms from a protocol time (epoch ms number, numeric string or ISO 8601). */
export function parseTime(v) {
  if (v === null || v === undefined || v === "") return null;
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (/^\d+$/.test(String(v))) return Number(v);
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : t;
}

/** Feed a server timestamp that was just received (heartbeat). */
export function noteServerTime(v) {
  const t = parseTime(v);
  if (t !== null) serverOffsetMs = t - Date.now();
}

/** Now, on the server's clock. */
export function serverNow() {
  return Date.now() + serverOffsetMs;
}

const pad = (n) => String(n).padStart(2, "0");

/** hh:mm:ss in local time. */
export function fmtClock(ms) {
  if (ms === null || ms === undefined) return "--:--:--";
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** hh:mm in local time. */
export function fmtHM(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A duration, compact: "8 s", "3 min 05 s", "2 h 14 min". */
export function fmtAge(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${pad(s % 60)} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${pad(m % 60)} min`;
}

/**
 * el("div", {class: "x", dataset: {a: 1}, onclick: fn}, child, "text", …)
 * Text is always set as text (never innerHTML): frames are data, not markup.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** Compare beds the way people read them: "2" before "10", "4B-3" before "4B-12". */
export function compareBeds(a, b) {
  return String(a ?? "").localeCompare(String(b ?? ""), undefined, { numeric: true, sensitivity: "base" });
}

export const PRIORITY_RANK = { high: 3, medium: 2, low: 1 };

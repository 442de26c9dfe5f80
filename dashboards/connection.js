// The link to the Wardline server: REST calls (envelope, bearer token, timeout)
// and the WebSocket with automatic reconnect (1 s, 2 s, 4 s … max 15 s) and a
// watchdog that declares the data stale when no frame (heartbeats included)
// arrived for 10 s. With several hubs (WARDLINE_HUB_PEERS, told in session:ready),
// a hub that does not answer a reconnect is left for the next one, REST and socket.

export const STALE_AFTER_MS = 10_000;
const CONNECT_TIMEOUT_MS = 10_000;
const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000];
const REST_TIMEOUT_MS = 10_000;
const NEXT_HUB_MS = 200; // a different hub needs no back-off: only a whole round of failures does

/** The hubs this page may use (its own origin first) and the one in use. */
export const hubs = { list: [location.origin], index: 0 };

/** The base URL (origin) of the hub in use. */
export function hubBase() {
  return hubs.list[hubs.index] || location.origin;
}

/** Adds the peers a hub named (session:ready's `hubs`), keeping the order and the hub in use. */
export function learnHubs(origins) {
  if (!Array.isArray(origins)) return;
  for (const o of origins) {
    if (typeof o === "string" && /^https?:\/\/[^/]+$/.test(o) && !hubs.list.includes(o)) hubs.list.push(o);
  }
}

function nextHub() {
  hubs.index = (hubs.index + 1) % hubs.list.length;
}

export class ApiError extends Error {
  constructor(status, code, message, { network = false, details = [] } = {}) {
    super(message);
    this.status = status; // HTTP status, 0 for a network failure / timeout
    this.code = code;
    this.network = network;
    this.details = details; // a validation error's [{field, problem}]
  }
}

/** Calls `/api/v1/<path>`; resolves to the envelope's `data`, throws ApiError otherwise. */
export async function api(path, { token, method = "GET", body } = {}) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), REST_TIMEOUT_MS);
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(`${hubBase()}/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      signal: ctrl.signal,
    });
  } catch (e) {
    throw new ApiError(0, "network", ctrl.signal.aborted ? "server did not answer in time" : "server unreachable", { network: true });
  } finally {
    clearTimeout(timer);
  }
  let env = null;
  try {
    env = await res.json();
  } catch {
    /* not JSON */
  }
  if (!res.ok || !env || env.success === false) {
    const code = env?.error?.code ?? (res.status === 401 ? "unauthorized" : "http_" + res.status);
    const msg = env?.message || env?.error?.details || res.statusText || `HTTP ${res.status}`;
    const details = Array.isArray(env?.error?.details) ? env.error.details : [];
    throw new ApiError(res.status, code, typeof msg === "string" ? msg : JSON.stringify(msg), { details });
  }
  return env.data;
}

/** Close reasons / codes that mean "log in again", not "try again". */
export function isAuthClose(code, reason) {
  const r = String(reason || "").toLowerCase();
  return /unauthori[sz]ed|expired|invalid token|forbidden/.test(r) || code === 4001 || code === 4401 || code === 4403;
}

/**
 * Socket lifecycle. Callbacks:
 *  onFrame(event, data)          every parsed frame
 *  onState(state, detail)        "connecting" | "live" | "stale" | "unauthorized"
 *  onAuthFailure(reason)         the server closed for an auth reason: stop and ask for a token
 *  onConnectFailed()             the socket could not open (the page may probe REST for a 401)
 */
export class Connection {
  constructor(token, { onFrame, onState, onAuthFailure, onConnectFailed }) {
    this.token = token;
    this.cb = { onFrame, onState, onAuthFailure, onConnectFailed };
    this.ws = null;
    this.attempt = 0;
    this.hubsTried = 0; // hubs left since the last session:ready, without answer
    this.everReady = false; // got a session:ready at least once
    this.ready = false; // session:ready received on the current socket
    this.lastFrameAt = 0;
    this.retryAt = 0;
    this.retryTimer = null;
    this.stopped = true;
    this.state = null;
    this.watchdog = null;
  }

  start() {
    this.stopped = false;
    this.watchdog = setInterval(() => this.#check(), 500);
    this.#open();
  }

  stop() {
    this.stopped = true;
    clearInterval(this.watchdog);
    clearTimeout(this.retryTimer);
    this.#drop(1000, "logout");
  }

  /** Sends a frame; false when the socket is not open. */
  send(event, data) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ event, data }));
    return true;
  }

  get live() {
    return this.state === "live";
  }

  #url() {
    const base = new URL(hubBase());
    const proto = base.protocol === "https:" ? "wss:" : "ws:";
    // receipts=1: this page confirms each alarm frame once shown (alert:received), so the server
    // can tell a frozen screen (which still answers pings) from a live one.
    return `${proto}//${base.host}/ws?token=${encodeURIComponent(this.token)}&receipts=1`;
  }

  #open() {
    if (this.stopped) return;
    this.ready = false;
    this.openedAt = Date.now();
    let ws;
    try {
      ws = new WebSocket(this.#url());
    } catch (e) {
      this.#scheduleRetry(false);
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.lastFrameAt = Date.now();
    };
    ws.onmessage = (ev) => {
      this.lastFrameAt = Date.now();
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        console.warn("wardline: non-JSON frame ignored");
        return;
      }
      if (!frame || typeof frame.event !== "string") return;
      if (frame.event === "session:ready") {
        this.ready = true;
        this.everReady = true;
        this.attempt = 0;
        this.hubsTried = 0;
      }
      try {
        this.cb.onFrame(frame.event, frame.data ?? {});
      } catch (e) {
        console.error("wardline: frame handler failed", frame.event, e);
      }
      this.#check();
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return; // already replaced
      this.ws = null;
      this.ready = false;
      if (isAuthClose(ev.code, ev.reason)) {
        this.stopped = true;
        clearInterval(this.watchdog);
        this.#setState("unauthorized");
        this.cb.onAuthFailure(ev.reason || "unauthorized");
        return;
      }
      this.#scheduleRetry(opened);
    };
    ws.onerror = () => {
      /* onclose follows */
    };
    this.#check();
  }

  /** Forget a socket without waiting for its close handshake (a dead TCP link may never finish it). */
  #drop(code, reason) {
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(code, reason);
    } catch {
      /* ignore */
    }
  }

  #scheduleRetry(hadOpened) {
    if (this.stopped) return;
    let delay;
    if (!hadOpened && hubs.list.length > 1) {
      // This hub did not answer: the next one, at once until every hub failed in this round.
      nextHub();
      this.hubsTried += 1;
      delay = this.hubsTried < hubs.list.length ? NEXT_HUB_MS : BACKOFF_MS[Math.min(this.attempt++, BACKOFF_MS.length - 1)];
      if (this.hubsTried >= hubs.list.length) this.hubsTried = 0;
    } else {
      // A socket that was up dropped: its own hub first (a restart, a blip), then the others.
      delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
      this.attempt += 1;
    }
    this.retryAt = Date.now() + delay;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.#open(), delay);
    if (!hadOpened) this.cb.onConnectFailed?.();
    this.#check();
  }

  #check() {
    if (this.stopped) return;
    const now = Date.now();
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.CONNECTING && now - this.openedAt > CONNECT_TIMEOUT_MS) {
      this.#drop(4000, "connect timeout");
      this.#scheduleRetry(false);
      return;
    }
    if (ws && ws.readyState === WebSocket.OPEN && this.ready && now - this.lastFrameAt > STALE_AFTER_MS) {
      // Silent for 10 s: the link is dead even if TCP has not noticed. Drop it and reconnect.
      this.#drop(4000, "no frames for 10 s");
      this.#scheduleRetry(true);
      return;
    }
    const live = ws && ws.readyState === WebSocket.OPEN && this.ready && now - this.lastFrameAt <= STALE_AFTER_MS;
    let state;
    if (live) state = "live";
    else if (!this.everReady) state = "connecting";
    else state = "stale";
    const detail = {
      lastFrameAt: this.lastFrameAt,
      retryInMs: this.ws ? 0 : Math.max(0, this.retryAt - now),
      attempt: this.attempt,
      socketOpen: !!(ws && ws.readyState === WebSocket.OPEN),
    };
    this.#setState(state, detail);
  }

  #setState(state, detail = {}) {
    const changed = state !== this.state;
    this.state = state;
    this.cb.onState(state, detail, changed);
  }
}

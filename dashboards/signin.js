// The token handling of the pages beside the ward page (reports, replay): a token from the
// address's fragment (then removed from the address bar) or this tab's sessionStorage, else the
// sign-in form; and the little formatting they share.
const TOKEN_KEY = "wardline.token";
const $ = (s) => document.querySelector(s);

function tokenFromFragment() {
  const m = location.hash.match(/(?:^#|&)token=([^&]+)/);
  if (!m) return null;
  history.replaceState(null, "", location.pathname + location.search); // never leave the token in the address bar
  return decodeURIComponent(m[1]).trim();
}

/** The token's claims, unverified (only to prefill a form; the server checks the token). */
export function claims(t) {
  try {
    const part = t.split(".")[1];
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
    return JSON.parse(atob(b64));
  } catch {
    return null;
  }
}

export function showLogin(reason) {
  $("#login").hidden = false;
  $("#login-reason").hidden = !reason;
  $("#login-reason").textContent = reason || "";
  $("#token-input").focus();
}

/** Calls `start(token)` once there is a token: now, or when the sign-in form is sent. */
export function signIn(start) {
  const begin = (t) => {
    sessionStorage.setItem(TOKEN_KEY, t);
    $("#login").hidden = true;
    start(t);
  };
  $("#login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = $("#token-input").value.trim().replace(/^Bearer\s+/i, "");
    $("#token-input").value = "";
    if (t.split(".").length === 3) begin(t);
    else showLogin("That is not a token (a JWT has three parts separated by dots).");
  });
  const initial = tokenFromFragment() || sessionStorage.getItem(TOKEN_KEY);
  if (initial) begin(initial);
  else showLogin("");
}

/** datetime-local wants local wall time without a zone. */
export function toLocalInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 19);
}

export function fmt(n, digits = 2) {
  if (n === null || n === undefined) return "—";
  return Number.isInteger(n) ? String(n) : n.toFixed(digits);
}

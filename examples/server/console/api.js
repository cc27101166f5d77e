// Calls to the reference server's API with the operator token.
//
// The token lives in sessionStorage only (this tab, until sign-out or the tab closes) and
// travels in the Authorization header: never in a URL, a cookie, or anything logged.
//
// The API is the page's own origin. A console served from another origin names the API's
// origin in its index.html, <meta name="curhat-api" content="<the API's origin>">,
// written by whoever serves the files (the API must list the console's origin in
// CORS_ALLOWED_ORIGINS). Never from the page's address: anybody can write a link, and the
// token would go to whatever origin it named.

import { ApiError, answerError, openStream, readEvents, request } from "./http.js";

export { ApiError };

const TOKEN_KEY = "curhat.operatorToken";
// Who the token is: {id, display_name, role}, from GET /api/internal/operators/me. The
// console reads the role to show only what it may use; the API decides either way.
const OPERATOR_KEY = "curhat.operator";

function apiBase() {
  const given = document.querySelector('meta[name="curhat-api"]')?.getAttribute("content");
  if (!given) return "";
  try {
    const u = new URL(given);
    if (u.protocol === "http:" || u.protocol === "https:") return u.origin;
  } catch {
    // not a URL: same origin
  }
  return "";
}

export const base = apiBase();

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(OPERATOR_KEY);
}

// getOperator returns the signed-in operator, {id, display_name, role}, or null.
export function getOperator() {
  try {
    const o = JSON.parse(sessionStorage.getItem(OPERATOR_KEY) || "null");
    return o && typeof o === "object" ? o : null;
  } catch {
    return null;
  }
}

export function setOperator(o) {
  sessionStorage.setItem(OPERATOR_KEY, JSON.stringify({ id: o.id, display_name: o.display_name, role: o.role }));
}

let onSignedOut = () => {};
let onForbidden = () => {};

// whenSignedOut sets what happens when the API refuses the stored token (revoked or
// expired): the app shows the sign-in page.
export function whenSignedOut(fn) {
  onSignedOut = fn;
}

// whenForbidden sets what happens when the API refuses a request for the operator's role
// (403 FORBIDDEN): the role may have changed since sign-in, and the error tells it.
export function whenForbidden(fn) {
  onForbidden = fn;
}

// call sends one request. body, when given, is sent as JSON. options.token replaces the
// stored token (sign-in checks a token before storing it); options.headers adds headers
// (an Idempotency-Key).
export async function call(method, path, body, options = {}) {
  const { res, data } = await request(method, base + path, body, { ...options, token: options.token ?? getToken() });
  if (res.ok) return data;
  const err = answerError(res, data);
  if (res.status === 401 && options.token === undefined) onSignedOut(err);
  if (res.status === 403 && err.code === "FORBIDDEN" && options.token === undefined) onForbidden(err);
  throw err;
}

// query builds "?a=1&b=2" from the non-empty values of params.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? "?" + s : "";
}

// stream reads the Server-Sent Events of path through fetch (EventSource cannot send the
// Authorization header) and calls onEvent(kind, payload) for each event, onOpen() once
// the stream is open. It returns when the stream ends; it throws ApiError when the
// stream is refused, and AbortError when signal aborts.
export async function stream(path, { signal, onOpen, onEvent }) {
  let res;
  try {
    res = await openStream(base + path, { token: getToken(), signal });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) onSignedOut(err);
    throw err;
  }
  onOpen();
  await readEvents(res, onEvent);
}

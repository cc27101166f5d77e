// Calls to the reference server's public API with the signed-in user's token, shared by
// the client app and the mitra app.
//
// The token lives in sessionStorage only (this tab, until sign-out or the tab closes) and
// travels in the Authorization header: never in a URL, a cookie, or anything logged. The
// API is the page's own origin.
//
// Every route an app calls is written out in a call of its own (method and path), so
// that the tests can read them from the files and find each in openapi.json. What the
// apps and the console do alike (the request, the error, reading an event stream) is the
// console's http.js, served at /console/http.js.

import { ApiError, answerError, openStream, readEvents, request } from "/console/http.js";

export { ApiError, newUUID } from "/console/http.js";

let tokenKey = "curhat.token";

// useTokenKey names where this app keeps its token (each app its own).
export function useTokenKey(key) {
  tokenKey = key;
}

export function getToken() {
  return sessionStorage.getItem(tokenKey) || "";
}

export function setToken(token) {
  sessionStorage.setItem(tokenKey, token);
}

export function clearToken() {
  sessionStorage.removeItem(tokenKey);
}

let onSignedOut = () => {};

// whenSignedOut sets what happens when the API refuses the stored token (revoked,
// expired, the account closed): the app shows its sign-in.
export function whenSignedOut(fn) {
  onSignedOut = fn;
}

// The server's clock, as far as its answers tell (their Date header): a countdown to a
// deadline the server set (an offer's expires_at, a chat's ends_at) counts on it, not on
// a phone clock that may be off. Within a few seconds the local clock is trusted.
let skew = 0;

function learnClock(res) {
  const date = Date.parse(res.headers.get("Date") || "");
  if (Number.isNaN(date)) return;
  const seen = date + 500 - Date.now(); // the header has whole seconds
  skew = Math.abs(seen) > 3000 ? seen : 0;
}

// serverNow is the server's time now, in milliseconds.
export function serverNow() {
  return Date.now() + skew;
}

// call sends one request; body, when given, is sent as JSON. options.token replaces the
// stored token (sign-in checks a token before storing it); options.headers adds headers.
export async function call(method, path, body, options = {}) {
  const { res, data } = await request(method, path, body, { ...options, token: options.token ?? getToken() });
  learnClock(res);
  if (res.ok) return data;
  const err = answerError(res, data);
  if (options.token === undefined && (res.status === 401 || err.code === "MITRA_DEACTIVATED" || err.code === "CLIENT_SUSPENDED")) {
    onSignedOut(err);
  }
  throw err;
}

// stream reads the Server-Sent Events of path through fetch (EventSource cannot send the
// Authorization header) and calls onEvent(kind, data, at) for each event, onOpen() once
// the stream is open. It returns when the stream ends; it throws ApiError when the stream
// is refused, and AbortError when signal aborts.
async function stream(path, { signal, headers, onOpen, onEvent }) {
  const res = await openStream(path, { token: getToken(), headers, signal });
  learnClock(res);
  onOpen();
  // An app's event says what it is in its data: {kind, data, at}.
  await readEvents(res, (_, body) => {
    if (body && typeof body.kind === "string") onEvent(body.kind, body.data || {}, body.at);
  });
}

// Reconnect delays: 1 s doubling to 30 s, each with up to a third more at random so that
// many apps cut off together do not come back together.
const RETRY_FIRST = 1000;
const RETRY_MAX = 30000;

// follow keeps the event stream of path open until stop() is called: when it drops, it
// reconnects after a growing delay. onState(state) hears "connecting", "open" (call
// onOpen, whose job is to re-read what the app shows: events sent while the stream was
// down are lost) and "retrying"; onEvent(kind, data, at) each event. A refused token
// ends it (onSignedOut); an account_closed event too.
export function follow(path, { headers, onEvent, onOpen, onState }) {
  const ctl = new AbortController();
  let stopped = false;
  let delay = RETRY_FIRST;
  let wake = null;
  const pause = (ms) =>
    new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  (async () => {
    while (!stopped) {
      onState("connecting");
      let closed = false;
      try {
        await stream(path, {
          signal: ctl.signal,
          headers,
          onOpen: () => {
            delay = RETRY_FIRST;
            onState("open");
            onOpen();
          },
          onEvent: (kind, data, at) => {
            if (kind === "account_closed") closed = true;
            onEvent(kind, data, at);
          },
        });
      } catch (err) {
        if (stopped || (err && err.name === "AbortError")) return;
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
          onSignedOut(err);
          return;
        }
      }
      if (stopped) return;
      if (closed) {
        onSignedOut(new ApiError(403, { error: { code: "ACCOUNT_CLOSED", message: "akun ini ditutup" } }));
        return;
      }
      onState("retrying");
      await pause(delay + Math.random() * (delay / 3));
      delay = Math.min(delay * 2, RETRY_MAX);
    }
  })();
  return {
    stop() {
      stopped = true;
      ctl.abort();
      if (wake) wake();
    },
  };
}

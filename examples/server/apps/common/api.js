// Calls to the reference server's public API with the signed-in user's token, shared by
// the client app and the mitra app.
//
// The token lives in sessionStorage only (this tab, until sign-out or the tab closes) and
// travels in the Authorization header: never in a URL, a cookie, or anything logged. The
// API is the page's own origin.
//
// Every route an app calls is written out in a call of its own (method and path), so
// that the tests can read them from the files and find each in openapi.json.

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

// ApiError is an answer other than 2xx: the API's error envelope, or a network failure
// (status 0).
export class ApiError extends Error {
  constructor(status, body, requestId) {
    const e = (body && body.error) || {};
    super(e.message || (status ? `server menjawab ${status}` : "server tidak dapat dihubungi"));
    this.status = status;
    this.code = e.code || (status ? "HTTP_" + status : "NETWORK");
    this.field = e.field || "";
    this.requestId = requestId || "";
  }
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
  const token = options.token ?? getToken();
  const headers = { ...options.headers, Authorization: "Bearer " + token, Accept: "application/json" };
  const init = { method, headers, cache: "no-store", signal: options.signal };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError(0, null);
  }
  learnClock(res);
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data, res.headers.get("X-Request-Id"));
    if (options.token === undefined && (res.status === 401 || err.code === "MITRA_DEACTIVATED" || err.code === "CLIENT_SUSPENDED")) {
      onSignedOut(err);
    }
    throw err;
  }
  return data;
}

// stream reads the Server-Sent Events of path through fetch (EventSource cannot send the
// Authorization header) and calls onEvent(kind, data, at) for each event, onOpen() once
// the stream is open. It returns when the stream ends; it throws ApiError when the stream
// is refused, and AbortError when signal aborts.
async function stream(path, { signal, headers, onOpen, onEvent }) {
  let res;
  try {
    res = await fetch(path, {
      headers: { ...headers, Authorization: "Bearer " + getToken(), Accept: "text/event-stream" },
      cache: "no-store",
      signal,
    });
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError(0, null);
  }
  if (!res.ok || !res.body) {
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    throw new ApiError(res.status, data, res.headers.get("X-Request-Id"));
  }
  learnClock(res);
  onOpen();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value.replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const frame = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      const data = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length === 0) continue; // a comment: connected, keep-alive
      let body;
      try {
        body = JSON.parse(data.join("\n"));
      } catch {
        continue; // a frame that is not JSON is skipped
      }
      if (body && typeof body.kind === "string") onEvent(body.kind, body.data || {}, body.at);
    }
  }
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

// newId is a fresh random UUID (a message's client_msg_id, a device id).
// crypto.randomUUID needs a secure context (https, or localhost); an app served over plain
// http elsewhere builds the same from crypto.getRandomValues.
export function newId() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, "0")).join("");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

// Talking to the reference server's API, the part the console and the reference apps
// share: the error an answer other than 2xx becomes, one request, an event stream read
// through fetch, and fresh ids. The console's api.js and the apps' api.js build their
// calls on these; the apps import this file from the console's address
// (/console/http.js), so one copy serves both.
//
// The words these put on the page follow the page's language (its <html lang>): the
// console speaks English, the apps Indonesian.

const indonesian = document.documentElement.lang === "id";

// ApiError is an answer other than 2xx: the API's error envelope, or a network failure
// (status 0).
export class ApiError extends Error {
  constructor(status, body, requestId) {
    const e = (body && body.error) || {};
    super(e.message || fallbackMessage(status));
    this.status = status;
    this.code = e.code || (status ? "HTTP_" + status : "NETWORK");
    this.field = e.field || "";
    this.current = e.current;
    // A 403 FORBIDDEN names the role the route needs and the caller's role now.
    this.requiredRole = e.required_role || "";
    this.role = e.role || "";
    this.requestId = requestId || "";
    // The error object as the API sent it, with the fields some errors add (a refund's
    // remaining and unearned amounts).
    this.details = e;
  }
}

// fallbackMessage is an error's message when the answer has none: the status, or that
// the server could not be reached (status 0).
function fallbackMessage(status) {
  if (indonesian) return status ? `server menjawab ${status}` : "server tidak dapat dihubungi";
  return status ? `the server answered ${status}` : "the server could not be reached";
}

// answerError is the ApiError of an answer other than 2xx whose JSON body is data.
export function answerError(res, data) {
  return new ApiError(res.status, data, res.headers.get("X-Request-Id"));
}

// describe is the sentence shown for an error: the API's message, and the request id to
// find it in the server's log when the server failed.
export function describe(err) {
  if (!err) return "";
  if (err.status >= 500 && err.requestId) return `${err.message} (${indonesian ? "permintaan" : "request"} ${err.requestId})`;
  return err.message || String(err);
}

// reach fetches url: a server it cannot reach is an ApiError of status 0; an abort (the
// signal of init) stays an AbortError.
async function reach(url, init) {
  try {
    return await fetch(url, init);
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError(0, null);
  }
}

// readJSON is the JSON body of an answer, or null when it has none or it is not JSON.
async function readJSON(res) {
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

// request sends one request with token in the Authorization header and body, when given,
// as JSON; headers adds headers, signal aborts it. It resolves to the answer and its
// JSON body, {res, data}, whatever the status: the caller decides what a refusal means.
export async function request(method, url, body, { token, headers, signal }) {
  const sent = { ...headers, Authorization: "Bearer " + token, Accept: "application/json" };
  const init = { method, headers: sent, cache: "no-store", signal };
  if (body !== undefined) {
    sent["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await reach(url, init);
  return { res, data: await readJSON(res) };
}

// openStream opens the Server-Sent Events of url through fetch (EventSource cannot send
// the Authorization header) and resolves to the open answer; a refusal throws its
// ApiError.
export async function openStream(url, { token, headers, signal }) {
  const res = await reach(url, {
    headers: { ...headers, Authorization: "Bearer " + token, Accept: "text/event-stream" },
    cache: "no-store",
    signal,
  });
  if (!res.ok || !res.body) throw answerError(res, await readJSON(res));
  return res;
}

// readEvents reads an open stream until it ends and calls onEvent(name, data) for each
// event whose data is JSON (name: its "event:" field, "message" without one). Comments
// (the keep-alives) and frames that are not JSON are skipped.
export async function readEvents(res, onEvent) {
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
      let name = "message";
      const data = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith(":")) continue;
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length === 0) continue;
      let payload;
      try {
        payload = JSON.parse(data.join("\n"));
      } catch {
        continue; // a frame that is not JSON is skipped
      }
      onEvent(name, payload);
    }
  }
}

// newUUID is a fresh random UUID (an Idempotency-Key, a message's client_msg_id, a device
// id). crypto.randomUUID needs a secure context (https, or localhost); a page served over
// plain http elsewhere builds the same from crypto.getRandomValues.
export function newUUID() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, "0")).join("");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

// Small DOM helpers shared by the apps. Text from the API only ever reaches the page as
// text (textContent, value), never as HTML.

import { serverNow } from "./api.js";

let uid = 0;

// nextId returns a fresh element id with the given prefix.
export function nextId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

// h creates an element. props: class, text, on (event → handler), and attributes (a
// boolean true sets an empty attribute, false or null leaves it out; "hidden",
// "disabled", "checked" and "value" are set as properties). children: nodes or strings.
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = String(v);
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === "hidden" || k === "disabled" || k === "checked" || k === "value") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// announce tells screen readers (and the tests) about an outcome that has no place of its
// own on the page.
export function announce(message) {
  const a = document.getElementById("announcer");
  a.textContent = "";
  // A new text node on the next frame: the same message twice is announced twice.
  requestAnimationFrame(() => {
    a.textContent = message;
  });
}

// field builds a labelled input with its error line: { wrap, input, error }.
export function field(labelText, input, { hint } = {}) {
  const id = input.id || nextId("f");
  input.id = id;
  const error = h("p", { class: "error", id: id + "-error", "aria-live": "polite" });
  const described = [error.id];
  let hintEl = null;
  if (hint) {
    hintEl = h("span", { class: "hint", id: id + "-hint", text: hint });
    described.unshift(hintEl.id);
  }
  input.setAttribute("aria-describedby", described.join(" "));
  const wrap = h("div", { class: "field" }, h("label", { for: id, text: labelText }), input, hintEl, error);
  return { wrap, input, error };
}

// showError puts an error's message beside an input (or clears it with null).
export function showError(f, err) {
  if (!err) {
    f.error.textContent = "";
    f.input.removeAttribute("aria-invalid");
    return;
  }
  f.error.textContent = describe(err);
  f.input.setAttribute("aria-invalid", "true");
}

// describe is the sentence shown for an error: the API's message, and the request id to
// find it in the server's log when the server failed.
export function describe(err) {
  if (!err) return "";
  if (err.status >= 500 && err.requestId) return `${err.message} (permintaan ${err.requestId})`;
  return err.message || String(err);
}

// alertBox is a place for the errors of a part of the page: show(err) says the API's
// message (role="alert": read out at once), clear() empties it.
export function alertBox() {
  const el = h("p", { class: "alert", role: "alert", hidden: true });
  return {
    el,
    show(err) {
      el.textContent = typeof err === "string" ? err : "Gagal: " + describe(err);
      el.hidden = false;
    },
    clear() {
      el.textContent = "";
      el.hidden = true;
    },
  };
}

// rupiah shows an amount as "Rp 25.000" (other currencies as "25.000 USD").
export function rupiah(amount, currency = "IDR") {
  if (amount === null || amount === undefined) return "—";
  const n = Number(amount).toLocaleString("id-ID");
  return currency === "IDR" ? `Rp ${n}` : `${n} ${currency}`;
}

// secondsUntil is the whole seconds from the server's now to an RFC 3339 time, never below 0.
export function secondsUntil(iso) {
  const t = Date.parse(iso || "");
  if (Number.isNaN(t)) return 0;
  return Math.max(0, Math.ceil((t - serverNow()) / 1000));
}

// clockText shows seconds as "4:05" (or "1:02:03" past an hour).
export function clockText(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return hh > 0 ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

// dateText shows an RFC 3339 time as the phone's local "25 Mei 2026 10.07".
export function dateText(iso) {
  const d = new Date(iso || "");
  if (Number.isNaN(d.getTime())) return "—";
  return d.toLocaleString("id-ID", { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });
}

// ticker calls fn every second until stop() (countdowns).
export function ticker(fn) {
  fn();
  const t = setInterval(fn, 1000);
  return { stop: () => clearInterval(t) };
}

// modal opens a modal dialog: its title, its content (nodes) and its buttons, each
// {label, kind, onClick} (onClick may return a promise; the buttons are disabled while it
// runs). close() removes it; the focus returns where it was. Escape does what the button
// marked cancel does (if any).
export function modal({ title, content, buttons, id }) {
  const back = document.activeElement;
  const titleId = nextId("dlg");
  const dlg = h("dialog", { "aria-labelledby": titleId, id, class: "sheet" }, h("h2", { id: titleId, text: title }));
  const body = h("div", { class: "sheet-body" }, ...content);
  const actions = h("div", { class: "actions" });
  dlg.append(body, actions);
  let busy = false;
  const els = buttons.map((b) => {
    const el = h("button", { type: "button", class: b.kind || "", text: b.label });
    el.addEventListener("click", async () => {
      if (busy) return;
      busy = true;
      for (const x of actions.querySelectorAll("button")) x.disabled = true;
      try {
        await b.onClick();
      } finally {
        busy = false;
        for (const x of actions.querySelectorAll("button")) x.disabled = false;
      }
    });
    actions.append(el);
    return el;
  });
  dlg.addEventListener("cancel", (e) => {
    e.preventDefault();
    const cancel = buttons.findIndex((b) => b.cancel);
    if (cancel >= 0 && !busy) els[cancel].click();
  });
  document.body.append(dlg);
  dlg.showModal();
  (dlg.querySelector("input, select, textarea") || els[0]).focus();
  return {
    dialog: dlg,
    body,
    close() {
      if (dlg.open) dlg.close();
      dlg.remove();
      if (back && back.isConnected) back.focus();
    },
  };
}

// confirmDialog asks a yes/no question; it resolves true when confirmed.
export function confirmDialog({ title, message, confirmLabel, danger = false }) {
  return new Promise((resolve) => {
    const m = modal({
      title,
      content: [h("p", { text: message })],
      buttons: [
        { label: "Batal", kind: "secondary", cancel: true, onClick: () => (m.close(), resolve(false)) },
        { label: confirmLabel, kind: danger ? "danger" : "", onClick: () => (m.close(), resolve(true)) },
      ],
    });
  });
}

// connectionBadge shows the state of the event stream: "Terhubung", "Menyambung…",
// "Terputus, mencoba lagi…".
export function showConnection(state) {
  const el = document.getElementById("connection");
  if (!el) return;
  const words = { open: "Terhubung", connecting: "Menyambung…", retrying: "Terputus, mencoba lagi…" };
  el.textContent = words[state] || "";
  el.dataset.state = state;
}

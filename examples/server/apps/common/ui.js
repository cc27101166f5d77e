// The DOM helpers of the apps. Text from the API only ever reaches the page as text
// (textContent, value), never as HTML. The ones the console has too (h, field, announce,
// describe, …) are the console's, from /console/dom.js and /console/http.js.

import { h, nextId } from "/console/dom.js";
import { describe } from "/console/http.js";
import { serverNow } from "./api.js";

export { announce, field, h, showError } from "/console/dom.js";
export { describe } from "/console/http.js";

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

// openChatButton is "Buka chat" on a list's row: whoID names the element saying whose chat
// it is.
export function openChatButton(whoID, onClick) {
  return h("button", { type: "button", class: "small", text: "Buka chat", "aria-describedby": whoID, on: { click: onClick } });
}

// endedSection is the screen of a session that ended: "Sesi selesai", then what the app
// says of it (nodes).
export function endedSection(...nodes) {
  return h("section", { "aria-labelledby": "ended-title" }, h("h1", { id: "ended-title", text: "Sesi selesai" }), ...nodes);
}

// homeButton is "Kembali ke beranda", at the foot of a screen that ends something.
export function homeButton(onClick) {
  return h("button", { type: "button", class: "wide", text: "Kembali ke beranda", on: { click: onClick } });
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

// The console's DOM helpers, and the ones it shares with the apps (dom.js, http.js), so
// that a page imports them all from here. API data only ever reaches the page as text
// (textContent, value), never as HTML.

import { ApiError, getOperator, stream } from "./api.js";
import { field, h, nextId, showError } from "./dom.js";

export { announce, field, h, nextId, showError } from "./dom.js";
export { describe, newUUID } from "./http.js";

export function money(amount, currency) {
  if (amount === null || amount === undefined) return "—";
  return `${Number(amount).toLocaleString("en-US")} ${currency || ""}`.trim();
}

// time shows an RFC 3339 time as "2026-05-25 10:07 UTC".
export function time(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

// timeSeconds shows an RFC 3339 time to the second: "2026-05-25 10:07:42 UTC" (a
// timeline's steps often share a minute).
export function timeSeconds(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().slice(0, 19).replace("T", " ") + " UTC";
}

// duration shows a number of seconds as "45 s", "12 min 05 s" or "2 h 03 min".
export function duration(seconds) {
  if (seconds === null || seconds === undefined || seconds === "" || !Number.isFinite(Number(seconds))) return "—";
  let s = Math.max(0, Math.round(Number(seconds)));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  s %= 60;
  if (m < 60) return `${m} min ${String(s).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

// human turns an API word into text: "targeted_waiting" → "targeted waiting".
export function human(s) {
  return String(s ?? "").replaceAll("_", " ");
}

export function badge(on, yes, no) {
  return h("span", { class: "badge " + (on ? "yes" : "no"), text: on ? yes : no });
}

// confirm asks a yes/no question in a modal dialog; it resolves to true when the
// operator confirms. Escape and "Cancel" resolve to false; focus returns where it was.
export function confirm({ title, message, confirmLabel, danger = false }) {
  return new Promise((resolve) => {
    const back = document.activeElement;
    const titleId = nextId("dlg");
    const yes = h("button", { type: "button", class: danger ? "danger" : "", text: confirmLabel });
    const no = h("button", { type: "button", class: "secondary", text: "Cancel" });
    const dlg = h(
      "dialog",
      { "aria-labelledby": titleId },
      h("h2", { id: titleId, text: title }),
      h("p", { text: message }),
      h("div", { class: "actions" }, yes, no),
    );
    const done = (answer) => {
      dlg.close();
      dlg.remove();
      if (back && back.isConnected) back.focus();
      resolve(answer);
    };
    yes.addEventListener("click", () => done(true));
    no.addEventListener("click", () => done(false));
    dlg.addEventListener("cancel", (e) => {
      e.preventDefault();
      done(false);
    });
    document.body.append(dlg);
    dlg.showModal();
    no.focus();
  });
}

// prompt asks for a text in a modal dialog; it resolves to the text, or null when
// cancelled. check(text) may return an error message that keeps the dialog open.
export function promptText({ title, message, label, confirmLabel, check, maxLength = 2000 }) {
  return new Promise((resolve) => {
    const back = document.activeElement;
    const titleId = nextId("dlg");
    const input = h("textarea", { maxlength: String(maxLength) });
    const f = field(label, input);
    const yes = h("button", { type: "submit", text: confirmLabel });
    const no = h("button", { type: "button", class: "secondary", text: "Cancel" });
    const form = h("form", { method: "dialog", novalidate: true }, h("p", { text: message }), f.wrap, h("div", { class: "actions" }, yes, no));
    const dlg = h("dialog", { "aria-labelledby": titleId }, h("h2", { id: titleId, text: title }), form);
    const done = (answer) => {
      dlg.close();
      dlg.remove();
      if (back && back.isConnected) back.focus();
      resolve(answer);
    };
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const problem = check ? await check(input.value) : "";
      if (problem) {
        showError(f, { message: problem });
        return;
      }
      done(input.value);
    });
    no.addEventListener("click", () => done(null));
    dlg.addEventListener("cancel", (e) => {
      e.preventDefault();
      done(null);
    });
    document.body.append(dlg);
    dlg.showModal();
    input.focus();
  });
}

// formDialog opens a modal dialog holding a form: its title, its content (the fields and
// any text, as nodes) and the button confirmLabel beside "Cancel". On confirm,
// submit() runs; it resolves true to close the dialog (formDialog then resolves true) or
// false to keep it open showing its errors. While a submit runs, the buttons are
// disabled and a second confirm (a double click, Enter twice) does nothing. "Cancel" and
// Escape resolve false. The focus goes to first (or the first field) and returns where it
// was.
export function formDialog({ title, content, confirmLabel, danger = false, submit, first, id }) {
  return new Promise((resolve) => {
    const back = document.activeElement;
    const titleId = nextId("dlg");
    const yes = h("button", { type: "submit", class: danger ? "danger" : "", text: confirmLabel });
    const no = h("button", { type: "button", class: "secondary", text: "Cancel" });
    const form = h("form", { method: "dialog", novalidate: true }, ...content, h("div", { class: "actions" }, yes, no));
    const dlg = h("dialog", { "aria-labelledby": titleId, id }, h("h2", { id: titleId, text: title }), form);
    let busy = false;
    const done = (answer) => {
      dlg.close();
      dlg.remove();
      if (back && back.isConnected) back.focus();
      resolve(answer);
    };
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (busy) return;
      busy = true;
      yes.disabled = no.disabled = true;
      dlg.setAttribute("aria-busy", "true");
      let close = false;
      try {
        close = await submit();
      } finally {
        busy = false;
        yes.disabled = no.disabled = false;
        dlg.removeAttribute("aria-busy");
      }
      if (close) done(true);
    });
    no.addEventListener("click", () => done(false));
    dlg.addEventListener("cancel", (e) => {
      e.preventDefault();
      if (!busy) done(false);
    });
    document.body.append(dlg);
    dlg.showModal();
    (first || form.querySelector("input, select, textarea") || no).focus();
  });
}

// pager builds "Previous / Page x of y / Next" for a list answer {page, page_size, total}.
export function pager(list, noun, go) {
  const pages = Math.max(1, Math.ceil(list.total / list.page_size));
  const prev = h("button", { type: "button", class: "secondary small", text: "Previous page", disabled: list.page <= 1, on: { click: () => go(list.page - 1) } });
  const next = h("button", { type: "button", class: "secondary small", text: "Next page", disabled: list.page >= pages, on: { click: () => go(list.page + 1) } });
  return h("nav", { class: "pager", "aria-label": `${noun} pages` }, prev, h("span", { text: `Page ${list.page} of ${pages} · ${list.total} ${noun}` }), next);
}

// pagerArea shows a list's pager, built again only when the list's pages changed (a
// focused "Next page" keeps the focus between two reads): set(list) after each read.
export function pagerArea(noun, go) {
  const el = h("div");
  let shown = "";
  const set = (list) => {
    const key = `${list.page}/${list.page_size}/${list.total}`;
    if (key === shown) return;
    shown = key;
    const hadFocus = el.contains(document.activeElement);
    el.replaceChildren(list.total > list.page_size || list.page > 1 ? pager(list, noun, go) : "");
    if (hadFocus) el.querySelector("button:not(:disabled)")?.focus();
  };
  return { el, set };
}

// wait resolves after ms, or as soon as signal aborts.
export function wait(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

// followEvents keeps the operators' event stream open until signal aborts, the badge live
// saying "Live" while it is (onOpen runs then, onEvent for each event). When the stream
// ends or is refused (too many streams open, a proxy that buffers), poll() runs every
// pollMs for retryMs — the badge says so, and failText while a poll fails — then the
// stream is tried again. A 401 stops it: the sign-in takes over.
export async function followEvents({ signal, live, onOpen, onEvent, poll, pollMs, retryMs, failText }) {
  const over = (err) => signal.aborted || (err && err.name === "AbortError") || (err instanceof ApiError && err.status === 401);
  while (!signal.aborted) {
    try {
      await stream("/api/internal/events", {
        signal,
        onOpen: () => {
          live.textContent = "Live";
          live.classList.add("on");
          if (onOpen) onOpen();
        },
        onEvent,
      });
    } catch (err) {
      if (over(err)) return;
    }
    if (signal.aborted) return;
    live.classList.remove("on");
    live.textContent = `Updating every ${pollMs / 1000} s`;
    const until = Date.now() + retryMs;
    while (!signal.aborted && Date.now() < until) {
      await wait(pollMs, signal);
      if (signal.aborted) return;
      try {
        await poll();
      } catch (err) {
        if (over(err)) return;
        live.textContent = failText;
      }
    }
  }
}

// select builds a <select> from [value, text] pairs.
export function select(options, value, id) {
  const s = h("select", { id });
  for (const [v, t] of options) s.append(h("option", { value: v, text: t }));
  s.value = value ?? "";
  return s;
}

// ---- roles: what the signed-in operator may use ----
//
// The console shows what the operator's role allows; the API decides either way (a 403
// FORBIDDEN whose message shows like any other error). Each role can do what the one
// before it can: viewer (reads), support (day-to-day writes), admin (everything).

const ROLES = ["viewer", "support", "admin"];

// role is the signed-in operator's role ("" when unknown: nothing is allowed but reads).
export function role() {
  return getOperator()?.role || "";
}

// can tells whether the signed-in operator's role is required or above.
export function can(required) {
  if (!required || required === "viewer") return true;
  const need = ROLES.indexOf(required);
  const have = ROLES.indexOf(role());
  return need >= 0 && have >= need;
}

// needsRole is the sentence saying which role doing needs: "changing prices needs the
// admin role; you are signed in as support."
export function needsRole(required, doing) {
  const which = required === "admin" ? "the admin role" : `the ${required} or admin role`;
  return `${doing} needs ${which}; you are signed in as ${role() || "an operator without a role"}.`;
}

// permission is what a page's writes of one kind need: { allowed, note, lock }. note is
// the visible "Read only: …" note when the role may not (an empty text node when it may,
// so that a page appends it either way); lock(...els) then disables the given controls
// and every control inside the given elements, each described by the note.
export function permission(required, doing) {
  const allowed = can(required);
  const note = allowed ? document.createTextNode("") : h("p", { class: "read-only", role: "note", id: nextId("read-only"), text: "Read only: " + needsRole(required, doing) });
  const lock = (...els) => {
    if (allowed) return;
    for (const el of els) {
      if (!el) continue;
      const controls = el.matches("input, select, textarea, button") ? [el] : el.querySelectorAll("input, select, textarea, button");
      for (const c of controls) {
        c.disabled = true;
        const by = (c.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
        if (!by.includes(note.id)) c.setAttribute("aria-describedby", [...by, note.id].join(" "));
      }
    }
  };
  return { allowed, note, lock };
}

// The bootstrap admin (the server's OPERATOR_TOKEN) acts as the nil UUID.
const BOOTSTRAP_ID = "00000000-0000-0000-0000-000000000000";

// operatorLabel names the operator a row was changed or resolved by (changed_by,
// resolved_by: the operator's id): "Bootstrap admin", the signed-in operator's own name,
// or the id (only admins may list the other operators' names).
export function operatorLabel(id) {
  if (id === BOOTSTRAP_ID) return "Bootstrap admin";
  const me = getOperator();
  if (me && me.id === id) return me.display_name;
  return id;
}

// keyedRows keeps a table body's rows by id: rows of ids still listed are updated in
// place and moved only when out of order, new ones built, the others removed. build(item)
// returns {tr, update(item), tick?()}: tick() calls every row's tick (a countdown).
export function keyedRows(body, emptyRow, build) {
  const rows = new Map(); // id → { tr, update, tick? }
  const set = (items) => {
    const seen = new Set(items.map((it) => it.id));
    for (const [id, row] of rows) {
      if (!seen.has(id)) {
        row.tr.remove();
        rows.delete(id);
      }
    }
    if (items.length === 0) {
      if (!emptyRow.isConnected) body.append(emptyRow);
      return;
    }
    emptyRow.remove();
    items.forEach((it, i) => {
      let row = rows.get(it.id);
      if (row) row.update(it);
      else {
        row = build(it);
        rows.set(it.id, row);
      }
      const at = body.children[i];
      if (at !== row.tr) body.insertBefore(row.tr, at || null);
    });
  };
  const tick = () => {
    for (const row of rows.values()) row.tick?.();
  };
  return { set, tick, has: (id) => rows.has(id) };
}

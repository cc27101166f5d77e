// Failed pairings: filters, pages, an action menu per row (refund, resolve with a note);
// and the refunds, with a retry for those the gateway refused and, for those it can never
// make (manual), the record that an operator paid them by hand.

import { call, query } from "./api.js";
import { announce, describe, field, h, money, nextId, operatorLabel, pager, permission, promptText, select, showError, time } from "./ui.js";

export const title = "Failed pairings";

const reasons = [
  ["", "Any"],
  ["no_mitra_available", "No mitra available"],
  ["timeout", "Timeout"],
  ["targeted_declined", "Targeted: declined"],
  ["targeted_timeout", "Targeted: timeout"],
];

const human = (s) => String(s).replaceAll("_", " ");

// dayStart turns a date input's value (YYYY-MM-DD, read as UTC) into RFC 3339; next adds
// a day (the "to" bound is exclusive, the date picked is included).
function dayStart(v, next = false) {
  if (!v) return "";
  const d = new Date(v + "T00:00:00Z");
  if (Number.isNaN(d.getTime())) return "";
  if (next) d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().replace(".000Z", "Z");
}

// writes: whether the operator's role may act on failed pairings and refunds (support);
// when not, the action menus and refund buttons are disabled and the page says why. Set
// by mount, before any row is built.
let writes;

export async function mount(root, signal) {
  writes = permission("support", "acting on failed pairings and refunds (refund, resolve, retry, settle by hand)");
  root.append(h("h1", { text: "Failed pairings" }), writes.note);
  // A failure's refund action changes the refunds, and a refund settled by hand its failure.
  let failures = null;
  const refunds = refundsSection(signal, () => failures.load());
  failures = failuresSection(signal, () => refunds.load());
  root.append(failures.el, refunds.el);
  await Promise.all([failures.load(), refunds.load()]);
}

function failuresSection(signal, refundsChanged) {
  const state = { reason: "", status: "open", type: "", from: "", to: "", page: 1 };
  const reason = field("Reason", select(reasons, "", "filter-reason"));
  const status = field("Status", select([["", "Any"], ["open", "Open"], ["resolved", "Resolved"]], "open", "filter-status"));
  const type = field("Type", select([["", "Any"], ["blast", "Blast"], ["targeted", "Targeted (Curhat lagi)"]], "", "filter-type"));
  const from = field("From (UTC)", h("input", { type: "date", id: "filter-from" }));
  const to = field("To (UTC)", h("input", { type: "date", id: "filter-to" }));
  const filters = h(
    "form",
    { class: "panel", "aria-label": "Filter failed pairings", novalidate: true },
    h("div", { class: "inline-fields" }, reason.wrap, status.wrap, type.wrap, from.wrap, to.wrap, h("button", { type: "submit", text: "Apply filters" })),
  );
  const listError = h("p", { class: "error", "aria-live": "polite" });
  const area = h("div");
  const el = h("section", { "aria-label": "Failed pairings list" }, filters, listError, area);

  const load = async () => {
    listError.textContent = "";
    showError(from, null);
    showError(to, null);
    let list;
    try {
      list = await call(
        "GET",
        "/api/internal/failed-pairings" +
          query({ reason: state.reason, status: state.status, type: state.type, from: state.from, to: state.to, page: state.page, page_size: 20 }),
        undefined,
        { signal },
      );
    } catch (err) {
      if (err.name === "AbortError") return;
      const f = { from, to }[err.field];
      if (f) showError(f, err);
      else listError.textContent = describe(err);
      return;
    }
    const body = h("tbody");
    for (const f of list.items) {
      body.append(
        failureRow(f, async () => {
          await load();
          await refundsChanged();
        }),
      );
    }
    if (list.items.length === 0) body.append(h("tr", {}, h("td", { colspan: "8", class: "muted", text: "No failed pairing matches." })));
    area.replaceChildren(
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "failure-table" },
          h("caption", { text: "Failed pairings, newest first" }),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ...["Created", "Reason", "Type", "Offered", "Amount", "Refund", "Status", "Actions"].map((t) =>
                h("th", { scope: "col", class: t === "Amount" || t === "Offered" ? "num" : "", text: t }),
              ),
            ),
          ),
          body,
        ),
      ),
      pager(list, "failed pairings", (p) => {
        state.page = p;
        load();
      }),
    );
  };

  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    Object.assign(state, {
      reason: reason.input.value,
      status: status.input.value,
      type: type.input.value,
      from: dayStart(from.input.value),
      to: dayStart(to.input.value, true),
      page: 1,
    });
    load();
  });
  return { el, load };
}

function failureRow(f, reload) {
  const note = f.status === "resolved" ? `resolved by ${operatorLabel(f.resolved_by)} ${time(f.resolved_at)}${f.note ? ": " + f.note : ""}` : "";
  const rowStatus = h("span", { "aria-live": "polite" });
  const menu = actionMenu(`Actions for the failed pairing of ${time(f.created_at)}`, [
    {
      label: "Refund",
      disabled: f.refund_status !== "refund_failed",
      run: async () => {
        try {
          await call("POST", `/api/internal/failed-pairings/${f.id}/actions`, { action: "refund" });
        } catch (err) {
          rowStatus.className = "error";
          rowStatus.textContent = describe(err);
          return;
        }
        announce("Refund sent.");
        await reload();
      },
    },
    {
      label: "Resolve…",
      disabled: f.status === "resolved",
      run: async () => {
        let failure = null;
        const text = await promptText({
          title: "Resolve the failed pairing",
          message: `${human(f.reason)}, ${f.type}, ${money(f.amount, "")} (refund ${human(f.refund_status)}). The note is kept with the row.`,
          label: "Note",
          confirmLabel: "Resolve",
          check: async (value) => {
            try {
              await call("POST", `/api/internal/failed-pairings/${f.id}/actions`, { action: "resolve", note: value });
            } catch (err) {
              failure = err;
              return describe(err);
            }
            return "";
          },
        });
        if (text === null && !failure) return;
        if (text !== null) {
          announce("Failed pairing resolved.");
          await reload();
        }
      },
    },
  ]);
  writes.lock(menu);
  return h(
    "tr",
    { "data-id": f.id, "data-pairing-id": f.pairing_id },
    h("td", { text: time(f.created_at) }),
    h("td", { text: human(f.reason) }),
    h("td", { text: f.type }),
    h("td", { class: "num", text: String(f.offered_count) }),
    h("td", { class: "num", text: money(f.amount, "") }),
    h("td", {}, h("span", { class: "badge " + (f.refund_status === "refund_failed" ? "bad" : "no"), text: human(f.refund_status) })),
    h("td", {}, h("span", { class: "badge " + (f.status === "open" ? "bad" : "yes"), text: f.status }), note ? h("div", { class: "muted", text: note }) : null),
    h("td", {}, menu, rowStatus),
  );
}

// actionMenu is a menu button (ARIA menu pattern): Enter, Space or ArrowDown opens it,
// arrows move, Escape closes and returns to the button.
function actionMenu(label, items) {
  const id = nextId("menu");
  const button = h("button", { type: "button", class: "secondary small", "aria-haspopup": "menu", "aria-expanded": "false", "aria-controls": id, "aria-label": label, text: "Actions ▾" });
  const list = h("ul", { class: "menu", role: "menu", id, hidden: true, "aria-label": label });
  const entries = items.map((it) => {
    const b = h("button", { type: "button", role: "menuitem", tabindex: "-1", text: it.label, disabled: it.disabled });
    b.addEventListener("click", async () => {
      close(false);
      await it.run();
    });
    list.append(h("li", { role: "none" }, b));
    return b;
  });
  const enabled = () => entries.filter((b) => !b.disabled);
  const open = () => {
    list.hidden = false;
    button.setAttribute("aria-expanded", "true");
    const first = enabled()[0];
    if (first) first.focus();
  };
  const close = (refocus = true) => {
    list.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (refocus) button.focus();
  };
  button.addEventListener("click", () => (list.hidden ? open() : close()));
  button.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") {
      e.preventDefault();
      open();
    }
  });
  list.addEventListener("keydown", (e) => {
    const live = enabled();
    const i = live.indexOf(document.activeElement);
    if (e.key === "Escape") {
      e.preventDefault();
      close();
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const next = live[(i + (e.key === "ArrowDown" ? 1 : live.length - 1)) % live.length];
      if (next) next.focus();
    } else if (e.key === "Tab") {
      close(false);
    }
  });
  const wrap = h("div", { class: "menu-wrap" }, button, list);
  wrap.addEventListener("focusout", (e) => {
    if (!list.hidden && !wrap.contains(e.relatedTarget)) close(false);
  });
  return wrap;
}

const refundStatuses = [
  ["", "Any"],
  ["pending", "Pending"],
  ["processing", "Processing"],
  ["succeeded", "Succeeded"],
  ["failed", "Failed"],
  ["manual", "Manual (pay by hand)"],
];

function refundsSection(signal, failuresChanged) {
  const state = { status: "failed", page: 1 };
  const status = field("Refund status", select(refundStatuses, "failed", "refund-status"));
  const titleId = nextId("refunds");
  const form = h("form", { class: "inline-fields", "aria-label": "Filter refunds", novalidate: true }, status.wrap, h("button", { type: "submit", text: "Show refunds" }));
  const listError = h("p", { class: "error", "aria-live": "polite" });
  // Manual refunds wait for an operator whatever the filter shows: say so.
  const manualNote = h("p", { id: "manual-refunds", "aria-live": "polite" });
  const area = h("div");
  const el = h(
    "section",
    { "aria-labelledby": titleId },
    h("h2", { id: titleId, text: "Refunds" }),
    h("p", {
      class: "hint",
      text:
        "Refunds the gateway refused are retried with backoff, at most 10 times; “Retry now” makes one attempt at once. Processing ones wait for the provider's word. " +
        "Manual ones the provider can never make: pay the client by hand, then “Settle manually” records it with a note.",
    }),
    h("div", { class: "panel" }, form),
    manualNote,
    listError,
    area,
  );
  const show = (value) => {
    status.input.value = value;
    state.status = value;
    state.page = 1;
    load();
  };
  const countManual = async () => {
    if (state.status === "manual") {
      manualNote.replaceChildren();
      return;
    }
    let list;
    try {
      list = await call("GET", "/api/internal/refunds" + query({ status: "manual", page_size: 1 }), undefined, { signal });
    } catch (err) {
      if (err.name !== "AbortError") manualNote.replaceChildren();
      return;
    }
    if (list.total === 0) {
      manualNote.replaceChildren();
      return;
    }
    const noun = list.total === 1 ? "1 refund waits" : `${list.total} refunds wait`;
    manualNote.replaceChildren(
      h("span", { class: "badge bad", text: `${noun} to be paid by hand` }),
      " ",
      h("button", { type: "button", class: "secondary small", text: "Show manual refunds", on: { click: () => show("manual") } }),
    );
  };
  const changed = async () => {
    await load();
    await failuresChanged();
  };
  const load = async () => {
    listError.textContent = "";
    let list;
    try {
      list = await call("GET", "/api/internal/refunds" + query({ status: state.status, page: state.page, page_size: 20 }), undefined, { signal });
    } catch (err) {
      if (err.name === "AbortError") return;
      listError.textContent = describe(err);
      return;
    }
    const body = h("tbody");
    for (const r of list.items) body.append(refundRow(r, changed));
    if (list.items.length === 0) body.append(h("tr", {}, h("td", { colspan: "8", class: "muted", text: "No refund matches." })));
    area.replaceChildren(
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "refund-table" },
          h("caption", { class: "sr-only", text: "Refunds, newest first" }),
          h(
            "thead",
            {},
            h("tr", {}, ...["Created", "Amount", "Reason", "Status", "Attempts", "Next attempt", "Details", "Action"].map((t) => h("th", { scope: "col", text: t }))),
          ),
          body,
        ),
      ),
      pager(list, "refunds", (p) => {
        state.page = p;
        load();
      }),
    );
    await countManual();
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    show(status.input.value);
  });
  return { el, load };
}

const refundBadge = { failed: "bad", manual: "bad", succeeded: "yes" };

// refundRow is one refund: "Retry now" while the gateway may still make it (pending,
// failed), "Settle manually…" when it never will (manual).
function refundRow(r, changed) {
  const rowStatus = h("span", { "aria-live": "polite" });
  const what = `the refund of ${money(r.amount, r.currency)} from ${time(r.created_at)}`;
  const fail = (err) => {
    rowStatus.className = "error";
    rowStatus.textContent = describe(err);
  };
  let action = null;
  if (r.status === "pending" || r.status === "failed") {
    action = h("button", { type: "button", class: "small", text: "Retry now", "aria-label": `Retry ${what}` });
    action.addEventListener("click", async () => {
      let res;
      try {
        res = await call("POST", `/api/internal/refunds/${r.id}/retry`);
      } catch (err) {
        fail(err);
        return;
      }
      announce(res.status === "succeeded" ? "Refund went through." : `Refund ${res.status}.`);
      await changed();
    });
  } else if (r.status === "manual") {
    action = h("button", { type: "button", class: "small", text: "Settle manually…", "aria-label": `Settle manually ${what}` });
    action.addEventListener("click", async () => {
      let failure = null;
      const note = await promptText({
        title: "Settle the refund by hand",
        message:
          `The payment provider cannot make this refund of ${money(r.amount, r.currency)}` +
          (r.last_error ? ` (${r.last_error})` : "") +
          ". Pay it to the client by hand first: recording it marks it succeeded, for good. The note says how it was paid.",
        label: "Note",
        maxLength: 500,
        confirmLabel: "Record as paid",
        check: async (value) => {
          if (!value.trim()) return "Say how the refund was paid, for example the bank transfer's reference.";
          try {
            await call("POST", `/api/internal/refunds/${r.id}/settle-manually`, { note: value });
          } catch (err) {
            failure = err;
            return describe(err);
          }
          return "";
        },
      });
      if (note === null) {
        if (failure) await changed(); // it may have changed meanwhile (409): show it as it is
        return;
      }
      announce("Refund recorded as paid by hand.");
      await changed();
    });
  }
  if (action) writes.lock(action);
  const details = r.note ? `Paid by hand: ${r.note}` : r.last_error || "";
  return h(
    "tr",
    { "data-id": r.id, "data-status": r.status },
    h("td", { text: time(r.created_at) }),
    h("td", { class: "num", text: money(r.amount, r.currency) }),
    h("td", { text: human(r.reason) }),
    h("td", {}, h("span", { class: "badge " + (refundBadge[r.status] || "no"), text: r.status })),
    h("td", { class: "num", text: String(r.attempts) }),
    h("td", { text: time(r.next_attempt_at) }),
    h("td", { text: details }),
    h("td", {}, action, rowStatus),
  );
}

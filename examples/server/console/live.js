// Live: the clients waiting now (for a mitra, or for their own payment), the client
// waiting longest on top, and the chats running, the one ending soonest on top; "End
// chat…" ends one with the refund the operator chooses (support). Both lists are read
// again every 2 s without a reload, and ages and time left count every second between.
// Rows are kept and updated in place, so that a control keeps the focus.

import { ApiError, call, query } from "./api.js";
import { describe, duration, field, formDialog, h, human, keyedRows, money, nextId, pagerArea, permission, select, showError, time, wait } from "./ui.js";

export const title = "Live";

const POLL_MS = 2000;
const PAGE_SIZE = 20;

const statuses = [
  ["", "Any"],
  ["searching", "Searching"],
  ["queued", "Queued"],
  ["targeted_waiting", "Targeted: waiting for the mitra"],
  ["targeted_unavailable", "Targeted: mitra unavailable"],
  ["awaiting_payment", "Awaiting payment"],
];

const statusText = Object.fromEntries(statuses.filter(([v]) => v));
// routingText names a routing step's match (SPEC §26) on a waiting blast.
const routingText = { all: "every preference", language: "language" };

// refunds are the choices of "End chat…", as the API names them.
const refunds = [
  ["none", "No refund", "The client keeps nothing back."],
  ["unused", "Refund the unused time", "The minutes not chatted yet, in proportion to the price paid."],
  ["full", "Refund in full", "Everything the client paid for this chat."],
];

// setText changes a node's text only when it differs (a focused link inside stays).
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

export async function mount(root, signal) {
  const writes = permission("support", "ending chats");
  const state = { status: "" };
  const updated = h("p", { class: "live", id: "live-updated", text: "Loading…" });
  const problem = h("p", { class: "error", id: "live-error", "aria-live": "polite" });
  // What the operator's last action did (its row may be gone by then).
  const notice = h("p", { class: "status-ok", id: "live-notice", "aria-live": "polite" });
  const waiting = waitingSection(state, signal);
  const chats = chatsSection(writes, signal, () => refresh(), (text) => {
    notice.textContent = text;
  });
  root.append(
    h("h1", { text: "Live" }),
    writes.note,
    h("p", { class: "hint", text: "Who is waiting and which chats are running, read again every 2 s. Ages and time left are the server's, counted on here every second." }),
    updated,
    problem,
    notice,
    waiting.el,
    chats.el,
  );

  let failing = false;
  const refresh = async () => {
    try {
      await Promise.all([waiting.load(), chats.load()]);
    } catch (err) {
      if (signal.aborted || (err && err.name === "AbortError")) return;
      if (err instanceof ApiError && err.status === 401) return;
      failing = true;
      updated.classList.remove("on");
      problem.textContent = `Could not update: ${describe(err)}. Retrying every 2 s.`;
      return;
    }
    if (failing) problem.textContent = "";
    failing = false;
    updated.classList.add("on");
    updated.textContent = `Live · updated ${new Date().toLocaleTimeString("en-GB")}`;
  };
  waiting.onFilter(refresh);

  await refresh();
  // Counting between two reads, and reading again every 2 s, until the page is left.
  const ticker = setInterval(() => {
    waiting.tick();
    chats.tick();
  }, 1000);
  signal.addEventListener("abort", () => clearInterval(ticker), { once: true });
  (async () => {
    while (!signal.aborted) {
      await wait(POLL_MS, signal);
      if (signal.aborted) return;
      await refresh();
    }
  })();
}

function waitingSection(state, signal) {
  const titleId = nextId("waiting");
  const status = field("Waiting in", select(statuses, "", "live-status"));
  const form = h(
    "form",
    { class: "inline-fields", "aria-label": "Filter the waiting pairings", novalidate: true },
    status.wrap,
    h("button", { type: "submit", text: "Apply filter" }),
  );
  const count = h("span", { class: "muted", id: "waiting-count" });
  const body = h("tbody");
  const emptyRow = h("tr", {}, h("td", { colspan: "7", class: "muted", text: "Nobody is waiting." }));
  let page = 1;
  let onFilter = () => {};
  const pages = pagerArea("waiting pairings", (p) => {
    page = p;
    onFilter();
  });
  const rows = keyedRows(body, emptyRow, waitingRow);
  const el = h(
    "section",
    { "aria-labelledby": titleId },
    h("h2", { id: titleId }, "Waiting ", count),
    h("div", { class: "panel" }, form),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { id: "waiting-table" },
        h("caption", { class: "sr-only", text: "Waiting pairings, the longest wait first" }),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ...["Waiting for", "Client", "Status", "Type", "Minutes", "Offers so far", "Payment"].map((t) =>
              h("th", { scope: "col", class: t === "Minutes" || t === "Offers so far" || t === "Waiting for" ? "num" : "", text: t }),
            ),
          ),
        ),
        body,
      ),
    ),
    pages.el,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    showError(status, null);
    state.status = status.input.value;
    page = 1;
    onFilter();
  });
  status.input.addEventListener("change", () => {
    state.status = status.input.value;
    page = 1;
    onFilter();
  });
  // A filter applied while a read is under way reads again: only the latest read shows.
  let reads = 0;
  const load = async () => {
    const read = ++reads;
    let list;
    try {
      list = await call("GET", "/api/internal/pairings" + query({ status: state.status, page, page_size: PAGE_SIZE }), undefined, { signal });
    } catch (err) {
      if (err.field === "status") {
        showError(status, err);
        return;
      }
      throw err;
    }
    if (read !== reads) return;
    setText(count, `(${list.total})`);
    rows.set(list.items);
    pages.set(list);
  };
  return {
    el,
    load,
    tick: rows.tick,
    onFilter: (fn) => {
      onFilter = fn;
    },
  };
}

// waitingRow is one waiting pairing; its age counts up from the server's, read at
// loadedAt.
function waitingRow(p) {
  let item = p;
  let loadedAt = performance.now();
  const age = h("td", { class: "num age" });
  const clientLink = h("a", { href: `#/clients/${encodeURIComponent(p.client_id)}` });
  const statusBadge = h("span", { class: "badge" });
  const type = h("td");
  const minutes = h("td", { class: "num" });
  const offers = h("td", { class: "num offers" });
  const payment = h("td");
  const tr = h("tr", { "data-id": p.id, "data-client-id": p.client_id }, age, h("th", { scope: "row" }, clientLink), h("td", {}, statusBadge), type, minutes, offers, payment);
  let paymentShown = null;
  const tick = () => setText(age, duration(item.age_seconds + (performance.now() - loadedAt) / 1000));
  const update = (next) => {
    item = next;
    loadedAt = performance.now();
    tr.dataset.status = next.status;
    setText(clientLink, next.client_name || next.client_id);
    setText(statusBadge, statusText[next.status] || human(next.status));
    statusBadge.className = "badge " + (next.status === "targeted_unavailable" ? "bad" : next.status === "searching" ? "yes" : "no");
    setText(type, next.type === "targeted" ? "Targeted (Curhat lagi)" : human(next.type) + (next.routing_match && next.routing_match !== "any" ? ` · routed: ${routingText[next.routing_match] || next.routing_match}` : ""));
    setText(minutes, String(next.minutes));
    setText(offers, String(next.offers_sent));
    if (paymentShown !== (next.payment_id || "")) {
      paymentShown = next.payment_id || "";
      payment.replaceChildren(
        next.payment_id ? h("a", { href: `#/payments/${encodeURIComponent(next.payment_id)}`, "aria-label": `Payment of ${next.client_name}` }, "Payment") : h("span", { class: "muted", text: "—" }),
      );
    }
    tick();
  };
  update(p);
  return { tr, update, tick };
}

function chatsSection(writes, signal, changed, said) {
  const titleId = nextId("chats");
  const count = h("span", { class: "muted", id: "chats-count" });
  const body = h("tbody");
  const emptyRow = h("tr", {}, h("td", { colspan: "7", class: "muted", text: "No chat is running." }));
  let page = 1;
  const pages = pagerArea("active chats", (p) => {
    page = p;
    changed();
  });
  const heading = h("h2", { id: titleId, tabindex: "-1" }, "Active chats ", count);
  // After an end, the list is read again without the chat: the focus goes to the list's
  // heading rather than nowhere.
  const ended = async (text) => {
    said(text);
    await changed();
    if (!document.activeElement || document.activeElement === document.body) heading.focus();
  };
  const rows = keyedRows(body, emptyRow, (s) => chatRow(s, writes, ended));
  const el = h(
    "section",
    { "aria-labelledby": titleId },
    heading,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { id: "chat-table" },
        h("caption", { class: "sr-only", text: "Active chats, the one ending soonest first" }),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ...["Client", "Mitra", "Minutes", "Started", "Ends at", "Time left", "Actions"].map((t) =>
              h("th", { scope: "col", class: t === "Minutes" || t === "Time left" ? "num" : "", text: t }),
            ),
          ),
        ),
        body,
      ),
    ),
    pages.el,
  );
  let reads = 0;
  const load = async () => {
    const read = ++reads;
    const list = await call("GET", "/api/internal/chat-sessions" + query({ status: "active", page, page_size: PAGE_SIZE }), undefined, { signal });
    if (read !== reads) return; // a later read (after an end, a page) shows instead
    setText(count, `(${list.total})`);
    rows.set(list.items);
    pages.set(list);
  };
  return { el, load, tick: rows.tick };
}

// chatRow is one running chat; its time left counts down from the server's, read at
// loadedAt.
function chatRow(s, writes, ended) {
  let item = s;
  let loadedAt = performance.now();
  const clientLink = h("a", { href: `#/clients/${encodeURIComponent(s.client_id)}` });
  const mitra = h("td");
  const minutes = h("td", { class: "num" });
  const started = h("td");
  const ends = h("td");
  const left = h("td", { class: "num time-left" });
  const status = h("span", { "aria-live": "polite" });
  const end = h("button", { type: "button", class: "danger small", text: "End chat…" });
  writes.lock(end);
  const tr = h("tr", { "data-id": s.id }, h("th", { scope: "row" }, clientLink), mitra, minutes, started, ends, left, h("td", {}, h("div", { class: "actions" }, end, status)));
  const secondsLeft = () => Math.max(0, item.seconds_left - (performance.now() - loadedAt) / 1000);
  const tick = () => setText(left, secondsLeft() > 0 ? duration(secondsLeft()) : "ending…");
  const update = (next) => {
    item = next;
    loadedAt = performance.now();
    setText(clientLink, next.client_name || next.client_id);
    setText(mitra, next.mitra_name || next.mitra_id);
    setText(minutes, String(next.minutes));
    setText(started, time(next.started_at));
    setText(ends, time(next.ends_at));
    end.setAttribute("aria-label", `End chat of ${next.client_name} with ${next.mitra_name}`);
    tick();
  };
  end.addEventListener("click", async () => {
    status.className = "";
    status.textContent = "";
    const text = await endChatDialog(item, duration(secondsLeft()));
    if (text) await ended(text);
  });
  update(s);
  return { tr, update, tick };
}

// endChatDialog asks why and what to refund, then ends the chat; it resolves to the
// sentence announcing it, or "" when cancelled.
async function endChatDialog(s, left) {
  const reason = field("Reason", h("textarea", { maxlength: "500", id: "end-reason" }), { hint: "Kept in the audit with your name." });
  const groupName = nextId("refund");
  const refundError = h("p", { class: "error", id: groupName + "-error", "aria-live": "polite" });
  const choices = refunds.map(([value, label, hint]) => {
    const input = h("input", { type: "radio", name: groupName, value, id: `${groupName}-${value}`, "aria-describedby": `${groupName}-${value}-hint` });
    return h(
      "div",
      { class: "check" },
      input,
      h("label", { for: input.id, text: label }),
      h("span", { class: "hint", id: `${groupName}-${value}-hint`, text: hint }),
    );
  });
  const fieldset = h("fieldset", { "aria-describedby": refundError.id }, h("legend", { text: "Refund to the client" }), ...choices, refundError);
  const formError = h("p", { class: "error", role: "alert" });
  let answer = "";
  const ok = await formDialog({
    title: "End this chat?",
    id: "end-chat-dialog",
    confirmLabel: "End chat",
    danger: true,
    content: [
      h("p", {
        text: `${s.client_name} with ${s.mitra_name}, ${s.minutes} min, ${left} left. Ending it closes the chat for both at once; it cannot be undone.`,
      }),
      reason.wrap,
      fieldset,
      formError,
    ],
    submit: async () => {
      showError(reason, null);
      refundError.textContent = "";
      formError.textContent = "";
      const picked = fieldset.querySelector("input:checked");
      if (!reason.input.value.trim()) {
        showError(reason, { message: "Say why the chat is ended." });
        reason.input.focus();
        return false;
      }
      if (!picked) {
        refundError.textContent = "Choose what to refund.";
        fieldset.querySelector("input").focus();
        return false;
      }
      let res;
      try {
        res = await call("POST", `/api/internal/chat-sessions/${s.id}/end`, { reason: reason.input.value, refund: picked.value });
      } catch (err) {
        if (err.field === "reason") showError(reason, err);
        else if (err.field === "refund") refundError.textContent = describe(err);
        else formError.textContent = describe(err);
        return false;
      }
      // The answer: {chat_session, refunds}, the refunds as they stand once sent.
      const back = (res && res.refunds) || [];
      const total = back.reduce((sum, r) => sum + r.amount, 0);
      answer = back.length
        ? `Chat of ${s.client_name} with ${s.mitra_name} ended; ${money(total, back[0].currency)} refunded (${back.map((r) => human(r.status)).join(", ")}).`
        : `Chat of ${s.client_name} with ${s.mitra_name} ended; nothing refunded.`;
      return true;
    },
  });
  return ok ? answer : "";
}

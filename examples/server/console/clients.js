// Clients: search by name or id, pages; a client's own page (#/clients/<id>) with their
// details, what they wait for now (each pairing with the offers made so far), their open
// chats, their timeline (with links to its payments), and Suspend / Reinstate after a
// confirmation (support).

import { call, query } from "./api.js";
import { announce, badge, confirm, describe, duration, field, h, human, pager, permission, showError, time } from "./ui.js";
import { timelineList } from "./timeline.js";

export const title = "Clients";

const PAGE_SIZE = 20;

// The columns whose numbers are right-aligned.
const numeric = new Set(["Minutes", "Waiting for", "Offers so far", "Time left"]);

const waitingText = {
  searching: "Searching",
  queued: "Queued",
  targeted_waiting: "Targeted: waiting for the mitra",
  targeted_unavailable: "Targeted: mitra unavailable",
  awaiting_payment: "Awaiting payment",
};

export async function mount(root, signal, param) {
  if (param) return clientPage(root, signal, param);
  return listPage(root, signal);
}

async function listPage(root, signal) {
  const state = { q: "", page: 1 };
  const q = field("Name or id", h("input", { type: "search", class: "medium", id: "client-search", spellcheck: "false", autocomplete: "off" }), {
    hint: "Part of the name, any case; or the whole id",
  });
  const form = h(
    "form",
    { class: "panel", role: "search", "aria-label": "Search clients", novalidate: true },
    h("div", { class: "inline-fields" }, q.wrap, h("button", { type: "submit", text: "Search" })),
  );
  const listError = h("p", { class: "error", id: "client-list-error", "aria-live": "polite" });
  const area = h("div");
  root.append(h("h1", { text: "Clients" }), form, listError, area);

  const load = async () => {
    listError.textContent = "";
    showError(q, null);
    let list;
    try {
      list = await call("GET", "/api/internal/clients" + query({ q: state.q, page: state.page, page_size: PAGE_SIZE }), undefined, { signal });
    } catch (err) {
      if (err.name === "AbortError") return;
      if (err.field === "q") showError(q, err);
      else listError.textContent = describe(err);
      return;
    }
    const body = h("tbody");
    for (const c of list.items) {
      body.append(
        h(
          "tr",
          { "data-id": c.id, class: c.is_active === false ? "inactive" : "" },
          h("th", { scope: "row" }, h("a", { href: `#/clients/${encodeURIComponent(c.id)}`, text: c.display_name })),
          h("td", {}, statusBadge(c)),
          h("td", { text: time(c.created_at) }),
          h("td", {}, h("code", { class: "id", text: c.id })),
        ),
      );
    }
    if (list.items.length === 0) body.append(h("tr", {}, h("td", { colspan: "4", class: "muted", text: "No client matches." })));
    area.replaceChildren(
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "client-table" },
          h("caption", { text: "Clients, newest first" }),
          h("thead", {}, h("tr", {}, ...["Name", "Account", "Created", "Id"].map((t) => h("th", { scope: "col", text: t })))),
          body,
        ),
      ),
      pager(list, "clients", (p) => {
        state.page = p;
        load();
      }),
    );
  };

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    state.q = q.input.value.trim();
    state.page = 1;
    load();
  });
  await load();
}

function statusBadge(c) {
  return c.is_active === false ? h("span", { class: "badge bad", text: "suspended" }) : badge(true, "active", "");
}

async function clientPage(root, signal, id) {
  const writes = permission("support", "suspending and reinstating clients");
  const back = h("p", {}, h("a", { href: "#/clients", text: "← All clients" }));
  const heading = h("h1", { text: "Client" });
  const pageError = h("p", { class: "error", id: "client-error", "aria-live": "polite" });
  const area = h("div", { id: "client-area" });
  root.append(back, heading, writes.note, pageError, area);

  const load = async () => {
    pageError.textContent = "";
    let overview;
    let timeline;
    try {
      [overview, timeline] = await Promise.all([
        call("GET", `/api/internal/clients/${encodeURIComponent(id)}`, undefined, { signal }),
        call("GET", `/api/internal/clients/${encodeURIComponent(id)}/timeline`, undefined, { signal }),
      ]);
    } catch (err) {
      if (err.name === "AbortError") return;
      pageError.textContent = describe(err);
      return;
    }
    const c = overview.client;
    heading.textContent = c.display_name;
    area.replaceChildren(
      detailsSection(c, overview, writes, load),
      waitingSection(overview.waiting_pairings || []),
      chatsSection(overview.open_chat_sessions || []),
      h(
        "section",
        { "aria-labelledby": "client-timeline-title" },
        h("h2", { id: "client-timeline-title", text: "Timeline, oldest first" }),
        timelineList(timeline.items || [], { current: c.id, id: "client-timeline" }),
      ),
    );
  };
  await load();
}

function detailsSection(c, overview, writes, reload) {
  const dl = h("dl", { class: "facts", id: "client-facts" });
  for (const [k, v] of [
    ["Id", h("code", { class: "id", text: c.id })],
    ["Account", statusBadge(c)],
    ["Created", time(c.created_at)],
    ["Chats", overview.chat_sessions === undefined ? "—" : `${overview.chat_sessions} (${overview.chat_sessions_completed} completed)`],
  ]) {
    dl.append(h("div", {}, h("dt", { text: k }), h("dd", {}, v)));
  }
  const suspended = c.is_active === false;
  const toggle = h("button", {
    type: "button",
    class: suspended ? "secondary" : "danger",
    text: suspended ? "Reinstate…" : "Suspend…",
    "aria-label": `${suspended ? "Reinstate" : "Suspend"} ${c.display_name}…`,
  });
  const status = h("p", { class: "status-ok", id: "client-status", "aria-live": "polite" });
  writes.lock(toggle);
  toggle.addEventListener("click", async () => {
    const ok = await confirm({
      title: suspended ? `Reinstate ${c.display_name}?` : `Suspend ${c.display_name}?`,
      message: suspended
        ? "They can use the app again once they sign in anew; the tokens the suspension revoked stay revoked."
        : "They are signed out at once everywhere and cannot start a chat until reinstated. A chat already running goes on: end it on the Live page if it must stop.",
      confirmLabel: suspended ? "Reinstate" : "Suspend",
      danger: !suspended,
    });
    if (!ok) return;
    try {
      await call("PATCH", `/api/internal/clients/${encodeURIComponent(c.id)}/status`, { is_active: suspended });
    } catch (err) {
      status.className = "error";
      status.textContent = describe(err);
      return;
    }
    announce(`${c.display_name} ${suspended ? "reinstated" : "suspended"}.`);
    await reload();
    document.querySelector("#client-area section button")?.focus();
  });
  return h(
    "section",
    { class: "panel", "aria-labelledby": "client-details-title" },
    h("h2", { id: "client-details-title", text: "Details" }),
    dl,
    h("div", { class: "actions" }, toggle),
    status,
  );
}

function waitingSection(items) {
  const body = h("tbody");
  for (const p of items) {
    body.append(
      h(
        "tr",
        { "data-id": p.id, "data-status": p.status },
        h("th", { scope: "row", text: waitingText[p.status] || human(p.status) }),
        h("td", { text: p.type === "targeted" ? "Targeted (Curhat lagi)" : human(p.type) }),
        h("td", { class: "num", text: String(p.minutes) }),
        h("td", { class: "num", text: duration(p.age_seconds) }),
        h("td", { class: "num offers", text: String(p.offers_sent) }),
        h("td", {}, p.payment_id ? h("a", { href: `#/payments/${encodeURIComponent(p.payment_id)}`, text: "Payment" }) : h("span", { class: "muted", text: "—" })),
      ),
    );
  }
  if (items.length === 0) body.append(h("tr", {}, h("td", { colspan: "6", class: "muted", text: "Not waiting for anything." })));
  return h(
    "section",
    { "aria-labelledby": "client-waiting-title" },
    h("h2", { id: "client-waiting-title", text: "Waiting now" }),
    h("p", { class: "hint", text: "As it was when this page was read; the Live page follows every waiting client." }),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { id: "client-waiting" },
        h("caption", { class: "sr-only", text: "The client's waiting pairings" }),
        h(
          "thead",
          {},
          h("tr", {}, ...["Status", "Type", "Minutes", "Waiting for", "Offers so far", "Payment"].map((t) => h("th", { scope: "col", class: numeric.has(t) ? "num" : "", text: t }))),
        ),
        body,
      ),
    ),
  );
}

function chatsSection(items) {
  const body = h("tbody");
  for (const s of items) {
    body.append(
      h(
        "tr",
        { "data-id": s.id, "data-status": s.status },
        h("th", { scope: "row", text: s.mitra_name || s.mitra_id }),
        h("td", { text: s.status === "pending_payment" ? "waiting for the payment" : human(s.status) }),
        h("td", { class: "num", text: String(s.minutes) }),
        h("td", { text: time(s.ends_at) }),
        h("td", { class: "num", text: s.ends_at ? duration(s.seconds_left) : "—" }),
      ),
    );
  }
  if (items.length === 0) body.append(h("tr", {}, h("td", { colspan: "5", class: "muted", text: "No open chat." })));
  return h(
    "section",
    { "aria-labelledby": "client-chats-title" },
    h("h2", { id: "client-chats-title", text: "Open chats" }),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { id: "client-chats" },
        h("caption", { class: "sr-only", text: "The client's open chats" }),
        h("thead", {}, h("tr", {}, ...["Mitra", "Status", "Minutes", "Ends at", "Time left"].map((t) => h("th", { scope: "col", class: numeric.has(t) ? "num" : "", text: t })))),
        body,
      ),
    ),
    h("p", { class: "hint" }, "To end one, use the ", h("a", { href: "#/live", text: "Live page" }), "."),
  );
}

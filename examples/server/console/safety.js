// Safety: the safety alerts (a client's message matched a crisis term), newest first and
// updated live from the operators' event stream (safety_alert) without a reload, each
// acknowledged by support; and the reports queue (open first by due date, overdue ones
// marked), with the reported session's messages (a read that is audited) and "Resolve…"
// (an outcome, a note, a confirmation). Viewers read; acknowledging, reading messages and
// resolving need support. Rows are kept and updated in place, so that a control keeps
// the focus while the list changes.

import { call, query } from "./api.js";
import { announce, describe, field, followEvents, formDialog, h, human, keyedRows, nextId, operatorLabel, pagerArea, permission, select, showError, time, timeSeconds } from "./ui.js";

export const title = "Safety";

const ALERT_PAGE_SIZE = 20;
const REPORT_PAGE_SIZE = 20;
// A page of a session's messages (the API allows 1..500).
const TRANSCRIPT_LIMIT = 100;
// While the event stream cannot be had, the alerts are read again this often, and the
// stream tried again after RETRY_MS.
const POLL_MS = 5000;
const RETRY_MS = 15000;

const alertStatuses = [
  ["open", "Open"],
  ["acknowledged", "Acknowledged"],
];

const reportStatuses = [
  ["open", "Open, the earliest due first"],
  ["resolved", "Resolved, the latest first"],
];

const reasonText = {
  harassment: "Harassment",
  inappropriate: "Inappropriate content",
  spam: "Spam",
  safety: "Feels unsafe",
  other: "Other",
};

// The outcomes of "Resolve…", as the API names them; `fits` leaves out those that do not
// apply to the reported party (the API refuses them too).
const outcomes = [
  { value: "no_action", label: () => "No action", hint: "Nothing is done to anyone; the report is closed with your note." },
  {
    value: "warned",
    label: (r) => `Warn the ${r.reported}`,
    hint: "The reported party is sent your note as a warning, at once, and its warnings count grows by one.",
  },
  {
    value: "mitra_deactivated",
    fits: (r) => r.reported === "mitra",
    label: () => "Deactivate the mitra",
    hint: "The mitra goes offline and is signed out everywhere; its running chats end. An operator can reactivate it on the Mitras page.",
  },
  {
    value: "client_suspended",
    fits: (r) => r.reported === "client",
    label: () => "Suspend the client",
    hint: "The client is signed out everywhere and starts no chat until reinstated on the client's page.",
  },
  {
    value: "refunded",
    label: () => "Refund the client",
    hint: "The client gets back in full what is left of what they paid for this session; a session still running ends.",
  },
];

const outcomeText = {
  no_action: "No action",
  warned: "Warned",
  mitra_deactivated: "Mitra deactivated",
  client_suspended: "Client suspended",
  refunded: "Refunded",
};

// put replaces an element's children with the given nodes, leaving out the absent ones
// (null, false).
function put(el, ...nodes) {
  el.replaceChildren(...nodes.filter(Boolean));
}

// setText changes a node's text only when it differs.
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

const aborted = (signal, err) => signal.aborted || (err && err.name === "AbortError");

export async function mount(root, signal) {
  const writes = permission("support", "acknowledging alerts, reading a session's messages and resolving reports");
  const names = nameBook(signal);
  const live = h("p", { class: "live", id: "safety-live", text: "Connecting…" });
  // What the operator's last action did (its row may be gone by then).
  const notice = h("p", { class: "status-ok", id: "safety-notice", "aria-live": "polite" });
  const alerts = alertsSection(writes, names, signal, (text) => setText(notice, text));
  const reports = reportsSection(writes, names, signal, (text) => setText(notice, text));
  root.append(
    h("h1", { text: "Safety" }),
    writes.note,
    h("p", {
      class: "hint",
      text: "Alerts raised by clients' messages that matched a crisis term, as they happen, and the reports clients and mitras filed about each other.",
    }),
    live,
    notice,
    alerts.el,
    reports.el,
  );
  await Promise.all([alerts.load(), reports.load()]);
  follow(signal, live, alerts);
}

// follow keeps the alerts current until signal aborts: the operators' event stream while
// it can be had (a safety_alert event puts the alert on top at once), reading the list
// again every 5 s while it cannot.
function follow(signal, live, alerts) {
  return followEvents({
    signal, live, pollMs: POLL_MS, retryMs: RETRY_MS, failText: "Cannot read the alerts; retrying",
    // An alert raised before the stream opened has no event here: read them once.
    onOpen: () => alerts.load(),
    onEvent: (kind, e) => {
      if (kind === "safety_alert" && e && e.data) alerts.arrived(e.data);
    },
    poll: async () => {
      if (!(await alerts.load()) && !signal.aborted) throw new Error("the alerts could not be read");
    },
  });
}

// nameBook looks up the display names of clients and mitras, once each while the page is
// shown; a name that cannot be read is "" (the id shows instead).
function nameBook(signal) {
  const cache = new Map();
  return (kind, id) => {
    const key = `${kind}:${id}`;
    if (!cache.has(key)) {
      const path = kind === "mitra" ? `/api/internal/mitras/${encodeURIComponent(id)}` : `/api/internal/clients/${encodeURIComponent(id)}`;
      cache.set(
        key,
        call("GET", path, undefined, { signal }).then(
          (d) => (kind === "mitra" ? d && d.display_name : d && d.client && d.client.display_name) || "",
          () => "",
        ),
      );
    }
    return cache.get(key);
  };
}

// partyName shows a client or a mitra by name once known (by id until then): a client
// links to the client's page. whenNamed(name) runs once the name is known.
function partyName(kind, id, names, whenNamed) {
  const el = kind === "client" ? h("a", { href: `#/clients/${encodeURIComponent(id)}`, text: id }) : h("span", { text: id });
  el.classList.add("party");
  if (!id) {
    el.textContent = "—";
    return el;
  }
  names(kind, id).then((name) => {
    if (name) setText(el, name);
    if (whenNamed) whenNamed(name || id);
  });
  return el;
}

// ---- alerts ----

function alertsSection(writes, names, signal, said) {
  const state = { status: "open", page: 1 };
  const titleId = nextId("alerts");
  const count = h("span", { class: "muted", id: "alerts-count" });
  const heading = h("h2", { id: titleId, tabindex: "-1" }, "Safety alerts ", count);
  const status = field("Alerts shown", select(alertStatuses, state.status, "alert-status"));
  const form = h(
    "form",
    { class: "inline-fields", "aria-label": "Filter the safety alerts", novalidate: true },
    status.wrap,
    h("button", { type: "submit", text: "Show alerts" }),
  );
  // A new alert while another filter or page is shown: said here, with a way to it.
  const elsewhere = h("div", { id: "alerts-elsewhere", "aria-live": "polite" });
  const listError = h("p", { class: "error", id: "alerts-error", "aria-live": "polite" });
  const body = h("tbody");
  const emptyRow = h("tr", {}, h("td", { colspan: "6", class: "muted", text: "No alert." }));
  // The list as last shown: its items and numbers, kept to put an event's alert on top.
  let shown = { items: [], page: 1, page_size: ALERT_PAGE_SIZE, total: 0 };
  const fresh = new Set(); // ids that arrived by an event while the page is open
  // The alerts that arrived by events, in order: a read that started before one arrived
  // may not have it yet, and must not take it off the page.
  const arrivals = [];
  const pages = pagerArea("alerts", (p) => {
    state.page = p;
    load();
  });
  const rows = keyedRows(body, emptyRow, (a) => alertRow(a, writes, names, fresh, acknowledged));
  const el = h(
    "section",
    { "aria-labelledby": titleId, id: "alerts" },
    heading,
    h("p", { class: "hint", text: "Newest first. An alert means a client wrote something that matched a crisis term: look at the chat, then acknowledge it." }),
    h("div", { class: "panel" }, form),
    elsewhere,
    listError,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { id: "alert-table" },
        h("caption", { class: "sr-only", text: "Safety alerts, newest first" }),
        h("thead", {}, h("tr", {}, ...["When", "Client", "Chat session", "Matched", "Status", "Actions"].map((t) => h("th", { scope: "col", text: t })))),
        body,
      ),
    ),
    pages.el,
  );

  const show = (list) => {
    shown = list;
    setText(count, `(${list.total})`);
    rows.set(list.items);
    pages.set(list);
  };

  // load reads the chosen page (a filter applied meanwhile reads again: the latest
  // shows); it resolves false when the read failed (the error shows in the section).
  let reads = 0;
  const load = async () => {
    const read = ++reads;
    const since = arrivals.length;
    let list;
    try {
      list = await call("GET", "/api/internal/safety-alerts" + query({ status: state.status, page: state.page, page_size: ALERT_PAGE_SIZE }), undefined, { signal });
    } catch (err) {
      if (aborted(signal, err) || read !== reads) return true;
      if (err.field === "status") showError(status, err);
      else listError.textContent = describe(err);
      return false;
    }
    if (read !== reads) return true;
    listError.textContent = "";
    showError(status, null);
    if (state.status === "open" && state.page === 1) {
      // Alerts that arrived while the read was under way, and that it missed, stay on top.
      const missed = arrivals.slice(since).filter((a) => !list.items.some((x) => x.id === a.id));
      if (missed.length) list = { ...list, items: [...missed.reverse(), ...list.items].slice(0, ALERT_PAGE_SIZE), total: list.total + missed.length };
    }
    show(list);
    return true;
  };
  const apply = () => {
    state.status = status.input.value;
    state.page = 1;
    elsewhere.replaceChildren();
    load();
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    apply();
  });
  status.input.addEventListener("change", apply);

  // arrived puts a new alert (a safety_alert event) on top of the open alerts' first
  // page, or says so when another list is shown; either way it is announced.
  const arrived = (a) => {
    if (!a || !a.id) return;
    arrivals.push(a);
    const onTop = state.status === "open" && state.page === 1;
    if (onTop && !rows.has(a.id)) {
      fresh.add(a.id);
      const items = [a, ...shown.items.filter((x) => x.id !== a.id)].slice(0, ALERT_PAGE_SIZE);
      show({ ...shown, items, total: shown.total + 1 });
    } else if (!onTop) {
      const go = h("button", { type: "button", class: "secondary small", text: "Show the open alerts" });
      go.addEventListener("click", () => {
        status.input.value = "open";
        apply();
        heading.focus();
      });
      elsewhere.replaceChildren(h("p", { class: "conflict" }, `A new safety alert arrived at ${timeSeconds(a.created_at)}. `, go));
    }
    names("client", a.client_id).then((name) => {
      announce(`New safety alert: ${name || "a client"} wrote ${termsText(a)}.`);
    });
  };

  // acknowledged: an alert was acknowledged from its row; the list is read again (an
  // open list loses it) and the focus goes to the heading when its button left.
  async function acknowledged(text) {
    said(text);
    announce(text);
    await load();
    if (!document.activeElement || document.activeElement === document.body) heading.focus();
  }

  return { el, load, arrived };
}

function termsText(a) {
  const terms = Array.isArray(a.terms) ? a.terms : [];
  return terms.length ? terms.map((t) => `“${t}”`).join(", ") : "a crisis term";
}

// alertRow is one alert: when, the client, the session, the terms matched, its status
// and, for support, "Read messages" (the session's, the alerting message highlighted)
// and "Acknowledge".
function alertRow(a, writes, names, fresh, acknowledged) {
  let item = a;
  let clientName = a.client_name || "";
  const when = h("td", { class: "when" });
  const client = h("th", { scope: "row" }, a.client_id ? partyName("client", a.client_id, names, (name) => {
    clientName = name;
    label();
  }) : "—");
  const session = h("td", {}, h("code", { class: "id", text: a.chat_session_id || "—" }));
  const terms = h("ul", { class: "terms", "aria-label": "Terms matched" });
  const matched = h("td", {}, terms);
  const statusCell = h("td");
  const rowStatus = h("span", { "aria-live": "polite" });
  const read = h("button", { type: "button", class: "secondary small", text: "Read messages" });
  const ack = h("button", { type: "button", class: "small", text: "Acknowledge" });
  writes.lock(read, ack);
  const tr = h(
    "tr",
    { "data-id": a.id },
    when,
    client,
    session,
    matched,
    statusCell,
    h("td", {}, h("div", { class: "actions" }, read, ack, rowStatus)),
  );
  function label() {
    const who = clientName || "a client";
    const at = timeSeconds(item.created_at);
    ack.setAttribute("aria-label", `Acknowledge the alert of ${who} at ${at}`);
    read.setAttribute("aria-label", `Read the messages of the chat of ${who} alerted at ${at}`);
  }
  const update = (next) => {
    item = next;
    tr.dataset.status = next.status;
    tr.classList.toggle("new", fresh.has(next.id) && next.status === "open");
    setText(when, timeSeconds(next.created_at));
    const list = Array.isArray(next.terms) ? next.terms : [];
    const want = list.join("\n");
    if (terms.dataset.terms !== want) {
      terms.dataset.terms = want;
      terms.replaceChildren(...(list.length ? list.map((t) => h("li", {}, h("span", { class: "badge bad", text: t }))) : [h("li", { class: "muted", text: "crisis" })]));
    }
    const statusKey = `${next.status}/${next.acknowledged_at || ""}`;
    if (statusCell.dataset.key !== statusKey) {
      statusCell.dataset.key = statusKey;
      put(
        statusCell,
        next.status === "open" ? h("span", { class: "badge bad", text: "open" }) : h("span", { class: "badge yes", text: human(next.status) }),
        fresh.has(next.id) && next.status === "open" ? h("span", { class: "badge new-badge", text: "new" }) : null,
        next.acknowledged_at
          ? h("div", { class: "muted", text: `by ${next.acknowledged_by ? operatorLabel(next.acknowledged_by) : "an operator"}, ${time(next.acknowledged_at)}` })
          : null,
      );
    }
    ack.hidden = next.status !== "open";
    label();
  };
  read.addEventListener("click", () => {
    transcriptDialog({
      sessionId: item.chat_session_id,
      highlight: new Set(item.message_id ? [item.message_id] : []),
      highlightLabel: "alerted",
      names,
      intro: `The chat in which ${clientName || "the client"} wrote ${termsText(item)}, at ${timeSeconds(item.created_at)}. The message that raised the alert is marked “alerted”.`,
    });
  });
  ack.addEventListener("click", async () => {
    rowStatus.className = "";
    rowStatus.textContent = "";
    ack.disabled = true;
    try {
      await call("POST", `/api/internal/safety-alerts/${encodeURIComponent(item.id)}/ack`);
    } catch (err) {
      ack.disabled = false;
      rowStatus.className = "error";
      rowStatus.textContent = describe(err);
      return;
    }
    fresh.delete(item.id);
    await acknowledged(`Alert of ${clientName || "the client"} at ${timeSeconds(item.created_at)} acknowledged.`);
  });
  update(a);
  return { tr, update };
}

// ---- reports ----

function reportsSection(writes, names, signal, said) {
  const state = { status: "open", page: 1 };
  const titleId = nextId("reports");
  const count = h("span", { class: "muted", id: "reports-count" });
  const heading = h("h2", { id: titleId, tabindex: "-1" }, "Reports ", count);
  const status = field("Reports shown", select(reportStatuses, state.status, "report-status"));
  const form = h(
    "form",
    { class: "inline-fields", "aria-label": "Filter the reports", novalidate: true },
    status.wrap,
    h("button", { type: "submit", text: "Show reports" }),
  );
  const listError = h("p", { class: "error", id: "reports-error", "aria-live": "polite" });
  const head = h("tr");
  const body = h("tbody");
  const emptyRow = h("tr", {}, h("td", { colspan: "7", class: "muted" }));
  let rows = null;
  const pages = pagerArea("reports", (p) => {
    state.page = p;
    load();
  });
  const el = h(
    "section",
    { "aria-labelledby": titleId, id: "reports" },
    heading,
    h("p", {
      class: "hint",
      id: "reports-hint",
      text: "Open reports, the earliest due first; a report is due 72 hours after it was filed. “Read messages” shows the reported chat: every read is recorded in the Audit under your name.",
    }),
    h("div", { class: "panel" }, form),
    listError,
    h("div", { class: "table-wrap" }, h("table", { id: "report-table" }, h("caption", { class: "sr-only", text: "Reports" }), h("thead", {}, head), body)),
    pages.el,
  );
  // The table's columns follow the list shown: open reports have actions, resolved ones
  // their outcome.
  let columnsOf = "";
  const columns = (which) => {
    if (columnsOf === which) return;
    columnsOf = which;
    const last = which === "open" ? "Actions" : "Outcome";
    head.replaceChildren(...["Due", "Reason", "Reported by", "About", "Note", "Messages", last].map((t) => h("th", { scope: "col", text: t })));
    el.querySelector("caption").textContent = which === "open" ? "Open reports, the earliest due first" : "Resolved reports, the latest first";
    emptyRow.firstChild.textContent = which === "open" ? "No open report." : "No resolved report.";
    body.replaceChildren();
    rows = keyedRows(body, emptyRow, (r) => reportRow(r, writes, names, resolved));
  };

  let reads = 0;
  const load = async () => {
    const read = ++reads;
    const asked = state.status;
    let list;
    try {
      list = await call("GET", "/api/internal/reports" + query({ status: asked, page: state.page, page_size: REPORT_PAGE_SIZE }), undefined, { signal });
    } catch (err) {
      if (aborted(signal, err)) return;
      if (read !== reads) return;
      if (err.field === "status") showError(status, err);
      else listError.textContent = describe(err);
      return;
    }
    if (read !== reads) return;
    listError.textContent = "";
    showError(status, null);
    columns(asked);
    setText(count, `(${list.total}${asked === "open" ? " open" : " resolved"})`);
    rows.set(list.items);
    pages.set(list);
  };
  const apply = () => {
    state.status = status.input.value;
    state.page = 1;
    load();
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    apply();
  });
  status.input.addEventListener("change", apply);

  // resolved: a report was resolved from its dialog; the list is read again without it.
  async function resolved(text) {
    said(text);
    announce(text);
    await load();
    if (!document.activeElement || document.activeElement === document.body) heading.focus();
  }

  return { el, load };
}

// reportRow is one report: due (overdue marked), reason, who reported whom, the note, the
// messages named, and for an open one "Read messages" and "Resolve…" (support); for a
// resolved one its outcome, note, who resolved it and when.
function reportRow(r, writes, names, resolved) {
  let item = r;
  const who = { reporter: "", reported: "" };
  const due = h("td", { class: "due" });
  const reason = h("td");
  const reporter = h("th", { scope: "row" }, h("span", { class: "muted", text: `${human(r.reporter)} ` }), partyName(r.reporter, r.reporter_id, names, (name) => {
    who.reporter = name;
    label();
  }));
  const reported = h("td", {}, h("span", { class: "muted", text: `${human(r.reported)} ` }), partyName(r.reported, r.reported_id, names, (name) => {
    who.reported = name;
    label();
  }));
  const note = h("td", { class: "safety-note" });
  const messages = h("td", { class: "messages" });
  const last = h("td");
  const tr = h("tr", { "data-id": r.id, "data-session-id": r.chat_session_id }, due, reason, reporter, reported, note, messages, last);
  let read = null;
  let resolve = null;
  const rowStatus = h("span", { "aria-live": "polite" });
  if (r.status === "open") {
    read = h("button", { type: "button", class: "secondary small", text: "Read messages", "aria-describedby": "reports-hint" });
    resolve = h("button", { type: "button", class: "small", text: "Resolve…" });
    writes.lock(read, resolve);
    last.append(h("div", { class: "actions" }, read, resolve, rowStatus));
    read.addEventListener("click", () => {
      transcriptDialog({
        sessionId: item.chat_session_id,
        highlight: new Set(item.message_ids || []),
        highlightLabel: "reported",
        names,
        intro: transcriptIntro(item, who),
      });
    });
    resolve.addEventListener("click", async () => {
      rowStatus.textContent = "";
      const text = await resolveDialog(item, who);
      if (text) await resolved(text);
    });
  }
  function label() {
    if (!read) return;
    const by = who.reporter || `the ${item.reporter}`;
    const about = who.reported || `the ${item.reported}`;
    read.setAttribute("aria-label", `Read the messages of the report of ${by} about ${about}`);
    resolve.setAttribute("aria-label", `Resolve the report of ${by} about ${about}`);
  }
  let shownKey = "";
  const update = (next) => {
    item = next;
    tr.dataset.status = next.status;
    tr.classList.toggle("overdue", !!next.overdue);
    const key = JSON.stringify([next.due_at, next.overdue, next.reason, next.note, next.message_ids, next.outcome, next.resolution_note, next.resolved_at]);
    if (key === shownKey) return;
    shownKey = key;
    put(
      due,
      next.status === "open" ? h("span", { text: time(next.due_at) }) : h("span", { class: "muted", text: `was due ${time(next.due_at)}` }),
      next.overdue ? h("span", {}, " ", h("span", { class: "badge bad overdue-badge", text: "overdue" })) : null,
      h("div", { class: "muted", text: `filed ${time(next.created_at)}` }),
    );
    setText(reason, reasonText[next.reason] || human(next.reason));
    note.replaceChildren(next.note ? h("span", { text: next.note }) : h("span", { class: "muted", text: "—" }));
    const ids = next.message_ids || [];
    messages.replaceChildren(
      ids.length
        ? h(
            "details",
            {},
            h("summary", { text: ids.length === 1 ? "1 message" : `${ids.length} messages` }),
            h("ul", { class: "message-ids", "aria-label": "Ids of the messages reported" }, ...ids.map((id) => h("li", {}, h("code", { class: "id", text: id })))),
          )
        : h("span", { class: "muted", text: "none named" }),
    );
    if (next.status !== "open") {
      put(
        last,
        h("span", { class: "badge " + (next.outcome === "no_action" ? "no" : "yes"), text: outcomeText[next.outcome] || human(next.outcome) }),
        next.resolution_note ? h("div", { class: "safety-note", text: next.resolution_note }) : null,
        h("div", { class: "muted", text: `by ${next.resolved_by ? operatorLabel(next.resolved_by) : "an operator"}, ${time(next.resolved_at)}` }),
      );
    }
    label();
  };
  update(r);
  return { tr, update };
}

// transcriptIntro says whose chat a report's messages are, and which are marked.
function transcriptIntro(r, who) {
  const n = (r.message_ids || []).length;
  const marked = n === 0 ? "The report names no message." : `The ${n === 1 ? "message" : `${n} messages`} reported ${n === 1 ? "is" : "are"} marked “reported”.`;
  return `${who.reporter || `The ${r.reporter}`} (${r.reporter}) reported ${who.reported || `the ${r.reported}`} (${r.reported}) in this chat. ${marked}`;
}

// resolveDialog asks for the outcome, a note and a confirmation, then resolves the report;
// it resolves to the sentence announcing it, or "" when cancelled. The API's errors show
// in the dialog, beside what they are about.
async function resolveDialog(r, who) {
  const by = who.reporter || `the ${r.reporter}`;
  const about = who.reported || `the ${r.reported}`;
  const group = nextId("outcome");
  const outcomeError = h("p", { class: "error", id: group + "-error", "aria-live": "polite" });
  const choices = outcomes
    .filter((o) => !o.fits || o.fits(r))
    .map((o) => {
      const input = h("input", { type: "radio", name: group, value: o.value, id: `${group}-${o.value}`, "aria-describedby": `${group}-${o.value}-hint` });
      return h(
        "div",
        { class: "choice" },
        input,
        h("label", { for: input.id, text: o.label(r) }),
        h("span", { class: "hint", id: `${group}-${o.value}-hint`, text: o.hint }),
      );
    });
  const fieldset = h("fieldset", { "aria-describedby": outcomeError.id }, h("legend", { text: "Outcome" }), ...choices, outcomeError);
  const note = field("Note", h("textarea", { maxlength: "2000", id: "resolve-note" }), {
    hint: "Say what you decided and why. Kept with the report and in the Audit; a warning sends it to the reported party.",
  });
  const confirmBox = h("input", { type: "checkbox", id: "resolve-confirm" });
  const confirmError = h("p", { class: "error", id: "resolve-confirm-error", "aria-live": "polite" });
  confirmBox.setAttribute("aria-describedby", confirmError.id);
  const confirmWrap = h(
    "div",
    {},
    h("div", { class: "check" }, confirmBox, h("label", { for: confirmBox.id, text: "I confirm this outcome: it acts at once and cannot be undone." })),
    confirmError,
  );
  const formError = h("p", { class: "error", role: "alert", id: "resolve-error" });
  let answer = "";
  const ok = await formDialog({
    title: "Resolve the report",
    id: "resolve-dialog",
    confirmLabel: "Resolve report",
    content: [
      h("p", {
        text: `${reasonText[r.reason] || human(r.reason)}: reported by ${by} (${r.reporter}) about ${about} (${r.reported}), filed ${time(r.created_at)}, due ${time(r.due_at)}${r.overdue ? ", overdue" : ""}.`,
      }),
      r.note ? h("p", {}, h("span", { class: "muted", text: "Their note: " }), h("span", { class: "safety-note", text: r.note })) : null,
      fieldset,
      note.wrap,
      confirmWrap,
      formError,
    ],
    submit: async () => {
      showError(note, null);
      outcomeError.textContent = "";
      confirmError.textContent = "";
      confirmBox.removeAttribute("aria-invalid");
      formError.textContent = "";
      const picked = fieldset.querySelector("input:checked");
      if (!confirmBox.checked) {
        confirmError.textContent = "Tick the confirmation to resolve the report.";
        confirmBox.setAttribute("aria-invalid", "true");
        confirmBox.focus();
        return false;
      }
      // What was chosen and written goes to the API as it is: the API says what it needs.
      const body = { note: note.input.value };
      if (picked) body.outcome = picked.value;
      let res;
      try {
        res = await call("POST", `/api/internal/reports/${encodeURIComponent(r.id)}/resolve`, body);
      } catch (err) {
        if (err.field === "note") {
          showError(note, err);
          note.input.focus();
        } else if (err.field === "outcome") {
          outcomeError.textContent = describe(err);
          (picked || fieldset.querySelector("input")).focus();
        } else formError.textContent = describe(err);
        return false;
      }
      answer = `Report of ${by} about ${about} resolved: ${(outcomeText[res.outcome] || human(res.outcome)).toLowerCase()}.`;
      return true;
    },
  });
  return ok ? answer : "";
}

// ---- a chat session's messages ----

// transcriptDialog shows a chat session's messages, oldest first, in a modal dialog: the
// messages of highlight marked (highlightLabel), the parties by name. Each page read is
// recorded in the Audit (the dialog says so). Escape or "Close" closes it; the focus
// returns where it was.
function transcriptDialog({ sessionId, highlight, highlightLabel, names, intro }) {
  const back = document.activeElement;
  const titleId = nextId("dlg");
  const list = h("ol", { class: "transcript-list", id: "transcript", "aria-label": "Messages, oldest first", tabindex: "0" });
  const state = h("p", { class: "muted", id: "transcript-state", "aria-live": "polite", text: "Reading the messages…" });
  const error = h("p", { class: "error", role: "alert", id: "transcript-error" });
  const more = h("button", { type: "button", class: "secondary", text: "Load more messages", hidden: true });
  const close = h("button", { type: "button", text: "Close" });
  const dlg = h(
    "dialog",
    { "aria-labelledby": titleId, id: "transcript-dialog", class: "transcript" },
    h("h2", { id: titleId, text: "Messages of the chat" }),
    h("p", { text: intro }),
    h("p", { class: "audited", id: "transcript-audited", text: "Reading is audited: each read of these messages is recorded in the Audit under your name (chat_session.read_messages)." }),
    h("p", { class: "muted" }, "Chat session ", h("code", { class: "id", text: sessionId })),
    state,
    error,
    list,
    h("div", { class: "actions" }, more, close),
  );
  const controller = new AbortController();
  const done = () => {
    controller.abort();
    dlg.close();
    dlg.remove();
    if (back && back.isConnected) back.focus();
  };
  close.addEventListener("click", done);
  dlg.addEventListener("cancel", (e) => {
    e.preventDefault();
    done();
  });
  const party = { client: "the client", mitra: "the mitra" };
  let afterSeq = 0;
  let shown = 0;
  let marked = 0;
  const loadPage = async () => {
    more.disabled = true;
    error.textContent = "";
    let t;
    try {
      t = await call(
        "GET",
        `/api/internal/chat-sessions/${encodeURIComponent(sessionId)}/messages` + query({ after_seq: afterSeq || "", limit: TRANSCRIPT_LIMIT }),
        undefined,
        { signal: controller.signal },
      );
    } catch (err) {
      if (err && err.name === "AbortError") return;
      error.textContent = describe(err);
      state.textContent = "";
      more.disabled = false;
      return;
    }
    if (afterSeq === 0) {
      const named = (kind, id) =>
        id &&
        names(kind, id).then((name) => {
          if (name) {
            party[kind] = name;
            for (const el of list.querySelectorAll(`.sender-${kind}`)) setText(el, name);
          }
        });
      named("client", t.client_id);
      named("mitra", t.mitra_id);
    }
    const items = t.items || [];
    for (const m of items) {
      const hit = highlight.has(m.id);
      if (hit) marked += 1;
      const flags = (m.flags || []).filter(Boolean);
      list.append(
        h(
          "li",
          { class: [m.sender, hit ? "highlight" : ""].filter(Boolean).join(" "), "data-id": m.id, "data-seq": String(m.seq) },
          h(
            "div",
            { class: "meta" },
            h("time", { datetime: m.created_at, text: timeSeconds(m.created_at) }),
            h("strong", { class: `sender-${m.sender}`, text: party[m.sender] || human(m.sender) }),
            h("span", { class: "muted", text: `(${m.sender})` }),
            hit ? h("span", { class: "badge bad", text: highlightLabel }) : null,
            ...flags.map((f) => h("span", { class: "badge", text: `flagged ${human(f)}` })),
          ),
          h("p", { class: "text", text: m.text }),
        ),
      );
      afterSeq = Math.max(afterSeq, m.seq);
    }
    shown += items.length;
    more.hidden = items.length < TRANSCRIPT_LIMIT;
    more.disabled = false;
    const status = t.status ? `; the chat is ${human(t.status)}` : "";
    state.textContent =
      shown === 0
        ? `No message in this chat${status}.`
        : `${shown} ${shown === 1 ? "message" : "messages"} shown${highlight.size ? `, ${marked} ${highlightLabel}` : ""}${status}.`;
  };
  more.addEventListener("click", async () => {
    await loadPage();
    if (!more.hidden) more.focus();
    else close.focus();
  });
  document.body.append(dlg);
  dlg.showModal();
  close.focus();
  loadPage();
}

// Dashboard: the live counts, from the operators' event stream (fetch streaming), or by
// polling every 2 s while the stream cannot be had; and the statistics of a window (5
// minutes, an hour, a day), from the stream's stats events (at least every 5 s).

import { call, query } from "./api.js";
import { describe, duration, field, followEvents, h, money, select, time } from "./ui.js";

export const title = "Dashboard";

const POLL_MS = 2000;
const RETRY_MS = 5000;

// Statistics are read again at most this often when the stream cannot carry them.
const STATS_POLL_MS = 5000;

// The cards: the field, its name, the element's id, and what it counts when the name
// alone could be read two ways.
const counts = [
  ["online_count", "Online", "count-online"],
  ["available_count", "Available", "count-available"],
  ["busy_count", "Busy", "count-busy"],
  ["active_sessions", "Active sessions", "count-active-sessions"],
  ["pending_payments", "Pending payments", "count-pending-payments", "Payments of every purpose (chats, extensions) not paid, failed or expired yet"],
  ["awaiting_payment_sessions", "Sessions awaiting payment", "count-awaiting-payment-sessions", "Chats a mitra accepted that wait for the client's payment"],
  ["drift", "Mirror drift", "count-drift"],
  ["unsettled_payments", "Unsettled payments", "count-unsettled"],
  ["ledger_imbalance", "Ledger imbalance", "count-ledger-imbalance"],
  ["platform_revenue_today", "Platform revenue today (UTC)", "count-platform-revenue-today"],
];

function countText(d, key) {
  if (key === "drift") return driftText(d.drift);
  if (key === "platform_revenue_today") return money(d[key], "");
  return String(d[key] ?? "—");
}

function driftText(drift) {
  if (drift === null || drift === undefined) return "no mirror";
  if (drift.differences === null || drift.differences === undefined) return "check failed";
  return String(drift.differences);
}

const windows = [
  ["5m", "Last 5 minutes"],
  ["1h", "Last hour"],
  ["24h", "Last 24 hours"],
];

// The statistics of GET /api/internal/stats, in groups: the field, its name, how it
// reads (count, duration in seconds, money) and what it counts.
const statGroups = [
  [
    "Pairings",
    [
      ["paid_pairings", "Paid pairings", "count", "Paid (or started prepaid) in the window"],
      ["matched", "Matched", "count", "Found their mitra in the window"],
      ["abandoned", "Abandoned", "count", "Cancelled by the client before a match"],
      ["failed", "Failed", "count", "Ended without a mitra"],
      ["waiting_now", "Waiting now", "count", "Clients waiting for a mitra at this moment"],
      ["longest_waiting_seconds", "Longest wait now", "duration", "Of the clients waiting at this moment"],
    ],
  ],
  [
    "Speed of answer",
    [
      ["asa_seconds", "Average speed of answer", "duration", "Mean time from paid to matched"],
      ["accept_p50_seconds", "Paid to matched, median", "duration", "Half the matches were quicker"],
      ["accept_p90_seconds", "Paid to matched, 90th percentile", "duration", "9 in 10 matches were quicker"],
    ],
  ],
  [
    "Offers",
    [
      ["offers_sent", "Offers sent", "count", "Mitras offered a pairing"],
      ["offers_accepted", "Offers accepted", "count"],
      ["offers_declined", "Offers declined", "count"],
      ["offers_lapsed", "Offers lapsed", "count", "Not answered in time"],
    ],
  ],
  [
    "Chats and money",
    [
      ["sessions_active", "Chats running", "count", "At this moment"],
      ["sessions_completed", "Chats completed", "count", "Ended expired, by the client or by the mitra"],
      ["gross_paid", "Gross paid", "money", "Every payment paid in the window"],
      ["refunded", "Refunded", "money", "Refunds that went through in the window"],
    ],
  ],
];

function statText(d, key, kind) {
  const v = d[key];
  if (v === null || v === undefined) return "—";
  if (kind === "duration") return duration(v);
  if (kind === "money") return money(v, d.currency || "");
  return String(v);
}

export async function mount(root, signal) {
  const values = {};
  const cards = h("dl", { class: "cards" });
  for (const [key, label, id, hint] of counts) {
    const dd = h("dd", { id, text: "…" });
    if (key === "drift") dd.classList.add("small-value");
    values[key] = dd;
    cards.append(h("div", { class: "card" }, h("dt", { text: label }), dd, hint ? h("p", { class: "card-hint", text: hint }) : null));
  }
  const stats = statsSection(signal);
  const live = h("p", { class: "live", id: "live-state", "aria-live": "polite", text: "Connecting…" });
  const driftNote = h("p", { class: "hint", id: "drift-note" });
  const feed = h("ul", { class: "feed", id: "failure-feed", "aria-live": "polite" });
  const feedEmpty = h("p", { class: "hint", text: "Failed pairings that happen while this page is open appear here." });
  root.append(
    h("h1", { text: "Dashboard" }),
    live,
    cards,
    driftNote,
    stats.el,
    h("h2", { text: "New failed pairings" }),
    feedEmpty,
    feed,
  );

  const show = (d) => {
    for (const [key] of counts) {
      values[key].textContent = countText(d, key);
    }
    if (d.drift && d.drift.error) driftNote.textContent = d.drift.error;
    else if (d.drift && d.drift.differences) {
      driftNote.textContent = "Mirror differences by field: " + Object.entries(d.drift.by_field).map(([k, v]) => `${k} ${v}`).join(", ");
    } else if (!d.drift) driftNote.textContent = "No Valkey mirror: the server runs without one, so there is nothing to drift.";
    else driftNote.textContent = `Mirror in step with Postgres (${d.drift.mitras} mitras compared).`;
  };
  const failed = (f) => {
    feedEmpty.hidden = true;
    feed.prepend(h("li", {}, `${time(f.created_at)} · ${f.reason.replaceAll("_", " ")} · ${f.type} · ${money(f.amount, "")} · refund ${f.refund_status.replaceAll("_", " ")}`));
  };

  const [d] = await Promise.all([call("GET", "/api/internal/dashboard", undefined, { signal }), stats.load()]);
  show(d);
  follow(signal, live, show, failed, stats);
}

// statsSection shows the statistics of the window chosen: read when chosen, then from the
// stream's stats events (those of another window make it read the chosen one again, at
// most every 5 s), or read every 5 s while the stream cannot be had.
function statsSection(signal) {
  const state = { window: "1h", loadedAt: 0, loading: null };
  const win = field("Window", select(windows, state.window, "stats-window"));
  const values = {};
  const groups = [];
  for (const [group, items] of statGroups) {
    const dl = h("dl", { class: "cards" });
    for (const [key, label, kind, hint] of items) {
      const dd = h("dd", { id: "stat-" + key, text: "…" });
      values[key] = [dd, kind];
      dl.append(h("div", { class: "card" }, h("dt", { text: label }), dd, hint ? h("p", { class: "card-hint", text: hint }) : null));
    }
    groups.push(h("section", { class: "stat-group", "aria-label": group }, h("h3", { text: group }), dl));
  }
  const note = h("p", { class: "hint", id: "stats-note" });
  const error = h("p", { class: "error", id: "stats-error", "aria-live": "polite" });
  const el = h(
    "section",
    { "aria-labelledby": "stats-title", id: "stats" },
    h("div", { class: "stats-head" }, h("h2", { id: "stats-title", text: "Statistics" }), win.wrap),
    note,
    error,
    ...groups,
  );
  const show = (d) => {
    for (const [key, [dd, kind]] of Object.entries(values)) {
      const text = statText(d, key, kind);
      if (dd.textContent !== text) dd.textContent = text;
    }
    const label = windows.find(([w]) => w === state.window)[1].toLowerCase();
    note.textContent = `Counted by when it happened, ${label}; updated ${new Date().toLocaleTimeString("en-GB")}.`;
    el.dataset.window = d.window || state.window;
  };
  // load reads the chosen window's statistics (one read at a time).
  const load = async () => {
    if (state.loading) return state.loading;
    const asked = state.window;
    state.loading = (async () => {
      try {
        const d = await call("GET", "/api/internal/stats" + query({ window: asked }), undefined, { signal });
        state.loadedAt = Date.now();
        error.textContent = "";
        if (asked === state.window) show(d);
      } catch (err) {
        if (signal.aborted || (err && err.name === "AbortError")) return;
        error.textContent = `Statistics: ${describe(err)}`;
      } finally {
        state.loading = null;
      }
    })();
    await state.loading;
    if (asked !== state.window) await load(); // the window changed meanwhile
  };
  // pick finds the chosen window's statistics in a stats event: the event's own, or one of
  // the windows it carries.
  const pick = (d) => {
    if (!d || typeof d !== "object") return null;
    if (d.window === state.window) return d;
    if (d[state.window] && typeof d[state.window] === "object") return d[state.window];
    if (Array.isArray(d.windows)) return d.windows.find((x) => x && x.window === state.window) || null;
    if (d.windows && typeof d.windows === "object") return d.windows[state.window] || null;
    return null;
  };
  const event = (d) => {
    const mine = pick(d);
    if (mine) {
      state.loadedAt = Date.now();
      show(mine);
    } else if (Date.now() - state.loadedAt >= STATS_POLL_MS) load();
  };
  const poll = () => {
    if (Date.now() - state.loadedAt >= STATS_POLL_MS) load();
  };
  win.input.addEventListener("change", () => {
    state.window = win.input.value;
    for (const [dd] of Object.values(values)) dd.textContent = "…";
    load();
  });
  return { el, load, event, poll };
}

// follow keeps the counts current until signal aborts: the event stream while it can be
// had, polling every 2 s while it cannot (too many streams open, a proxy that buffers).
function follow(signal, live, show, failed, stats) {
  return followEvents({
    signal, live, pollMs: POLL_MS, retryMs: RETRY_MS, failText: "Cannot reach the server; retrying",
    onEvent: (kind, e) => {
      if (kind === "dashboard") show(e.data);
      else if (kind === "failed_pairing") failed(e.data);
      else if (kind === "stats") stats.event(e.data);
    },
    poll: async () => {
      show(await call("GET", "/api/internal/dashboard", undefined, { signal }));
      stats.poll();
    },
  });
}

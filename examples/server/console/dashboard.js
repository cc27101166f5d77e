// Dashboard: the live counts, from the operators' event stream (fetch streaming), or by
// polling every 2 s while the stream cannot be had.

import { ApiError, call, stream } from "./api.js";
import { h, money, time } from "./ui.js";

export const title = "Dashboard";

const POLL_MS = 2000;
const RETRY_MS = 5000;

const counts = [
  ["online_count", "Online", "count-online"],
  ["available_count", "Available", "count-available"],
  ["busy_count", "Busy", "count-busy"],
  ["active_sessions", "Active sessions", "count-active-sessions"],
  ["pending_payments", "Pending payments", "count-pending-payments"],
  ["awaiting_payment_sessions", "Sessions awaiting payment", "count-awaiting-payment-sessions"],
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

function wait(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

export async function mount(root, signal) {
  const values = {};
  const cards = h("dl", { class: "cards" });
  for (const [key, label, id] of counts) {
    const dd = h("dd", { id, text: "…" });
    if (key === "drift") dd.classList.add("small-value");
    values[key] = dd;
    cards.append(h("div", { class: "card" }, h("dt", { text: label }), dd));
  }
  const live = h("p", { class: "live", id: "live-state", "aria-live": "polite", text: "Connecting…" });
  const driftNote = h("p", { class: "hint", id: "drift-note" });
  const feed = h("ul", { class: "feed", id: "failure-feed", "aria-live": "polite" });
  const feedEmpty = h("p", { class: "hint", text: "Failed pairings that happen while this page is open appear here." });
  root.append(
    h("h1", { text: "Dashboard" }),
    live,
    cards,
    driftNote,
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

  show(await call("GET", "/api/internal/dashboard", undefined, { signal }));
  follow(signal, live, show, failed);
}

// follow keeps the counts current until signal aborts: the event stream while it can be
// had, polling every 2 s while it cannot (too many streams open, a proxy that buffers).
async function follow(signal, live, show, failed) {
  while (!signal.aborted) {
    try {
      await stream("/api/internal/events", {
        signal,
        onOpen: () => {
          live.textContent = "Live";
          live.classList.add("on");
        },
        onEvent: (kind, e) => {
          if (kind === "dashboard") show(e.data);
          else if (kind === "failed_pairing") failed(e.data);
        },
      });
    } catch (err) {
      if (signal.aborted || (err && err.name === "AbortError")) return;
      if (err instanceof ApiError && err.status === 401) return;
    }
    if (signal.aborted) return;
    // The stream ended or was refused: poll until it can be tried again.
    live.classList.remove("on");
    live.textContent = "Updating every 2 s";
    const until = Date.now() + RETRY_MS;
    while (!signal.aborted && Date.now() < until) {
      await wait(POLL_MS, signal);
      if (signal.aborted) return;
      try {
        show(await call("GET", "/api/internal/dashboard", undefined, { signal }));
      } catch (err) {
        if (signal.aborted || (err && err.name === "AbortError")) return;
        if (err instanceof ApiError && err.status === 401) return;
        live.textContent = "Cannot reach the server; retrying";
      }
    }
  }
}

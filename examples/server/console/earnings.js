// Earnings: where the money is (the ledger's balance of every account), the payouts with
// their status, filtered and paged, and a payout run after a confirmation.

import { call, query } from "./api.js";
import { announce, confirm, describe, field, h, money, nextId, pager, permission, select, time } from "./ui.js";

export const title = "Earnings";

const PAGE_SIZE = 20;

// The accounts of GET /api/internal/ledger/balance, and the imbalance beside them.
const accounts = [
  ["gateway", "Held at the payment provider"],
  ["client_funds", "Client funds (not earned yet)"],
  ["platform_revenue", "Platform revenue"],
  ["mitra_pending", "Mitras: pending"],
  ["mitra_available", "Mitras: available"],
  ["payouts_in_flight", "Payouts in flight"],
  ["mitra_receivable", "Owed back by mitras"],
  ["imbalance", "Imbalance"],
];

const statuses = [
  ["", "Any"],
  ["pending", "Pending"],
  ["processing", "Processing"],
  ["succeeded", "Succeeded"],
  ["failed", "Failed"],
  ["reversed", "Reversed"],
];

export async function mount(root, signal) {
  const names = new Map(); // mitra id → display name, for the payouts table
  const balances = balancesSection(signal);
  const payouts = payoutsSection(signal, names);
  const writes = permission("admin", "running payouts");
  const run = runSection(async () => {
    await Promise.all([balances.load(), payouts.load()]);
  });
  writes.lock(run.el);
  root.append(h("h1", { text: "Earnings" }), writes.note, balances.el, run.el, payouts.el);
  // The mitra filter offers the first 100 mitras by name; the table shows a mitra's id
  // when its name is not among them.
  const list = await call("GET", "/api/internal/mitras" + query({ page_size: 100 }), undefined, { signal });
  for (const m of list.items) names.set(m.id, m.display_name);
  payouts.setMitras([...names].sort((a, b) => a[1].localeCompare(b[1])));
  await Promise.all([balances.load(), payouts.load()]);
}

function balancesSection(signal) {
  const titleId = nextId("balances");
  const values = {};
  const cards = h("dl", { class: "cards" });
  for (const [key, label] of accounts) {
    const dd = h("dd", { id: "balance-" + key, class: "small-value", text: "…" });
    values[key] = dd;
    cards.append(h("div", { class: "card" }, h("dt", { text: label }), dd));
  }
  const error = h("p", { class: "error", "aria-live": "polite" });
  const el = h(
    "section",
    { "aria-labelledby": titleId },
    h("h2", { id: titleId, text: "Balances" }),
    h("p", { class: "hint", text: "Each account summed over all mitras, as a positive amount held or owed. The imbalance, the sum of every ledger line, is always 0." }),
    cards,
    error,
  );
  const load = async () => {
    error.textContent = "";
    let b;
    try {
      b = await call("GET", "/api/internal/ledger/balance", undefined, { signal });
    } catch (err) {
      if (err.name === "AbortError") return;
      error.textContent = describe(err);
      return;
    }
    for (const [key] of accounts) {
      values[key].textContent = money(key === "imbalance" ? b.imbalance : b.accounts[key], b.currency);
    }
  };
  return { el, load };
}

function runSection(changed) {
  const titleId = nextId("run");
  const button = h("button", { type: "button", text: "Run payouts" });
  const status = h("p", { class: "status-ok", id: "payout-run-status", "aria-live": "polite" });
  const el = h(
    "section",
    { class: "panel", id: "payout-run", "aria-labelledby": titleId },
    h("h2", { id: titleId, text: "Run payouts" }),
    h("p", {
      class: "hint",
      text: "Pays every mitra whose available balance is at least payout_minimum_amount (see Config), who has a payout destination and no open payout, all of that balance, through the payout provider.",
    }),
    h("div", { class: "actions" }, button),
    status,
  );
  button.addEventListener("click", async () => {
    const ok = await confirm({
      title: "Run payouts now?",
      message: "Every eligible mitra is paid its whole available balance. A payout the provider refuses fails and its amount is available again for the next run.",
      confirmLabel: "Pay out",
    });
    if (!ok) return;
    status.className = "status-ok";
    status.textContent = "Running…";
    let res;
    try {
      res = await call("POST", "/api/internal/payouts/run", {});
    } catch (err) {
      status.className = "error";
      status.textContent = describe(err);
      return;
    }
    status.textContent = runSummary(res.items);
    announce(status.textContent);
    await changed();
  });
  return { el };
}

// runSummary says what a run did: "2 payouts created: 1 succeeded, 1 failed."
function runSummary(items) {
  if (items.length === 0) return "No mitra is eligible for a payout now: nothing was created.";
  const by = {};
  for (const p of items) by[p.status] = (by[p.status] || 0) + 1;
  const parts = Object.entries(by).map(([s, n]) => `${n} ${s}`);
  return `${items.length} payout${items.length === 1 ? "" : "s"} created: ${parts.join(", ")}.`;
}

function payoutsSection(signal, names) {
  const state = { status: "", mitra_id: "", page: 1 };
  const titleId = nextId("payouts");
  const status = field("Payout status", select(statuses, "", "payout-status"));
  const mitra = field("Mitra", select([["", "Any"]], "", "payout-mitra"));
  const form = h(
    "form",
    { class: "panel", "aria-label": "Filter payouts", novalidate: true },
    h("div", { class: "inline-fields" }, status.wrap, mitra.wrap, h("button", { type: "submit", text: "Show payouts" })),
  );
  const listError = h("p", { class: "error", "aria-live": "polite" });
  const area = h("div");
  const el = h("section", { "aria-labelledby": titleId }, h("h2", { id: titleId, text: "Payouts" }), form, listError, area);

  const setMitras = (pairs) => {
    for (const [id, name] of pairs) mitra.input.append(h("option", { value: id, text: name }));
  };

  const badgeClass = (s) => (s === "succeeded" ? "yes" : s === "failed" || s === "reversed" ? "bad" : "no");

  const load = async () => {
    listError.textContent = "";
    let list;
    try {
      list = await call(
        "GET",
        "/api/internal/payouts" + query({ status: state.status, mitra_id: state.mitra_id, page: state.page, page_size: PAGE_SIZE }),
        undefined,
        { signal },
      );
    } catch (err) {
      if (err.name === "AbortError") return;
      listError.textContent = describe(err);
      return;
    }
    const body = h("tbody");
    for (const p of list.items) {
      body.append(
        h(
          "tr",
          { "data-id": p.id, "data-mitra-id": p.mitra_id },
          h("td", { text: time(p.created_at) }),
          h("th", { scope: "row", text: names.get(p.mitra_id) || p.mitra_id }),
          h("td", { class: "num", text: money(p.amount, p.currency) }),
          h("td", {}, h("span", { class: "badge " + badgeClass(p.status), text: p.status })),
          h("td", { text: p.provider_ref || "—" }),
          h("td", { text: p.failure_reason || "" }),
          h("td", { text: time(p.updated_at) }),
        ),
      );
    }
    if (list.items.length === 0) body.append(h("tr", {}, h("td", { colspan: "7", class: "muted", text: "No payout matches." })));
    area.replaceChildren(
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "payout-table" },
          h("caption", { class: "sr-only", text: "Payouts, newest first" }),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ...["Created", "Mitra", "Amount", "Status", "Provider reference", "Failure reason", "Updated"].map((t) =>
                h("th", { scope: "col", class: t === "Amount" ? "num" : "", text: t }),
              ),
            ),
          ),
          body,
        ),
      ),
      pager(list, "payouts", (p) => {
        state.page = p;
        load();
      }),
    );
  };

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    state.status = status.input.value;
    state.mitra_id = mitra.input.value;
    state.page = 1;
    load();
  });
  return { el, load, setMitras };
}

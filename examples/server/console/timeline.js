// A timeline (a payment's, a client's): its steps oldest first, each with its time, what
// happened in words, its amount with the currency, and the ids it names — a payment's and
// a client's as links to their pages.

import { h, human, money, timeSeconds } from "./ui.js";

const kinds = {
  payment_created: "Payment created",
  payment_paid: "Payment paid",
  payment_failed: "Payment failed",
  payment_expired: "Payment expired unpaid",
  offers_sent: "Offered to mitras",
  matched: "Matched with a mitra",
  session_started: "Chat started",
  session_ended: "Chat ended",
  extension_paid: "Extension paid",
  refund_requested: "Refund requested",
  refund_succeeded: "Refund succeeded",
  refund_failed: "Refund failed",
  ledger: "Ledger transaction",
};

// What the ids of a step are called, in the order shown.
const ids = [
  ["payment_id", "payment"],
  ["client_id", "client"],
  ["pairing_id", "pairing"],
  ["chat_session_id", "chat session"],
  ["session_id", "chat session"],
  ["extension_id", "extension"],
  ["refund_id", "refund"],
  ["mitra_id", "mitra"],
  ["txn_id", "ledger transaction"],
];

// Keys shown in words (or not at all: at, kind, currency go with others).
const worded = new Set(["at", "kind", "amount", "currency", "count", "reason", "end_reason", "refund", "purpose", "status", "mitra_name", "client_name", "ledger_kind", "txn_kind", "note"]);

// kindText is a step's kind in words.
export function kindText(step) {
  if (step.kind === "offers_sent" && Number.isFinite(step.count)) {
    return `Offered to ${step.count} ${step.count === 1 ? "mitra" : "mitras"}`;
  }
  if (step.kind === "matched" && step.mitra_name) return `Matched with ${step.mitra_name}`;
  if (step.kind === "ledger" && step.ledger_kind) return `Ledger: ${human(step.ledger_kind)}`;
  return kinds[step.kind] || human(step.kind);
}

// timelineList builds the list of steps. currency is the one of amounts whose step does
// not say it; current is the id of the page's own payment or client (not linked).
export function timelineList(steps, { currency = "", current = "", id } = {}) {
  const list = h("ol", { class: "timeline", id });
  for (const step of steps) list.append(stepItem(step, currency, current));
  if (steps.length === 0) list.append(h("li", { class: "muted", text: "Nothing happened yet." }));
  return list;
}

function stepItem(step, currency, current) {
  const facts = [];
  if (step.amount !== undefined && step.amount !== null) facts.push(h("span", { class: "amount", text: money(step.amount, step.currency || currency) }));
  for (const key of ["purpose", "status"]) {
    if (step[key]) facts.push(h("span", { text: human(step[key]) }));
  }
  const why = step.end_reason || step.reason;
  if (why) facts.push(h("span", { text: `reason: ${human(why)}` }));
  if (step.refund) facts.push(h("span", { text: `refund: ${human(step.refund)}` }));
  if (step.note) facts.push(h("span", { text: `note: ${step.note}` }));
  for (const [key, noun] of ids) {
    const v = step[key];
    if (!v || typeof v !== "string") continue;
    facts.push(idFact(key, noun, v, current));
  }
  // Whatever else the step says, as it says it.
  for (const [key, v] of Object.entries(step)) {
    if (worded.has(key) || ids.some(([k]) => k === key)) continue;
    if (v === null || v === undefined || typeof v === "object") continue;
    facts.push(h("span", { text: `${human(key)}: ${v}` }));
  }
  const parts = [];
  facts.forEach((f, i) => {
    if (i > 0) parts.push(" · ");
    parts.push(f);
  });
  return h(
    "li",
    { "data-kind": step.kind },
    h("time", { datetime: step.at, text: timeSeconds(step.at) }),
    " ",
    h("strong", { class: "kind", text: kindText(step) }),
    parts.length ? h("span", { class: "step-facts" }, " — ", ...parts) : null,
  );
}

function idFact(key, noun, v, current) {
  if (v !== current && (key === "payment_id" || key === "client_id")) {
    const page = key === "payment_id" ? "payments" : "clients";
    return h("a", { href: `#/${page}/${encodeURIComponent(v)}`, "aria-label": `${noun} ${v}` }, `${noun} `, h("code", { class: "id", text: v }));
  }
  return h("span", {}, `${noun} `, h("code", { class: "id", text: v }));
}

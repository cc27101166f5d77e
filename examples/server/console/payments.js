// Payments: look a payment up by its id (its own address, #/payments/<id>): the payment,
// its refunds and its timeline, oldest first. "Refund…" (support) gives back part or all
// of a paid payment, never more than is left; each dialog carries one Idempotency-Key, so
// that a double click or a retry after a lost answer never refunds twice.

import { call } from "./api.js";
import { describe, field, formDialog, h, human, money, newUUID, permission, showError, time } from "./ui.js";
import { timelineList } from "./timeline.js";

export const title = "Payments";

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const refundBadge = { failed: "bad", manual: "bad", succeeded: "yes" };

export async function mount(root, signal, param) {
  const writes = permission("support", "refunding payments");
  const id = field("Payment id", h("input", { type: "text", class: "medium", id: "payment-id", spellcheck: "false", autocomplete: "off", value: param || "" }), {
    hint: "From a client's timeline, the Live page or the payment provider",
  });
  id.input.classList.add("wide-id");
  const form = h(
    "form",
    { class: "panel", role: "search", "aria-label": "Look up a payment", novalidate: true },
    h("div", { class: "inline-fields" }, id.wrap, h("button", { type: "submit", text: "Look up" })),
  );
  const area = h("div", { id: "payment-area" });
  root.append(h("h1", { text: "Payments" }), writes.note, form, area);

  // load shows the payment; said, when given, is what the operator's action just did,
  // shown under it with the focus on it.
  const load = async (paymentId, said = "") => {
    showError(id, null);
    let data;
    try {
      data = await call("GET", `/api/internal/payments/${encodeURIComponent(paymentId)}`, undefined, { signal });
    } catch (err) {
      if (err.name === "AbortError") return;
      area.replaceChildren();
      showError(id, err);
      return;
    }
    area.replaceChildren(...paymentView(data, writes, (text) => load(paymentId, text)));
    if (said) {
      // The dialog's button is gone with the old view: the focus goes to the payment's
      // heading, and the outcome is announced from its place.
      const heading = document.getElementById("payment-title");
      heading.tabIndex = -1;
      heading.focus();
      document.getElementById("refund-status").textContent = said;
    }
  };

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const v = id.input.value.trim();
    if (!uuidPattern.test(v)) {
      showError(id, { message: "A payment id is a UUID, like 3f2b…-…; copy it from where you found the payment." });
      id.input.focus();
      return;
    }
    const hash = `#/payments/${encodeURIComponent(v)}`;
    // The address names the payment (a link to share, Back to return): a new address
    // shows the page again; the same one is read again here.
    if (location.hash !== hash) location.hash = hash;
    else load(v);
  });

  if (param) await load(param);
}

// refundable is what is left to refund of a payment, as the API counts it: its amount
// less every refund of it, whatever the refund's status (a failed one is retried and may
// still go through); null when the payment was never paid.
function refundable(p) {
  return Number.isFinite(p.refundable) ? p.refundable : null;
}

function paymentView(data, writes, reload) {
  const p = data.payment;
  const left = refundable(p) ?? 0;
  const paid = refundable(p) !== null;
  const facts = [
    ["Id", h("code", { class: "id", text: p.id })],
    ["Purpose", human(p.purpose)],
    ["Status", h("span", { class: "badge " + (p.status === "paid" ? "yes" : p.status === "failed" || p.status === "expired" ? "bad" : "no"), text: human(p.status) })],
    ["Amount", money(p.amount, p.currency)],
    p.discount_amount ? ["Before the discount", `${money(p.base_amount, p.currency)} (discount ${money(p.discount_amount, p.currency)})`] : null,
    ["Refunded", money(p.refunded_amount, p.currency)],
    ["Left to refund", paid ? money(left, p.currency) : "—"],
    ["Created", time(p.created_at)],
    ["Paid", time(p.paid_at)],
    p.minutes ? ["Minutes", String(p.minutes)] : null,
    p.client_id ? ["Client", h("a", { href: `#/clients/${encodeURIComponent(p.client_id)}`, text: p.client_name || p.client_id })] : null,
    p.provider_ref ? ["Provider reference", h("code", { class: "id", text: p.provider_ref })] : null,
  ].filter(Boolean);
  const dl = h("dl", { class: "facts", id: "payment-facts" });
  for (const [k, v] of facts) dl.append(h("div", {}, h("dt", { text: k }), h("dd", {}, v)));

  const refund = h("button", { type: "button", id: "refund-button", text: "Refund…" });
  const status = h("p", { class: "status-ok", id: "refund-status", "aria-live": "polite" });
  const why = h("p", { class: "hint", id: "refund-why" });
  if (!paid) why.textContent = "Only a paid payment can be refunded.";
  else if (left <= 0) why.textContent = "Nothing is left to refund.";
  if (why.textContent) {
    refund.disabled = true;
    refund.setAttribute("aria-describedby", why.id);
  }
  writes.lock(refund);
  refund.addEventListener("click", async () => {
    status.textContent = "";
    const done = await refundDialog(p, left);
    if (done) await reload(done);
  });

  const refunds = h("tbody");
  for (const r of data.refunds || []) {
    refunds.append(
      h(
        "tr",
        { "data-id": r.id, "data-status": r.status },
        h("td", { text: time(r.created_at) }),
        h("td", { class: "num", text: money(r.amount, r.currency || p.currency) }),
        h("td", { text: human(r.reason) }),
        h("td", {}, h("span", { class: "badge " + (refundBadge[r.status] || "no"), text: r.status })),
        h("td", { text: r.note ? `Paid by hand: ${r.note}` : r.last_error || "" }),
      ),
    );
  }
  if (!data.refunds || data.refunds.length === 0) refunds.append(h("tr", {}, h("td", { colspan: "5", class: "muted", text: "No refund." })));

  return [
    h(
      "section",
      { class: "panel", "aria-labelledby": "payment-title", id: "payment" },
      h("h2", { id: "payment-title", text: `Payment of ${money(p.amount, p.currency)}` }),
      dl,
      h("div", { class: "actions" }, refund),
      why,
      status,
    ),
    h(
      "section",
      { "aria-labelledby": "payment-refunds-title" },
      h("h2", { id: "payment-refunds-title", text: "Refunds" }),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "payment-refunds" },
          h("caption", { class: "sr-only", text: "Refunds of this payment" }),
          h("thead", {}, h("tr", {}, ...["Created", "Amount", "Reason", "Status", "Details"].map((t) => h("th", { scope: "col", class: t === "Amount" ? "num" : "", text: t })))),
          refunds,
        ),
      ),
    ),
    h(
      "section",
      { "aria-labelledby": "payment-timeline-title" },
      h("h2", { id: "payment-timeline-title", text: "Timeline, oldest first" }),
      timelineList(data.timeline || [], { currency: p.currency, current: p.id, id: "payment-timeline" }),
    ),
  ];
}

// numberOrText sends what was typed: a number when it is one, else the text, which the API
// refuses with its own message.
function numberOrText(v) {
  const s = String(v).trim();
  return s !== "" && Number.isFinite(Number(s)) ? Number(s) : s;
}

// refundDialog asks how much, why and whether to reverse the mitra's earning, and sends
// the refund with the dialog's one Idempotency-Key; it resolves to the sentence saying
// what happened, or "" when cancelled.
async function refundDialog(p, left) {
  const key = newUUID();
  const amount = field("Amount", h("input", { type: "number", class: "medium", min: "1", max: String(left), step: "1", id: "refund-amount", value: String(left) }), {
    hint: `At most ${money(left, p.currency)}, what is left of this payment.`,
  });
  const reason = field("Reason", h("textarea", { maxlength: "500", id: "refund-reason" }), { hint: "Kept with the refund, in the audit and the provider's records." });
  const reverse = h("input", { type: "checkbox", id: "refund-reverse", "aria-describedby": "refund-reverse-hint refund-reverse-error" });
  const reverseError = h("p", { class: "error", id: "refund-reverse-error", "aria-live": "polite" });
  const formError = h("p", { class: "error", role: "alert", id: "refund-error" });
  let answer = "";
  const ok = await formDialog({
    title: "Refund this payment",
    id: "refund-dialog",
    confirmLabel: "Refund",
    danger: true,
    content: [
      h("p", { text: `${human(p.purpose)} payment of ${money(p.amount, p.currency)}, paid ${time(p.paid_at)}. The money goes back to the client through the payment provider.` }),
      amount.wrap,
      reason.wrap,
      h(
        "div",
        { class: "check" },
        reverse,
        h("label", { for: reverse.id, text: "Reverse the mitra's earning" }),
      ),
      h("p", {
        class: "hint",
        id: "refund-reverse-hint",
        text: "Needed when a chat already delivered earned the mitra part of this money: the refund then takes that earning back from the mitra.",
      }),
      reverseError,
      h("p", { class: "hint" }, "Request key ", h("code", { class: "id", id: "refund-key", text: key }), ": sending again with it never refunds twice."),
      formError,
    ],
    submit: async () => {
      showError(amount, null);
      showError(reason, null);
      reverseError.textContent = "";
      reverse.removeAttribute("aria-invalid");
      formError.textContent = "";
      const body = { amount: numberOrText(amount.input.value), reason: reason.input.value, reverse_earning: reverse.checked };
      let res;
      try {
        res = await call("POST", `/api/internal/payments/${p.id}/refunds`, body, { headers: { "Idempotency-Key": key } });
      } catch (err) {
        // The limits of an amount say what they are: beside the field they concern.
        const d = err.details || {};
        if (err.code === "REFUND_EXCEEDS_REMAINING" && Number.isFinite(d.remaining)) {
          showError(amount, { message: `${describe(err)} Left: ${money(d.remaining, p.currency)}.` });
        } else if (err.code === "EARNING_REVERSAL_REQUIRED") {
          reverseError.textContent = Number.isFinite(d.unearned) ? `${describe(err)} Unearned: ${money(d.unearned, p.currency)}.` : describe(err);
          reverse.setAttribute("aria-invalid", "true");
        } else if (err.field === "amount") showError(amount, err);
        else if (err.field === "reason") showError(reason, err);
        else if (err.field === "reverse_earning") reverseError.textContent = describe(err);
        else formError.textContent = describe(err);
        return false;
      }
      const r = (res && res.refund) || res || {};
      answer = `Refund of ${money(r.amount ?? body.amount, r.currency || p.currency)} ${r.status ? human(r.status) : "requested"}.`;
      return true;
    },
  });
  return ok ? answer : "";
}

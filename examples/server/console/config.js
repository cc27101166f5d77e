// Config: every app_config key with an input of its type (a number, a checkbox, a text, a
// longer text, a list edited one item per line, or an object or a list of objects edited as
// JSON); the API validates, and its message shows beside the input.

import { call } from "./api.js";
import { announce, describe, field, h, permission, time } from "./ui.js";

export const title = "Config";

const help = {
  pairing_blast_timeout_seconds: "How long a blast waits for a mitra to accept (seconds).",
  pairing_targeted_timeout_seconds: "The “Curhat lagi” countdown on the mitra app (seconds).",
  payment_session_ttl_seconds: "How long a payment stays payable (seconds).",
  extension_auto_approve: "Approve extensions at once when the mitra is reachable; otherwise the mitra decides.",
  mitra_max_concurrent_sessions: "Sessions a mitra may hold at once, unless the mitra has its own maximum.",
  pairing_queue_enabled: "Paid blasts that find nobody wait in a queue (first paid, first offered) instead of failing.",
  pairing_queue_max_wait_seconds: "The longest a paid chat waits in the queue, from payment; then it fails and is refunded (10–3600).",
  pairing_queue_max_length: "Chats the queue holds; a start beyond it is refused before any payment (1–100000).",
  pairing_offer_policy: "blast: every available mitra at once; ring: the longest idle first, a ring at a time.",
  pairing_ring_size: "Mitras per ring (1–100).",
  pairing_ring_interval_seconds: "When the next ring joins (seconds, 1–300).",
  mitra_missed_offers_before_away: "Offers a mitra may let lapse in a row before going offline as away; 0 turns it off (0–100).",
  platform_fee_percent: "The platform's share of what a payment delivers, fixed on each payment when it is paid; the rest is the mitra's earning (percent, 0–100).",
  earnings_clearance_hours: "How long after a chat session ends its earning becomes available to pay out; fixed when the earning is posted (hours, 0–2160).",
  payout_minimum_amount: "The least available balance a payout run pays out to a mitra (0–100000000, in the smallest unit of the currency).",
  chat_message_rate_per_minute: "Messages a sender may send in a chat session in any minute; past it a message is refused (1–600).",
  mitra_first_reply_seconds: "How long after a chat starts its mitra must have replied, else the chat ends as a no-show and the client is refunded in full (seconds, 0–1800; 0 turns it off).",
  chat_message_retention_days: "Chat messages older than this are deleted, but for those an open report refers to (days, 1–3650).",
  safety_crisis_terms: "Words and phrases that flag a client's message as a crisis: the client is sent the resources text and the operators get a safety alert. Matched on whole words, ignoring case.",
  safety_resources_text: "What a client whose message matched a crisis term is sent at once: where to find help.",
  pairing_routing_steps:
    "How a blast widens: each step offers it to the mitras matching the client's preferences (all: every preference; language: the client's language) for its seconds, then the next; the last step is any (every available mitra), without seconds. The timed steps together must be shorter than the blast timeout. A client without preferences starts at any.",
  pairing_rank_weights:
    "The order of ring offers and of who gets the head of the queue: rating × mitra rating + accept × acceptance rate + idle × longest idle, each weight from 0 to 1. {\"rating\":0,\"accept\":0,\"idle\":1} is the longest idle first.",
  mitra_wrapup_seconds: "After a chat session ends, how long its mitra is offered nothing and not counted available (seconds, 0–600; 0 turns it off).",
};

// Text keys edited in a multi-line box (the others are one line).
const longText = new Set(["safety_resources_text"]);

function humanize(key) {
  const s = key.replaceAll("_", " ").replace(/\bttl\b/, "TTL");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export async function mount(root, signal) {
  const { items } = await call("GET", "/api/internal/config", undefined, { signal });
  const writes = permission("admin", "changing the config");
  root.append(
    h("h1", { text: "Config" }),
    writes.note,
    h("p", { class: "hint", text: "Runtime settings, read by every instance; a change applies at once." }),
  );
  const list = h("div", { id: "config-list" });
  for (const item of items) list.append(configRow(item));
  writes.lock(list);
  root.append(list);
}

// isStructured tells an object, or a list of objects, from the other values: it is edited as
// JSON.
function isStructured(value) {
  if (Array.isArray(value)) return value.some((v) => v !== null && typeof v === "object");
  return value !== null && typeof value === "object";
}

// asJSON shows a structured value: a list one item per line, an object on one line.
function asJSON(value) {
  if (!Array.isArray(value)) return JSON.stringify(value);
  return "[\n" + value.map((v) => "  " + JSON.stringify(v)).join(",\n") + "\n]";
}

function configRow(item) {
  const isBool = typeof item.value === "boolean";
  const isNumber = typeof item.value === "number";
  const isJSON = isStructured(item.value);
  const isList = !isJSON && Array.isArray(item.value);
  const isLong = !isList && !isJSON && typeof item.value === "string" && (longText.has(item.key) || item.value.length > 80 || item.value.includes("\n"));
  const id = "config-" + item.key;
  let input;
  if (isBool) input = h("input", { type: "checkbox", id, checked: item.value });
  else if (isJSON) {
    const text = asJSON(item.value);
    input = h("textarea", { id, rows: String(Math.min(12, Math.max(2, text.split("\n").length + 1))), spellcheck: "false", value: text });
  } else if (isList) {
    // One item per line: the textarea's value is the list joined by line breaks.
    input = h("textarea", { id, rows: String(Math.min(10, Math.max(4, item.value.length + 1))), spellcheck: "false", value: item.value.join("\n") });
  } else if (isLong) input = h("textarea", { id, rows: "5", value: item.value });
  else input = h("input", { type: isNumber ? "number" : "text", id, class: "medium", value: String(item.value), step: isNumber ? "1" : null });
  const hint = [help[item.key] || "", isList ? "One per line; blank lines are left out." : "", isJSON ? "Written as JSON." : ""]
    .filter(Boolean)
    .join(" ");
  const f = field(humanize(item.key), input, { hint });
  if (isBool) {
    // A checkbox reads best with its label after it.
    const label = f.wrap.querySelector("label");
    f.wrap.classList.add("check-field");
    f.wrap.prepend(h("div", { class: "check" }, input, label));
  }
  const updated = h("span", { class: "muted", text: item.updated_at ? `updated ${time(item.updated_at)}` : "default" });
  const status = h("span", { class: "status-ok", "aria-live": "polite" });
  const save = h("button", { type: "submit", class: "small", text: "Save", "aria-label": `Save ${humanize(item.key)}` });
  const form = h(
    "form",
    { class: "panel", "data-key": item.key, novalidate: true, "aria-label": humanize(item.key) },
    f.wrap,
    h("p", { class: "muted" }, h("code", { text: item.key }), " · ", updated),
    h("div", { class: "actions" }, save, status),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    f.error.textContent = "";
    input.removeAttribute("aria-invalid");
    status.textContent = "";
    let value;
    if (isJSON) {
      // The API checks the value; what is not JSON at all cannot be sent as one.
      try {
        value = JSON.parse(input.value);
      } catch (err) {
        f.error.textContent = `This is not JSON: ${err.message}`;
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
    } else if (isBool) value = input.checked;
    else if (isNumber) {
      // What was typed goes to the API as it is (a number when it is one): the API says
      // what it accepts.
      const raw = input.value.trim();
      value = raw !== "" && Number.isFinite(Number(raw)) ? Number(raw) : raw;
    } else if (isList) {
      // Each line an item, trimmed; blank lines left out. The API checks the items.
      value = input.value
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line !== "");
    } else value = input.value;
    let saved;
    try {
      saved = await call("PUT", `/api/internal/config/${encodeURIComponent(item.key)}`, { value });
    } catch (err) {
      f.error.textContent = describe(err);
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    if (isBool) input.checked = saved.value;
    else if (isJSON) input.value = asJSON(saved.value);
    else if (isList) input.value = saved.value.join("\n");
    else input.value = String(saved.value);
    updated.textContent = `updated ${time(saved.updated_at)}`;
    status.textContent = "Saved.";
    announce(`${humanize(item.key)} saved.`);
  });
  return form;
}

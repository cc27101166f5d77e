// Config: every app_config key with an input of its type; the API validates, and its
// message shows beside the input.

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
};

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

function configRow(item) {
  const isBool = typeof item.value === "boolean";
  const isNumber = typeof item.value === "number";
  const id = "config-" + item.key;
  const input = isBool
    ? h("input", { type: "checkbox", id, checked: item.value })
    : h("input", { type: isNumber ? "number" : "text", id, class: "medium", value: String(item.value), step: isNumber ? "1" : null });
  const f = field(humanize(item.key), input, { hint: help[item.key] || "" });
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
    if (isBool) value = input.checked;
    else if (isNumber) {
      // What was typed goes to the API as it is (a number when it is one): the API says
      // what it accepts.
      const raw = input.value.trim();
      value = raw !== "" && Number.isFinite(Number(raw)) ? Number(raw) : raw;
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
    else input.value = String(saved.value);
    updated.textContent = `updated ${time(saved.updated_at)}`;
    status.textContent = "Saved.";
    announce(`${humanize(item.key)} saved.`);
  });
  return form;
}

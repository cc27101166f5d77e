// Audit: every operator write, newest first — when, who, the action, its target and the
// change (before → after, the fields that changed, as JSON text); filtered by operator,
// target and action, paged.

import { call, query } from "./api.js";
import { describe, field, h, pager, showError, time } from "./ui.js";

export const title = "Audit";

const PAGE_SIZE = 20;

// Actions offered as suggestions in the filter; the API takes any.
const knownActions = [
  "operator.create",
  "operator.update",
  "token.mint",
  "mitra.create",
  "mitra.status",
  "pricing.tier.create",
  "pricing.tier.update",
  "pricing.promotion.update",
  "config.set",
  "failed_pairing.refund",
  "failed_pairing.resolve",
  "refund.retry",
  "refund.settle_manually",
  "payout.run",
  "safety_alert.ack",
  "report.resolve",
  "chat_session.read_messages",
];

export async function mount(root, signal) {
  const state = { operator_id: "", target_id: "", action: "", page: 1 };
  const operator = field("Operator id", h("input", { type: "text", class: "medium", id: "audit-operator", spellcheck: "false", autocomplete: "off" }));
  const target = field("Target id", h("input", { type: "text", class: "medium", id: "audit-target", spellcheck: "false", autocomplete: "off" }));
  const actions = h("datalist", { id: "audit-actions" }, ...knownActions.map((a) => h("option", { value: a })));
  const action = field("Action", h("input", { type: "text", class: "medium", id: "audit-action", list: "audit-actions", spellcheck: "false", autocomplete: "off" }), {
    hint: "For example operator.create",
  });
  const fields = { operator_id: operator, target_id: target, action };
  const filters = h(
    "form",
    { class: "panel", role: "search", "aria-label": "Filter the audit", novalidate: true },
    h("div", { class: "inline-fields" }, operator.wrap, target.wrap, action.wrap, actions, h("button", { type: "submit", text: "Apply filters" })),
  );
  const listError = h("p", { class: "error", "aria-live": "polite", id: "audit-error" });
  const area = h("div");
  root.append(
    h("h1", { text: "Audit" }),
    h("p", { class: "hint", text: "Every change an operator made through the API, newest first. Only the fields that changed are shown." }),
    filters,
    listError,
    area,
  );

  const load = async () => {
    listError.textContent = "";
    for (const f of Object.values(fields)) showError(f, null);
    let list;
    try {
      list = await call(
        "GET",
        "/api/internal/audit" + query({ operator_id: state.operator_id, target_id: state.target_id, action: state.action, page: state.page, page_size: PAGE_SIZE }),
        undefined,
        { signal },
      );
    } catch (err) {
      if (err.name === "AbortError") return;
      const f = fields[err.field];
      if (f) showError(f, err);
      else listError.textContent = describe(err);
      return;
    }
    const body = h("tbody");
    for (const e of list.items) body.append(row(e));
    if (list.items.length === 0) body.append(h("tr", {}, h("td", { colspan: "5", class: "muted", text: "No audit entry matches." })));
    area.replaceChildren(
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "audit-table" },
          h("caption", { text: "Audit, newest first" }),
          h("thead", {}, h("tr", {}, ...["When", "Who", "Action", "Target", "Change"].map((t) => h("th", { scope: "col", text: t })))),
          body,
        ),
      ),
      pager(list, "entries", (p) => {
        state.page = p;
        load();
      }),
    );
  };

  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    state.operator_id = operator.input.value.trim();
    state.target_id = target.input.value.trim();
    state.action = action.input.value.trim();
    state.page = 1;
    load();
  });

  await load();
}

function row(e) {
  return h(
    "tr",
    { "data-id": e.id, "data-action": e.action },
    h("td", { class: "when", text: time(e.at) }),
    h("td", { class: "who" }, h("span", { text: e.operator_name || "—" }), h("code", { class: "id who-id", text: e.operator_id })),
    h("td", { class: "action" }, h("code", { text: e.action })),
    h("td", { class: "target" }, h("span", { text: e.target_kind }), " ", e.target_id ? h("code", { class: "id", text: e.target_id }) : null),
    h("td", {}, h("code", { class: "change", text: change(e.before, e.after) })),
  );
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

// change shows before → after compactly: when both are objects, only the fields that
// differ; "—" stands for nothing (a creation has no before, a deletion no after).
export function change(before, after) {
  const text = (v) => (v === null || v === undefined ? "—" : JSON.stringify(v));
  if (isObject(before) && isObject(after)) {
    const b = {};
    const a = {};
    for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
      if (JSON.stringify(before[k]) === JSON.stringify(after[k])) continue;
      if (k in before) b[k] = before[k];
      if (k in after) a[k] = after[k];
    }
    if (Object.keys(b).length || Object.keys(a).length) return `${text(b)} → ${text(a)}`;
  }
  return `${text(before)} → ${text(after)}`;
}

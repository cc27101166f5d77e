// Pricing (the seed's SettingsPage): one table per mode, a row per tier; the first-session
// discount as a buffered form. Every write carries the updated_at its row was loaded with;
// a 409 STALE_WRITE keeps the operator's edit, shows the current values and offers to
// re-apply the edit on top of them or to discard it.

import { call } from "./api.js";
import { announce, describe, field, h, money, nextId, operatorLabel, permission, showError, time } from "./ui.js";

export const title = "Pricing";

const TIERS = "/api/internal/pricing/tiers";
const PROMO = "/api/internal/pricing/promotions/first-session";
const STALE = "STALE_WRITE";
const CHANGED = "Changed by someone else.";

const modes = [
  ["session", "Session tiers", "A new chat: what the client pays to start."],
  ["extension", "Extension tiers", "More minutes during a chat (never free)."],
];

// writes: whether the operator's role may change prices (admin); when not, every control
// that writes is disabled (History stays) and the page says why.
// Set by mount, before any row is built.
let writes;

export async function mount(root, signal) {
  writes = permission("admin", "changing prices");
  root.append(h("h1", { text: "Pricing" }), writes.note);
  const { tiers } = await call("GET", TIERS + "?include_inactive=true", undefined, { signal });
  for (const [mode, heading, hint] of modes) {
    const table = new TierTable(mode, heading, hint);
    table.set(tiers.filter((t) => t.mode === mode));
    root.append(table.el);
  }
  const promo = await call("GET", PROMO, undefined, { signal });
  root.append(discountForm(promo));
}

function tierName(t) {
  return `${t.minutes} min ${t.mode}`;
}

function describeTier(t) {
  return `price ${money(t.price, t.currency)}, label “${t.label}”, ${t.is_active ? "active" : "deactivated"}, position ${t.sort_order}`;
}

// conflictBox shows a 409's current values with "Re-apply my edit" and "Discard my edit".
function conflictBox(text, onReapply, onDiscard) {
  const reapply = h("button", { type: "button", class: "small", text: "Re-apply my edit", on: { click: onReapply } });
  const discard = h("button", { type: "button", class: "secondary small", text: "Discard my edit", on: { click: onDiscard } });
  const box = h("div", { class: "conflict", role: "alert" }, h("p", {}, h("strong", { text: CHANGED }), " ", text), h("div", { class: "actions" }, reapply, discard));
  return box;
}

class TierTable {
  constructor(mode, heading, hint) {
    this.mode = mode;
    this.rows = new Map(); // id → TierRow
    this.order = []; // ids, as the server orders them
    this.body = h("tbody");
    this.message = h("div", { "aria-live": "polite" });
    const titleId = nextId("tiers");
    this.el = h(
      "section",
      { "aria-labelledby": titleId, id: `tiers-${mode}` },
      h("h2", { id: titleId, text: heading }),
      h("p", { class: "hint", text: hint + " Minutes cannot change: deactivate the tier and add another." }),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: `tier-table-${mode}` },
          h("caption", { class: "sr-only", text: heading }),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col", text: "Minutes" }),
              h("th", { scope: "col", text: "Price" }),
              h("th", { scope: "col", text: "Label" }),
              h("th", { scope: "col", text: "Status" }),
              h("th", { scope: "col", text: "Order" }),
              h("th", { scope: "col", text: "Actions" }),
            ),
          ),
          this.body,
        ),
      ),
      this.message,
      this.addForm(),
    );
  }

  // set shows tiers (the mode's, in the server's order), keeping unsaved edits.
  set(tiers) {
    const sorted = [...tiers].sort((a, b) => a.sort_order - b.sort_order);
    this.order = sorted.map((t) => t.id);
    for (const t of sorted) {
      const row = this.rows.get(t.id);
      if (row) row.loaded(t);
      else this.rows.set(t.id, new TierRow(this, t));
    }
    this.body.replaceChildren();
    if (sorted.length === 0) this.body.append(h("tr", {}, h("td", { colspan: "6", class: "muted", text: "No tier yet." })));
    sorted.forEach((t, i) => {
      const row = this.rows.get(t.id);
      row.position(i, sorted.length);
      this.body.append(row.tr, row.historyRow);
    });
  }

  async refresh() {
    const { tiers } = await call("GET", TIERS + `?mode=${this.mode}&include_inactive=true`);
    this.set(tiers);
  }

  // move moves a tier one place up (-1) or down (+1).
  move(id, delta, focusLabel) {
    const ids = [...this.order];
    const i = ids.indexOf(id);
    const j = i + delta;
    if (i < 0 || j < 0 || j >= ids.length) return;
    [ids[i], ids[j]] = [ids[j], ids[i]];
    return this.reorder(ids, id, delta < 0 ? "up" : "down", focusLabel);
  }

  // reorder sends the whole order of the mode, each tier with the token its row holds. On
  // a stale write the table shows the tiers as they are now, and "Re-apply my edit" sends
  // the operator's order again on the current tokens (tiers added meanwhile go last).
  async reorder(ids, movedId, direction, focusLabel) {
    this.message.replaceChildren();
    const body = { mode: this.mode, tiers: ids.map((x) => ({ id: x, expected_updated_at: this.rows.get(x).tier.updated_at })) };
    try {
      const { tiers } = await call("POST", TIERS + "/reorder", body);
      this.set(tiers);
      announce(`${tierName(this.rows.get(movedId).tier)} moved ${direction}.`);
    } catch (err) {
      if (err.code === STALE && Array.isArray(err.current)) {
        this.set(err.current);
        const again = () => {
          const now = new Set(this.order);
          const wanted = ids.filter((x) => now.has(x));
          return this.reorder([...wanted, ...this.order.filter((x) => !wanted.includes(x))], movedId, direction, focusLabel);
        };
        this.message.replaceChildren(
          conflictBox(
            `The tiers changed since this table was loaded; it now shows them as they are. “Re-apply my edit” puts them in your order (${ids
              .map((x) => this.rows.get(x).tier.minutes + " min")
              .join(", ")}).`,
            again,
            () => this.message.replaceChildren(),
          ),
        );
      } else {
        this.message.replaceChildren(h("p", { class: "error", text: describe(err) }));
      }
      return;
    }
    const row = this.rows.get(movedId);
    const target = focusLabel === "up" ? row.upBtn : row.downBtn;
    (target.disabled ? row.priceField.input : target).focus();
  }

  addForm() {
    const noun = this.mode === "session" ? "session" : "extension";
    const article = this.mode === "session" ? "a" : "an";
    // The visible labels are short; the accessible names say which form they belong to.
    const named = (what) => `${what} of the new ${noun} tier`;
    const minutes = field("Minutes", h("input", { type: "number", class: "narrow", min: "1", max: "1440", "aria-label": named("Minutes") }));
    const price = field("Price", h("input", { type: "number", class: "medium", min: "0", "aria-label": named("Price") }));
    const label = field("Label", h("input", { type: "text", class: "medium", maxlength: "100", "aria-label": named("Label") }));
    const status = h("p", { class: "status-ok", "aria-live": "polite" });
    const formError = h("p", { class: "error", "aria-live": "polite" });
    const form = h(
      "form",
      { class: "panel", "aria-label": `Add ${article} ${noun} tier`, novalidate: true },
      h("h3", { text: `Add ${article} ${noun} tier` }),
      h("div", { class: "inline-fields" }, minutes.wrap, price.wrap, label.wrap, h("button", { type: "submit", text: `Add ${noun} tier` })),
      formError,
      status,
    );
    writes.lock(form);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      for (const f of [minutes, price, label]) showError(f, null);
      formError.textContent = "";
      status.textContent = "";
      const body = { mode: this.mode, minutes: numberOrText(minutes.input.value), price: numberOrText(price.input.value), label: label.input.value };
      let t;
      try {
        t = await call("POST", TIERS, body);
      } catch (err) {
        const f = { minutes, price, label }[err.field];
        if (f) showError(f, err);
        else formError.textContent = describe(err);
        return;
      }
      for (const f of [minutes, price, label]) f.input.value = "";
      status.textContent = `Added ${tierName(t)} at ${money(t.price, t.currency)}.`;
      await this.refresh();
    });
    return form;
  }
}

// numberOrText sends what was typed: a number when it is one, else the text, which the API
// refuses with its own message.
function numberOrText(v) {
  const s = String(v).trim();
  return s !== "" && Number.isFinite(Number(s)) ? Number(s) : s;
}

class TierRow {
  constructor(table, tier) {
    this.table = table;
    this.tier = tier;
    const name = tierName(tier);
    this.priceField = field(`Price of the ${name} tier`, h("input", { type: "number", class: "medium", min: "0", value: String(tier.price) }));
    this.labelField = field(`Label of the ${name} tier`, h("input", { type: "text", class: "medium", maxlength: "100", value: tier.label }));
    for (const f of [this.priceField, this.labelField]) {
      f.wrap.querySelector("label").className = "sr-only";
      f.input.addEventListener("input", () => this.markDirty());
    }
    this.saveBtn = h("button", { type: "button", class: "small", text: "Save", "aria-label": `Save the ${name} tier`, on: { click: () => this.save() } });
    this.resetBtn = h("button", { type: "button", class: "secondary small", text: "Undo", "aria-label": `Undo the edit of the ${name} tier`, on: { click: () => this.discard() } });
    this.activeBtn = h("button", { type: "button", class: "small", on: { click: () => this.setActive() } });
    this.upBtn = h("button", { type: "button", class: "secondary small", text: "Move up", "aria-label": `Move the ${name} tier up`, on: { click: () => table.move(tier.id, -1, "up") } });
    this.downBtn = h("button", { type: "button", class: "secondary small", text: "Move down", "aria-label": `Move the ${name} tier down`, on: { click: () => table.move(tier.id, 1, "down") } });
    this.historyBtn = h("button", { type: "button", class: "secondary small", text: "History", "aria-expanded": "false", "aria-label": `History of the ${name} tier`, on: { click: () => this.toggleHistory() } });
    this.status = h("span", { class: "status-ok", "aria-live": "polite" });
    this.conflict = h("div");
    this.statusCell = h("td");
    this.orderCell = h("td", { class: "num" });
    this.tr = h(
      "tr",
      { "data-tier-id": tier.id, "data-minutes": String(tier.minutes) },
      h("th", { scope: "row", text: `${tier.minutes} min` }),
      h("td", {}, h("div", { class: "price" }, this.priceField.wrap, h("span", { class: "muted", text: tier.currency }))),
      h("td", {}, this.labelField.wrap),
      this.statusCell,
      this.orderCell,
      h("td", {}, h("div", { class: "actions" }, this.saveBtn, this.resetBtn, this.upBtn, this.downBtn, this.activeBtn, this.historyBtn, this.status)),
    );
    this.historyList = h("ul", { class: "history" });
    // Below the row, across the table: a stale write's choice, and the history.
    this.historyBox = h("div", { hidden: true }, h("strong", { text: `History of the ${name} tier` }), this.historyList);
    this.historyRow = h("tr", { class: "detail", hidden: true, "data-detail": String(tier.minutes) }, h("td", { colspan: "6" }, this.conflict, this.historyBox));
    writes.lock(this.priceField.input, this.labelField.input, this.saveBtn, this.resetBtn, this.activeBtn, this.upBtn, this.downBtn);
    this.show();
    this.markDirty();
  }

  dirty() {
    return this.priceField.input.value !== String(this.tier.price) || this.labelField.input.value !== this.tier.label;
  }

  markDirty() {
    const d = this.dirty();
    this.saveBtn.disabled = !d || !writes.allowed;
    this.resetBtn.hidden = !d;
    if (d) this.status.textContent = "";
  }

  // loaded takes the tier as the server has it now; an unsaved edit stays in the inputs.
  loaded(tier) {
    const keepEdit = this.dirty();
    this.tier = tier;
    if (!keepEdit) {
      this.priceField.input.value = String(tier.price);
      this.labelField.input.value = tier.label;
    }
    this.show();
    this.markDirty();
  }

  show() {
    const t = this.tier;
    this.tr.classList.toggle("inactive", !t.is_active);
    this.statusCell.replaceChildren(t.is_active ? h("span", { class: "badge yes", text: "active" }) : h("span", { class: "badge bad", text: "deactivated" }));
    this.activeBtn.textContent = t.is_active ? "Deactivate" : "Reactivate";
    this.activeBtn.className = t.is_active ? "danger small" : "secondary small";
    this.activeBtn.setAttribute("aria-label", `${t.is_active ? "Deactivate" : "Reactivate"} the ${tierName(t)} tier`);
  }

  position(i, n) {
    this.orderCell.textContent = String(i + 1);
    this.upBtn.disabled = i === 0 || !writes.allowed;
    this.downBtn.disabled = i === n - 1 || !writes.allowed;
  }

  // showConflict puts a stale write's box under the row (null removes it).
  showConflict(box) {
    if (box) this.conflict.replaceChildren(box);
    else this.conflict.replaceChildren();
    this.syncDetail();
  }

  syncDetail() {
    this.historyRow.hidden = this.historyBox.hidden && !this.conflict.hasChildNodes();
  }

  clearMessages() {
    this.showConflict(null);
    this.status.className = "status-ok";
    this.status.textContent = "";
    showError(this.priceField, null);
    showError(this.labelField, null);
  }

  // write runs a tier write with the row's token; on a stale write it keeps the edit and
  // shows the current tier with the choice to re-apply (the same write, on the current
  // token) or discard.
  async write(what, send) {
    this.clearMessages();
    let t;
    try {
      t = await send(this.tier.updated_at);
    } catch (err) {
      if (err.code === STALE && err.current && !Array.isArray(err.current)) {
        const current = err.current;
        this.showConflict(
          conflictBox(
            `Now: ${describeTier(current)} (updated ${time(current.updated_at)}). Your edit is kept.`,
            () => {
              // The edit stays in the inputs; the write goes again on the current token.
              this.tier = current;
              this.show();
              this.write(what, send);
            },
            () => {
              this.priceField.input.value = String(current.price);
              this.labelField.input.value = current.label;
              this.loaded(current);
              this.clearMessages();
              this.priceField.input.focus();
            },
          ),
        );
        return;
      }
      const f = { price: this.priceField, label: this.labelField }[err.field];
      if (f) showError(f, err);
      else {
        this.status.className = "error";
        this.status.textContent = describe(err);
      }
      return;
    }
    // The inputs now hold what was saved.
    this.priceField.input.value = String(t.price);
    this.labelField.input.value = t.label;
    this.loaded(t);
    this.status.textContent = what;
    announce(`${tierName(t)}: ${what}`);
  }

  save() {
    const body = () => ({ price: numberOrText(this.priceField.input.value), label: this.labelField.input.value });
    return this.write("Saved.", (token) => call("PATCH", `${TIERS}/${this.tier.id}`, { expected_updated_at: token, ...body() }));
  }

  discard() {
    this.priceField.input.value = String(this.tier.price);
    this.labelField.input.value = this.tier.label;
    this.clearMessages();
    this.markDirty();
  }

  setActive() {
    const action = this.tier.is_active ? "deactivate" : "reactivate";
    return this.write(action === "deactivate" ? "Deactivated." : "Reactivated.", (token) =>
      call("POST", `${TIERS}/${this.tier.id}/${action}`, { expected_updated_at: token }),
    );
  }

  async toggleHistory() {
    const open = this.historyBox.hidden;
    this.historyBox.hidden = !open;
    this.syncDetail();
    this.historyBtn.setAttribute("aria-expanded", String(open));
    if (!open) return;
    this.historyList.replaceChildren(h("li", { class: "muted", text: "Loading…" }));
    try {
      const { entries } = await call("GET", `${TIERS}/${this.tier.id}/history`);
      this.historyList.replaceChildren(...entries.map(historyItem));
    } catch (err) {
      this.historyList.replaceChildren(h("li", { class: "error", text: describe(err) }));
    }
  }
}

function historyItem(e) {
  const changes = [];
  const b = e.before || {};
  const a = e.after || {};
  for (const k of ["price", "label", "is_active", "sort_order"]) {
    if (e.before && b[k] !== a[k]) changes.push(`${k.replace("_", " ")} ${JSON.stringify(b[k])} → ${JSON.stringify(a[k])}`);
  }
  if (!e.before) changes.push(`price ${a.price}, label ${JSON.stringify(a.label)}`);
  return h("li", { text: `${time(e.changed_at)} · ${e.change_kind} by ${operatorLabel(e.changed_by)}${changes.length ? " · " + changes.join("; ") : ""}` });
}

// ---- first-session discount: a buffered form (edit, then save) ----

function discountForm(initial) {
  let promo = initial;
  const enabled = h("input", { type: "checkbox", id: "discount-enabled" });
  const percent = field("Discount percent", h("input", { type: "number", class: "narrow", min: "0", max: "100", id: "discount-percent" }));
  const cap = field("Max discount amount", h("input", { type: "number", class: "medium", min: "0", id: "discount-cap" }), { hint: "Empty: no cap" });
  const eligible = field("Eligible minutes", h("input", { type: "text", class: "medium", id: "discount-eligible", inputmode: "numeric" }), {
    hint: "Comma-separated; empty: every session tier",
  });
  const label = field("Discount label", h("input", { type: "text", class: "medium", maxlength: "100", id: "discount-label" }));
  const fields = { discount_percent: percent, max_discount_amount: cap, eligible_minutes: eligible, label };
  const status = h("p", { class: "status-ok", "aria-live": "polite", id: "discount-status" });
  const dirtyNote = h("p", { class: "hint", "aria-live": "polite" });
  const conflict = h("div");
  const formError = h("p", { class: "error", "aria-live": "polite" });
  const saveBtn = h("button", { type: "submit", text: "Save discount" });
  const resetBtn = h("button", { type: "button", class: "secondary", text: "Discard changes" });
  const form = h(
    "form",
    { class: "panel", id: "discount-form", "aria-labelledby": "discount-title", novalidate: true },
    h("h2", { id: "discount-title", text: "First-session discount" }),
    h("p", { class: "hint", text: "A client's first paid chat: discount = min(price × percent / 100, cap), on the eligible session tiers. Edit, then save." }),
    h("div", { class: "check" }, enabled, h("label", { for: "discount-enabled", text: "Enabled" })),
    h("div", { class: "inline-fields" }, percent.wrap, cap.wrap, eligible.wrap, label.wrap),
    conflict,
    formError,
    h("div", { class: "actions" }, saveBtn, resetBtn, dirtyNote),
    status,
  );

  const fill = (p) => {
    enabled.checked = p.enabled;
    percent.input.value = String(p.discount_percent);
    cap.input.value = p.max_discount_amount === null || p.max_discount_amount === undefined ? "" : String(p.max_discount_amount);
    eligible.input.value = (p.eligible_minutes || []).join(", ");
    label.input.value = p.label;
  };
  const values = () => ({
    enabled: enabled.checked,
    discount_percent: numberOrText(percent.input.value),
    max_discount_amount: cap.input.value.trim() === "" ? null : numberOrText(cap.input.value),
    eligible_minutes: eligible.input.value.split(/[\s,]+/).filter(Boolean).map(numberOrText),
    label: label.input.value,
  });
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  const loadedValues = () => ({
    enabled: promo.enabled,
    discount_percent: promo.discount_percent,
    max_discount_amount: promo.max_discount_amount ?? null,
    eligible_minutes: promo.eligible_minutes || [],
    label: promo.label,
  });
  const markDirty = () => {
    const d = !same(values(), loadedValues());
    dirtyNote.textContent = d ? "Unsaved changes" : "";
    resetBtn.disabled = !d || !writes.allowed;
    if (d) status.textContent = "";
  };
  const clear = () => {
    for (const f of Object.values(fields)) showError(f, null);
    formError.textContent = "";
    conflict.replaceChildren();
    status.textContent = "";
  };
  const exists = (p) => p.updated_at && !p.updated_at.startsWith("0001-01-01");

  const save = async (token) => {
    clear();
    const body = values();
    if (token) body.expected_updated_at = token;
    let saved;
    try {
      saved = await call("PUT", PROMO, body);
    } catch (err) {
      if (err.code === STALE && err.current) {
        const cur = err.current;
        conflict.replaceChildren(
          conflictBox(
            `Now: ${cur.enabled ? "enabled" : "disabled"}, ${cur.discount_percent}%, cap ${cur.max_discount_amount ?? "none"}, eligible ${
              (cur.eligible_minutes || []).join(", ") || "every session tier"
            }, label “${cur.label}” (updated ${time(cur.updated_at)}). Your edit is kept.`,
            () => save(cur.updated_at),
            () => {
              promo = cur;
              fill(cur);
              clear();
              markDirty();
            },
          ),
        );
        return;
      }
      const f = fields[err.field];
      if (f) showError(f, err);
      else formError.textContent = describe(err);
      return;
    }
    promo = saved;
    fill(saved);
    markDirty();
    status.textContent = "Discount saved.";
    announce("Discount saved.");
  };

  form.addEventListener("input", markDirty);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    save(exists(promo) ? promo.updated_at : "");
  });
  resetBtn.addEventListener("click", () => {
    fill(promo);
    clear();
    markDirty();
  });
  fill(promo);
  writes.lock(form);
  markDirty();
  return form;
}

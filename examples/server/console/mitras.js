// Mitras: search, pages, create, deactivate / reactivate with a confirmation; each
// mitra's available and pending earnings.

import { call, query } from "./api.js";
import { announce, badge, confirm, describe, field, h, money, pager, permission, select, showError, time } from "./ui.js";

export const title = "Mitras";

const PAGE_SIZE = 20;

export async function mount(root, signal) {
  const state = { q: "", is_active: "", online: "", page: 1 };
  const writes = permission("support", "creating, deactivating and reactivating mitras");

  // Search.
  const q = field("Search", h("input", { type: "search", class: "medium", id: "mitra-search", placeholder: "name or id" }));
  const active = field("Status", select([["", "Any"], ["true", "Active"], ["false", "Deactivated"]], "", "mitra-filter-active"));
  const online = field("Presence", select([["", "Any"], ["true", "Online"], ["false", "Offline"]], "", "mitra-filter-online"));
  const searchForm = h(
    "form",
    { class: "panel", role: "search", "aria-label": "Search mitras", novalidate: true },
    h("div", { class: "inline-fields" }, q.wrap, active.wrap, online.wrap, h("button", { type: "submit", text: "Search" })),
  );

  // Create.
  const name = field("Display name", h("input", { type: "text", class: "medium", maxlength: "200", required: true }));
  const max = field("Max concurrent sessions", h("input", { type: "number", class: "narrow", min: "1", max: "100" }), {
    hint: "Empty: the default of the config",
  });
  const createStatus = h("p", { class: "status-ok", "aria-live": "polite" });
  const createForm = h(
    "form",
    { class: "panel", "aria-labelledby": "create-mitra-title", novalidate: true },
    h("h2", { id: "create-mitra-title", text: "Create a mitra" }),
    h("div", { class: "inline-fields" }, name.wrap, max.wrap, h("button", { type: "submit", text: "Create mitra" })),
    createStatus,
  );

  const listError = h("p", { class: "error", "aria-live": "polite" });
  const listArea = h("div");
  writes.lock(createForm);
  root.append(h("h1", { text: "Mitras" }), writes.note, searchForm, listError, listArea, createForm);

  const load = async () => {
    listError.textContent = "";
    showError(q, null);
    let list;
    try {
      list = await call(
        "GET",
        "/api/internal/mitras" + query({ q: state.q, is_active: state.is_active, online: state.online, page: state.page, page_size: PAGE_SIZE }),
        undefined,
        { signal },
      );
    } catch (err) {
      if (err.name === "AbortError") return;
      if (err.field === "q") showError(q, err);
      else listError.textContent = describe(err);
      return;
    }
    listArea.replaceChildren(table(list), pager(list, "mitras", (p) => {
      state.page = p;
      load();
    }));
  };

  const table = (list) => {
    const body = h("tbody");
    for (const m of list.items) body.append(row(m));
    if (list.items.length === 0) body.append(h("tr", {}, h("td", { colspan: "10", class: "muted", text: "No mitra matches." })));
    return h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { id: "mitra-table" },
        h("caption", { text: "Mitras, newest first" }),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col", text: "Name" }),
            h("th", { scope: "col", text: "Online" }),
            h("th", { scope: "col", text: "Reachable" }),
            h("th", { scope: "col", class: "num", text: "Devices" }),
            h("th", { scope: "col", class: "num", text: "Sessions in use / max" }),
            h("th", { scope: "col", class: "num", text: "Available" }),
            h("th", { scope: "col", class: "num", text: "Pending" }),
            h("th", { scope: "col", text: "Account" }),
            h("th", { scope: "col", text: "Created" }),
            h("th", { scope: "col", text: "Actions" }),
          ),
        ),
        body,
      ),
    );
  };

  const row = (m) => {
    const status = h("span", { class: "status-ok", "aria-live": "polite" });
    const toggle = h("button", {
      type: "button",
      class: m.is_active ? "danger small" : "secondary small",
      text: m.is_active ? "Deactivate" : "Reactivate",
      "aria-label": `${m.is_active ? "Deactivate" : "Reactivate"} ${m.display_name}`,
    });
    writes.lock(toggle);
    toggle.addEventListener("click", async () => {
      const deactivate = m.is_active;
      const ok = await confirm({
        title: deactivate ? `Deactivate ${m.display_name}?` : `Reactivate ${m.display_name}?`,
        message: deactivate
          ? "The mitra goes offline and every token of theirs is revoked; their active chats end and continue with another mitra (or are refunded)."
          : "The mitra can sign in again with a new token and go online.",
        confirmLabel: deactivate ? "Deactivate" : "Reactivate",
        danger: deactivate,
      });
      if (!ok) return;
      try {
        await call("PATCH", `/api/internal/mitras/${m.id}/status`, { is_active: !deactivate });
      } catch (err) {
        status.className = "error";
        status.textContent = describe(err);
        return;
      }
      announce(`${m.display_name} ${deactivate ? "deactivated" : "reactivated"}.`);
      await load();
    });
    // The balances come one request per row, after the table is shown.
    const available = h("td", { class: "num balance-available", text: "…" });
    const pending = h("td", { class: "num balance-pending", text: "…" });
    call("GET", `/api/internal/mitras/${m.id}/earnings`, undefined, { signal }).then(
      (e) => {
        available.textContent = money(e.available, e.currency);
        pending.textContent = money(e.pending, e.currency);
      },
      (err) => {
        if (err.name === "AbortError") return;
        available.textContent = pending.textContent = "—";
        available.title = describe(err);
      },
    );
    return h(
      "tr",
      { class: m.is_active ? "" : "inactive", "data-id": m.id },
      h("th", { scope: "row", text: m.display_name }),
      h("td", {}, badge(m.online, "online", m.away_reason === "missed_offers" ? "away: missed offers" : "offline")),
      h("td", {}, badge(m.reachable, "reachable", "not reachable")),
      h("td", { class: "num", text: String(m.device_count) }),
      h("td", { class: "num", text: `${m.active_sessions} / ${m.max_concurrent_sessions}` }),
      available,
      pending,
      h("td", {}, m.is_active ? badge(true, "active", "") : h("span", { class: "badge bad", text: "deactivated" })),
      h("td", { text: time(m.created_at) }),
      h("td", {}, h("div", { class: "actions" }, toggle, status)),
    );
  };

  searchForm.addEventListener("submit", (e) => {
    e.preventDefault();
    state.q = q.input.value.trim();
    state.is_active = active.input.value;
    state.online = online.input.value;
    state.page = 1;
    load();
  });

  createForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    showError(name, null);
    showError(max, null);
    createStatus.textContent = "";
    const body = { display_name: name.input.value };
    if (max.input.value !== "") body.max_concurrent_sessions = Number(max.input.value);
    let m;
    try {
      m = await call("POST", "/api/internal/mitras", body);
    } catch (err) {
      showError(err.field === "max_concurrent_sessions" ? max : name, err);
      return;
    }
    name.input.value = "";
    max.input.value = "";
    createStatus.textContent = `Created ${m.display_name} (id ${m.id}).`;
    state.page = 1;
    await load();
  });

  await load();
}

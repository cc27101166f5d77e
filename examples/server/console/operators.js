// Operators (admins only): the operator accounts with their roles; create one, change a
// role, deactivate / reactivate with a confirmation (deactivating revokes every token of
// the operator), and mint a token for an active operator, shown once.

import { call, getOperator, query } from "./api.js";
import { announce, badge, confirm, describe, field, h, pager, select, showError, time } from "./ui.js";

export const title = "Operators";
export const requires = "admin";

const PAGE_SIZE = 20;

const roles = [
  ["viewer", "Viewer"],
  ["support", "Support"],
  ["admin", "Admin"],
];

const roleHelp =
  "Viewer: reads every page but this one. Support: also acts on mitras, failed pairings and refunds. Admin: everything, prices, config, payouts and operators included.";

export async function mount(root, signal) {
  const state = { page: 1 };
  const me = getOperator();

  // Create.
  const name = field("Display name", h("input", { type: "text", class: "medium", maxlength: "200", required: true, id: "operator-name" }));
  const role = field("Role", select(roles, "support", "operator-role"));
  // The roles explained under the fields (beside the select it would stretch it), and
  // read with it.
  role.input.setAttribute("aria-describedby", "operator-role-help " + role.error.id);
  const createStatus = h("p", { class: "status-ok", "aria-live": "polite", id: "operator-create-status" });
  const createForm = h(
    "form",
    { class: "panel", "aria-labelledby": "create-operator-title", novalidate: true },
    h("h2", { id: "create-operator-title", text: "Create an operator" }),
    h("div", { class: "inline-fields" }, name.wrap, role.wrap, h("button", { type: "submit", text: "Create operator" })),
    h("p", { class: "hint", id: "operator-role-help", text: roleHelp }),
    createStatus,
  );

  // A minted token, shown once.
  const tokenArea = h("div", { id: "minted-token" });
  const listError = h("p", { class: "error", "aria-live": "polite", id: "operator-list-error" });
  const listArea = h("div");
  root.append(
    h("h1", { text: "Operators" }),
    h("p", { class: "hint", text: "Who may use this console and the operator API, and with which role. Every change is in the Audit." }),
    createForm,
    tokenArea,
    listError,
    listArea,
  );

  const load = async () => {
    listError.textContent = "";
    let list;
    try {
      list = await call("GET", "/api/internal/operators" + query({ page: state.page, page_size: PAGE_SIZE }), undefined, { signal });
    } catch (err) {
      if (err.name === "AbortError") return;
      listError.textContent = describe(err);
      return;
    }
    const body = h("tbody");
    for (const o of list.items) body.append(row(o));
    if (list.items.length === 0) body.append(h("tr", {}, h("td", { colspan: "5", class: "muted", text: "No operator yet." })));
    listArea.replaceChildren(
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "operator-table" },
          h("caption", { text: "Operators" }),
          h("thead", {}, h("tr", {}, ...["Name", "Role", "Account", "Created", "Actions"].map((t) => h("th", { scope: "col", text: t })))),
          body,
        ),
      ),
      pager(list, "operators", (p) => {
        state.page = p;
        load();
      }),
    );
  };

  // showToken shows a freshly minted token in a read-only field, once: nothing keeps it,
  // and it is gone when the page is left or "Hide token" is pressed.
  const showToken = (o, minted) => {
    const input = h("input", { type: "text", readonly: true, value: minted.token, id: "minted-token-value", spellcheck: "false", autocomplete: "off" });
    const f = field(`Token for ${o.display_name}`, input);
    const copyStatus = h("span", { class: "status-ok", "aria-live": "polite" });
    const copy = h("button", { type: "button", class: "secondary small", text: "Copy token" });
    copy.addEventListener("click", async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(minted.token);
        copyStatus.textContent = "Copied.";
      } catch {
        copyStatus.textContent = "Selected: copy it with Ctrl+C (⌘C).";
      }
    });
    const hide = h("button", { type: "button", class: "secondary small", text: "Hide token" });
    hide.addEventListener("click", () => {
      tokenArea.replaceChildren();
      announce("Token hidden.");
    });
    tokenArea.replaceChildren(
      h(
        "section",
        { class: "panel token-box", "aria-labelledby": "minted-token-title" },
        h("h2", { id: "minted-token-title", text: `New token for ${o.display_name}` }),
        f.wrap,
        h("p", {
          id: "minted-token-note",
          text: `Copy it now and give it to ${o.display_name}: it will not be shown again. It expires ${time(minted.expires_at)}.`,
        }),
        h("div", { class: "actions" }, copy, hide, copyStatus),
      ),
    );
    input.setAttribute("aria-describedby", "minted-token-note " + f.error.id);
    input.focus();
    input.select();
  };

  const row = (o) => {
    const self = me && me.id === o.id;
    const status = h("span", { class: "status-ok", "aria-live": "polite" });
    const fail = (err) => {
      status.className = "error";
      status.textContent = describe(err);
    };
    const done = (text) => {
      status.className = "status-ok";
      status.textContent = text;
    };

    // Role: a select and its button, enabled when another role is chosen.
    const roleSelect = select(roles, o.role);
    roleSelect.setAttribute("aria-label", `Role of ${o.display_name}`);
    const saveRole = h("button", { type: "button", class: "small", text: "Change role", "aria-label": `Change the role of ${o.display_name}`, disabled: true });
    roleSelect.addEventListener("change", () => {
      saveRole.disabled = roleSelect.value === o.role;
    });
    saveRole.addEventListener("click", async () => {
      const to = roleSelect.value;
      let updated;
      try {
        updated = await call("PATCH", `/api/internal/operators/${o.id}`, { role: to });
      } catch (err) {
        fail(err);
        return;
      }
      announce(`${o.display_name} is now ${updated.role}.`);
      await load();
    });

    const toggle = h("button", {
      type: "button",
      class: o.is_active ? "danger small" : "secondary small",
      text: o.is_active ? "Deactivate" : "Reactivate",
      "aria-label": `${o.is_active ? "Deactivate" : "Reactivate"} ${o.display_name}`,
    });
    toggle.addEventListener("click", async () => {
      const deactivate = o.is_active;
      const ok = await confirm({
        title: deactivate ? `Deactivate ${o.display_name}?` : `Reactivate ${o.display_name}?`,
        message: deactivate
          ? "Every token of theirs is revoked at once: they are signed out everywhere and cannot sign in until reactivated and given a new token."
          : "They can sign in again once you mint them a new token.",
        confirmLabel: deactivate ? "Deactivate" : "Reactivate",
        danger: deactivate,
      });
      if (!ok) return;
      try {
        await call("PATCH", `/api/internal/operators/${o.id}`, { is_active: !deactivate });
      } catch (err) {
        fail(err);
        return;
      }
      announce(`${o.display_name} ${deactivate ? "deactivated" : "reactivated"}.`);
      await load();
    });

    const mint = o.is_active ? h("button", { type: "button", class: "secondary small", text: "Mint token", "aria-label": `Mint a token for ${o.display_name}` }) : null;
    if (mint) {
      mint.addEventListener("click", async () => {
        let minted;
        try {
          minted = await call("POST", "/api/internal/tokens", { subject_kind: "operator", subject_id: o.id });
        } catch (err) {
          fail(err);
          return;
        }
        done("");
        showToken(o, minted);
      });
    }

    // An operator's own account is changed by another admin (the API refuses it: 409).
    if (self) {
      roleSelect.disabled = true;
      toggle.disabled = true;
    }
    return h(
      "tr",
      { class: o.is_active ? "" : "inactive", "data-id": o.id },
      h("th", { scope: "row" }, o.display_name, self ? h("span", { class: "muted", text: " (you)" }) : null),
      h("td", {}, h("div", { class: "actions" }, roleSelect, saveRole)),
      h("td", {}, o.is_active ? badge(true, "active", "") : h("span", { class: "badge bad", text: "deactivated" })),
      h("td", { text: time(o.created_at) }),
      h("td", {}, h("div", { class: "actions" }, toggle, mint, status)),
    );
  };

  createForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    showError(name, null);
    showError(role, null);
    createStatus.textContent = "";
    let o;
    try {
      o = await call("POST", "/api/internal/operators", { display_name: name.input.value, role: role.input.value });
    } catch (err) {
      showError(err.field === "role" ? role : name, err);
      return;
    }
    name.input.value = "";
    createStatus.textContent = `Created ${o.display_name} (${o.role}, id ${o.id}). Mint a token for them below.`;
    state.page = 1;
    await load();
  });

  await load();
}

// Mitras: search, pages, create, deactivate / reactivate with a confirmation; each
// mitra's available and pending earnings; "Edit" opens a mitra's profile (display name,
// max concurrent sessions, labels) under its row, locked on the profile_updated_at it was
// loaded with: a 409 STALE_WRITE keeps the operator's edit, shows the current values and
// offers to re-apply the edit on top of them or to discard it (as the Pricing page does).
// Each row shows the mitra's rating ("4.3 ★ (12)": the Bayesian average of its ratings and
// how many) linking to its ratings (#/mitras/<id>/ratings), newest first, where support
// may hide a comment (the rating and its stars stay).

import { call, query } from "./api.js";
import { announce, badge, confirm, describe, field, h, money, nextId, pager, permission, select, showError, time } from "./ui.js";

export const title = "Mitras";

const PAGE_SIZE = 20;

export async function mount(root, signal, param) {
  const ratingsOf = /^([0-9a-f-]{36})\/ratings$/i.exec(param || "");
  if (ratingsOf) return mountRatings(root, signal, ratingsOf[1]);
  const state = { q: "", is_active: "", online: "", page: 1 };
  const writes = permission("support", "creating, editing, deactivating and reactivating mitras");
  // The open profile editors by mitra id: they stay open, with their edits, when the list
  // is read again.
  const editors = new Map();

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
    const focused = document.activeElement;
    listArea.replaceChildren(table(list), pager(list, "mitras", (p) => {
      state.page = p;
      load();
    }));
    // A control of an editor had the focus: the editor was moved into the new table.
    if (focused && focused !== document.activeElement && focused.isConnected) focused.focus();
  };

  const table = (list) => {
    const body = h("tbody");
    for (const m of list.items) body.append(...row(m));
    if (list.items.length === 0) body.append(h("tr", {}, h("td", { colspan: "11", class: "muted", text: "No mitra matches." })));
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
            h("th", { scope: "col", class: "num", text: "Rating" }),
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
    const detailId = nextId("mitra-edit");
    const edit = h("button", {
      type: "button",
      class: "secondary small",
      text: "Edit",
      "aria-label": `Edit ${m.display_name}`,
      "aria-expanded": "false",
      "aria-controls": detailId,
    });
    writes.lock(edit);
    const detail = h("tr", { class: "detail", id: detailId, hidden: true, "data-edit": m.id }, h("td", { colspan: "11" }));
    const editor = editors.get(m.id);
    if (editor) {
      detail.hidden = false;
      detail.firstChild.append(editor.el);
      edit.setAttribute("aria-expanded", "true");
      editor.closed = () => closeEditor();
    }
    const closeEditor = () => {
      editors.delete(m.id);
      detail.hidden = true;
      detail.firstChild.replaceChildren();
      edit.setAttribute("aria-expanded", "false");
      edit.focus();
    };
    edit.addEventListener("click", async () => {
      if (editors.has(m.id)) {
        closeEditor();
        return;
      }
      status.className = "status-ok";
      status.textContent = "";
      let full;
      try {
        full = await call("GET", `/api/internal/mitras/${m.id}`);
      } catch (err) {
        status.className = "error";
        status.textContent = describe(err);
        return;
      }
      const ed = profileEditor(full, { closed: () => closeEditor(), saved: () => load() });
      editors.set(m.id, ed);
      detail.firstChild.replaceChildren(ed.el);
      detail.hidden = false;
      edit.setAttribute("aria-expanded", "true");
      ed.first.focus();
    });
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
    return [h(
      "tr",
      { class: m.is_active ? "" : "inactive", "data-id": m.id },
      h("th", { scope: "row", text: m.display_name }),
      h("td", {}, badge(m.online, "online", m.away_reason === "missed_offers" ? "away: missed offers" : "offline")),
      h("td", {}, badge(m.reachable, "reachable", "not reachable")),
      h("td", { class: "num", text: String(m.device_count) }),
      h("td", { class: "num", text: `${m.active_sessions} / ${m.max_concurrent_sessions}` }),
      h("td", { class: "num rating" }, ratingLink(m)),
      available,
      pending,
      h("td", {}, m.is_active ? badge(true, "active", "") : h("span", { class: "badge bad", text: "deactivated" })),
      h("td", { text: time(m.created_at) }),
      h("td", {}, h("div", { class: "actions" }, edit, toggle, status)),
    ), detail];
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

const STALE = "STALE_WRITE";
const CHANGED = "Changed by someone else.";

const genders = [
  ["", "Not set"],
  ["female", "Female"],
  ["male", "Male"],
  ["other", "Other"],
];

// list reads a comma-separated field: its items, trimmed, the empty ones left out.
function list(text) {
  return text.split(",").map((s) => s.trim()).filter(Boolean);
}

// profileText describes a mitra's profile in one sentence.
function profileText(m) {
  const l = m.labels || {};
  const langs = (l.languages || []).join(", ") || "none";
  const topics = (l.topics || []).join(", ") || "none";
  const max = m.max_concurrent_sessions ?? "the default";
  return `name “${m.display_name}”, max concurrent sessions ${max}, languages ${langs}, topics ${topics}, gender ${l.gender || "not set"}`;
}

// profileEditor is the edit form of a mitra's profile. It carries the profile_updated_at
// the mitra was loaded with and sends only what the operator changed from it; a stale
// write keeps the edit in the form, shows the mitra as it is now, and offers to send the
// same changes again on the current token ("Re-apply my edit") or to take the current
// values ("Discard my edit"). on.closed: the operator closed it; on.saved: a save went
// through (the list is read again).
function profileEditor(mitra, on) {
  let loaded = mitra;
  const name = loaded.display_name;
  const named = (what) => `${what} of ${name}`;
  const display = field("Display name", h("input", { type: "text", class: "medium", maxlength: "200", "aria-label": named("Display name") }));
  const max = field("Max concurrent sessions", h("input", { type: "number", class: "narrow", min: "1", max: "100", "aria-label": named("Max concurrent sessions") }), {
    hint: "Empty: the default of the config",
  });
  const languages = field("Languages", h("input", { type: "text", class: "medium", spellcheck: "false", autocomplete: "off", "aria-label": named("Languages") }), {
    hint: "ISO 639-1 codes, comma-separated: id, en, jv",
  });
  const topics = field("Topics", h("input", { type: "text", class: "medium", "aria-label": named("Topics") }), { hint: "Comma-separated" });
  const gender = field("Gender", select(genders, ""), {});
  gender.input.setAttribute("aria-label", named("Gender"));
  const fields = {
    display_name: display,
    max_concurrent_sessions: max,
    "labels.languages": languages,
    "labels.topics": topics,
    "labels.gender": gender,
    labels: languages,
  };
  const conflict = h("div");
  const formError = h("p", { class: "error", "aria-live": "polite" });
  const status = h("p", { class: "status-ok", "aria-live": "polite" });
  const save = h("button", { type: "submit", text: "Save", "aria-label": `Save the profile of ${name}` });
  const close = h("button", { type: "button", class: "secondary", text: "Close", "aria-label": `Close the profile of ${name}` });
  const titleId = nextId("edit-title");
  const form = h(
    "form",
    { class: "edit-form", "aria-labelledby": titleId, novalidate: true, "data-mitra": mitra.id },
    h("h3", { id: titleId, text: `Profile of ${name}` }),
    h("div", { class: "inline-fields" }, display.wrap, max.wrap, languages.wrap, topics.wrap, gender.wrap),
    conflict,
    formError,
    h("div", { class: "actions" }, save, close),
    status,
  );

  const fill = (m) => {
    const l = m.labels || {};
    display.input.value = m.display_name;
    max.input.value = m.max_concurrent_sessions === null || m.max_concurrent_sessions === undefined ? "" : String(m.max_concurrent_sessions);
    languages.input.value = (l.languages || []).join(", ");
    topics.input.value = (l.topics || []).join(", ");
    gender.input.value = l.gender || "";
  };
  const clear = () => {
    for (const f of new Set(Object.values(fields))) showError(f, null);
    formError.textContent = "";
    conflict.replaceChildren();
    status.textContent = "";
  };
  // changes are the fields the operator changed from the profile as loaded.
  const changes = () => {
    const body = {};
    const l = loaded.labels || {};
    if (display.input.value !== loaded.display_name) body.display_name = display.input.value;
    const maxText = max.input.value.trim();
    const loadedMax = loaded.max_concurrent_sessions === null || loaded.max_concurrent_sessions === undefined ? "" : String(loaded.max_concurrent_sessions);
    if (maxText !== loadedMax) body.max_concurrent_sessions = maxText === "" ? null : Number.isFinite(Number(maxText)) ? Number(maxText) : maxText;
    const labels = { languages: list(languages.input.value), topics: list(topics.input.value), gender: gender.input.value || null };
    const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
    if (!same(labels.languages, l.languages || []) || !same(labels.topics, l.topics || []) || labels.gender !== (l.gender || null)) body.labels = labels;
    return body;
  };

  // send saves the changes on token; a stale write shows the choice.
  const send = async (body, token) => {
    clear();
    let m;
    try {
      m = await call("PATCH", `/api/internal/mitras/${mitra.id}`, { expected_profile_updated_at: token, ...body });
    } catch (err) {
      if (err.code === STALE && err.current) {
        const current = err.current;
        const reapply = h("button", { type: "button", class: "small", text: "Re-apply my edit", on: { click: () => send(body, current.profile_updated_at) } });
        const discard = h("button", {
          type: "button",
          class: "secondary small",
          text: "Discard my edit",
          on: {
            click: () => {
              loaded = current;
              fill(current);
              clear();
              display.input.focus();
            },
          },
        });
        conflict.replaceChildren(
          h(
            "div",
            { class: "conflict", role: "alert" },
            h("p", {}, h("strong", { text: CHANGED }), " ", `Now: ${profileText(current)} (updated ${time(current.profile_updated_at)}). Your edit is kept.`),
            h("div", { class: "actions" }, reapply, discard),
          ),
        );
        return;
      }
      const f = fields[err.field];
      if (f) showError(f, err);
      else formError.textContent = describe(err);
      return;
    }
    loaded = m;
    fill(m);
    status.textContent = "Saved.";
    announce(`Profile of ${m.display_name} saved.`);
    await on.saved(m);
  };

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = changes();
    if (Object.keys(body).length === 0) {
      clear();
      status.textContent = "Nothing changed.";
      return;
    }
    send(body, loaded.profile_updated_at);
  });
  close.addEventListener("click", () => on.closed());
  form.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      e.preventDefault();
      on.closed();
    }
  });
  fill(loaded);
  const ed = { el: form, first: display.input };
  Object.defineProperty(ed, "closed", { set: (fn) => (on.closed = fn) });
  return ed;
}

// ---- ratings ----

// ratingText is a mitra's rating as the list shows it: "4.3 ★ (12)".
function ratingText(rating, count) {
  return `${Number(rating).toFixed(1)} ★ (${count})`;
}

// ratingLink opens the mitra's ratings; its name says whose they are.
function ratingLink(m) {
  return h(
    "a",
    { href: `#/mitras/${encodeURIComponent(m.id)}/ratings` },
    ratingText(m.rating, m.ratings_count),
    h("span", { class: "sr-only", text: ` — ratings of ${m.display_name}` }),
  );
}

// stars shows 1..5 stars, read out as "4 of 5 stars".
function stars(n) {
  return h("span", { class: "stars", role: "img", "aria-label": `${n} of 5 stars`, text: "★".repeat(n) + "☆".repeat(5 - n) });
}

// excerpt is the first words of a comment, for a control's name.
function excerpt(text) {
  return text.length > 40 ? text.slice(0, 40) + "…" : text;
}

// mountRatings is #/mitras/<id>/ratings: the mitra's rating and its ratings, newest first,
// a page at a time; support hides a comment after confirming (the stars still count).
async function mountRatings(root, signal, id) {
  const hides = permission("support", "hiding rating comments");
  const heading = h("h1", { text: "Ratings" });
  const summary = h("p", { id: "rating-summary" });
  const listError = h("p", { class: "error", "aria-live": "polite" });
  const listArea = h("div");
  root.append(
    h("p", {}, h("a", { href: "#/mitras", text: "← All mitras" })),
    heading,
    summary,
    h("p", {
      class: "hint",
      text: "A mitra's rating is the Bayesian average of its ratings, (10 × 4.0 + the sum of the stars) / (10 + the number of ratings): 4.0 until it has any. A hidden comment's stars still count.",
    }),
    hides.note,
    listError,
    listArea,
  );
  let name = "this mitra";
  try {
    name = (await call("GET", `/api/internal/mitras/${encodeURIComponent(id)}`, undefined, { signal })).display_name;
    heading.textContent = `Ratings of ${name}`;
  } catch (err) {
    if (err.name === "AbortError") return;
    listError.textContent = describe(err);
    return;
  }
  let page = 1;

  const load = async () => {
    listError.textContent = "";
    let list;
    try {
      list = await call("GET", `/api/internal/mitras/${encodeURIComponent(id)}/ratings` + query({ page, page_size: PAGE_SIZE }), undefined, { signal });
    } catch (err) {
      if (err.name === "AbortError") return;
      listError.textContent = describe(err);
      return;
    }
    const n = list.ratings_count;
    summary.textContent = `Rating ${Number(list.rating).toFixed(1)} ★ from ${n === 1 ? "1 rating" : `${n} ratings`}.`;
    const body = h("tbody");
    for (const r of list.items) body.append(row(r));
    if (list.items.length === 0) body.append(h("tr", {}, h("td", { colspan: "5", class: "muted", text: "No rating yet." })));
    listArea.replaceChildren(
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "rating-table" },
          h("caption", { text: `Ratings of ${name}, newest first` }),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col", text: "Stars" }),
              h("th", { scope: "col", text: "Comment" }),
              h("th", { scope: "col", text: "Client" }),
              h("th", { scope: "col", text: "Rated" }),
              h("th", { scope: "col", text: "Actions" }),
            ),
          ),
          body,
        ),
      ),
      pager(list, "ratings", (p) => {
        page = p;
        load();
      }),
    );
  };

  const row = (r) => {
    const status = h("span", { class: "status-ok", "aria-live": "polite" });
    let comment;
    if (r.comment_hidden) comment = h("td", {}, h("span", { class: "badge bad", text: "hidden" }), " ", h("span", { class: "muted", text: `Comment hidden ${time(r.comment_hidden_at)}` }));
    else if (r.comment === null) comment = h("td", { class: "muted", text: "No comment" });
    else comment = h("td", { class: "comment", text: r.comment });
    const actions = h("div", { class: "actions" });
    if (!r.comment_hidden && r.comment !== null) {
      const hide = h("button", { type: "button", class: "danger small", text: "Hide comment", "aria-label": `Hide the comment “${excerpt(r.comment)}”` });
      hides.lock(hide);
      hide.addEventListener("click", async () => {
        const ok = await confirm({
          title: "Hide this comment?",
          message: "Nobody sees the comment any more. The rating stays, and its stars still count in the mitra's rating.",
          confirmLabel: "Hide comment",
          danger: true,
        });
        if (!ok) return;
        try {
          await call("POST", `/api/internal/ratings/${encodeURIComponent(r.id)}/hide`);
        } catch (err) {
          status.className = "error";
          status.textContent = describe(err);
          return;
        }
        announce("Comment hidden.");
        await load();
      });
      actions.append(hide);
    }
    actions.append(status);
    return h(
      "tr",
      { "data-id": r.id, class: r.comment_hidden ? "hidden-comment" : "" },
      h("td", {}, stars(r.stars)),
      comment,
      h("td", { class: "id", text: r.client_id }),
      h("td", { text: time(r.created_at) }),
      h("td", {}, actions),
    );
  };

  await load();
}

// The DOM helpers the console and the reference apps share: elements built from props,
// labelled fields with their error lines, announcements for screen readers. API data only
// ever reaches the page as text (textContent, value), never as HTML. The console's ui.js
// re-exports these; the apps import this file from the console's address
// (/console/dom.js), so one copy serves both.

import { describe } from "./http.js";

let uid = 0;

// nextId returns a fresh element id with the given prefix.
export function nextId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

// h creates an element. props: class, text, on (event → handler), and attributes
// (a boolean true sets an empty attribute, false or null leaves it out; "hidden",
// "disabled", "checked" and "value" are set as properties). children: nodes or strings.
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = String(v);
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === "hidden" || k === "disabled" || k === "checked" || k === "value") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// announce tells screen readers (and the tests) about an outcome that has no place of
// its own on the page.
export function announce(message) {
  const a = document.getElementById("announcer");
  a.textContent = "";
  // A new text node on the next frame: the same message twice is announced twice.
  requestAnimationFrame(() => {
    a.textContent = message;
  });
}

// field builds a labelled input with its error line: { wrap, input, error }.
export function field(labelText, input, { hint } = {}) {
  const id = input.id || nextId("f");
  input.id = id;
  const error = h("p", { class: "error", id: id + "-error", "aria-live": "polite" });
  const described = [error.id];
  let hintEl = null;
  if (hint) {
    hintEl = h("span", { class: "hint", id: id + "-hint", text: hint });
    described.unshift(hintEl.id);
  }
  input.setAttribute("aria-describedby", described.join(" "));
  const wrap = h("div", { class: "field" }, h("label", { for: id, text: labelText }), input, hintEl, error);
  return { wrap, input, error };
}

// showError puts an error's message beside an input (or clears it with null).
export function showError(f, err) {
  if (!err) {
    f.error.textContent = "";
    f.input.removeAttribute("aria-invalid");
    return;
  }
  f.error.textContent = describe(err);
  f.input.setAttribute("aria-invalid", "true");
}

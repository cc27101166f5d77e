// The console's shell: sign-in, sign-out, who is signed in and with which role, navigation
// between the pages the role may use.

import { call, clearToken, getOperator, getToken, setOperator, setToken, whenForbidden, whenSignedOut } from "./api.js";
import { announce, can, describe, h, needsRole } from "./ui.js";
import { tokenForm } from "./signin.js";
import * as dashboard from "./dashboard.js";
import * as mitras from "./mitras.js";
import * as pricing from "./pricing.js";
import * as config from "./config.js";
import * as failures from "./failures.js";
import * as live from "./live.js";
import * as safety from "./safety.js";
import * as payments from "./payments.js";
import * as clients from "./clients.js";
import * as earnings from "./earnings.js";
import * as audit from "./audit.js";
import * as operators from "./operators.js";

const pages = {
  dashboard,
  mitras,
  pricing,
  config,
  "failed-pairings": failures,
  live,
  safety,
  payments,
  clients,
  earnings,
  audit,
  operators,
};

// ME answers who a token is: {id, display_name, role, …}, for any operator.
const ME = "/api/internal/operators/me";

const $ = (id) => document.getElementById(id);

// route reads the address: "#/clients/<id>" is the page "clients" with the parameter
// "<id>" (a payment's or a client's page has its own address, for links and bookmarks).
function route() {
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  let param = rest.join("/");
  try {
    param = decodeURIComponent(param);
  } catch {
    // not decodable: the page says it is not an id
  }
  return { name, param };
}

let current = null; // { controller } of the page shown
// justSignedIn: the operator was read from the API by the sign-in itself; every other
// page shown reads it again first, so that a role changed meanwhile shows.
let justSignedIn = false;

// showOperator shows who is signed in and offers the links of the pages the role may use.
function showOperator() {
  const o = getOperator();
  $("whoami-text").textContent = o ? `${o.display_name} · ${o.role}` : "";
  $("whoami").hidden = !o;
  for (const li of $("nav").querySelectorAll("li[data-requires]")) li.hidden = !can(li.dataset.requires);
}

function leavePage() {
  if (current) current.controller.abort();
  current = null;
  $("view").replaceChildren();
}

function showSignIn(message) {
  leavePage();
  $("nav").hidden = true;
  $("sign-out").hidden = true;
  $("whoami").hidden = true;
  $("signin").hidden = false;
  document.title = "Sign in · curhat operator console";
  signInForm.show(message);
}

async function render() {
  if (!getToken()) {
    showSignIn();
    return;
  }
  const { name, param } = route();
  if (!pages[name]) {
    location.replace("#/dashboard");
    return;
  }
  leavePage();
  $("signin").hidden = true;
  $("nav").hidden = false;
  $("sign-out").hidden = false;
  for (const a of $("nav").querySelectorAll("a")) {
    if (a.getAttribute("href") === "#/" + name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const page = pages[name];
  document.title = `${page.title} · curhat operator console`;
  const controller = new AbortController();
  current = { controller };
  const root = $("view");
  showOperator();
  if (!justSignedIn) {
    try {
      setOperator(await call("GET", ME, undefined, { signal: controller.signal }));
    } catch (err) {
      if (controller.signal.aborted || (err && err.name === "AbortError")) return;
      // 401: signed out, the sign-in page says why. Otherwise the page goes on with the
      // role as last known (the API decides anyway), and says what went wrong.
      if (err.status === 401) return;
      root.append(h("p", { class: "error", role: "alert", text: `Could not check your role: ${describe(err)}` }));
    }
    showOperator();
  }
  justSignedIn = false;
  try {
    if (!can(page.requires)) {
      root.append(h("h1", { text: page.title }), h("p", { class: "error", role: "alert", text: needsRole(page.requires, `The ${page.title} page`) }));
    } else {
      await page.mount(root, controller.signal, param);
    }
  } catch (err) {
    if (err && err.name === "AbortError") return;
    root.append(h("p", { class: "error", role: "alert", text: describe(err) }));
  }
  // Move focus to the page's heading so that keyboard and screen-reader users start there,
  // unless the operator already went into the page while it loaded.
  const heading = root.querySelector("h1");
  if (heading && !controller.signal.aborted && !root.contains(document.activeElement)) {
    heading.tabIndex = -1;
    heading.focus();
  }
}

const signInForm = tokenForm({
  empty: "Enter the operator token.",
  // Who the token is, and whether it is an operator's at all.
  check: (token) => call("GET", ME, undefined, { token }),
  signedIn: (token, me) => {
    setToken(token);
    setOperator(me);
    justSignedIn = true;
    announce(`Signed in as ${me.display_name}, ${me.role}.`);
    if (!pages[route().name]) location.hash = "#/dashboard";
    else render();
  },
});

function signOut() {
  clearToken();
  showSignIn();
  announce("Signed out.");
}

whenSignedOut((err) => {
  clearToken();
  showSignIn(`Signed out: ${describe(err)}`);
});

// A refusal for the role tells the role the operator has now (changed since the page was
// shown): the header and the links follow at once; the page's controls on the next page.
whenForbidden((err) => {
  const o = getOperator();
  if (!o || !err.role || err.role === o.role) return;
  setOperator({ ...o, role: err.role });
  showOperator();
});

$("sign-out").addEventListener("click", signOut);
window.addEventListener("hashchange", render);
render();

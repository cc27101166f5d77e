// The console's shell: sign-in, sign-out, navigation between the pages.

import { call, clearToken, getToken, setToken, whenSignedOut } from "./api.js";
import { announce, describe } from "./ui.js";
import * as dashboard from "./dashboard.js";
import * as mitras from "./mitras.js";
import * as pricing from "./pricing.js";
import * as config from "./config.js";
import * as failures from "./failures.js";
import * as earnings from "./earnings.js";

const pages = {
  dashboard,
  mitras,
  pricing,
  config,
  "failed-pairings": failures,
  earnings,
};

const $ = (id) => document.getElementById(id);

let current = null; // { controller } of the page shown

function leavePage() {
  if (current) current.controller.abort();
  current = null;
  $("view").replaceChildren();
}

function showSignIn(message) {
  leavePage();
  $("nav").hidden = true;
  $("sign-out").hidden = true;
  $("signin").hidden = false;
  document.title = "Sign in · curhat operator console";
  const input = $("token");
  input.value = "";
  $("token-error").textContent = message || "";
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
  input.focus();
}

async function render() {
  if (!getToken()) {
    showSignIn();
    return;
  }
  const name = location.hash.replace(/^#\/?/, "");
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
  try {
    await page.mount(root, controller.signal);
  } catch (err) {
    if (err && err.name === "AbortError") return;
    root.append(Object.assign(document.createElement("p"), { className: "error", textContent: describe(err) }));
  }
  // Move focus to the page's heading so that keyboard and screen-reader users start there,
  // unless the operator already went into the page while it loaded.
  const heading = root.querySelector("h1");
  if (heading && !controller.signal.aborted && !root.contains(document.activeElement)) {
    heading.tabIndex = -1;
    heading.focus();
  }
}

async function signIn(event) {
  event.preventDefault();
  const input = $("token");
  const token = input.value.trim();
  const error = $("token-error");
  if (!token) {
    error.textContent = "Enter the operator token.";
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  try {
    // Any operator route tells whether the token is an operator's.
    await call("GET", "/api/internal/dashboard", undefined, { token });
  } catch (err) {
    error.textContent = describe(err);
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  input.value = "";
  error.textContent = "";
  setToken(token);
  announce("Signed in.");
  if (location.hash === "" || location.hash === "#/" || !pages[location.hash.slice(2)]) location.hash = "#/dashboard";
  else render();
}

function signOut() {
  clearToken();
  showSignIn();
  announce("Signed out.");
}

whenSignedOut((err) => {
  clearToken();
  showSignIn(`Signed out: ${describe(err)}`);
});

$("signin-form").addEventListener("submit", signIn);
$("sign-out").addEventListener("click", signOut);
window.addEventListener("hashchange", render);
render();

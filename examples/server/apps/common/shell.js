// The frame both apps share: one screen at a time in #view, the sign-in form (Masuk,
// Keluar), and the app's event stream followed while signed in. Each app's app.js says
// what it calls, shows and forgets (run).

import { clearToken, getToken, setToken, whenSignedOut } from "./api.js";
import { announce, describe, showConnection } from "./ui.js";
import { tokenForm } from "/console/signin.js";

const $ = (id) => document.getElementById(id);

// screen is the screen shown, as the app built it: {name, key, el} and any of update(),
// stop(), alert, chat, keepFocus, … (null when none). An app reads it as it changes (an
// ES module's export is a live binding); only show and leave change it.
export let screen = null;

// leave takes the screen shown down.
export function leave() {
  if (screen && screen.stop) screen.stop();
  screen = null;
  $("view").replaceChildren();
}

// show puts a screen up, or updates the one shown when it is the same (name and key):
// what the user typed or chose stays. The focus goes to the new screen's heading, unless
// the screen keeps it (keepFocus: a dialog over it holds the focus).
export function show(name, key, build) {
  if (screen && screen.name === name && screen.key === key) {
    if (screen.update) screen.update();
    return screen;
  }
  leave();
  screen = build();
  screen.name = name;
  screen.key = key;
  $("view").append(screen.el);
  const heading = screen.el.querySelector("h1");
  if (heading && !screen.keepFocus) {
    heading.tabIndex = -1;
    heading.focus();
  }
  return screen;
}

// run starts an app: the app when this tab holds a token, else the sign-in. app:
//   title         the page's title while signed in ("Masuk · " + title before)
//   tokenMissing  what the sign-in says when nothing was pasted
//   check(token)  a call that only a token of the app's side may make
//   follow(h)     follows the app's event stream with the handlers h (api.js follow)
//   onEvent       takes each event of the stream
//   resync()      re-reads and shows everything (the stream opened, or cannot)
//   signedIn()    starts what else runs while signed in (optional)
//   signingOut()  what Keluar does before the token is forgotten (optional)
//   signedOut()   forgets what the app showed
// Keluar forgets the token in this tab only; the token itself stays valid (a pasted
// demo token keeps working elsewhere).
export function run(app) {
  let events = null;
  const form = tokenForm({
    empty: app.tokenMissing,
    check: app.check,
    signedIn: (token) => {
      setToken(token);
      announce("Berhasil masuk.");
      signedIn();
    },
  });

  const signedIn = () => {
    $("signin").hidden = true;
    $("sign-out").hidden = false;
    $("connection").hidden = false;
    document.title = app.title;
    let opened = false;
    events = app.follow({
      onState: showConnection,
      onOpen: () => {
        opened = true;
        app.resync();
      },
      onEvent: app.onEvent,
    });
    // Show the page even while the stream cannot open; it re-reads once it does.
    setTimeout(() => {
      if (!opened && getToken()) app.resync();
    }, 3000);
    if (app.signedIn) app.signedIn();
  };

  const showSignIn = (message) => {
    if (events) events.stop();
    events = null;
    leave();
    app.signedOut();
    $("sign-out").hidden = true;
    $("connection").hidden = true;
    $("signin").hidden = false;
    document.title = "Masuk · " + app.title;
    form.show(message);
  };

  whenSignedOut((err) => {
    clearToken();
    showSignIn(`Keluar: ${describe(err)}`);
  });
  $("sign-out").addEventListener("click", async () => {
    if (app.signingOut) await app.signingOut();
    clearToken();
    showSignIn();
    announce("Kamu sudah keluar.");
  });
  if (getToken()) signedIn();
  else showSignIn();
}

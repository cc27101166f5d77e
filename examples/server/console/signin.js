// The sign-in form of the console and of the reference apps, as their index.html writes
// it: the form #signin-form, its token field #token and the field's error line
// #token-error. The apps import this file from the console's address
// (/console/signin.js), so one copy serves both.

import { describe } from "./http.js";

// tokenForm drives the form. On submit it checks the pasted token with check(token) (a
// call only a token of the right kind may make) and, when the call passes, empties the
// field and calls signedIn(token, answer) with the call's answer. An empty field says
// empty; a refused token says the API's reason. It returns show(message): the form again,
// emptied, with message (why the user was signed out) as its error.
export function tokenForm({ empty, check, signedIn }) {
  const input = document.getElementById("token");
  const error = document.getElementById("token-error");
  const refuse = (message) => {
    error.textContent = message;
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  };
  document.getElementById("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) {
      refuse(empty);
      input.focus();
      return;
    }
    let answer;
    try {
      answer = await check(token);
    } catch (err) {
      refuse(describe(err));
      input.focus();
      return;
    }
    input.value = "";
    refuse("");
    signedIn(token, answer);
  });
  return {
    show(message = "") {
      input.value = "";
      refuse(message);
      input.focus();
    },
  };
}

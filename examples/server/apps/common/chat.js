// The chat of a session, as both apps show it: the other party's name, the time left,
// the messages (kept by seq: an event may come twice, and after a reconnect the missed
// ones are read with after_seq), the field "Pesan" and "Kirim", and the app's own
// buttons below. The app passes the routes of its side (api.messages, api.send), so that
// every path it calls is written in its own file. screenOf makes the chat the screen
// shown; endButton is its "Akhiri".

import { newUUID } from "./api.js";
import { h, alertBox, clockText, confirmDialog, secondsUntil, ticker } from "./ui.js";

// MAX_TEXT is the longest message the API takes, in characters.
const MAX_TEXT = 4000;
const PAGE = 200;

// chatView builds the chat of session for the party me ("client" or "mitra").
// options: otherName, api {messages(id, afterSeq, limit), send(id, body)}, actions (nodes
// under the form), onTimeUp() (the time left reached 0: re-read the session).
export function chatView({ session, me, otherName, api, actions = [], onTimeUp }) {
  let current = session;
  const messages = new Map(); // seq → message
  let lastSeq = 0;
  const titleId = "chat-title";
  const timeLeft = h("span", { class: "time-left-value" });
  const timer = h("p", { class: "time-left", role: "timer", "aria-live": "off" }, "Sisa waktu ", timeLeft);
  const log = h("ol", { class: "messages", role: "log", "aria-live": "polite", "aria-label": "Percakapan" });
  const empty = h("p", { class: "hint empty", text: "Belum ada pesan. Mulai dengan menyapa." });
  const notices = h("div", { class: "notices" });
  const alert = alertBox();
  const input = h("textarea", { id: "message", rows: "2", maxlength: String(MAX_TEXT), autocomplete: "off", required: true });
  const send = h("button", { type: "submit", text: "Kirim" });
  const form = h(
    "form",
    { class: "compose", novalidate: true },
    h("label", { for: "message", class: "sr-only", text: "Pesan" }),
    input,
    send,
  );
  const el = h(
    "section",
    { class: "chat", "aria-labelledby": titleId },
    h("div", { class: "chat-head" }, h("h1", { id: titleId, text: otherName || "Chat" }), timer),
    notices,
    empty,
    log,
    alert.el,
    form,
    h("div", { class: "actions chat-actions" }, ...actions),
  );
  input.setAttribute("placeholder", "Tulis pesan…");

  let timeUpCalled = false;
  const tick = ticker(() => {
    const left = current.ends_at ? secondsUntil(current.ends_at) : 0;
    timeLeft.textContent = current.ends_at ? clockText(left) : "—";
    if (current.ends_at && left === 0 && !timeUpCalled && onTimeUp) {
      timeUpCalled = true;
      onTimeUp();
    }
  });

  const render = () => {
    const sorted = [...messages.values()].sort((a, b) => a.seq - b.seq);
    empty.hidden = sorted.length > 0;
    // Append what is new (kept in order): the log grows, nothing is rebuilt.
    const shown = new Set([...log.children].map((li) => Number(li.dataset.seq)));
    for (const m of sorted) {
      if (shown.has(m.seq)) continue;
      const mine = m.sender === me;
      const li = h(
        "li",
        { class: "msg " + (mine ? "mine" : "theirs"), "data-seq": String(m.seq) },
        h("span", { class: "sr-only", text: mine ? "Kamu: " : `${otherName}: ` }),
        h("span", { class: "text", text: m.text }),
        (m.flags || []).includes("contact") ? h("span", { class: "flag", text: "kontak disembunyikan" }) : null,
        h("time", { datetime: m.created_at, text: new Date(m.created_at).toLocaleTimeString("id-ID", { hour: "2-digit", minute: "2-digit" }) }),
      );
      const next = [...log.children].find((x) => Number(x.dataset.seq) > m.seq);
      log.insertBefore(li, next || null);
    }
    log.scrollTop = log.scrollHeight;
  };

  const add = (m) => {
    if (!m || !m.seq || messages.has(m.seq)) return;
    messages.set(m.seq, m);
    lastSeq = Math.max(lastSeq, m.seq);
  };

  // reload reads what came after the last message shown (all of it, on the first call).
  const reload = async () => {
    try {
      for (;;) {
        const page = await api.messages(current.id, lastSeq, PAGE);
        for (const m of page.items || []) add(m);
        render();
        if (!page.items || page.items.length < PAGE) return;
      }
    } catch (err) {
      alert.show(err);
    }
  };

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) {
      alert.show("Tulis pesan dulu.");
      input.focus();
      return;
    }
    send.disabled = true;
    alert.clear();
    // One client_msg_id per message typed: a retry after a lost answer is not sent twice.
    const clientMsgID = form.dataset.pending && form.dataset.pendingText === text ? form.dataset.pending : newUUID();
    form.dataset.pending = clientMsgID;
    form.dataset.pendingText = text;
    try {
      const m = await api.send(current.id, { text, client_msg_id: clientMsgID });
      add(m);
      render();
      input.value = "";
      delete form.dataset.pending;
      delete form.dataset.pendingText;
    } catch (err) {
      alert.show(err);
    } finally {
      send.disabled = false;
      input.focus();
    }
  });
  // Enter sends, Shift+Enter starts a new line.
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });

  return {
    el,
    reload,
    // onMessage takes a message event of this session.
    onMessage(m) {
      if (m.chat_session_id !== current.id) return;
      add(m);
      render();
    },
    // setSession takes the session as re-read (a new ends_at after an extension).
    setSession(s) {
      if (s.ends_at !== current.ends_at) timeUpCalled = false;
      current = { ...current, ...s };
    },
    // notice shows a lasting note above the messages (the safety resources, a warning,
    // an extension's card).
    notice(node) {
      notices.append(node);
      return node;
    },
    error(err) {
      alert.show(err);
    },
    focus() {
      input.focus();
    },
    stop() {
      tick.stop();
    },
  };
}

// screenOf is the chat as the screen shown (shell.js show): its errors show in the chat,
// update() takes the session as it is now (session()), and more adds the app's own
// (onExtension; a stop of its own runs after the chat's).
export function screenOf(chat, session, { stop, ...more } = {}) {
  return {
    ...more,
    el: chat.el,
    chat,
    alert: { show: (err) => chat.error(err) },
    update() {
      chat.setSession(session());
    },
    stop() {
      chat.stop();
      if (stop) stop();
    },
  };
}

// endButton is "Akhiri": it asks first (message: what ending now means for this side)
// and runs end() once the user confirms.
export function endButton(message, end) {
  const button = h("button", { type: "button", class: "danger", text: "Akhiri" });
  button.addEventListener("click", async () => {
    const ok = await confirmDialog({ title: "Akhiri sesi?", message, confirmLabel: "Ya, akhiri", danger: true });
    if (ok) await end();
  });
  return button;
}

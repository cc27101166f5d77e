// The mitra app (SPEC §28): the seed's mitra_app as a web page. A mitra signs in with its
// token, goes online with the switch "Online" (this tab is one device: it heartbeats with
// its device id while the page is open and online, and its event stream is the device's
// lease), sees offers — a new client's (blast) or a returning one's (targeted, "Curhat
// lagi"), each counting down to its expires_at — accepts or declines, chats, answers
// extension requests (or sees that they were approved automatically), ends, and sees its
// earnings and sets where its payouts go.
//
// What the page shows follows the server: the offers and sessions are re-read when the
// event stream says something changed, when it reconnects (events sent meanwhile are
// lost) and every RECHECK_EVERY.

import { call, follow, newUUID, useTokenKey } from "./api.js";
import { alertBox, announce, clockText, dateText, endedSection, field, h, homeButton, openChatButton, rupiah, secondsUntil, showError, ticker } from "./ui.js";
import { chatView, endButton, screenOf } from "./chat.js";
import { run, screen, show } from "./shell.js";

useTokenKey("curhat.mitraToken");

// HEARTBEAT_EVERY: how often an online page heartbeats (well within the server's stale
// threshold, 30 s by default). RECHECK_EVERY: how often the offers and sessions are
// re-read, should an event have been lost while the stream stayed up.
const HEARTBEAT_EVERY = 10_000;
const RECHECK_EVERY = 15_000;

// This tab's device id: each open tab is a device of its own, holding its own lease.
const DEVICE_KEY = "curhat.mitraDevice";
function deviceID() {
  let id = sessionStorage.getItem(DEVICE_KEY);
  if (!id) {
    id = "web-" + newUUID().slice(0, 8);
    sessionStorage.setItem(DEVICE_KEY, id);
  }
  return id;
}
const device = () => ({ "X-Device-Id": deviceID() });

const state = {
  status: null, // GET /api/mitra/status
  online: false, // on this device
  away: "", // why the server took the mitra offline
  offers: [],
  sessions: [], // active and pending_payment
  chat: null, // the chat session shown
  ended: null, // the session whose end is shown
  ext: new Map(), // chat session id → the last extension event {kind, d}
  earnings: null,
  destination: null,
};

let heartbeat = null;
let recheck = null;

// ---- reading the server ----

async function loadStatus() {
  state.status = await call("GET", "/api/mitra/status");
  const mine = state.status.devices.find((d) => d.device_id === deviceID());
  // Online here: the mitra is online and this device holds a lease (or, while the server
  // cannot list devices, the mitra is online at all).
  state.online = state.status.online && (!!mine || state.status.devices.length === 0);
  state.away = state.status.away_reason || "";
  beat();
}

async function loadOffers() {
  state.offers = (await call("GET", "/api/mitra/pairing-offers")).offers;
}

async function loadSessions() {
  const [active, pending] = await Promise.all([
    call("GET", "/api/mitra/chat-sessions?status=active"),
    call("GET", "/api/mitra/chat-sessions?status=pending_payment"),
  ]);
  state.sessions = [...active.chat_sessions, ...pending.chat_sessions];
}

async function loadEarnings() {
  state.earnings = await call("GET", "/api/mitra/earnings");
  try {
    state.destination = await call("GET", "/api/mitra/payout-destination");
  } catch (err) {
    if (err.status !== 404) throw err;
    state.destination = null; // none set yet
  }
}

// resync re-reads everything and shows it.
async function resync() {
  try {
    await Promise.all([loadStatus(), loadOffers(), loadSessions(), loadEarnings()]);
  } catch (err) {
    if (screen && screen.alert) screen.alert.show(err);
  }
  if (state.chat) {
    const cs = state.sessions.find((s) => s.id === state.chat.id);
    if (cs && cs.status === "active") {
      state.chat = cs;
      chatScreen();
      if (screen && screen.chat) screen.chat.reload();
      return;
    }
    return endChat(state.chat.id);
  }
  if (state.ended) return endedScreen();
  homeScreen();
}

// refresh re-reads the offers and sessions and updates the screen shown.
async function refresh() {
  try {
    await Promise.all([loadOffers(), loadSessions()]);
  } catch (err) {
    if (screen && screen.alert) screen.alert.show(err);
  }
  if (screen && screen.update) screen.update();
}

// beat heartbeats while this device is online, and stops when it is not.
function beat() {
  if (state.online && !heartbeat) {
    const send = async () => {
      try {
        const res = await call("POST", "/api/mitra/status/heartbeat", undefined, { headers: device() });
        if (!res.online) {
          state.online = false;
          beat();
          if (screen && screen.update) screen.update();
        }
      } catch (err) {
        if (screen && screen.alert) screen.alert.show(err);
      }
    };
    heartbeat = setInterval(send, HEARTBEAT_EVERY);
  } else if (!state.online && heartbeat) {
    clearInterval(heartbeat);
    heartbeat = null;
  }
}

// ---- home: the switch, offers, sessions, earnings ----

function homeScreen() {
  return show("home", "home", buildHome);
}

function buildHome() {
  const alert = alertBox();
  const toggle = h("button", { type: "button", role: "switch", id: "online", "aria-checked": "false", "aria-describedby": "online-hint" }, "Online");
  const hint = h("p", { class: "hint", id: "online-hint" });
  const offers = h("ul", { class: "offers", "aria-labelledby": "offers-title" });
  const noOffers = h("p", { class: "hint" });
  const sessions = h("ul", { class: "sessions", "aria-labelledby": "sessions-title" });
  const noSessions = h("p", { class: "hint", text: "Belum ada sesi yang berjalan." });
  const money = h("dl", { class: "money" });
  const clearance = h("p", { class: "hint" });
  const dest = destinationForm();
  const el = h(
    "section",
    { "aria-labelledby": "home-title" },
    h("h1", { id: "home-title", text: "Beranda bestie" }),
    h("div", { class: "panel" }, h("div", { class: "switch-row" }, h("strong", { text: "Status" }), toggle), hint),
    alert.el,
    h("h2", { id: "offers-title", text: "Tawaran curhat" }),
    noOffers,
    offers,
    h("h2", { id: "sessions-title", text: "Sesi" }),
    noSessions,
    sessions,
    h("h2", { id: "earnings-title", text: "Pendapatan" }),
    h("div", { class: "panel" }, money, clearance),
    h("h2", { id: "payout-title", text: "Tujuan pencairan" }),
    dest.el,
  );

  toggle.addEventListener("click", async () => {
    alert.clear();
    toggle.disabled = true;
    try {
      if (!state.online) {
        await call("POST", "/api/mitra/status/online", undefined, { headers: device() });
        state.online = true;
        state.away = "";
        announce("Kamu online. Tawaran curhat akan muncul di sini.");
      } else {
        const res = await call("POST", "/api/mitra/status/offline", { device_id: deviceID() });
        state.online = false;
        announce(res.online ? "Perangkat ini offline; kamu masih online di perangkat lain." : "Kamu offline.");
      }
      beat();
      await refresh();
    } catch (err) {
      alert.show(err);
    } finally {
      toggle.disabled = false;
      renderStatus();
    }
  });

  const renderStatus = () => {
    toggle.setAttribute("aria-checked", String(state.online));
    if (state.online) hint.textContent = "Kamu online di perangkat ini: klien bisa dipasangkan denganmu.";
    else if (state.away === "missed_offers") hint.textContent = "Server membuatmu offline karena beberapa tawaran terlewat. Nyalakan lagi kalau sudah siap.";
    else hint.textContent = "Kamu offline: tidak ada tawaran baru.";
  };

  const cards = new Map(); // pairing id → {li, tick}
  const renderOffers = () => {
    const seen = new Set(state.offers.map((o) => o.pairing_id));
    for (const [id, c] of cards) {
      if (!seen.has(id)) {
        c.tick.stop();
        c.li.remove();
        cards.delete(id);
      }
    }
    for (const o of state.offers) {
      if (cards.has(o.pairing_id)) continue;
      cards.set(o.pairing_id, offerCard(o, () => dismiss(o.pairing_id), alert));
    }
    offers.replaceChildren(...state.offers.filter((o) => cards.has(o.pairing_id)).map((o) => cards.get(o.pairing_id).li));
    noOffers.hidden = state.offers.length > 0;
    noOffers.textContent = state.online ? "Belum ada tawaran. Tetap buka halaman ini." : "Nyalakan Online untuk menerima tawaran.";
  };
  const dismiss = (id) => {
    state.offers = state.offers.filter((o) => o.pairing_id !== id);
    renderOffers();
  };

  const renderSessions = () => {
    noSessions.hidden = state.sessions.length > 0;
    sessions.replaceChildren(
      ...state.sessions.map((s) => {
        const whoID = `who-${s.id}`;
        const li = h("li", {}, h("span", { id: whoID, class: "who" }, h("strong", { text: s.client_display_name }), " ", h("span", { class: "muted", text: `${s.minutes} menit` })));
        if (s.status === "pending_payment") li.append(h("span", { class: "muted", text: "Menunggu pembayaran klien" }));
        else li.append(openChatButton(whoID, () => chatScreen(s)));
        return li;
      }),
    );
  };

  const renderMoney = () => {
    const e = state.earnings;
    if (!e) return;
    const rows = [
      ["Tertunda", e.pending],
      ["Bisa dicairkan", e.available],
      ["Sedang dikirim", e.in_flight],
      ["Sudah dicairkan", e.paid_out],
    ];
    if (e.receivable > 0) rows.push(["Harus dikembalikan", e.receivable]);
    money.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: rupiah(v, e.currency) })]));
    clearance.textContent = e.next_clearance_at ? `Pendapatan tertunda berikutnya bisa dicairkan ${dateText(e.next_clearance_at)}.` : "";
  };

  const update = () => {
    renderStatus();
    renderOffers();
    renderSessions();
    renderMoney();
    dest.update();
  };
  update();
  return {
    el,
    alert,
    update,
    stop() {
      for (const c of cards.values()) c.tick.stop();
    },
  };
}

// offerCard is one offer: who (a new client for a blast, a returning one for "Curhat
// lagi"), how long, a countdown to its expires_at (at 0 the card goes by itself),
// "Terima" and "Tolak".
function offerCard(o, gone, alert) {
  const returning = o.type === "targeted";
  const titleID = `offer-${o.pairing_id}`;
  const left = h("span", { class: "countdown" });
  const accept = h("button", { type: "button", text: "Terima", "aria-describedby": titleID });
  const decline = h("button", { type: "button", class: "secondary", text: "Tolak", "aria-describedby": titleID });
  const li = h(
    "li",
    { class: "offer " + (returning ? "targeted" : "blast"), "data-pairing": o.pairing_id },
    h("span", { class: "kind", text: returning ? "Klien lama" : "Klien baru" }),
    h("h3", { id: titleID, text: returning ? `${o.client_display_name} ingin curhat lagi` : `${o.client_display_name} ingin curhat` }),
    h("p", {}, `${o.minutes} menit · sisa `, left),
    returning ? h("p", { class: "hint", text: "Dia memilihmu lagi. Klien membayar setelah kamu menerima." }) : null,
    h("div", { class: "actions" }, accept, decline),
  );
  const tick = ticker(() => {
    const s = secondsUntil(o.expires_at);
    left.textContent = clockText(s);
    if (s === 0) {
      tick.stop();
      gone();
      setTimeout(refresh, 500); // what the server says of it now
    }
  });
  accept.addEventListener("click", async () => {
    alert.clear();
    accept.disabled = decline.disabled = true;
    try {
      const res = await call("POST", `/api/mitra/pairing-offers/${o.pairing_id}/accept`);
      gone();
      const cs = res.chat_session;
      if (cs.status === "active") {
        state.chat = cs;
        await loadSessions().catch(() => {});
        chatScreen();
      } else {
        announce(`Diterima. Menunggu ${cs.client_display_name} membayar.`);
        await refresh();
      }
    } catch (err) {
      alert.show(err);
      gone();
      refresh();
    }
  });
  decline.addEventListener("click", async () => {
    alert.clear();
    accept.disabled = decline.disabled = true;
    try {
      await call("POST", `/api/mitra/pairing-offers/${o.pairing_id}/decline`);
      announce("Tawaran ditolak.");
    } catch (err) {
      alert.show(err);
    }
    gone();
  });
  return { li, tick };
}

// destinationForm is where payouts go: shown, and edited.
function destinationForm() {
  const channel = field("Kode bank atau e-wallet", h("input", { type: "text", autocomplete: "off", spellcheck: "false", placeholder: "ID_BCA" }), { hint: "Misalnya ID_BCA, ID_OVO" });
  const number = field("Nomor rekening", h("input", { type: "text", inputmode: "numeric", autocomplete: "off" }));
  const holder = field("Nama pemilik rekening", h("input", { type: "text", autocomplete: "off" }));
  const current = h("p", { class: "hint" });
  const save = h("button", { type: "submit", text: "Simpan tujuan pencairan" });
  const form = h("form", { class: "panel", novalidate: true }, current, channel.wrap, number.wrap, holder.wrap, save);
  let filled = false;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const f of [channel, number, holder]) showError(f, null);
    save.disabled = true;
    try {
      state.destination = await call("PUT", "/api/mitra/payout-destination", {
        channel_code: channel.input.value.trim(),
        account_number: number.input.value.trim(),
        account_holder_name: holder.input.value.trim(),
      });
      filled = false;
      update();
      announce("Tujuan pencairan disimpan.");
    } catch (err) {
      const f = { channel_code: channel, account_number: number, account_holder_name: holder }[err.field] || channel;
      showError(f, err);
    } finally {
      save.disabled = false;
    }
  });
  const update = () => {
    const d = state.destination;
    current.textContent = d ? `Sekarang: ${d.channel_code} · ${d.account_number} a.n. ${d.account_holder_name}` : "Belum ada tujuan pencairan: pendapatanmu menunggu sampai kamu mengisinya.";
    if (d && !filled) {
      channel.input.value = d.channel_code;
      number.input.value = d.account_number;
      holder.input.value = d.account_holder_name;
      filled = true;
    }
  };
  return { el: form, update };
}

// ---- chatting ----

// chatScreen shows the chat of the session cs (state.chat unless given).
function chatScreen(cs = state.chat) {
  state.chat = cs;
  return show("chat", cs.id, () => {
    const back = h("button", { type: "button", class: "secondary", text: "Kembali" });
    const end = endButton(`Sesi dengan ${cs.client_display_name} berakhir sekarang.`, async () => {
      try {
        const res = await call("POST", `/api/mitra/chat-sessions/${cs.id}/end`);
        state.chat = null;
        state.ended = res.chat_session;
        endedScreen();
      } catch (err) {
        chat.error(err);
      }
    });
    const chat = chatView({
      session: cs,
      me: "mitra",
      otherName: cs.client_display_name,
      api: {
        messages: (id, after, limit) => call("GET", `/api/mitra/chat-sessions/${id}/messages?after_seq=${after}&limit=${limit}`),
        send: (id, body) => call("POST", `/api/mitra/chat-sessions/${id}/messages`, body),
      },
      actions: [end, back],
      onTimeUp: () => setTimeout(() => endChat(cs.id), 1500),
    });
    chat.reload();
    back.addEventListener("click", () => {
      state.chat = null;
      homeScreen();
      refresh();
    });
    const card = extensionCard(chat, cs);
    const last = state.ext.get(cs.id);
    if (last) card.onEvent(last.kind, last.d);
    rereadExtension(card, cs);
    return screenOf(chat, () => state.chat, {
      onExtension(kind, d) {
        card.onEvent(kind, d);
      },
      stop: card.stop,
    });
  });
}

// rereadExtension asks the server for the chat's extensions (events are best effort: a
// request sent while the stream was down reaches the page only this way) and shows one
// still waiting for the mitra's answer.
async function rereadExtension(card, cs) {
  try {
    const { extensions } = await call("GET", `/api/mitra/chat-sessions/${cs.id}/extensions`);
    const e = extensions[extensions.length - 1];
    if (!e || e.status !== "requested" || !e.expires_at) return;
    const shown = state.ext.get(cs.id);
    if (shown && shown.kind === "extension_requested" && shown.d.extension_id === e.id) return;
    const d = { extension_id: e.id, chat_session_id: e.chat_session_id, minutes: e.minutes, amount: e.amount, expires_at: e.expires_at };
    state.ext.set(cs.id, { kind: "extension_requested", d });
    card.onEvent("extension_requested", d);
  } catch {
    // The stream's next event, or the next re-read, shows it.
  }
}

// extensionCard is the extension of the chat as the mitra sees it: a request to approve
// or reject before its expires_at, or one the server approved automatically ("otomatis
// disetujui"), then paid (the time added).
function extensionCard(chat, cs) {
  const card = h("section", { class: "card", "aria-labelledby": "ext-title", hidden: true });
  let tick = null;
  const stopTick = () => {
    if (tick) tick.stop();
    tick = null;
  };
  const fill = (title, ...nodes) => {
    stopTick();
    card.hidden = false;
    card.replaceChildren(h("h2", { id: "ext-title", text: title }), ...nodes);
  };
  card.onEvent = (kind, d) => {
    if (d.chat_session_id !== cs.id) return;
    card.className = "card";
    switch (kind) {
      case "extension_requested": {
        const left = h("span", { class: "countdown" });
        const approve = h("button", { type: "button", text: "Setujui" });
        const reject = h("button", { type: "button", class: "secondary", text: "Tolak" });
        const alert = alertBox();
        fill(`${cs.client_display_name} minta tambah ${d.minutes} menit`, h("p", {}, `${rupiah(d.amount)} · jawab dalam `, left), alert.el, h("div", { class: "actions" }, approve, reject));
        tick = ticker(() => {
          left.textContent = clockText(secondsUntil(d.expires_at));
        });
        const decide = async (what) => {
          approve.disabled = reject.disabled = true;
          try {
            if (what === "approve") {
              await call("POST", `/api/mitra/extensions/${d.extension_id}/approve`);
              fill("Tambahan waktu disetujui", h("p", { text: `Menunggu ${cs.client_display_name} membayar ${d.minutes} menit tambahan.` }));
            } else {
              await call("POST", `/api/mitra/extensions/${d.extension_id}/reject`);
              fill("Tambahan waktu ditolak", h("p", { text: `${cs.client_display_name} tidak ditagih.` }));
            }
          } catch (err) {
            alert.show(err);
            approve.disabled = reject.disabled = false;
          }
        };
        approve.addEventListener("click", () => decide("approve"));
        reject.addEventListener("click", () => decide("reject"));
        announce(`${cs.client_display_name} minta tambah waktu.`);
        break;
      }
      case "extension_approved":
        card.classList.add("auto");
        fill(`Tambah ${d.minutes} menit: otomatis disetujui`, h("p", { text: `${cs.client_display_name} menambah ${d.minutes} menit dan sedang membayar. Kamu tidak perlu melakukan apa-apa.` }));
        announce(`Tambahan ${d.minutes} menit otomatis disetujui.`);
        break;
      case "extension_expired":
        fill("Tambahan waktu tidak jadi", h("p", { text: "Permintaan atau pembayarannya sudah lewat waktu." }));
        break;
      case "session_extended":
        card.classList.add("done");
        fill(`Waktu ditambah ${d.minutes} menit`, h("p", { text: `Sesi kini ${d.total_minutes} menit.` }));
        announce(`Waktu ditambah ${d.minutes} menit.`);
        break;
    }
  };
  card.stop = stopTick;
  chat.notice(card);
  return card;
}

// endChat shows the end of a session (re-read from the list of ended ones).
async function endChat(id) {
  try {
    const res = await call("GET", "/api/mitra/chat-sessions?status=ended");
    const cs = res.chat_sessions.find((s) => s.id === id);
    if (!cs) {
      // Not ended: extended meanwhile (the chat goes on), or its end is a moment away
      // (the server's timer fires at ends_at): look again shortly.
      await loadSessions();
      const running = state.sessions.find((s) => s.id === id && s.status === "active");
      if (running && secondsUntil(running.ends_at) > 0) {
        if (state.chat && state.chat.id === id) {
          state.chat = running;
          if (screen && screen.name === "chat") screen.update();
        }
        return;
      }
      if (state.chat && state.chat.id === id) setTimeout(() => endChat(id), 2000);
      return;
    }
    if (state.chat && state.chat.id === id) state.chat = null;
    state.ended = cs;
    endedScreen();
    loadEarnings()
      .then(() => screen && screen.update && screen.update())
      .catch(() => {});
  } catch (err) {
    if (screen && screen.alert) screen.alert.show(err);
  }
}

function endedScreen() {
  const cs = state.ended;
  return show("ended", cs.id, () => {
    const why =
      {
        expired: "Waktunya habis.",
        client_ended: `${cs.client_display_name} mengakhiri sesi.`,
        mitra_ended: "Kamu mengakhiri sesi.",
        operator_ended: "Sesi diakhiri oleh tim curhat.",
        mitra_no_show: "Sesi berakhir karena belum ada balasan darimu; klien dikembalikan dananya.",
      }[cs.end_reason] || "";
    const back = homeButton(() => {
      state.ended = null;
      resync();
    });
    return {
      el: endedSection(
        h("p", { class: "lead", text: `Sesi dengan ${cs.client_display_name} (${cs.minutes} menit) selesai. ${why}`.trim() }),
        h("p", { class: "hint", text: "Pendapatan dari sesi ini masuk ke saldo tertunda." }),
        back,
      ),
    };
  });
}

// ---- events ----

function onEvent(kind, d) {
  switch (kind) {
    case "presence":
      if (d.device_id === deviceID()) {
        state.online = d.online;
        beat();
        if (screen && screen.name === "home") screen.update();
      }
      return;
    case "mitra_away":
      state.online = false;
      state.away = d.reason;
      beat();
      if (screen && screen.name === "home") screen.update();
      announce("Kamu dibuat offline karena beberapa tawaran terlewat.");
      return;
    case "pairing_offer":
      refresh();
      announce(d.type === "targeted" ? "Klien lama ingin curhat lagi." : "Ada tawaran curhat baru.");
      return;
    case "offer_dismissed":
      state.offers = state.offers.filter((o) => o.pairing_id !== d.pairing_id);
      if (screen && screen.name === "home") screen.update();
      return;
    case "pairing_matched":
    case "session_started":
      refresh().then(() => {
        // The targeted chat this mitra accepted is paid: open it.
        const cs = state.sessions.find((s) => s.id === d.chat_session_id && s.status === "active");
        if (kind === "session_started" && cs && !state.chat && (!screen || screen.name === "home")) chatScreen(cs);
      });
      return;
    case "session_ended":
      state.ext.delete(d.chat_session_id);
      if (state.chat && state.chat.id === d.chat_session_id) endChat(d.chat_session_id);
      else refresh();
      return;
    case "message":
      if (screen && screen.chat) screen.chat.onMessage(d);
      return;
    case "extension_requested":
    case "extension_approved":
    case "extension_expired":
    case "session_extended":
      state.ext.set(d.chat_session_id, { kind, d });
      if (kind === "session_extended") {
        const s = state.sessions.find((x) => x.id === d.chat_session_id);
        if (s) Object.assign(s, { ends_at: d.ends_at, minutes: d.total_minutes });
        if (state.chat && state.chat.id === d.chat_session_id) state.chat = { ...state.chat, ends_at: d.ends_at, minutes: d.total_minutes };
      }
      if (screen && screen.name === "chat" && state.chat && state.chat.id === d.chat_session_id) {
        screen.update();
        screen.onExtension(kind, d);
      } else if (kind === "extension_requested") {
        announce("Ada permintaan tambah waktu; buka chatnya untuk menjawab.");
      }
      return;
    case "warning":
      if (screen && screen.alert) screen.alert.show(`Peringatan dari tim curhat: ${d.note}`);
      return;
  }
}

// ---- signing in and out ----

run({
  title: "curhat mitra",
  tokenMissing: "Tempel token mitra dulu.",
  // Whether the token is a mitra's at all: a client's or an operator's is refused.
  check: (token) => call("GET", "/api/mitra/status", undefined, { token }),
  follow: (handlers) => follow("/api/mitra/events", { ...handlers, headers: device() }),
  onEvent,
  resync,
  signedIn() {
    recheck = setInterval(refresh, RECHECK_EVERY);
  },
  // Keluar takes this device offline first.
  async signingOut() {
    if (!state.online) return;
    try {
      await call("POST", "/api/mitra/status/offline", { device_id: deviceID() });
    } catch {
      // the lease ends by itself when it goes stale
    }
  },
  signedOut() {
    if (recheck) clearInterval(recheck);
    recheck = null;
    state.online = false;
    beat();
    Object.assign(state, { status: null, offers: [], sessions: [], chat: null, ended: null, ext: new Map(), earnings: null, destination: null });
  },
});

// The client app (SPEC §28): the seed's client_app as a web page. A client signs in with
// its token, sees how many bestie are available and the prices (with the first-session
// discount), starts a paid chat and pays at the checkout link, waits (searching, queued),
// chats, buys more time, ends, rates, blocks or reports; "Curhat lagi" asks a past
// session's mitra again, and when that mitra cannot, offers to find another.
//
// What the page shows follows the server: the pairing it follows is re-read whenever its
// event stream says something happened to it, when the stream reconnects (events sent
// meanwhile are lost) and every RECHECK_EVERY while it waits. A reload resumes from GET
// /api/client/pairings?status=open and the history.

import { call, follow, newUUID, useTokenKey } from "./api.js";
import { alertBox, announce, clockText, confirmDialog, dateText, endedSection, field, h, homeButton, modal, openChatButton, rupiah, secondsUntil, showError, ticker } from "./ui.js";
import { chatView, endButton, screenOf } from "./chat.js";
import { run, screen, show } from "./shell.js";

useTokenKey("curhat.clientToken");

// BEACON_EVERY: how often the home screen reads the availability beacon (the server
// caches it for 10 s). RECHECK_EVERY: how often a waiting screen re-reads its pairing,
// should an event have been lost while the stream stayed up.
const BEACON_EVERY = 10_000;
const RECHECK_EVERY = 15_000;

const state = {
  pricing: null,
  beacon: null,
  sessions: [], // the history's first page, newest first
  blocked: new Set(), // mitra ids the client blocked
  current: null, // the pairing followed: {pairing, payment, chat_session}
  failure: null, // the pairing_failed event of the pairing followed
  targetName: "", // the name of the "Curhat lagi" mitra
  chat: null, // the chat session shown: active, or ended (its rating)
  minutes: null, // the duration chosen
};

// ---- screens ----

// every runs fn every ms until the screen goes (its stop).
function every(ms, fn) {
  const t = setInterval(fn, ms);
  return () => clearInterval(t);
}

// ---- reading the server ----

async function loadPricing() {
  state.pricing = await call("GET", "/api/client/chat/pricing");
}

async function loadBeacon() {
  state.beacon = await call("GET", "/api/client/mitra-availability");
}

async function loadHistory() {
  const page = await call("GET", "/api/client/chat-sessions?page=1");
  state.sessions = page.items;
  const blocks = await call("GET", "/api/client/blocks");
  state.blocked = new Set(blocks.items.map((b) => b.mitra_id));
}

// resync re-reads everything the page shows and shows where the client is: the pairing it
// follows, else an open one (after a reload), else an active chat, else the home screen.
let resyncs = 0;
async function resync() {
  const mine = ++resyncs;
  try {
    await Promise.all([loadPricing(), loadHistory()]);
  } catch (err) {
    homeError(err);
  }
  if (mine !== resyncs) return;
  if (state.current) return refreshCurrent();
  if (state.chat) return refreshChat();
  try {
    const open = await call("GET", "/api/client/pairings?status=open");
    if (mine !== resyncs) return;
    if (open.items.length > 0) {
      state.current = open.items[open.items.length - 1];
      const target = state.current.pairing.target_mitra_id;
      if (target) state.targetName = nameOf(target);
      return showCurrent();
    }
  } catch (err) {
    homeError(err);
  }
  const active = state.sessions.find((s) => s.status === "active");
  if (active) return chatScreen(active);
  homeScreen();
}

// refreshCurrent re-reads the pairing followed; only the latest read is shown.
let reads = 0;
async function refreshCurrent() {
  if (!state.current) return;
  const mine = ++reads;
  try {
    const v = await call("GET", `/api/client/pairings/${state.current.pairing.id}`);
    if (mine !== reads || !state.current || v.pairing.id !== state.current.pairing.id) return;
    state.current = v;
    showCurrent();
  } catch (err) {
    if (screen && screen.alert) screen.alert.show(err);
  }
}

// refreshChat re-reads the chat session shown.
async function refreshChat() {
  if (!state.chat) return;
  try {
    const cs = await call("GET", `/api/client/chat-sessions/${state.chat.id}`);
    if (!state.chat || cs.id !== state.chat.id) return;
    state.chat = cs;
    if (cs.status === "active") {
      chatScreen();
      if (screen && screen.chat) screen.chat.reload();
    } else endedScreen();
  } catch (err) {
    if (screen && screen.alert) screen.alert.show(err);
  }
}

// nameOf is the name of a mitra the client had a session with ("bestie" otherwise).
function nameOf(mitraID) {
  const s = state.sessions.find((x) => x.mitra_id === mitraID);
  return s ? s.mitra_display_name : "Bestie";
}

function homeError(err) {
  if (screen && screen.alert) screen.alert.show(err);
}

// showCurrent shows the screen of the pairing followed.
function showCurrent() {
  const v = state.current;
  const p = v.pairing;
  switch (p.status) {
    case "awaiting_payment":
      return paymentScreen();
    case "searching":
      return searchingScreen();
    case "queued":
      return queuedScreen();
    case "targeted_waiting":
      return targetedScreen();
    case "targeted_unavailable":
      return unavailableScreen();
    case "failed":
      return failedScreen();
    case "cancelled": {
      state.current = null;
      state.failure = null;
      homeScreen();
      const why = {
        payment_expired: "Waktu pembayaran habis; pesananmu dibatalkan.",
        payment_failed: "Pembayaran gagal; pesananmu dibatalkan.",
        payment_declined: "Pembayaran ditolak; pesananmu dibatalkan.",
        abandoned: "Pesananmu dibatalkan karena lama tidak dilanjutkan.",
      }[p.failure_reason];
      announce(why || "Dibatalkan.");
      if (why && screen.alert) screen.alert.show(why);
      return;
    }
    case "matched": {
      const cs = v.chat_session;
      if (cs && cs.status === "pending_payment") return paymentScreen();
      state.current = null;
      state.failure = null;
      if (!cs) return homeScreen();
      state.chat = cs;
      if (cs.status === "active") return chatScreen();
      return endedScreen();
    }
  }
  return homeScreen();
}

// ---- home: the beacon, prices, start, history ----

function homeScreen() {
  return show("home", "home", buildHome);
}

function buildHome() {
  const alert = alertBox();
  const beacon = h("p", { class: "beacon", role: "status", id: "beacon" });
  const discount = h("p", { class: "discount", id: "discount", hidden: true });
  const tiers = h("ul", { class: "tiers" });
  const start = h("button", { type: "button", class: "wide", text: "Mulai curhat" });
  const history = h("ul", { class: "history", "aria-labelledby": "history-title" });
  const historyEmpty = h("p", { class: "hint", text: "Belum ada sesi. Sesi yang selesai muncul di sini, dan dari sana kamu bisa curhat lagi dengan bestie yang sama." });
  const el = h(
    "section",
    { class: "home", "aria-labelledby": "home-title" },
    h("h1", { id: "home-title", text: "Mau curhat sekarang?" }),
    beacon,
    alert.el,
    h("fieldset", {}, h("legend", { text: "Pilih durasi" }), discount, tiers),
    start,
    h("h2", { id: "history-title", text: "Riwayat curhat" }),
    historyEmpty,
    history,
  );

  const renderBeacon = () => {
    const b = state.beacon;
    beacon.textContent = b ? `${b.available_count} bestie tersedia` : "Memeriksa bestie yang tersedia…";
    beacon.dataset.available = String(!!(b && b.available));
  };

  let tiersShown = "";
  const renderTiers = () => {
    const pr = state.pricing;
    if (!pr) return;
    const d = pr.first_session_discount;
    discount.hidden = !d.eligible;
    if (d.eligible) {
      const cap = d.max_discount_amount ? ` (maks. ${rupiah(d.max_discount_amount, pr.currency)})` : "";
      discount.textContent = `${d.label || "Diskon sesi pertama"}: ${d.discount_percent}%${cap}`;
    }
    const list = pr.session_tiers;
    if (!list.some((t) => t.minutes === state.minutes)) state.minutes = list.length ? list[0].minutes : null;
    const key = JSON.stringify(list) + state.minutes;
    if (key === tiersShown) return;
    tiersShown = key;
    tiers.replaceChildren(
      ...list.map((t) => {
        const id = `tier-${t.minutes}`;
        const discounted = t.discounted_price !== null && t.discounted_price < t.price;
        const price = h(
          "span",
          { class: "price", id: id + "-price" },
          discounted ? h("s", { text: rupiah(t.price, pr.currency) }) : null,
          discounted ? h("span", { class: "sr-only", text: " setelah diskon " }) : null,
          h("strong", { text: rupiah(discounted ? t.discounted_price : t.price, pr.currency) }),
        );
        const radio = h("input", { type: "radio", name: "minutes", id, value: String(t.minutes), checked: t.minutes === state.minutes, "aria-describedby": price.id });
        radio.addEventListener("change", () => {
          state.minutes = t.minutes;
        });
        return h("li", { class: "tier" }, radio, h("label", { for: id, text: `${t.minutes} menit` }), price);
      }),
    );
    if (list.length === 0) tiers.append(h("li", { class: "hint", text: "Belum ada harga; coba lagi nanti." }));
    start.disabled = list.length === 0;
  };

  let historyShown = "";
  const renderHistory = () => {
    // Rebuilt only when it changed: a button keeps its focus across the re-reads.
    const key = JSON.stringify([state.sessions, [...state.blocked]]);
    if (key === historyShown) return;
    historyShown = key;
    const offered = new Set(); // one "Curhat lagi" per mitra: its latest session's
    historyEmpty.hidden = state.sessions.length > 0;
    history.replaceChildren(
      ...state.sessions.map((s) => {
        const whoID = `who-${s.id}`;
        const status = { ended: "Selesai", active: "Berlangsung", pending_payment: "Menunggu pembayaran", cancelled: "Batal" }[s.status] || s.status;
        const li = h(
          "li",
          {},
          h("span", { class: "who", id: whoID, text: s.mitra_display_name }),
          h("span", { class: "muted", text: `${s.minutes} menit · ${status}` }),
          h("span", { class: "when", text: dateText(s.started_at || s.ended_at) }),
        );
        if (s.status === "ended" && !offered.has(s.mitra_id) && !state.blocked.has(s.mitra_id)) {
          offered.add(s.mitra_id);
          const again = h("button", { type: "button", class: "secondary small", text: "Curhat lagi", "aria-describedby": whoID });
          again.addEventListener("click", () => curhatLagi(s, again));
          li.append(again);
        }
        if (s.status === "active") {
          li.append(openChatButton(whoID, () => chatScreen(s)));
        }
        return li;
      }),
    );
  };

  start.addEventListener("click", async () => {
    alert.clear();
    if (!state.minutes) {
      alert.show("Pilih durasi dulu.");
      return;
    }
    start.disabled = true;
    try {
      const res = await call("POST", "/api/client/chat/start", { minutes: state.minutes }, { headers: { "Idempotency-Key": newUUID() } });
      state.current = { pairing: res.pairing, payment: res.payment, chat_session: null };
      state.failure = null;
      showCurrent();
    } catch (err) {
      alert.show(err);
    } finally {
      start.disabled = false;
    }
  });

  const curhatLagi = async (s, button) => {
    alert.clear();
    button.disabled = true;
    try {
      const res = await call("POST", "/api/client/chat/returning", { mitra_id: s.mitra_id, minutes: state.minutes || s.minutes });
      state.current = { pairing: res.pairing, payment: null, chat_session: null };
      state.failure = null;
      state.targetName = s.mitra_display_name;
      showCurrent();
    } catch (err) {
      alert.show(err);
      button.disabled = false;
    }
  };

  const update = () => {
    renderBeacon();
    renderTiers();
    renderHistory();
  };
  update();
  const poll = async () => {
    try {
      await loadBeacon();
      renderBeacon();
    } catch (err) {
      alert.show(err);
    }
  };
  poll();
  const stopPoll = every(BEACON_EVERY, poll);
  return { el, alert, update, stop: stopPoll };
}

// ---- paying ----

function paymentScreen() {
  const v = state.current;
  const pay = v.payment;
  return show("payment", pay ? pay.id : v.pairing.id, () => {
    const alert = alertBox();
    const targeted = v.pairing.type === "targeted";
    const facts = h("dl", { class: "facts" });
    const link = h("a", { class: "button wide", target: "_blank", rel: "noopener noreferrer", text: "Bayar" });
    const expiry = h("p", { class: "hint", role: "timer", "aria-live": "off" });
    const cancel = h("button", { type: "button", class: "secondary wide", text: "Batal" });
    const el = h(
      "section",
      { "aria-labelledby": "pay-title" },
      h("h1", { id: "pay-title", text: "Pembayaran" }),
      targeted ? h("p", { class: "good", text: `${state.targetName} menerima curhatmu! Bayar untuk mulai.` }) : null,
      h("div", { class: "panel" }, facts, expiry),
      alert.el,
      link,
      h("p", { class: "hint", text: "Halaman pembayaran terbuka di tab baru. Setelah kamu membayar, halaman ini lanjut sendiri." }),
      targeted ? null : cancel,
    );
    const update = () => {
      const p = state.current.payment;
      const minutes = state.current.pairing.minutes;
      if (!p) {
        facts.replaceChildren(h("dt", { text: "Pembayaran" }), h("dd", { text: "sedang disiapkan…" }));
        link.hidden = true;
        return;
      }
      const rows = [["Curhat", `${minutes} menit`], ["Harga", rupiah(p.base_amount, p.currency)]];
      if (p.discount_amount > 0) rows.push(["Diskon sesi pertama", "−" + rupiah(p.discount_amount, p.currency)]);
      facts.replaceChildren(...rows.flatMap(([k, val]) => [h("dt", { text: k }), h("dd", { text: val })]));
      facts.append(h("dt", { class: "total", text: "Total" }), h("dd", { class: "total", text: rupiah(p.amount, p.currency) }));
      link.hidden = !(p.status === "pending" && p.checkout_url);
      if (p.checkout_url) link.href = p.checkout_url;
      if (p.status === "paid") expiry.textContent = "Dibayar. Menunggu server…";
    };
    update();
    return waiting({ el, alert, update, cancel }, () => {
      const p = state.current && state.current.payment;
      if (p && p.status === "pending") expiry.textContent = `Bayar dalam ${clockText(secondsUntil(p.expires_at))}`;
    });
  });
}

// waiting is a screen that waits on the pairing followed: tick() runs every second (its
// countdown), its "Batal" (cancel) cancels the pairing, and the pairing is re-read every
// RECHECK_EVERY should an event have been lost.
function waiting({ el, alert, update, cancel }, tick) {
  const ticking = ticker(tick);
  cancel.addEventListener("click", () => cancelCurrent(alert, cancel));
  const stopCheck = every(RECHECK_EVERY, refreshCurrent);
  return {
    el,
    alert,
    update,
    stop() {
      ticking.stop();
      stopCheck();
    },
  };
}

// cancelCurrent cancels the pairing followed (a paid one is refunded) and goes home.
async function cancelCurrent(alert, button) {
  const p = state.current.pairing;
  if (p.status === "searching" || p.status === "queued") {
    const ok = await confirmDialog({
      title: "Batalkan pencarian?",
      message: "Pembayaranmu dikembalikan penuh.",
      confirmLabel: "Ya, batalkan",
      danger: true,
    });
    if (!ok) return;
  }
  alert.clear();
  button.disabled = true;
  try {
    const res = await call("POST", "/api/client/chat/cancel", { pairing_id: p.id });
    state.current = { ...state.current, pairing: res.pairing };
    showCurrent();
  } catch (err) {
    alert.show(err);
    button.disabled = false;
    refreshCurrent();
  }
}

// ---- waiting for a bestie ----

function searchingScreen() {
  return show("searching", state.current.pairing.id, () => {
    const alert = alertBox();
    const left = h("p", { class: "hint", role: "timer", "aria-live": "off" });
    const cancel = h("button", { type: "button", class: "secondary wide", text: "Batal" });
    const el = h(
      "section",
      { class: "center", "aria-labelledby": "search-title" },
      h("h1", { id: "search-title", text: "Mencari bestie…" }),
      h("div", { class: "spinner", "aria-hidden": "true" }),
      h("p", { class: "lead", text: "Pembayaran diterima. Kami menghubungi bestie yang tersedia." }),
      left,
      alert.el,
      cancel,
    );
    return waiting({ el, alert, cancel }, () => {
      const exp = state.current && state.current.pairing.expires_at;
      left.textContent = exp ? `Paling lama ${clockText(secondsUntil(exp))} lagi` : "";
    });
  });
}

function queuedScreen() {
  return show("queued", state.current.pairing.id, () => {
    const alert = alertBox();
    const position = h("p", { class: "big" });
    const wait = h("p", { class: "lead" });
    const left = h("p", { class: "hint", role: "timer", "aria-live": "off" });
    const cancel = h("button", { type: "button", class: "secondary wide", text: "Batal" });
    const el = h(
      "section",
      { class: "center", "aria-labelledby": "queue-title" },
      h("h1", { id: "queue-title", text: "Dalam antrean" }),
      h("p", { text: "Semua bestie sedang sibuk. Kamu mendapat bestie pertama yang kosong." }),
      h("div", { class: "panel", role: "status" }, h("p", { class: "muted", text: "Posisi kamu" }), position, wait),
      left,
      alert.el,
      cancel,
    );
    const update = () => {
      const p = state.current.pairing;
      position.textContent = p.queue_position ? `ke-${p.queue_position}` : "—";
      wait.textContent =
        p.estimated_wait_seconds === null || p.estimated_wait_seconds === undefined
          ? "Perkiraan waktu tunggu belum diketahui"
          : `Perkiraan tunggu ± ${Math.max(1, Math.round(p.estimated_wait_seconds / 60))} menit`;
    };
    update();
    return waiting({ el, alert, update, cancel }, () => {
      const exp = state.current && state.current.pairing.expires_at;
      left.textContent = exp ? `Paling lama ${clockText(secondsUntil(exp))} lagi; lewat dari itu pembayaranmu dikembalikan.` : "";
    });
  });
}

// targetedScreen: "Curhat lagi" asked the mitra; the overlay counts down to the pairing's
// expires_at, when the answer comes anyway (targeted_unavailable).
function targetedScreen() {
  return show("targeted", state.current.pairing.id, () => {
    const home = buildHome();
    const name = state.targetName || "Bestie";
    const count = h("p", { class: "big", role: "timer", "aria-live": "off", id: "targeted-countdown" });
    const alert = alertBox();
    const m = modal({
      title: `Menunggu ${name}`,
      id: "targeted-waiting",
      content: [
        h("p", { text: `Kami menanyakan apakah ${name} bisa menemanimu sekarang. Kamu baru membayar kalau ${name} menerima.` }),
        count,
        alert.el,
      ],
      buttons: [{ label: "Batal", kind: "secondary", cancel: true, onClick: () => cancelCurrent(alert, m.dialog.querySelector("button")) }],
    });
    const tick = ticker(() => {
      const exp = state.current && state.current.pairing.expires_at;
      count.textContent = exp ? `${secondsUntil(exp)} detik` : "";
      if (exp && secondsUntil(exp) === 0) refreshCurrentSoon();
    });
    const stopCheck = every(RECHECK_EVERY, refreshCurrent);
    return overHome(home, m, alert, () => {
      tick.stop();
      stopCheck();
    });
  });
}

// overHome is a screen whose dialog (a modal) stands over the home screen: the dialog
// holds the focus, and taking the screen down closes it (after stop, if given).
function overHome(home, dialog, alert, stop) {
  return {
    el: home.el,
    alert,
    keepFocus: true,
    update: home.update,
    stop() {
      if (stop) stop();
      home.stop();
      dialog.close();
    },
  };
}

// refreshCurrentSoon re-reads the pairing once a countdown ran out, at most once a second.
let soon = 0;
function refreshCurrentSoon() {
  const now = Date.now();
  if (now - soon < 1000) return;
  soon = now;
  refreshCurrent();
}

function unavailableScreen() {
  return show("unavailable", state.current.pairing.id, () => {
    const home = buildHome();
    const name = state.targetName || "Bestie";
    const alert = alertBox();
    const why =
      {
        targeted_declined: `${name} belum bisa menemanimu sekarang.`,
        targeted_timeout: `${name} tidak menjawab tepat waktu.`,
        mitra_unreachable: `${name} sedang offline atau sedang menemani orang lain.`,
      }[state.current.pairing.failure_reason] || `${name} sedang tidak bisa.`;
    const m = modal({
      title: `${name} sedang tidak bisa`,
      id: "bestie-unavailable",
      content: [h("p", { text: why }), h("p", { text: "Kamu belum membayar apa pun. Mau dicarikan bestie lain?" }), alert.el],
      buttons: [
        { label: "Batal", kind: "secondary", cancel: true, onClick: () => cancelCurrent(alert, m.dialog.querySelector("button")) },
        {
          label: "Cari bestie lain",
          onClick: async () => {
            alert.clear();
            try {
              const res = await call("POST", "/api/client/chat/fallback-to-blast", { pairing_id: state.current.pairing.id });
              state.current = { pairing: res.pairing, payment: res.payment, chat_session: null };
              showCurrent();
            } catch (err) {
              alert.show(err);
            }
          },
        },
      ],
    });
    return overHome(home, m, alert);
  });
}

function failedScreen() {
  return show("failed", state.current.pairing.id, () => {
    const p = state.current.pairing;
    const title =
      {
        no_mitra_available: "Belum ada bestie yang tersedia",
        timeout: "Belum ada bestie yang menerima",
        queue_timeout: "Antrean terlalu lama",
      }[p.failure_reason] || "Belum dapat bestie";
    const refund = h("p", { class: "good", id: "refund", role: "status" });
    // What became of the money: the pairing_failed event says it, else the payment as read.
    let settled = false;
    const update = () => {
      const pay = state.current.payment;
      const f = state.failure && state.failure.pairing_id === state.current.pairing.id ? state.failure : null;
      const amount = f ? f.amount : pay ? pay.amount : 0;
      const currency = pay ? pay.currency : "IDR";
      const status = f ? f.refund_status : pay && pay.status;
      settled = true;
      if (status === "not_charged" || amount === 0) refund.textContent = "Kamu tidak ditagih.";
      else if (status === "refunded") refund.textContent = `Pembayaranmu ${rupiah(amount, currency)} sudah dikembalikan.`;
      else if (status === "refund_failed") refund.textContent = `Pengembalian ${rupiah(amount, currency)} sedang dicoba lagi; kami mengabarimu.`;
      else {
        refund.textContent = `Pembayaranmu ${rupiah(amount, currency)} sedang dikembalikan.`;
        settled = false;
      }
    };
    update();
    const stopCheck = every(RECHECK_EVERY, () => {
      if (!settled) refreshCurrent();
    });
    const back = homeButton(() => {
      state.current = null;
      state.failure = null;
      resync();
    });
    return {
      el: h(
        "section",
        { "aria-labelledby": "failed-title" },
        h("h1", { id: "failed-title", text: title }),
        h("p", { text: "Maaf, kali ini belum ada bestie yang bisa menemanimu. Coba lagi sebentar lagi." }),
        refund,
        back,
      ),
      update,
      stop: stopCheck,
    };
  });
}

// ---- chatting ----

// chatScreen shows the chat of the session cs (state.chat unless given).
function chatScreen(cs = state.chat) {
  state.chat = cs;
  return show("chat", cs.id, () => {
    const more = h("button", { type: "button", class: "secondary", text: "Tambah waktu" });
    const end = endButton(`Curhat dengan ${cs.mitra_display_name} berakhir sekarang; sisa waktu tidak dikembalikan.`, async () => {
      try {
        const res = await call("POST", `/api/client/chat-sessions/${cs.id}/end`);
        state.chat = res.chat_session;
        endedScreen();
      } catch (err) {
        chat.error(err);
        refreshChat();
      }
    });
    const chat = chatView({
      session: cs,
      me: "client",
      otherName: cs.mitra_display_name,
      api: {
        messages: (id, after, limit) => call("GET", `/api/client/chat-sessions/${id}/messages?after_seq=${after}&limit=${limit}`),
        send: (id, body) => call("POST", `/api/client/chat-sessions/${id}/messages`, body),
      },
      actions: [more, end],
      // The server ends the chat at its ends_at; should its event be missed, look again.
      onTimeUp: () => {
        refreshChat();
        setTimeout(refreshChat, 3000);
      },
    });
    chat.reload();
    let ext = null; // the extension card
    more.addEventListener("click", () => {
      if (ext && ext.isConnected && !ext.finished) {
        ext.querySelector("input, button, a")?.focus();
        return;
      }
      if (ext) ext.remove();
      ext = extensionCard(chat);
    });
    return screenOf(chat, () => state.chat, {
      onExtension(kind, d) {
        if (d.chat_session_id !== cs.id) return;
        if (!ext || !ext.isConnected || ext.finished) {
          if (ext) ext.remove();
          ext = extensionCard(chat);
        }
        ext.onEvent(kind, d);
      },
    });
  });
}

// extensionCard: "Tambah waktu" — choose the minutes, buy, pay at the checkout link; the
// card says what became of it (approved at once, waiting for the mitra, rejected, paid).
function extensionCard(chat) {
  const cs = state.chat;
  const pr = state.pricing;
  const alert = alertBox();
  const body = h("div", {});
  const card = h("section", { class: "card", "aria-labelledby": "ext-title" }, h("h2", { id: "ext-title", text: "Tambah waktu" }), body, alert.el);
  const close = h("button", { type: "button", class: "secondary small", text: "Tutup" });
  close.addEventListener("click", () => card.remove());

  const choose = () => {
    const tiers = pr ? pr.extension_tiers : [];
    let chosen = tiers.length ? tiers[0].minutes : null;
    const list = h(
      "ul",
      { class: "tiers" },
      ...tiers.map((t) => {
        const id = `ext-${t.minutes}`;
        const price = h("span", { class: "price", id: id + "-price" }, h("strong", { text: rupiah(t.price, pr.currency) }));
        const radio = h("input", { type: "radio", name: "ext-minutes", id, checked: t.minutes === chosen, "aria-describedby": price.id });
        radio.addEventListener("change", () => {
          chosen = t.minutes;
        });
        return h("li", { class: "tier" }, radio, h("label", { for: id, text: `${t.minutes} menit` }), price);
      }),
    );
    const buy = h("button", { type: "button", text: "Beli" });
    buy.addEventListener("click", async () => {
      alert.clear();
      buy.disabled = true;
      try {
        const res = await call("POST", `/api/client/chat-sessions/${cs.id}/extensions`, { minutes: chosen });
        showExtension(res.extension, res.payment);
      } catch (err) {
        alert.show(err);
        buy.disabled = false;
      }
    });
    body.replaceChildren(
      tiers.length ? h("fieldset", { class: "plain" }, h("legend", { class: "sr-only", text: "Berapa menit?" }), list) : h("p", { class: "hint", text: "Belum ada pilihan tambahan waktu." }),
      h("div", { class: "actions" }, buy, close),
    );
    card.querySelector("input")?.focus();
  };

  const payLink = (p) => {
    const a = h("a", { class: "button", target: "_blank", rel: "noopener noreferrer", href: p.checkout_url, text: "Bayar" });
    return h("div", { class: "actions" }, a, close);
  };

  const showExtension = (e, p) => {
    const name = cs.mitra_display_name;
    if (e.status === "approved" && p && p.checkout_url) {
      const how = e.decided_by === "auto" ? "disetujui otomatis" : `disetujui ${name}`;
      body.replaceChildren(h("p", { text: `Tambahan ${e.minutes} menit ${how}. Bayar ${rupiah(p.amount, p.currency)} untuk menambah waktu.` }), payLink(p));
      return;
    }
    if (e.status === "requested") {
      body.replaceChildren(h("p", { text: `Menunggu persetujuan ${name} untuk tambahan ${e.minutes} menit…` }), h("div", { class: "actions" }, close));
      return;
    }
    if (e.status === "rejected") {
      card.finished = true;
      const why = e.reject_reason === "mitra_offline" ? `${name} sedang tidak terhubung` : `${name} belum bisa menambah waktu`;
      body.replaceChildren(h("p", { text: `${why}; kamu tidak ditagih.` }), h("div", { class: "actions" }, close));
      return;
    }
    body.replaceChildren(h("p", { text: `Tambahan ${e.minutes} menit: ${e.status}.` }), h("div", { class: "actions" }, close));
  };

  card.onEvent = (kind, d) => {
    const name = cs.mitra_display_name;
    switch (kind) {
      case "extension_approved":
        if (d.payment) body.replaceChildren(h("p", { text: `${name} menyetujui tambahan ${d.minutes} menit. Bayar ${rupiah(d.payment.amount, d.payment.currency)} untuk menambah waktu.` }), payLink(d.payment));
        break;
      case "extension_rejected":
        card.finished = true;
        body.replaceChildren(h("p", { text: `${name} belum bisa menambah waktu; kamu tidak ditagih.` }), h("div", { class: "actions" }, close));
        break;
      case "extension_expired":
        card.finished = true;
        body.replaceChildren(h("p", { text: "Tambahan waktu tidak jadi: waktunya habis atau pembayarannya tidak selesai." }), h("div", { class: "actions" }, close));
        break;
      case "session_extended":
        card.finished = true;
        card.classList.add("done");
        body.replaceChildren(h("p", { role: "status", text: `Waktu ditambah ${d.minutes} menit.` }), h("div", { class: "actions" }, close));
        announce(`Waktu ditambah ${d.minutes} menit.`);
        break;
    }
  };
  choose();
  chat.notice(card);
  card.querySelector("input, button")?.focus();
  return card;
}

// ---- after the chat: rating, block, report ----

function endedScreen() {
  const cs = state.chat;
  return show("ended", cs.id, () => {
    const name = cs.mitra_display_name;
    const why =
      {
        expired: "Waktunya habis.",
        client_ended: "Kamu mengakhiri sesi.",
        mitra_ended: `${name} mengakhiri sesi.`,
        mitra_no_show: `${name} tidak membalas; pembayaranmu dikembalikan penuh.`,
        operator_ended: "Sesi diakhiri oleh tim curhat.",
        rerouted: "Sesi dipindahkan ke bestie lain.",
        mitra_deactivated: "Bestie ini tidak lagi aktif.",
      }[cs.end_reason] || "";
    const alert = alertBox();
    const done = h("div", {});

    // Rating: 1–5 stars and an optional comment.
    const stars = h("fieldset", { class: "stars" }, h("legend", { text: "Penilaian" }));
    let chosen = 0;
    for (let n = 1; n <= 5; n++) {
      const id = `star-${n}`;
      const radio = h("input", { type: "radio", name: "stars", id, value: String(n) });
      radio.addEventListener("change", () => {
        chosen = n;
        for (const s of stars.querySelectorAll(".star")) s.classList.toggle("lit", Number(s.dataset.n) <= n);
      });
      stars.append(
        h("span", { class: "star", "data-n": String(n) }, radio, h("label", { for: id }, h("span", { "aria-hidden": "true", text: "★" }), h("span", { class: "sr-only", text: `${n} bintang` }))),
      );
    }
    const comment = field("Komentar (opsional)", h("textarea", { rows: "2", maxlength: "1000" }));
    const rate = h("button", { type: "submit", text: "Kirim penilaian" });
    const rateForm = h("form", { class: "panel", novalidate: true }, stars, comment.wrap, rate);
    rateForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      alert.clear();
      if (!chosen) {
        alert.show("Pilih 1 sampai 5 bintang dulu.");
        return;
      }
      rate.disabled = true;
      const body = { stars: chosen };
      if (comment.input.value.trim()) body.comment = comment.input.value.trim();
      try {
        await call("POST", `/api/client/chat-sessions/${cs.id}/rating`, body);
        rateForm.replaceWith(h("p", { class: "good", role: "status", text: "Terima kasih atas penilaianmu!" }));
      } catch (err) {
        alert.show(err);
        rate.disabled = false;
      }
    });

    const block = h("button", { type: "button", class: "secondary", text: "Blokir", disabled: state.blocked.has(cs.mitra_id) });
    block.addEventListener("click", async () => {
      const ok = await confirmDialog({
        title: `Blokir ${name}?`,
        message: `Kamu tidak akan dipasangkan dengan ${name} lagi, dan "Curhat lagi" dengannya tidak muncul.`,
        confirmLabel: "Ya, blokir",
        danger: true,
      });
      if (!ok) return;
      alert.clear();
      try {
        await call("POST", "/api/client/blocks", { mitra_id: cs.mitra_id });
        state.blocked.add(cs.mitra_id);
        block.disabled = true;
        done.append(h("p", { class: "note", role: "status", text: `${name} diblokir.` }));
      } catch (err) {
        alert.show(err);
      }
    });

    const report = h("button", { type: "button", class: "secondary", text: "Laporkan" });
    report.addEventListener("click", () => reportDialog(cs, done));

    const back = homeButton(() => {
      state.chat = null;
      resync();
    });
    return {
      el: endedSection(
        h("p", { class: "lead", text: `Curhat dengan ${name} selesai. ${why}`.trim() }),
        h("h2", { text: `Bagaimana ${name} menemanimu?` }),
        rateForm,
        alert.el,
        h("div", { class: "actions" }, block, report),
        done,
        back,
      ),
      alert,
    };
  });
}

function reportDialog(cs, done) {
  const reasons = [
    ["harassment", "Pelecehan"],
    ["inappropriate", "Konten tidak pantas"],
    ["spam", "Spam"],
    ["safety", "Aku merasa tidak aman"],
    ["other", "Lainnya"],
  ];
  const select = h("select", {}, ...reasons.map(([v, t]) => h("option", { value: v, text: t })));
  const reason = field("Alasan", select);
  const note = field("Catatan (opsional)", h("textarea", { rows: "3", maxlength: "2000" }));
  const m = modal({
    title: `Laporkan ${cs.mitra_display_name}`,
    content: [h("p", { class: "hint", text: "Tim kami meninjau laporan dalam 72 jam. Orang yang kamu laporkan tidak diberi tahu siapa pelapornya." }), reason.wrap, note.wrap],
    buttons: [
      { label: "Batal", kind: "secondary", cancel: true, onClick: () => m.close() },
      {
        label: "Kirim laporan",
        onClick: async () => {
          const body = { chat_session_id: cs.id, reason: select.value };
          if (note.input.value.trim()) body.note = note.input.value.trim();
          try {
            await call("POST", "/api/client/reports", body);
            m.close();
            done.append(h("p", { class: "note", role: "status", text: "Laporan terkirim. Terima kasih sudah memberi tahu kami." }));
          } catch (err) {
            showError(note, err);
          }
        },
      },
    ],
  });
}

// ---- events ----

function onEvent(kind, d) {
  const following = state.current && d.pairing_id === state.current.pairing.id;
  switch (kind) {
    case "message":
      if (screen && screen.chat) screen.chat.onMessage(d);
      return;
    case "safety_resources":
      if (screen && screen.chat && state.chat && d.chat_session_id === state.chat.id) {
        screen.chat.notice(h("section", { class: "card note", role: "note" }, h("h2", { text: "Kamu tidak sendiri" }), h("p", { text: d.text })));
      }
      return;
    case "warning":
      showWarning(d.note);
      return;
    case "queue_position":
      if (following) {
        state.current.pairing.queue_position = d.queue_position;
        state.current.pairing.estimated_wait_seconds = d.estimated_wait_seconds;
        if (screen && screen.name === "queued") screen.update();
        else refreshCurrent();
      }
      return;
    case "pairing_failed":
      if (following) {
        state.failure = d;
        refreshCurrent();
      }
      return;
    case "payment_paid":
    case "pairing_matched":
    case "session_started":
    case "pairing_cancelled":
    case "targeted_unavailable":
      if (following) refreshCurrent();
      else if (!state.current && !state.chat) resync(); // started on another device
      return;
    case "session_ended":
      if (state.chat && d.chat_session_id === state.chat.id) refreshChat();
      return;
    case "session_extended":
      if (state.chat && d.chat_session_id === state.chat.id) {
        state.chat = { ...state.chat, ends_at: d.ends_at, minutes: d.total_minutes };
        if (screen && screen.name === "chat") {
          screen.update();
          screen.onExtension(kind, d);
        }
      }
      return;
    case "extension_approved":
    case "extension_rejected":
    case "extension_expired":
      if (screen && screen.onExtension) screen.onExtension(kind, d);
      return;
  }
}

function showWarning(note) {
  const m = modal({
    title: "Peringatan dari tim curhat",
    content: [h("p", { text: note })],
    buttons: [{ label: "Mengerti", cancel: true, onClick: () => m.close() }],
  });
}

// ---- signing in and out ----

run({
  title: "curhat",
  tokenMissing: "Tempel token klien dulu.",
  // Whether the token is a client's at all: a mitra's or an operator's is refused.
  check: (token) => call("GET", "/api/client/mitra-availability", undefined, { token }),
  follow: (handlers) => follow("/api/client/events", handlers),
  onEvent,
  resync,
  signedOut() {
    Object.assign(state, { current: null, failure: null, chat: null, sessions: [], blocked: new Set(), beacon: null, pricing: null });
  },
});

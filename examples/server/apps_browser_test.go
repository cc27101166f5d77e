package main

// The reference apps in a real browser (SPEC §28): headless Chromium (the console tests'
// browser and helpers, console_browser_test.go) against a reference server, in memory and
// over Postgres + Valkey, a client and a mitra each in a browser context of their own with
// a phone's viewport (375 × 812), playing the product end to end through the pages: a paid
// blast paid on the fake checkout page, accepted, messages both ways (one sent while the
// client's event stream was down, read when it reconnects), an extension approved
// automatically and one the mitra approves, the end, a rating, a report and a block;
// "Curhat lagi" run out, accepted and declined, and the fallback to another bestie; a blast
// with nobody online failing with its refund; the mitra's payout destination. Elements are
// found by their accessible role and name, the waits poll with deadlines, and every request
// the pages send is checked against openapi.json (the test server's contract check, and the
// route of each request here).
//
// The server runs on the wall clock (the tests elsewhere freeze a fake one): the pages
// count down to deadlines the server set, and the server's timers must fire while they
// do. Screenshots of every state go to CURHAT_SCREENSHOTS (default: a temporary folder,
// logged); the ones in apps/screenshots and docs/ were taken from it.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
)

// Phone and desktop viewports.
const (
	phoneWidth, phoneHeight     = 375, 812
	desktopWidth, desktopHeight = 1280, 900
)

// appTab is a tab of one of the apps, recording the requests its page sends.
type appTab struct {
	*tab
	browser  *consoleBrowser
	mu       sync.Mutex
	requests []appRequest
}

// appRequest is one request a page sent.
type appRequest struct {
	method, url string
	headers     map[string]any
}

// openApp opens an app's address in a new browser context with a phone's viewport.
func openApp(t *testing.T, b *consoleBrowser, address, name string) *appTab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	at := &appTab{tab: &tab{t: t, ctx: ctx, base: address, shots: b.shots, name: name}, browser: b}
	require.NoError(t, chromedp.Listen(ctx, at.record))
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			at.mu.Lock()
			at.requests = append(at.requests, appRequest{method: e.Request.Method, url: e.Request.URL, headers: e.Request.Headers})
			at.mu.Unlock()
		}
	}))
	at.do(chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateMobile), chromedp.Navigate(address))
	return at
}

// sent returns the requests the page sent so far.
func (at *appTab) sent() []appRequest {
	at.mu.Lock()
	defer at.mu.Unlock()
	return slices.Clone(at.requests)
}

// shot saves a screenshot of the whole page as <name>-<state>.png, scrolled to its top,
// after checking that the page fits its viewport's width (nothing to scroll sideways on a
// phone).
func (at *appTab) shot(state string) {
	at.t.Helper()
	overflow := eval[int](at.tab, `(window.scrollTo(0, 0), document.documentElement.scrollWidth - window.innerWidth)`)
	require.LessOrEqual(at.t, overflow, 0, "%s: the page is wider than its viewport", state)
	at.screenshot(state)
}

// text waits until the page's text (what a person reads) contains s.
func (at *appTab) text(s string) {
	at.t.Helper()
	at.waitFor(fmt.Sprintf("the text %q", s), fmt.Sprintf(`document.body.innerText.includes(%s)`, js(s)))
}

// h1 waits for the visible page heading.
func (at *appTab) h1(text string) {
	at.t.Helper()
	at.heading(text)
}

// checked waits for the switch or radio of role and name to be checked (or not).
func (at *appTab) checked(role, name string, want bool) {
	at.t.Helper()
	sel := at.byRole(role, name)
	at.waitFor(fmt.Sprintf("%s %q checked=%v", role, name, want), fmt.Sprintf(`(() => {
		const e = document.querySelector(%s);
		return e.getAttribute("aria-checked") === %s || (e.type === "radio" && e.checked === %v);
	})()`, js(string(sel)), js(fmt.Sprint(want)), want))
}

// href reads the address of the link of name.
func (at *appTab) href(name string) string {
	at.t.Helper()
	return eval[string](at.tab, fmt.Sprintf(`document.querySelector(%s).href`, js(string(at.byRole("link", name)))))
}

// payAt pays a payment on the fake gateway's checkout page, opened from its link in a tab
// of its own (a payment provider's page keeps nothing of the app's).
func (at *appTab) payAt(checkoutURL string, amount int) {
	at.t.Helper()
	ctx, cancel := chromedp.NewContext(at.browser.ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	pay := &tab{t: at.t, ctx: ctx, base: checkoutURL, shots: at.shots, name: at.name + "-checkout"}
	require.NoError(at.t, chromedp.Listen(ctx, pay.record))
	pay.do(chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateMobile), chromedp.Navigate(checkoutURL))
	pay.click("button", fmt.Sprintf("Pay %d IDR", amount))
	// The form posts and the page is replaced: poll across the navigation.
	deadline := time.Now().Add(browserStepTimeout)
	for {
		step, done := context.WithTimeout(ctx, time.Second)
		paid, err := chromedp.Run(step, chromedp.Evaluate[bool](`document.body.innerText.includes("Paid.")`))
		done()
		if err == nil && paid {
			break
		}
		if time.Now().After(deadline) {
			at.t.Fatalf("the checkout page did not say it was paid: %v\n\tpage text: %s", err, pay.pageText())
		}
		time.Sleep(50 * time.Millisecond) // polling a page that is being replaced
	}
	pay.requireClean()
}

// appsEnv is the server and its people: the tiers (session 15/30/60, extension 10/15),
// a first-session discount of 50 %, a mitra (Bestie Ayu) and a client (Dewi).
type appsEnv struct {
	t                 *testing.T
	ts                *testServer
	backend           backend
	browser           *consoleBrowser
	mitraID, clientID uuid.UUID
	mitraTok          string
	clientTok         string
}

func newAppsEnv(t *testing.T, b *consoleBrowser, be backend) *appsEnv {
	t.Helper()
	ts := newTestServerWith(t, be, func(o *appOptions) { o.Clock = curhat.WallClock() })
	for _, tier := range []struct {
		mode    string
		minutes int
		price   int64
	}{{"session", 15, 15_000}, {"session", 30, 25_000}, {"session", 60, 45_000}, {"extension", 10, 10_000}, {"extension", 15, 14_000}} {
		ts.must(201, "POST", tiersPath, ts.op, map[string]any{"mode": tier.mode, "minutes": tier.minutes, "price": tier.price,
			"label": fmt.Sprintf("%d menit", tier.minutes)})
	}
	cur := ts.must(200, "GET", promoPath, ts.op, nil)
	ts.must(200, "PUT", promoPath, ts.op, map[string]any{"expected_updated_at": cur["updated_at"], "enabled": true,
		"discount_percent": 50, "max_discount_amount": 20_000, "eligible_minutes": []int{15, 30, 60}, "label": "Diskon sesi pertama"})
	ts.setConfig("extension_auto_approve", true)
	env := &appsEnv{t: t, ts: ts, browser: b, backend: be}
	env.mitraID, env.mitraTok = ts.newMitra("Bestie Ayu")
	env.clientID, env.clientTok = ts.newClient("Dewi")
	return env
}

func (e *appsEnv) open(app, name string) *appTab {
	e.t.Helper()
	return openApp(e.t, e.browser, e.ts.http.URL+"/app/"+app+"/", e.backend.String()+"-"+name)
}

// TestApps_Browser plays the product through the two apps in one Chromium, in memory and
// over Postgres + Valkey.
func TestApps_Browser(t *testing.T) {
	t.Parallel()
	b := newConsoleBrowser(t)
	started := time.Now()
	for _, be := range []backend{memoryBackend, realBackend} {
		t.Run(be.String(), func(t *testing.T) {
			env := newAppsEnv(t, b, be)
			client, mitra := scenarioAppsPaidChat(t, env)
			scenarioAppsCurhatLagi(t, env, client, mitra)
			scenarioAppsNobodyOnline(t, env, client, mitra)
			scenarioAppsDesktop(t, env, client, mitra)

			// Nothing broke on either page: no script error, no refused request but the
			// mitra's: the client's token at its sign-in (403), its payout destination (404
			// until it sets one, 400 for the refused one).
			client.requireClean()
			mitra.requireClean(http.StatusForbidden, http.StatusNotFound, http.StatusBadRequest)
			requireDocumentedRequests(t, client.sent(), "/api/client/")
			requireDocumentedRequests(t, mitra.sent(), "/api/mitra/")
		})
	}
	t.Logf("apps browser scenarios took %s", time.Since(started).Round(100*time.Millisecond))
}

// scenarioAppsPaidChat: the mitra goes online; the client sees the beacon and the
// discounted prices, starts a 30-minute chat and pays at the checkout; the mitra accepts
// the new client's offer; they write to each other (one message while the client's stream
// is down: it shows once the page reconnects); the client buys 10 more minutes, approved
// automatically ("otomatis disetujui" on the mitra's card) and paid; the client ends the
// chat and rates it.
func scenarioAppsPaidChat(t *testing.T, env *appsEnv) (client, mitra *appTab) {
	ts := env.ts
	mitra = env.open("mitra", "mitra")
	mitra.h1("Masuk")
	mitra.requireEveryInputLabelled("mitra sign-in")
	mitra.fill("textbox", "Token mitra", env.clientTok) // a client's: the API's refusal, beside the field
	mitra.click("button", "Masuk")
	mitra.waitText("#token-error", "this token may not use this route")
	mitra.fill("textbox", "Token mitra", env.mitraTok)
	mitra.click("button", "Masuk")
	mitra.h1("Beranda bestie")
	mitra.checked("switch", "Online", false)
	mitra.click("switch", "Online")
	mitra.checked("switch", "Online", true)
	mitra.text("Kamu online di perangkat ini")
	device := eval[string](mitra.tab, `sessionStorage.getItem("curhat.mitraDevice")`)
	require.Regexp(t, `^web-[0-9a-f]{8}$`, device)
	require.Eventually(t, func() bool { // online, on this page's device, its stream open
		st := ts.must(200, "GET", "/api/mitra/status", env.mitraTok, nil)
		for _, d := range st["devices"].([]any) {
			if d := d.(map[string]any); d["device_id"] == device && d["streaming"] == true {
				return st["online"] == true
			}
		}
		return false
	}, browserStepTimeout, 50*time.Millisecond, "the mitra is online on the page's device, its stream open")
	mitra.shot("1-online")

	// The client signs in with the keyboard alone: the token field has the focus.
	client = env.open("client", "client")
	client.h1("Masuk")
	client.waitFor("the token field focused", `document.activeElement && document.activeElement.id === "token"`)
	client.keys(env.clientTok)
	client.keys(kb.Enter)
	client.h1("Mau curhat sekarang?")
	client.text("1 bestie tersedia")
	client.text("Diskon sesi pertama: 50% (maks. Rp 20.000)")
	client.requireEveryInputLabelled("client home")
	client.shot("1-home")

	client.click("radio", "30 menit")
	client.checked("radio", "30 menit", true)
	client.click("button", "Mulai curhat")
	client.h1("Pembayaran")
	client.text("Rp 25.000")
	client.text("−Rp 12.500")
	client.text("Rp 12.500")
	client.shot("2-payment")
	// A reload resumes where the client was: its open pairing, waiting for the payment.
	client.do(chromedp.Reload())
	client.h1("Pembayaran")
	client.text("−Rp 12.500")
	client.payAt(client.href("Bayar"), 12_500)
	client.h1("Mencari bestie…")
	client.shot("3-searching")

	// The mitra: a new client's offer, counting down.
	mitra.text("Klien baru")
	mitra.text("Dewi ingin curhat")
	mitra.waitFor("the offer's countdown", `/\d+:\d\d/.test(document.querySelector(".offer .countdown").textContent)`)
	mitra.shot("2-offer")
	mitra.click("button", "Terima")
	mitra.h1("Dewi")
	client.h1("Bestie Ayu")
	client.waitFor("the time left", `/^(30:00|29:[0-5]\d)$/.test(document.querySelector(".time-left-value").textContent)`)

	client.fill("textbox", "Pesan", "Halo, aku mau cerita soal kerjaan.")
	client.click("button", "Kirim")
	mitra.text("Halo, aku mau cerita soal kerjaan.")
	mitra.fill("textbox", "Pesan", "Hai Dewi, aku di sini. Cerita aja ya.")
	mitra.keys(kb.Enter) // Enter sends
	client.text("Hai Dewi, aku di sini. Cerita aja ya.")

	// The client's stream drops; a message sent meanwhile is read when the page reconnects.
	ts.app.events.revoke(revocation{subject: subjectKey{SubjectClient, env.clientID}})
	sid := env.activeSession()
	ts.must(201, "POST", "/api/mitra/chat-sessions/"+sid+"/messages", env.mitraTok,
		map[string]any{"text": "Pesan ini terkirim saat kamu terputus.", "client_msg_id": uuid.NewString()})
	client.text("Pesan ini terkirim saat kamu terputus.")
	client.waitText("#connection", "Terhubung")
	client.shot("4-chat")
	mitra.shot("3-chat")

	// More time: 10 minutes, approved at once (the mitra is reachable), then paid.
	client.click("button", "Tambah waktu")
	client.checked("radio", "10 menit", true)
	client.click("button", "Beli")
	client.text("Tambahan 10 menit disetujui otomatis")
	mitra.text("Tambah 10 menit: otomatis disetujui")
	mitra.shot("4-extension-auto-approved")
	client.payAt(client.href("Bayar"), 10_000)
	client.text("Waktu ditambah 10 menit.")
	mitra.text("Waktu ditambah 10 menit")
	client.waitFor("the time left grown", `/^(40:00|39:[0-5]\d)$/.test(document.querySelector(".time-left-value").textContent)`)
	client.shot("5-extended")

	// Without auto-approval the mitra decides: "Setujui", and the client pays.
	ts.setConfig("extension_auto_approve", false)
	client.click("button", "Tambah waktu")
	client.click("radio", "15 menit")
	client.click("button", "Beli")
	client.text("Menunggu persetujuan Bestie Ayu untuk tambahan 15 menit")
	mitra.text("Dewi minta tambah 15 menit")
	mitra.waitFor("the request's countdown", `/\d+:\d\d/.test(document.querySelector(".card .countdown").textContent)`)
	mitra.shot("4b-extension-requested")
	mitra.click("button", "Setujui")
	mitra.text("Tambahan waktu disetujui")
	client.text("Bestie Ayu menyetujui tambahan 15 menit")
	client.payAt(client.href("Bayar"), 14_000)
	client.text("Waktu ditambah 15 menit.")
	mitra.text("Waktu ditambah 15 menit")
	client.waitFor("the time left grown again", `/^(55:00|54:[0-5]\d)$/.test(document.querySelector(".time-left-value").textContent)`)

	// The end, and the rating.
	client.click("button", "Akhiri")
	client.click("button", "Ya, akhiri")
	client.h1("Sesi selesai")
	mitra.h1("Sesi selesai")
	mitra.text("Dewi mengakhiri sesi.")
	client.click("radio", "5 bintang")
	client.fill("textbox", "Komentar (opsional)", "Makasih, lega rasanya.")
	client.click("button", "Kirim penilaian")
	client.text("Terima kasih atas penilaianmu!")
	client.shot("6-rated")
	ratings, err := json.Marshal(ts.must(200, "GET", "/api/internal/mitras/"+env.mitraID.String()+"/ratings?page=1", ts.op, nil))
	require.NoError(t, err)
	require.Contains(t, string(ratings), `"stars":5`, "the rating reached the server")

	// A report, then a block, each confirmed on the page and on the server.
	client.click("button", "Laporkan")
	client.choose("Alasan", "Lainnya")
	client.fill("textbox", "Catatan (opsional)", "Hanya mencoba laporan.")
	client.click("button", "Kirim laporan")
	client.text("Laporan terkirim.")
	client.click("button", "Blokir")
	client.click("button", "Ya, blokir")
	client.text("Bestie Ayu diblokir.")
	reports, err := json.Marshal(ts.must(200, "GET", "/api/internal/reports?status=open", ts.op, nil))
	require.NoError(t, err)
	require.Contains(t, string(reports), "Hanya mencoba laporan.")
	require.Equal(t, []string{env.mitraID.String()}, ts.blockItems("/api/client/blocks", env.clientTok, "mitra_id"))
	client.shot("6b-reported-blocked")
	// Unblocked again (with the API), so that "Curhat lagi" follows.
	ts.must(204, "DELETE", "/api/client/blocks/"+env.mitraID.String(), env.clientTok, nil)

	mitra.click("button", "Kembali ke beranda")
	mitra.h1("Beranda bestie")
	return client, mitra
}

// activeSession is the id of the client's active chat session.
func (e *appsEnv) activeSession() string {
	e.t.Helper()
	for _, it := range e.ts.must(200, "GET", "/api/client/chat-sessions", e.clientTok, nil)["items"].([]any) {
		if s := it.(map[string]any); s["status"] == "active" {
			return s["id"].(string)
		}
	}
	e.t.Fatal("no active chat session")
	return ""
}

// scenarioAppsCurhatLagi: "Curhat lagi" with the same bestie, three times. The mitra lets
// a short countdown run out (its card goes by itself; the client is told and cancels);
// then accepts (the client pays, and the chat opens on both pages); then declines, and the
// client is offered another bestie and takes it (a blast to pay), then cancels before
// paying. Each time the overlay counts down and the mitra's returning card too.
func scenarioAppsCurhatLagi(t *testing.T, env *appsEnv, client, mitra *appTab) {
	client.click("button", "Kembali ke beranda")
	client.h1("Mau curhat sekarang?")
	client.text("Bestie Ayu")

	// The mitra lets a short countdown run out: its card goes by itself, and the client
	// hears that Bestie Ayu did not answer in time; it cancels.
	env.ts.setConfig("pairing_targeted_timeout_seconds", 2)
	client.click("radio", "30 menit")
	client.click("button", "Curhat lagi")
	client.text("Menunggu Bestie Ayu")
	mitra.text("Dewi ingin curhat lagi")
	client.text("Bestie Ayu tidak menjawab tepat waktu.")
	mitra.text("Belum ada tawaran")
	client.click("button", "Batal")
	client.h1("Mau curhat sekarang?")
	client.waitFor("the overlay gone", `!document.querySelector("dialog[open]")`)

	// The mitra takes the returning client: the client pays for the chat it accepted, and
	// the chat opens on both pages.
	env.ts.setConfig("pairing_targeted_timeout_seconds", 60)
	client.click("button", "Curhat lagi")
	mitra.text("Dewi ingin curhat lagi")
	mitra.click("button", "Terima")
	mitra.text("Menunggu pembayaran klien")
	client.h1("Pembayaran")
	client.text("Bestie Ayu menerima curhatmu! Bayar untuk mulai.")
	client.text("Rp 25.000")
	client.shot("7a-targeted-accepted-payment")
	client.payAt(client.href("Bayar"), 25_000)
	client.h1("Bestie Ayu")
	mitra.h1("Dewi")
	client.click("button", "Akhiri")
	client.click("button", "Ya, akhiri")
	client.h1("Sesi selesai")
	mitra.h1("Sesi selesai")
	client.click("button", "Kembali ke beranda")
	client.h1("Mau curhat sekarang?")
	mitra.click("button", "Kembali ke beranda")
	mitra.h1("Beranda bestie")

	// The mitra declines the next one: the client takes another bestie, then cancels
	// before paying.
	client.click("button", "Curhat lagi")
	client.text("Menunggu Bestie Ayu")
	client.waitFor("the overlay's countdown", `/^\d+ detik$/.test(document.getElementById("targeted-countdown").textContent)`)
	client.shot("7-targeted-waiting")

	mitra.text("Klien lama")
	mitra.text("Dewi ingin curhat lagi")
	mitra.waitFor("the returning card's countdown", `/\d+:\d\d/.test(document.querySelector(".offer.targeted .countdown").textContent)`)
	mitra.shot("5-offer-returning")
	mitra.click("button", "Tolak")
	mitra.text("Belum ada tawaran")

	client.text("Bestie Ayu sedang tidak bisa")
	client.text("Bestie Ayu belum bisa menemanimu sekarang.")
	client.shot("8-bestie-unavailable")
	client.click("button", "Cari bestie lain")
	client.h1("Pembayaran")
	client.text("Rp 25.000")
	client.click("button", "Batal")
	client.h1("Mau curhat sekarang?")
	require.Empty(t, env.ts.must(200, "GET", "/api/client/pairings?status=open", env.clientTok, nil)["items"], "nothing left open")
}

// scenarioAppsNobodyOnline: the mitra goes offline; the client's 15-minute blast is paid,
// finds nobody and is refunded.
func scenarioAppsNobodyOnline(t *testing.T, env *appsEnv, client, mitra *appTab) {
	// The page heartbeats with its device id while it is open and online (every 10 s).
	device := eval[string](mitra.tab, `sessionStorage.getItem("curhat.mitraDevice")`)
	require.Eventually(t, func() bool {
		return slices.ContainsFunc(mitra.sent(), func(r appRequest) bool {
			return r.method == "POST" && strings.HasSuffix(r.url, "/api/mitra/status/heartbeat") && r.headers["X-Device-Id"] == device
		})
	}, browserStepTimeout, 50*time.Millisecond, "a heartbeat with the device id")

	mitra.click("switch", "Online")
	mitra.checked("switch", "Online", false)
	mitra.text("Kamu offline")
	client.click("radio", "15 menit")
	client.click("button", "Mulai curhat")
	client.h1("Pembayaran")
	client.payAt(client.href("Bayar"), 15_000)
	client.h1("Belum ada bestie yang tersedia")
	client.text("Pembayaranmu Rp 15.000 sudah dikembalikan.")
	client.shot("9-failed-refunded")
	client.click("button", "Kembali ke beranda")
	client.h1("Mau curhat sekarang?")

	// The mitra's earnings from the two paid chats' minutes, and where its payouts go: a
	// refused account number shows the API's message beside the field.
	mitra.text("Tertunda")
	mitra.waitFor("pending earnings", `document.querySelector(".money dd").textContent !== "Rp 0"`)
	mitra.fill("textbox", "Kode bank atau e-wallet", "ID_BCA")
	mitra.fill("textbox", "Nomor rekening", "12")
	mitra.fill("textbox", "Nama pemilik rekening", "Ayu Lestari")
	mitra.click("button", "Simpan tujuan pencairan")
	mitra.text("must be 4..34 digits")
	mitra.fill("textbox", "Nomor rekening", "1234567890")
	mitra.click("button", "Simpan tujuan pencairan")
	mitra.text("Sekarang: ID_BCA · 1234567890 a.n. Ayu Lestari")
	mitra.shot("6-offline-earnings")
}

// scenarioAppsDesktop: both pages on a desktop's viewport.
func scenarioAppsDesktop(t *testing.T, env *appsEnv, client, mitra *appTab) {
	client.do(chromedp.EmulateViewport(desktopWidth, desktopHeight))
	client.h1("Mau curhat sekarang?")
	client.shot("10-home-desktop")
	mitra.do(chromedp.EmulateViewport(desktopWidth, desktopHeight))
	mitra.h1("Beranda bestie")
	mitra.shot("7-home-desktop")
}

// requireDocumentedRequests requires every API request a page sent to be a route of
// openapi.json, under the app's own prefix.
func requireDocumentedRequests(t *testing.T, sent []appRequest, prefix string) {
	t.Helper()
	c := mustContract(t)
	seen := map[string]bool{}
	for _, r := range sent {
		u, err := url.Parse(r.url)
		require.NoError(t, err)
		if !strings.HasPrefix(u.Path, "/api/") {
			continue
		}
		require.True(t, strings.HasPrefix(u.Path, prefix), "%s %s: not a route of the app's side", r.method, u.Path)
		req, err := http.NewRequest(r.method, "http://localhost"+u.RequestURI(), nil)
		require.NoError(t, err)
		route, _, err := c.router.FindRoute(req)
		require.NoError(t, err, "%s %s is not in openapi.json", r.method, u.Path)
		seen[r.method+" "+route.Path] = true
	}
	routes := make([]string, 0, len(seen))
	for r := range seen {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	t.Logf("%s routes the page called: %s", prefix, strings.Join(routes, ", "))
}

// appCallPattern is how the apps call the API: call("METHOD", "/api/…" or `/api/…`), and
// follow("/api/…/events").
var (
	appCallPattern   = regexp.MustCompile("call\\(\"(GET|POST|PUT|PATCH|DELETE)\",\\s*[\"`](/api/[^\"`]*)[\"`]")
	appFollowPattern = regexp.MustCompile("follow\\(\"(/api/[^\"]*)\"")
	appPathPattern   = regexp.MustCompile("[\"`'](/api/[^\"`']*)[\"`']")
)

// No app page calls a route the OpenAPI document lacks: every API path written in the
// apps' scripts is in a call("METHOD", path) (or the event stream's follow), and each is
// a documented operation of the app's side.
func TestApps_ScriptsCallOnlyDocumentedRoutes(t *testing.T) {
	t.Parallel()
	doc := mustContract(t).doc
	documented := map[string]bool{}
	params := regexp.MustCompile(`\{[^}]*\}`)
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+params.ReplaceAllString(path, "{}")] = true
		}
	}
	template := regexp.MustCompile(`\$\{[^}]*\}`)
	calls := 0
	for _, app := range appNames {
		for name := range appAssets()[app] {
			if !strings.HasSuffix(name, ".js") {
				continue
			}
			src := string(appAssets()[app][name].body)
			found := map[string]bool{}
			check := func(method, path string) {
				path, _, _ = strings.Cut(template.ReplaceAllString(path, "{}"), "?")
				found[path] = true
				require.True(t, documented[method+" "+path], "%s/%s calls %s %s, which openapi.json lacks", app, name, method, path)
				if !strings.HasPrefix(name, "api.") && !strings.HasPrefix(name, "chat.") {
					require.True(t, strings.HasPrefix(path, "/api/"+app+"/"), "%s/%s calls %s, not a route of its side", app, name, path)
				}
				calls++
			}
			for _, m := range appCallPattern.FindAllStringSubmatch(src, -1) {
				check(m[1], m[2])
			}
			for _, m := range appFollowPattern.FindAllStringSubmatch(src, -1) {
				check("GET", m[1])
			}
			for _, m := range appPathPattern.FindAllStringSubmatch(src, -1) {
				path, _, _ := strings.Cut(template.ReplaceAllString(m[1], "{}"), "?")
				require.True(t, found[path], "%s/%s names %s outside a call(\"METHOD\", …)", app, name, m[1])
			}
		}
	}
	require.Greater(t, calls, 30, "the apps' calls were found")
}

package main

// The operator console in a real browser: headless Chromium (Debian's chromium) driven
// through the DevTools protocol (chromedp) against the reference server, in memory and
// with Postgres + Valkey. Every exchange the page has with the API goes through the
// openapi.json contract check of the test server, as curl's do.
//
// One browser serves every scenario; each scenario gets a fresh server and its own
// browser context (a separate sessionStorage, like a separate operator). Elements are
// found as a person finds them, by their accessible role and name (the seed's console had
// unlabelled login fields), and the tests wait by polling with deadlines, never sleeping.
//
// Without Chromium the tests skip with a message; with CURHAT_REQUIRE_SERVICES=1 (CI) they
// fail. CURHAT_CHROMIUM names another browser binary. Screenshots of every page go to
// CURHAT_SCREENSHOTS (default: a new temporary folder, logged).

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/dom"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/testenv"
)

// browserStepTimeout bounds one wait of a scenario (an element to appear, a text to
// change): generous, because the suite shares two cores with the rest of the tests.
const browserStepTimeout = 20 * time.Second

// consoleBrowser is the Chromium process shared by the scenarios.
type consoleBrowser struct {
	ctx   context.Context // the browser's first tab: scenarios open theirs from it
	shots string          // screenshot folder
}

func newConsoleBrowser(t *testing.T) *consoleBrowser {
	t.Helper()
	exe := os.Getenv("CURHAT_CHROMIUM")
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if exe != "" {
			break
		}
		if p, err := exec.LookPath(name); err == nil {
			exe = p
		}
	}
	if exe == "" {
		msg := "Chromium not found: install it (Debian: apt-get install chromium) or set CURHAT_CHROMIUM to run the console's browser tests"
		if testenv.RequireServices() {
			t.Fatal("CURHAT_REQUIRE_SERVICES=1: " + msg)
		}
		t.Skip(msg)
	}
	shots := os.Getenv("CURHAT_SCREENSHOTS")
	if shots == "" {
		var err error
		shots, err = os.MkdirTemp("", "curhat-console-screenshots-")
		require.NoError(t, err)
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))
	t.Logf("console screenshots: %s", shots)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // the tests may run as root (CI)
		chromedp.DisableGPU,
		// Nothing but the test servers on loopback: no QUIC, no component or sync traffic
		// (a closed network refuses it, and the refusals would show as failed requests).
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		cancel()
		cancelAlloc()
		if testenv.RequireServices() {
			t.Fatalf("CURHAT_REQUIRE_SERVICES=1: Chromium (%s) did not start: %v", exe, err)
		}
		t.Skipf("Chromium (%s) did not start: %v", exe, err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return &consoleBrowser{ctx: ctx, shots: shots}
}

// pageProblem is something a page did that a person would see as broken: a console error,
// an uncaught exception, a request that failed or answered an error status.
type pageProblem struct {
	status int // HTTP status of a failed request (0 for the rest)
	text   string
}

// tab is one browser tab in its own browser context, signed in or not.
type tab struct {
	t     *testing.T
	ctx   context.Context
	base  string // the console's address
	shots string
	name  string // screenshot file prefix

	mu       sync.Mutex
	problems []pageProblem
	marks    atomic.Int64
}

// openTab opens base (the console's address) in a new browser context.
func (b *consoleBrowser) openTab(t *testing.T, base, name string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx, base: base, shots: b.shots, name: name}
	require.NoError(t, chromedp.Listen(ctx, tb.record))
	tb.do(chromedp.Navigate(base))
	return tb
}

// record keeps the console errors, exceptions and failed requests of the page.
func (tb *tab) record(ev any) {
	var p pageProblem
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeWarning && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			if len(a.Value) > 0 {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		p.text = fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(parts, " "))
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		p.text = "uncaught: " + d.Text
		if d.Exception != nil {
			p.text += " " + d.Exception.Description
		}
	case *cdplog.EventEntryAdded:
		// Network errors are reported below with their status; the rest (CSP violations,
		// security and other browser messages) are problems.
		if ev.Entry.Level != cdplog.EntryLevelError || ev.Entry.Source == cdplog.EntrySourceNetwork {
			return
		}
		p.text = fmt.Sprintf("browser log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
	case *network.EventResponseReceived:
		if ev.Response.Status < 400 {
			return
		}
		p.status = int(ev.Response.Status)
		p.text = fmt.Sprintf("request %s answered %d", ev.Response.URL, ev.Response.Status)
	case *network.EventLoadingFailed:
		// A stream the page aborts on purpose (leaving the dashboard) is canceled, not
		// failed; an answer with an error status is reported above.
		if ev.Canceled || ev.ErrorText == "" {
			return
		}
		p.text = fmt.Sprintf("request failed: %s (%s, blocked: %s)", ev.ErrorText, ev.Type, ev.BlockedReason)
	default:
		return
	}
	tb.mu.Lock()
	tb.problems = append(tb.problems, p)
	tb.mu.Unlock()
}

// requireClean fails the test if the page had a problem, other than requests answered
// with one of the expected statuses (a wrong token's 401, a stale write's 409, ...).
func (tb *tab) requireClean(expected ...int) {
	tb.t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var bad []string
	for _, p := range tb.problems {
		if p.status != 0 && slices.Contains(expected, p.status) {
			continue
		}
		bad = append(bad, p.text)
	}
	require.Empty(tb.t, bad, "the page had problems")
}

func (tb *tab) stepCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(tb.ctx, browserStepTimeout)
}

// do runs browser actions, each bounded by browserStepTimeout.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	for _, a := range actions {
		ctx, cancel := tb.stepCtx()
		err := chromedp.Do(ctx, a)
		cancel()
		require.NoError(tb.t, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := tb.stepCtx()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(tb.t, err, "evaluate %s", expr)
	return v
}

// js quotes a Go string as a JavaScript string literal.
func js(s string) string {
	raw, _ := json.Marshal(s)
	return string(raw)
}

// waitFor polls a JavaScript condition until it is true or the step times out.
func (tb *tab) waitFor(what, cond string) {
	tb.t.Helper()
	ctx, cancel := tb.stepCtx()
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(browserStepTimeout)))
	if err != nil {
		tb.t.Fatalf("waiting for %s: %v\n\tcondition: %s\n\tpage text: %s", what, err, cond, tb.pageText())
	}
}

// waitText waits until the element of a CSS selector contains text.
func (tb *tab) waitText(sel, text string) {
	tb.t.Helper()
	tb.waitFor(fmt.Sprintf("%q in %s", text, sel),
		fmt.Sprintf(`(() => { const e = document.querySelector(%s); return !!e && e.textContent.includes(%s); })()`, js(sel), js(text)))
}

func (tb *tab) pageText() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	return strings.Join(strings.Fields(s), " ")
}

// byRole finds the one element whose accessible role and name are given (as assistive
// technology sees them) and returns a CSS selector for it. It waits until exactly one
// such element is rendered.
func (tb *tab) byRole(role, name string) chromedp.CSS {
	tb.t.Helper()
	mark := fmt.Sprintf("m%d", tb.marks.Add(1))
	ctx, cancel := tb.stepCtx()
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		found, err := tb.markRole(ctx, role, name, mark)
		if found {
			return chromedp.CSS(`[data-test-mark="` + mark + `"]`)
		}
		last = err
		select {
		case <-ctx.Done():
			tb.t.Fatalf("no single %s named %q: %v\n\tpage text: %s", role, name, last, tb.pageText())
		case <-tick.C:
		}
	}
}

// markRole marks the element of role and name with data-test-mark.
func (tb *tab) markRole(ctx context.Context, role, name, mark string) (bool, error) {
	doc, err := chromedp.Run(ctx, chromedp.Evaluate[*runtime.RemoteObject](`document`))
	if err != nil {
		return false, err
	}
	res, err := chromedp.Call(ctx, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{
		ObjectID: doc.ObjectID, AccessibleName: name, Role: role})
	if err != nil {
		return false, err
	}
	var nodes []*accessibility.Node
	for _, n := range res.Nodes {
		if !n.Ignored && n.BackendDOMNodeID != 0 {
			nodes = append(nodes, n)
		}
	}
	if len(nodes) != 1 {
		return false, fmt.Errorf("%d found", len(nodes))
	}
	obj, err := chromedp.Call(ctx, dom.ResolveNode, dom.ResolveNodeParams{BackendNodeID: nodes[0].BackendDOMNodeID})
	if err != nil {
		return false, err
	}
	_, err = chromedp.Call(ctx, runtime.CallFunctionOn, runtime.CallFunctionOnParams{
		ObjectID:            obj.Object.ObjectID,
		FunctionDeclaration: fmt.Sprintf(`function() { this.setAttribute("data-test-mark", %s); }`, js(mark)),
	})
	return err == nil, err
}

// click clicks the element of role and name, with the mouse.
func (tb *tab) click(role, name string) {
	tb.t.Helper()
	tb.do(chromedp.Click(tb.byRole(role, name)))
}

// fill replaces the value of the input of role and name by typing text.
func (tb *tab) fill(role, name, text string) {
	tb.t.Helper()
	sel := tb.byRole(role, name)
	tb.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(
			`(() => { const e = document.querySelector(%s); e.focus(); e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true})); return true; })()`,
			js(string(sel)))))
		return err
	}), chromedp.SendKeys(sel, text))
}

// value reads the value of the input of role and name.
func (tb *tab) value(role, name string) string {
	tb.t.Helper()
	return eval[string](tb, fmt.Sprintf(`document.querySelector(%s).value`, js(string(tb.byRole(role, name)))))
}

// choose selects the option with the visible text in the select of name.
func (tb *tab) choose(name, option string) {
	tb.t.Helper()
	sel := tb.byRole("combobox", name)
	ok := eval[bool](tb, fmt.Sprintf(`(() => {
		const s = document.querySelector(%s);
		const o = [...s.options].find((o) => o.textContent === %s);
		if (!o) return false;
		s.value = o.value;
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`, js(string(sel)), js(option)))
	require.True(tb.t, ok, "no option %q in %q", option, name)
}

// keys types keys into whatever has the focus (the keyboard, nothing else).
func (tb *tab) keys(keys string) {
	tb.t.Helper()
	tb.do(chromedp.KeyEvent(keys))
}

// focused describes the focused element: tag, id and text.
func (tb *tab) focused() string {
	tb.t.Helper()
	return eval[string](tb, `(() => { const e = document.activeElement; return e ? (e.tagName + "#" + e.id + " " + (e.getAttribute("aria-label") || e.textContent || "")).trim() : ""; })()`)
}

// heading waits for the page's h1.
func (tb *tab) heading(text string) {
	tb.t.Helper()
	tb.waitFor("heading "+text, fmt.Sprintf(`(() => { const h = [...document.querySelectorAll("h1")].find((h) => h.offsetParent !== null); return !!h && h.textContent === %s; })()`, js(text)))
}

// screenshot saves the whole page as <name>-<page>.png.
func (tb *tab) screenshot(page string) {
	tb.t.Helper()
	ctx, cancel := tb.stepCtx()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(tb.t, err)
	require.NoError(tb.t, os.WriteFile(filepath.Join(tb.shots, tb.name+"-"+page+".png"), png, 0o644))
}

// signIn signs in with token on the sign-in page and waits for the dashboard.
func (tb *tab) signIn(token string) {
	tb.t.Helper()
	tb.heading("Sign in")
	tb.fill("textbox", "Operator token", token)
	tb.click("button", "Sign in")
	tb.heading("Dashboard")
}

// goTo follows a navigation link and waits for the page's heading.
func (tb *tab) goTo(link string) {
	tb.t.Helper()
	tb.click("link", link)
	tb.heading(link)
}

// ---- the scenarios ----

// consoleEnv is a fresh server with demo-like data, and the shared browser.
type consoleEnv struct {
	t       *testing.T
	ts      *testServer
	browser *consoleBrowser
	backend backend
	mitras  map[string]uuid.UUID
}

// newConsoleEnv starts a server and gives it tiers (session 15/30/60, extension 10/15),
// three mitras (Ayu online) and two clients.
func newConsoleEnv(t *testing.T, b *consoleBrowser, be backend, opts ...serverOption) *consoleEnv {
	t.Helper()
	ts := newTestServer(t, be, opts...)
	for _, tier := range []struct {
		mode    string
		minutes int
		price   int64
		label   string
	}{
		{"session", 15, 15_000, "15 menit"}, {"session", 30, 25_000, "30 menit"}, {"session", 60, 45_000, "60 menit"},
		{"extension", 10, 10_000, "+10 menit"}, {"extension", 15, 14_000, "+15 menit"},
	} {
		ts.must(201, "POST", "/api/internal/pricing/tiers", ts.op,
			map[string]any{"mode": tier.mode, "minutes": tier.minutes, "price": tier.price, "label": tier.label})
	}
	env := &consoleEnv{t: t, ts: ts, browser: b, backend: be, mitras: map[string]uuid.UUID{}}
	for _, name := range []string{"Bestie Ayu", "Bestie Bima", "Bestie Citra"} {
		id, tok := ts.newMitra(name)
		env.mitras[name] = id
		if name == "Bestie Ayu" {
			ts.must(200, "POST", "/api/mitra/status/online", tok, nil)
		}
	}
	return env
}

// open opens the console in a new browser context.
func (e *consoleEnv) open(name string) *tab {
	e.t.Helper()
	return e.browser.openTab(e.t, e.ts.http.URL+"/console/", e.backend.String()+"-"+name)
}

// signedIn opens the console and signs in.
func (e *consoleEnv) signedIn(name string) *tab {
	e.t.Helper()
	tb := e.open(name)
	tb.signIn(e.ts.op)
	return tb
}

// tier returns the tier of mode and minutes as the API has it.
func (e *consoleEnv) tier(mode string, minutes int) map[string]any {
	e.t.Helper()
	for _, it := range e.ts.must(200, "GET", tiersPath+"?include_inactive=true&mode="+mode, e.ts.op, nil)["tiers"].([]any) {
		if t := it.(map[string]any); t["minutes"] == float64(minutes) {
			return t
		}
	}
	e.t.Fatalf("no %s tier of %d minutes", mode, minutes)
	return nil
}

// failedBlast makes a fresh client's paid blast fail (no mitra available). With
// refuseRefund the fake gateway refuses its refund.
func (e *consoleEnv) failedBlast(refuseRefund bool) (pairingID string) {
	e.t.Helper()
	ts := e.ts
	_, tok := ts.newClient("Client " + uuid.NewString()[:4])
	start := ts.must(201, "POST", "/api/client/chat/start", tok, map[string]any{"minutes": 30})
	if refuseRefund {
		ts.must(200, "POST", "/api/internal/fake-gateway/refund-failures", ts.op, map[string]any{"count": 1})
	}
	require.Equal(e.t, 200, ts.webhook(start["payment"].(map[string]any)["id"], "paid").Status)
	id := start["pairing"].(map[string]any)["id"].(string)
	require.Equal(e.t, "failed", ts.must(200, "GET", "/api/client/pairings/"+id, tok, nil)["pairing"].(map[string]any)["status"])
	return id
}

// everyoneOffline takes the online mitras offline, so that blasts fail.
func (e *consoleEnv) everyoneOffline() {
	e.t.Helper()
	for _, id := range e.mitras {
		e.ts.must(200, "POST", "/api/mitra/status/offline", e.ts.token("mitra", id), nil)
	}
}

type consoleScenario struct {
	name string
	run  func(t *testing.T, b *consoleBrowser, be backend)
	// memoryOnly scenarios exercise the page, not the backend: they run once.
	memoryOnly bool
}

var consoleScenarios = []consoleScenario{
	{name: "SignIn_WrongTokenShowsTheAPIErrorThenTheRightOneEntersAndSignOutForgets", run: scenarioSignIn, memoryOnly: true},
	{name: "SignIn_WithTheKeyboardOnly", run: scenarioKeyboardSignIn, memoryOnly: true},
	{name: "EveryPageLoadsWithoutConsoleErrorOrFailedRequest", run: scenarioEveryPage},
	{name: "Pricing_EditedPriceIsWhatClientsSee", run: scenarioEditPrice},
	{name: "Pricing_SecondOperatorGetsTheStaleWriteAndReapplies", run: scenarioStaleWrite},
	{name: "Pricing_ReorderMovesATierUp", run: scenarioReorder, memoryOnly: true},
	{name: "Pricing_DeactivateAndReactivateATierWithItsHistory", run: scenarioTierActive, memoryOnly: true},
	{name: "Pricing_DiscountFormSavesAndResolvesAStaleWrite", run: scenarioDiscount, memoryOnly: true},
	{name: "Mitras_SearchCreateDeactivateReactivate", run: scenarioMitras},
	{name: "Config_ShowsTheAPIValidationMessage", run: scenarioConfig, memoryOnly: true},
	{name: "FailedPairings_FilterRefundResolveRetryARefundAndSettleOneByHand", run: scenarioFailures},
	{name: "Earnings_BalancesOnTheMitrasPageAndAPayoutRunAfterConfirming", run: scenarioEarnings, memoryOnly: true},
	{name: "Dashboard_CountsFollowAMitraGoingOnline", run: scenarioDashboardLive},
	{name: "CORS_ConsoleOnAnotherOriginEditsAPrice", run: scenarioCrossOrigin, memoryOnly: true},
	{name: "Safety_AnAPIOriginInTheAddressIsIgnored", run: scenarioAPIParameterIgnored, memoryOnly: true},
}

// TestConsole_Browser runs the scenarios in one Chromium: all of them in memory, the
// ones that touch the backend again over Postgres + Valkey.
func TestConsole_Browser(t *testing.T) {
	t.Parallel()
	b := newConsoleBrowser(t)
	started := time.Now()
	for _, be := range []backend{memoryBackend, realBackend} {
		t.Run(be.String(), func(t *testing.T) {
			for _, sc := range consoleScenarios {
				if sc.memoryOnly && be != memoryBackend {
					continue
				}
				t.Run(sc.name, func(t *testing.T) { sc.run(t, b, be) })
			}
		})
	}
	t.Logf("browser scenarios took %s", time.Since(started).Round(100*time.Millisecond))
}

func scenarioSignIn(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	tb := env.open("signin")
	tb.heading("Sign in")
	tb.screenshot("0-sign-in")

	// The wrong token: the API's error, next to the field, announced.
	tb.fill("textbox", "Operator token", "not-a-token")
	tb.click("button", "Sign in")
	tb.waitText("#token-error", "a valid bearer token is required")
	require.Equal(t, "true", eval[string](tb, `document.getElementById("token").getAttribute("aria-invalid")`))
	require.Equal(t, "assertive", eval[string](tb, `document.getElementById("token-error").getAttribute("aria-live")`))
	require.Equal(t, "token-error", eval[string](tb, `document.getElementById("token").getAttribute("aria-describedby")`))
	require.Empty(t, eval[string](tb, `sessionStorage.getItem("curhat.operatorToken") || ""`))

	// A client's token is not an operator's.
	_, clientTok := env.ts.newClient("Dewi")
	tb.fill("textbox", "Operator token", clientTok)
	tb.click("button", "Sign in")
	tb.waitText("#token-error", "this token may not use this route")

	// The right one.
	tb.fill("textbox", "Operator token", env.ts.op)
	tb.click("button", "Sign in")
	tb.heading("Dashboard")
	for _, link := range []string{"Dashboard", "Mitras", "Pricing", "Config", "Failed pairings", "Earnings"} {
		tb.byRole("link", link)
	}
	// The token is in this tab's sessionStorage, and nowhere a URL, a cookie or a page
	// shows it.
	require.Equal(t, env.ts.op, eval[string](tb, `sessionStorage.getItem("curhat.operatorToken")`))
	require.Empty(t, eval[string](tb, `localStorage.length ? "localStorage used" : ""`))
	require.NotContains(t, eval[string](tb, `location.href`), env.ts.op)
	require.NotContains(t, tb.pageText(), env.ts.op)
	ctx, cancel := tb.stepCtx()
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	cancel()
	require.NoError(t, err)
	require.Empty(t, cookies.Cookies)

	// A reload keeps the tab signed in; another tab (another operator) is not.
	tb.do(chromedp.Reload())
	tb.heading("Dashboard")
	other := env.open("signin-other")
	other.heading("Sign in")

	tb.click("button", "Sign out")
	tb.heading("Sign in")
	require.Empty(t, eval[string](tb, `sessionStorage.getItem("curhat.operatorToken") || ""`))
	tb.do(chromedp.Reload())
	tb.heading("Sign in")
	tb.requireClean(401, 403)
	other.requireClean()
}

func scenarioKeyboardSignIn(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	tb := env.open("keyboard")
	tb.heading("Sign in")
	tb.waitFor("the token field to have the focus", `document.activeElement && document.activeElement.id === "token"`)
	tb.keys(env.ts.op)
	tb.keys("\t")
	require.Equal(t, "BUTTON# Sign in", tb.focused())
	// The focus is visible.
	require.NotEqual(t, "none", eval[string](tb, `getComputedStyle(document.activeElement).outlineStyle`))
	tb.keys("\r")
	tb.heading("Dashboard")
	// The page's heading takes the focus; Tab then reaches the navigation in order.
	tb.waitFor("the heading to have the focus", `document.activeElement && document.activeElement.tagName === "H1"`)
	tb.do(chromedp.Focus(chromedp.CSS(`#nav a[href="#/dashboard"]`)))
	for _, want := range []string{"Mitras", "Pricing"} {
		tb.keys("\t")
		require.Contains(t, tb.focused(), want)
	}
	tb.keys("\r")
	tb.heading("Pricing")
	tb.waitFor("the heading to have the focus", `document.activeElement && document.activeElement.textContent === "Pricing"`)
	tb.requireClean()
}

func scenarioEveryPage(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	// Something on every page: a session in progress, failed pairings, a refused refund.
	ayuTok := env.ts.token("mitra", env.mitras["Bestie Ayu"])
	_, clientTok := env.ts.newClient("Client Dewi")
	start := env.ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
	require.Equal(t, 200, env.ts.webhook(start["payment"].(map[string]any)["id"], "paid").Status)
	env.ts.must(200, "POST", "/api/mitra/pairing-offers/"+start["pairing"].(map[string]any)["id"].(string)+"/accept", ayuTok, nil)
	env.everyoneOffline()
	env.failedBlast(false)
	env.failedBlast(true)
	env.ts.must(200, "POST", "/api/mitra/status/online", ayuTok, nil)

	tb := env.signedIn("page")
	tb.waitFor("the dashboard's counts", `document.getElementById("count-active-sessions").textContent === "1"`)
	// Nothing earned yet: the session is in progress, and the books balance.
	tb.waitFor("the ledger's cards", `document.getElementById("count-ledger-imbalance").textContent === "0" &&
		document.getElementById("count-platform-revenue-today").textContent === "0"`)
	tb.waitText("#live-state", "Live")
	tb.screenshot("1-dashboard")
	for i, p := range []struct{ link, ready string }{
		{"Mitras", `#mitra-table tbody tr[data-id]`},
		{"Pricing", `#discount-form`},
		{"Config", `#config-list form`},
		{"Failed pairings", `#refund-table tbody tr[data-id]`},
		{"Earnings", `#payout-table`},
		{"Dashboard", `#count-online`},
	} {
		tb.goTo(p.link)
		tb.waitFor(p.link+" loaded", fmt.Sprintf(`!!document.querySelector(%s)`, js(p.ready)))
		require.Equal(t, p.link+" · curhat operator console", eval[string](tb, `document.title`))
		require.Equal(t, "page", eval[string](tb, fmt.Sprintf(`document.querySelector('#nav a[aria-current]').textContent === %s ? "page" : ""`, js(p.link))))
		if p.link != "Dashboard" {
			tb.screenshot(fmt.Sprintf("%d-%s", i+2, strings.ReplaceAll(strings.ToLower(p.link), " ", "-")))
		}
	}
	// Every input of every page has a label (an accessible name).
	for _, p := range []string{"Mitras", "Pricing", "Config", "Failed pairings", "Earnings"} {
		tb.goTo(p)
		tb.waitFor(p+" inputs", `document.querySelectorAll("main input, main select, main textarea").length > 0`)
		unlabelled := eval[[]string](tb, `[...document.querySelectorAll("main input, main select, main textarea")]
			.filter((e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label"))
			.map((e) => e.outerHTML)`)
		require.Empty(t, unlabelled, "%s: inputs without a label", p)
	}
	tb.requireClean()
}

func scenarioEditPrice(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	tb := env.signedIn("edit-price")
	tb.goTo("Pricing")
	tb.fill("spinbutton", "Price of the 30 min session tier", "27500")
	tb.fill("textbox", "Label of the 30 min session tier", "30 menit hemat")
	tb.click("button", "Save the 30 min session tier")
	tb.waitText(`tr[data-minutes="30"]`, "Saved.")

	_, clientTok := env.ts.newClient("Dewi")
	pricing := env.ts.must(200, "GET", "/api/client/chat/pricing", clientTok, nil)
	var got []string
	for _, it := range pricing["session_tiers"].([]any) {
		tier := it.(map[string]any)
		got = append(got, fmt.Sprintf("%v:%v:%v", tier["minutes"], tier["price"], tier["label"]))
	}
	require.Equal(t, []string{"15:15000:15 menit", "30:27500:30 menit hemat", "60:45000:60 menit"}, got)
	require.Equal(t, "Price of the 30 min session tier", eval[string](tb, `document.querySelector('tr[data-minutes="30"] label').textContent`))

	// A price the API refuses: its message, beside the field.
	tb.fill("spinbutton", "Price of the 30 min session tier", "-5")
	tb.click("button", "Save the 30 min session tier")
	tb.waitFor("the price error", `(() => { const e = document.querySelector('tr[data-minutes="30"] .field .error'); return !!e && e.textContent !== ""; })()`)
	require.Equal(t, float64(27500), env.tier("session", 30)["price"])
	tb.requireClean(400)
}

func scenarioStaleWrite(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	first := env.signedIn("stale-first")
	second := env.signedIn("stale-second")
	first.goTo("Pricing")
	second.goTo("Pricing")

	first.fill("spinbutton", "Price of the 30 min session tier", "30000")
	first.click("button", "Save the 30 min session tier")
	first.waitText(`tr[data-minutes="30"]`, "Saved.")

	// The second operator's table still has the old row: its save is refused, the edit
	// stays, and the current values show.
	second.fill("spinbutton", "Price of the 30 min session tier", "31000")
	second.fill("textbox", "Label of the 30 min session tier", "second's label")
	second.click("button", "Save the 30 min session tier")
	second.waitText(`tr[data-detail="30"] .conflict`, "Changed by someone else.")
	second.waitText(`tr[data-detail="30"] .conflict`, "price 30,000 IDR")
	require.Equal(t, "31000", second.value("spinbutton", "Price of the 30 min session tier"))
	require.Equal(t, "second's label", second.value("textbox", "Label of the 30 min session tier"))
	require.Equal(t, float64(30000), env.tier("session", 30)["price"])
	second.screenshot("pricing-stale-write")

	second.click("button", "Re-apply my edit")
	second.waitText(`tr[data-minutes="30"]`, "Saved.")
	tier := env.tier("session", 30)
	require.Equal(t, float64(31000), tier["price"])
	require.Equal(t, "second's label", tier["label"])

	// The first operator's next save is the one refused now; it discards its edit and
	// sees the second's values.
	first.fill("spinbutton", "Price of the 30 min session tier", "32000")
	first.click("button", "Save the 30 min session tier")
	first.waitText(`tr[data-detail="30"] .conflict`, "price 31,000 IDR")
	first.click("button", "Discard my edit")
	first.waitFor("the current price", `document.querySelector('tr[data-minutes="30"] input[type=number]').value === "31000"`)
	require.Equal(t, "second's label", first.value("textbox", "Label of the 30 min session tier"))
	require.Equal(t, float64(31000), env.tier("session", 30)["price"])
	first.requireClean(409)
	second.requireClean(409)
}

// minutesOrder is the order of a table's rows, by minutes.
func minutesOrder(tb *tab, mode string) []string {
	tb.t.Helper()
	return eval[[]string](tb, fmt.Sprintf(`[...document.querySelectorAll("#tier-table-%s tbody tr[data-minutes]")].map((r) => r.dataset.minutes)`, mode))
}

func scenarioReorder(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	tb := env.signedIn("reorder")
	tb.goTo("Pricing")
	tb.waitFor("the tiers", `document.querySelectorAll("tr[data-minutes]").length === 5`)
	require.Equal(t, []string{"15", "30", "60"}, minutesOrder(tb, "session"))
	require.Equal(t, "true", eval[string](tb, `String(document.querySelector('tr[data-minutes="15"] button[aria-label^="Move the"]').disabled)`))
	tb.click("button", "Move the 60 min session tier up")
	tb.waitFor("the new order", `[...document.querySelectorAll("#tier-table-session tbody tr[data-minutes]")].map((r) => r.dataset.minutes).join() === "15,60,30"`)
	// The focus stays on the control that moved the tier, for the next press.
	require.Contains(t, tb.focused(), "Move the 60 min session tier up")
	tb.keys("\r")
	tb.waitFor("the 60-minute tier first", `[...document.querySelectorAll("#tier-table-session tbody tr[data-minutes]")].map((r) => r.dataset.minutes).join() === "60,15,30"`)

	_, clientTok := env.ts.newClient("Dewi")
	var got []any
	for _, it := range env.ts.must(200, "GET", "/api/client/chat/pricing", clientTok, nil)["session_tiers"].([]any) {
		got = append(got, it.(map[string]any)["minutes"])
	}
	require.Equal(t, []any{float64(60), float64(15), float64(30)}, got)

	// Another operator edits a tier meanwhile: the move is refused, the table shows the
	// current tiers, and "Re-apply my edit" puts them in this operator's order.
	ext := env.tier("extension", 10)
	env.ts.must(200, "PATCH", tiersPath+"/"+ext["id"].(string), env.ts.op, map[string]any{"expected_updated_at": ext["updated_at"], "price": 12000})
	require.Equal(t, []string{"10", "15"}, minutesOrder(tb, "extension"))
	tb.click("button", "Move the 10 min extension tier down")
	tb.waitText("#tiers-extension .conflict", "Changed by someone else.")
	tb.waitFor("the current price", `document.querySelector('#tier-table-extension tr[data-minutes="10"] input[type=number]').value === "12000"`)
	require.Equal(t, []string{"10", "15"}, minutesOrder(tb, "extension"))
	tb.click("button", "Re-apply my edit")
	tb.waitFor("the re-applied move", `[...document.querySelectorAll("#tier-table-extension tbody tr[data-minutes]")].map((r) => r.dataset.minutes).join() === "15,10"`)
	var ext2 []any
	for _, it := range env.ts.must(200, "GET", "/api/client/chat/pricing", clientTok, nil)["extension_tiers"].([]any) {
		ext2 = append(ext2, it.(map[string]any)["minutes"])
	}
	require.Equal(t, []any{float64(15), float64(10)}, ext2)
	tb.requireClean(409)
}

func scenarioTierActive(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	tb := env.signedIn("tier-active")
	tb.goTo("Pricing")
	_, clientTok := env.ts.newClient("Dewi")
	sessionMinutes := func() (out []any) {
		for _, it := range env.ts.must(200, "GET", "/api/client/chat/pricing", clientTok, nil)["session_tiers"].([]any) {
			out = append(out, it.(map[string]any)["minutes"])
		}
		return out
	}

	tb.click("button", "Deactivate the 15 min session tier")
	tb.waitText(`tr[data-minutes="15"]`, "deactivated")
	require.Equal(t, []any{float64(30), float64(60)}, sessionMinutes())
	require.Equal(t, false, env.tier("session", 15)["is_active"])

	tb.click("button", "Reactivate the 15 min session tier")
	tb.waitText(`tr[data-minutes="15"]`, "Reactivated.")
	require.Equal(t, []any{float64(15), float64(30), float64(60)}, sessionMinutes())

	tb.click("button", "History of the 15 min session tier")
	require.Equal(t, "true", eval[string](tb, `document.querySelector('tr[data-minutes="15"] button[aria-expanded]').getAttribute("aria-expanded")`))
	tb.waitText(`#tier-table-session`, "reactivate by Bootstrap admin")
	tb.waitText(`#tier-table-session`, "deactivate by Bootstrap admin")
	tb.waitText(`#tier-table-session`, "create by Bootstrap admin")
	tb.requireClean()
}

func scenarioDiscount(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	tb := env.signedIn("discount")
	tb.goTo("Pricing")
	tb.click("checkbox", "Enabled")
	tb.fill("spinbutton", "Discount percent", "20")
	tb.fill("spinbutton", "Max discount amount", "4000")
	tb.fill("textbox", "Eligible minutes", "30, 60")
	tb.fill("textbox", "Discount label", "Hemat 20%")
	tb.waitText("#discount-form", "Unsaved changes")
	// Buffered: nothing is written before "Save discount".
	require.Equal(t, false, env.ts.must(200, "GET", promoPath, env.ts.op, nil)["enabled"])
	tb.click("button", "Save discount")
	tb.waitText("#discount-status", "Discount saved.")
	promo := env.ts.must(200, "GET", promoPath, env.ts.op, nil)
	require.Equal(t, true, promo["enabled"])
	require.Equal(t, float64(20), promo["discount_percent"])
	require.Equal(t, float64(4000), promo["max_discount_amount"])
	require.Equal(t, []any{float64(30), float64(60)}, promo["eligible_minutes"])

	// A new client sees it: 20% of 25,000 is 5,000, capped at 4,000.
	_, clientTok := env.ts.newClient("Dewi")
	for _, it := range env.ts.must(200, "GET", "/api/client/chat/pricing", clientTok, nil)["session_tiers"].([]any) {
		if tier := it.(map[string]any); tier["minutes"] == float64(30) {
			require.Equal(t, float64(21000), tier["discounted_price"])
		}
	}

	// Someone else saves meanwhile: the form keeps the edit and offers both ways out.
	env.ts.must(200, "PUT", promoPath, env.ts.op, map[string]any{"expected_updated_at": promo["updated_at"], "enabled": true,
		"discount_percent": 10, "max_discount_amount": nil, "eligible_minutes": []int{}, "label": "Hemat 10%"})
	tb.fill("spinbutton", "Discount percent", "25")
	tb.click("button", "Save discount")
	tb.waitText("#discount-form .conflict", "Changed by someone else.")
	tb.waitText("#discount-form .conflict", "10%")
	require.Equal(t, "25", tb.value("spinbutton", "Discount percent"))
	tb.click("button", "Discard my edit")
	tb.waitFor("the current discount", `document.getElementById("discount-percent").value === "10"`)
	require.Equal(t, "Hemat 10%", tb.value("textbox", "Discount label"))
	require.Equal(t, "", tb.value("spinbutton", "Max discount amount"))
	tb.requireClean(409)
}

func scenarioMitras(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	tb := env.signedIn("mitras")
	tb.goTo("Mitras")
	tb.waitText("#mitra-table", "Bestie Citra")
	ayu := fmt.Sprintf(`#mitra-table tr[data-id=%s]`, js(env.mitras["Bestie Ayu"].String()))
	tb.waitText(ayu, "online")
	tb.waitText(ayu, "reachable")
	tb.waitText(ayu, "0 / 1")

	tb.fill("searchbox", "Search", "AYU")
	tb.click("button", "Search")
	tb.waitFor("one mitra found", `document.querySelectorAll("#mitra-table tbody tr[data-id]").length === 1`)
	tb.waitText("#mitra-table", "Bestie Ayu")
	tb.fill("searchbox", "Search", "")
	tb.choose("Presence", "Offline")
	tb.click("button", "Search")
	tb.waitFor("the offline mitras", `document.querySelectorAll("#mitra-table tbody tr[data-id]").length === 2`)
	tb.choose("Presence", "Any")

	tb.fill("textbox", "Display name", "Bestie Dewi")
	tb.fill("spinbutton", "Max concurrent sessions", "3")
	tb.click("button", "Create mitra")
	tb.waitText("main", "Created Bestie Dewi")
	tb.waitFor("the new mitra first", `document.querySelector("#mitra-table tbody tr[data-id] th").textContent === "Bestie Dewi"`)
	tb.waitText(`#mitra-table tbody tr[data-id]`, "0 / 3")
	id := eval[string](tb, `document.querySelector("#mitra-table tbody tr[data-id]").dataset.id`)

	// Deactivation asks first; "Cancel" changes nothing.
	tb.click("button", "Deactivate Bestie Dewi")
	tb.byRole("dialog", "Deactivate Bestie Dewi?")
	tb.click("button", "Cancel")
	tb.waitFor("the dialog to close", `!document.querySelector("dialog")`)
	require.Equal(t, true, env.ts.must(200, "GET", "/api/internal/mitras/"+id, env.ts.op, nil)["is_active"])

	tb.click("button", "Deactivate Bestie Dewi")
	tb.click("button", "Deactivate")
	tb.byRole("button", "Reactivate Bestie Dewi")
	tb.waitText(`#mitra-table tbody tr[data-id]`, "deactivated")
	require.Equal(t, false, env.ts.must(200, "GET", "/api/internal/mitras/"+id, env.ts.op, nil)["is_active"])

	tb.click("button", "Reactivate Bestie Dewi")
	tb.click("button", "Reactivate")
	tb.byRole("button", "Deactivate Bestie Dewi")
	require.Equal(t, true, env.ts.must(200, "GET", "/api/internal/mitras/"+id, env.ts.op, nil)["is_active"])

	// The API's validation message, beside the field.
	tb.fill("spinbutton", "Max concurrent sessions", "500")
	tb.fill("textbox", "Display name", "Bestie Eko")
	tb.click("button", "Create mitra")
	tb.waitFor("the max error", `document.querySelector("#mitra-table") && [...document.querySelectorAll(".error")].some((e) => e.textContent.includes("max_concurrent_sessions"))`)
	tb.requireClean(400)
}

// scenarioEarnings: Ayu's session earned 17,500 (25,000 less the 30 % fee), available at
// once; the operator sees it on the Mitras page and the Earnings page, runs payouts after
// confirming, and sees the payout. The API's side, on both backends, is
// routes_payouts_test.go's.
func scenarioEarnings(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be, func(c *Config) { c.Sweeps, c.EarningsClearance, c.PayoutRetry = true, time.Hour, time.Hour })
	ts, ayu := env.ts, env.mitras["Bestie Ayu"]
	ts.setConfig("earnings_clearance_hours", 0)
	ts.setConfig("payout_minimum_amount", 10000)
	ts.earn(ts.token("mitra", ayu))
	ts.must(200, "PUT", "/api/internal/mitras/"+ayu.String()+"/payout-destination", ts.op, testDestination)

	tb := env.signedIn("earnings")
	tb.goTo("Mitras")
	row := fmt.Sprintf(`#mitra-table tr[data-id=%s]`, js(ayu.String()))
	tb.waitText(row+" .balance-available", "17,500 IDR")
	tb.waitText(row+" .balance-pending", "0 IDR")

	tb.goTo("Earnings")
	tb.waitText("#balance-mitra_available", "17,500 IDR")
	tb.waitText("#balance-gateway", "25,000 IDR")
	tb.waitText("#payout-table", "No payout matches.")
	// "Cancel" pays nothing; "Pay out" runs them.
	tb.click("button", "Run payouts")
	tb.byRole("dialog", "Run payouts now?")
	tb.click("button", "Cancel")
	tb.waitFor("the dialog to close", `!document.querySelector("dialog")`)
	tb.click("button", "Run payouts")
	tb.click("button", "Pay out")
	tb.waitText("#payout-run-status", "1 payout created: 1 succeeded.")
	tb.waitText("#payout-table tbody tr[data-id]", "succeeded")
	tb.waitText("#payout-table tbody tr[data-id]", "Bestie Ayu")
	tb.waitText("#payout-table tbody tr[data-id]", "17,500 IDR")
	tb.waitFor("the balances after the run", `document.getElementById("balance-mitra_available").textContent === "0 IDR" &&
		document.getElementById("balance-gateway").textContent === "7,500 IDR"`)
	items, total := ts.payouts("status=succeeded")
	require.Equal(t, float64(1), total)
	require.Equal(t, ayu.String(), items[0]["mitra_id"])
	tb.screenshot("earnings")
	tb.choose("Payout status", "Failed")
	tb.click("button", "Show payouts")
	tb.waitText("#payout-table", "No payout matches.")
	tb.choose("Payout status", "Any")
	tb.choose("Mitra", "Bestie Ayu")
	tb.click("button", "Show payouts")
	tb.waitText("#payout-table tbody tr[data-id]", "Bestie Ayu")
	tb.requireClean()
}

func scenarioConfig(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	tb := env.signedIn("config")
	tb.goTo("Config")
	tb.fill("spinbutton", "Pairing blast timeout seconds", "0")
	tb.click("button", "Save Pairing blast timeout seconds")
	errSel := "#config-pairing_blast_timeout_seconds-error"
	tb.waitFor("the API's message", fmt.Sprintf(`document.querySelector(%s).textContent !== ""`, js(errSel)))
	msg := eval[string](tb, fmt.Sprintf(`document.querySelector(%s).textContent`, js(errSel)))
	r := env.ts.do("PUT", "/api/internal/config/pairing_blast_timeout_seconds", env.ts.op, map[string]any{"value": 0})
	require.Equal(t, 400, r.Status)
	require.Equal(t, r.Body["error"].(map[string]any)["message"], msg, "the page shows the API's own message")
	require.Equal(t, "true", eval[string](tb, `document.getElementById("config-pairing_blast_timeout_seconds").getAttribute("aria-invalid")`))

	tb.fill("spinbutton", "Pairing blast timeout seconds", "45")
	tb.click("button", "Save Pairing blast timeout seconds")
	tb.waitText(`form[data-key="pairing_blast_timeout_seconds"]`, "Saved.")
	tb.click("checkbox", "Extension auto approve")
	tb.click("button", "Save Extension auto approve")
	tb.waitText(`form[data-key="extension_auto_approve"]`, "Saved.")
	values := map[string]any{}
	for _, it := range env.ts.must(200, "GET", "/api/internal/config", env.ts.op, nil)["items"].([]any) {
		it := it.(map[string]any)
		values[it["key"].(string)] = it["value"]
	}
	require.Equal(t, float64(45), values["pairing_blast_timeout_seconds"])
	require.Equal(t, false, values["extension_auto_approve"])

	// A list of objects is edited as JSON: a refused value shows the API's message, an
	// accepted one is shown back as the API stored it.
	stepsSel := "#config-pairing_routing_steps-error"
	tb.fill("textbox", "Pairing routing steps", `[{"match":"all","seconds":20},{"match":"language","seconds":20}]`)
	tb.click("button", "Save Pairing routing steps")
	tb.waitFor("the API's message", fmt.Sprintf(`document.querySelector(%s).textContent !== ""`, js(stepsSel)))
	msg = eval[string](tb, fmt.Sprintf(`document.querySelector(%s).textContent`, js(stepsSel)))
	require.Contains(t, msg, "pairing_routing_steps step 2: the last step must be any")
	require.Equal(t, "true", eval[string](tb, `document.getElementById("config-pairing_routing_steps").getAttribute("aria-invalid")`))
	tb.fill("textbox", "Pairing routing steps", `[{"match":"language", "seconds":15}, {"match":"any"}]`)
	tb.click("button", "Save Pairing routing steps")
	tb.waitText(`form[data-key="pairing_routing_steps"]`, "Saved.")
	require.Equal(t, "[\n  {\"match\":\"language\",\"seconds\":15},\n  {\"match\":\"any\"}\n]", tb.value("textbox", "Pairing routing steps"))
	tb.fill("textbox", "Pairing rank weights", `{"rating":1.5,"accept":0,"idle":1}`)
	tb.click("button", "Save Pairing rank weights")
	tb.waitText("#config-pairing_rank_weights-error", "rating must be 0..1, not 1.5")
	for _, it := range env.ts.must(200, "GET", "/api/internal/config", env.ts.op, nil)["items"].([]any) {
		it := it.(map[string]any)
		values[it["key"].(string)] = it["value"]
	}
	require.Equal(t, []any{map[string]any{"match": "language", "seconds": float64(15)}, map[string]any{"match": "any"}}, values["pairing_routing_steps"])
	require.Equal(t, map[string]any{"rating": float64(0), "accept": float64(0), "idle": float64(1)}, values["pairing_rank_weights"], "the refused weights are not written")
	tb.requireClean(400)
}

func scenarioFailures(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	env.everyoneOffline()
	refunded := env.failedBlast(false)
	refused := env.failedBlast(true)
	env.failedBlast(true) // its refund is retried from the refunds list

	tb := env.signedIn("failures")
	tb.goTo("Failed pairings")
	row := func(pairingID string) string {
		return fmt.Sprintf(`#failure-table tr[data-pairing-id=%s]`, js(pairingID))
	}
	tb.waitFor("three open failures", `document.querySelectorAll("#failure-table tbody tr[data-id]").length === 3`)

	// Filters.
	tb.choose("Reason", "Timeout")
	tb.click("button", "Apply filters")
	tb.waitText("#failure-table", "No failed pairing matches.")
	tb.choose("Reason", "No mitra available")
	tb.choose("Type", "Blast")
	today := env.ts.clock.Now().UTC().Format("2006-01-02")
	tb.do(chromedp.SetValue(chromedp.CSS("#filter-from"), today), chromedp.SetValue(chromedp.CSS("#filter-to"), today))
	tb.click("button", "Apply filters")
	tb.waitFor("three failures", `document.querySelectorAll("#failure-table tbody tr[data-id]").length === 3`)
	tomorrow := env.ts.clock.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	tb.do(chromedp.SetValue(chromedp.CSS("#filter-from"), tomorrow), chromedp.SetValue(chromedp.CSS("#filter-to"), tomorrow))
	tb.click("button", "Apply filters")
	tb.waitText("#failure-table", "No failed pairing matches.")
	tb.do(chromedp.SetValue(chromedp.CSS("#filter-from"), ""), chromedp.SetValue(chromedp.CSS("#filter-to"), ""))
	tb.click("button", "Apply filters")
	tb.waitFor("three failures", `document.querySelectorAll("#failure-table tbody tr[data-id]").length === 3`)

	// The action menu works from the keyboard: ArrowDown opens it on its first item,
	// Escape closes it and gives the focus back.
	menu := fmt.Sprintf(`%s button[aria-haspopup]`, row(refused))
	tb.do(chromedp.Focus(chromedp.CSS(menu)))
	tb.keys(kb.ArrowDown)
	require.Equal(t, "BUTTON# Refund", tb.focused())
	require.Equal(t, "true", eval[string](tb, fmt.Sprintf(`document.querySelector(%s).getAttribute("aria-expanded")`, js(menu))))
	tb.keys(kb.Escape)
	require.Contains(t, tb.focused(), "Actions")

	// Refund the refused refund again: it goes through now.
	tb.do(chromedp.Click(chromedp.CSS(menu)))
	tb.click("menuitem", "Refund")
	tb.waitText(row(refused), "refunded")
	// The refunded one offers no refund.
	tb.do(chromedp.Click(chromedp.CSS(row(refunded) + " button[aria-haspopup]")))
	require.Equal(t, "true", eval[string](tb, fmt.Sprintf(`String(document.querySelector(%s).disabled)`, js(row(refunded)+` [role=menuitem]`))))
	tb.click("menuitem", "Resolve…")
	tb.byRole("dialog", "Resolve the failed pairing")
	tb.fill("textbox", "Note", "called the client, refund confirmed")
	tb.click("button", "Resolve")
	tb.waitFor("the resolved row to leave the open list", fmt.Sprintf(`!document.querySelector(%s)`, js(row(refunded))))
	tb.choose("Status", "Resolved")
	tb.click("button", "Apply filters")
	tb.waitText(row(refunded), "called the client, refund confirmed")
	tb.waitText(row(refunded), "resolved by Bootstrap admin")

	// The refunds list: the one still refused, retried now.
	tb.waitFor("one failed refund", `document.querySelectorAll("#refund-table tbody tr[data-id]").length === 1`)
	tb.click("button", fmt.Sprintf("Retry the refund of 25,000 IDR from %s", env.ts.clock.Now().UTC().Format("2006-01-02 15:04")+" UTC"))
	tb.waitText("#refund-table", "No refund matches.")
	tb.choose("Refund status", "Succeeded")
	tb.click("button", "Show refunds")
	tb.waitFor("three refunds", `document.querySelectorAll("#refund-table tbody tr[data-id]").length === 3`)

	// A refund the provider can never make waits to be paid by hand; it is settled with a note.
	env.ts.must(200, "POST", "/api/internal/fake-gateway/refund-failures", env.ts.op, map[string]any{"count": 1, "mode": "not_possible"})
	env.failedBlast(false)
	tb.click("button", "Show refunds")
	tb.waitText("#manual-refunds", "1 refund waits to be paid by hand")
	tb.click("button", "Show manual refunds")
	tb.waitFor("the manual refund", `document.querySelectorAll("#refund-table tbody tr[data-status=manual]").length === 1`)
	tb.click("button", fmt.Sprintf("Settle manually the refund of 25,000 IDR from %s", env.ts.clock.Now().UTC().Format("2006-01-02 15:04")+" UTC"))
	tb.byRole("dialog", "Settle the refund by hand")
	tb.fill("textbox", "Note", "bank transfer BT-7")
	tb.screenshot("settle-manually")
	tb.click("button", "Record as paid")
	tb.waitText("#refund-table", "No refund matches.")
	tb.waitFor("no manual refund left", `document.getElementById("manual-refunds").textContent === ""`)
	var notes []any
	for _, it := range env.ts.must(200, "GET", "/api/internal/refunds?status=succeeded", env.ts.op, nil)["items"].([]any) {
		notes = append(notes, it.(map[string]any)["note"])
	}
	require.ElementsMatch(t, []any{nil, nil, nil, "bank transfer BT-7"}, notes)
	for _, it := range env.ts.must(200, "GET", "/api/internal/failed-pairings?page_size=100", env.ts.op, nil)["items"].([]any) {
		require.Equal(t, "refunded", it.(map[string]any)["refund_status"], "%v", it)
	}
	tb.requireClean()
}

func scenarioDashboardLive(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	tb := env.signedIn("dashboard")
	tb.waitText("#live-state", "Live")
	tb.waitText("#count-online", "1")
	tb.waitText("#count-available", "1")

	// A mitra goes online through the API: the page follows without a reload.
	_, tok := env.ts.newMitra("Bestie Eko")
	env.ts.must(200, "POST", "/api/mitra/status/online", tok, nil)
	tb.waitText("#count-online", "2")
	tb.waitText("#count-available", "2")

	// A blast waiting for its payment: a pending payment, and no chat session awaiting one.
	_, waitingTok := env.ts.newClient("Client Waiting")
	env.ts.must(201, "POST", "/api/client/chat/start", waitingTok, map[string]any{"minutes": 30})
	tb.waitText("#count-pending-payments", "1")
	tb.waitText("#count-awaiting-payment-sessions", "0")
	for id, label := range map[string]string{"count-pending-payments": "Pending payments", "count-awaiting-payment-sessions": "Sessions awaiting payment"} {
		tb.waitFor("the card of "+id, fmt.Sprintf(`document.getElementById(%s).previousElementSibling.textContent === %s`, js(id), js(label)))
	}

	// Both take a chat: busy.
	for range 2 {
		_, clientTok := env.ts.newClient("Client")
		start := env.ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
		require.Equal(t, 200, env.ts.webhook(start["payment"].(map[string]any)["id"], "paid").Status)
		pairingID := start["pairing"].(map[string]any)["id"].(string)
		for _, m := range []string{tok, env.ts.token("mitra", env.mitras["Bestie Ayu"])} {
			if env.ts.do("POST", "/api/mitra/pairing-offers/"+pairingID+"/accept", m, nil).Status == 200 {
				break
			}
		}
	}
	tb.waitText("#count-busy", "2")
	tb.waitText("#count-active-sessions", "2")
	tb.waitText("#count-available", "0")

	// A failed pairing appears in the feed.
	env.failedBlast(false)
	tb.waitText("#failure-feed", "no mitra available")
	tb.requireClean()
}

// consoleElsewhere serves the console's files on ln, as a host serving them from its own
// origin does: with csp, and index.html naming the API's origin api (its curhat-api meta).
func consoleElsewhere(t *testing.T, ln net.Listener, api, csp string) {
	t.Helper()
	const emptyMeta = `<meta name="curhat-api" content="">`
	index := string(consoleAssets()["index.html"].body)
	require.Contains(t, index, emptyMeta)
	index = strings.Replace(index, emptyMeta, `<meta name="curhat-api" content="`+api+`">`, 1)
	static := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" {
			name = "index.html"
		}
		a, ok := consoleAssets()[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		body := a.body
		if name == "index.html" {
			body = []byte(index)
		}
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("Content-Type", a.contentType)
		_, _ = w.Write(body)
	})}}
	static.Start()
	t.Cleanup(static.Close)
}

// scenarioCrossOrigin serves the console from another origin (its own static server,
// whose CSP lets it connect to the API) and points it at the API with its curhat-api
// meta: the API allows that origin (CORS_ALLOWED_ORIGINS), so the browser's preflights
// pass and a PATCH goes through — the seed's console silently lost those.
func scenarioCrossOrigin(t *testing.T, b *consoleBrowser, be backend) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	origin := "http://" + ln.Addr().String()
	env := newConsoleEnv(t, b, be, func(c *Config) { c.CORSAllowedOrigins = []string{origin} })
	api := env.ts.http.URL
	consoleElsewhere(t, ln, api, "default-src 'self'; connect-src "+api)

	tb := b.openTab(t, origin+"/", "memory-cross-origin")
	tb.signIn(env.ts.op)
	tb.waitText("#live-state", "Live")
	tb.goTo("Pricing")
	tb.fill("spinbutton", "Price of the 60 min session tier", "44000")
	tb.click("button", "Save the 60 min session tier")
	tb.waitText(`tr[data-minutes="60"]`, "Saved.")
	require.Equal(t, float64(44000), env.tier("session", 60)["price"])
	tb.goTo("Mitras")
	tb.click("button", "Deactivate Bestie Citra")
	tb.click("button", "Deactivate")
	tb.byRole("button", "Reactivate Bestie Citra")
	tb.requireClean()
}

// scenarioAPIParameterIgnored opens the console with ?api= naming another origin, as a
// link anybody can write: the console calls its own API (the one its host named, or its
// own origin) and nothing, the operator's token least of all, goes to the other origin.
// First as served by a host whose CSP would let the page connect anywhere, so that only
// the console itself stands between the link and the token; then as this server serves it.
func scenarioAPIParameterIgnored(t *testing.T, b *consoleBrowser, be backend) {
	var foreignHits atomic.Int64
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreignHits.Add(1)
		// As welcoming as can be: a console that called it would send it the token.
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(foreign.Close)

	// A console served elsewhere, by a host with a lax CSP, pointed at the API by its meta.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	origin := "http://" + ln.Addr().String()
	env := newConsoleEnv(t, b, be, func(c *Config) { c.CORSAllowedOrigins = []string{origin} })
	consoleElsewhere(t, ln, env.ts.http.URL, "default-src 'self'; connect-src *")
	elsewhere := b.openTab(t, origin+"/?api="+foreign.URL, "api-parameter-elsewhere")
	elsewhere.signIn(env.ts.op)
	require.Zero(t, foreignHits.Load(), "the origin named by ?api= was called")
	elsewhere.waitText("#live-state", "Live")
	elsewhere.waitText("#count-online", "1")
	elsewhere.requireClean()

	// The server's own console.
	tb := b.openTab(t, env.ts.http.URL+"/console/?api="+foreign.URL, "api-parameter")
	tb.signIn(env.ts.op)
	tb.waitText("#live-state", "Live")
	tb.waitText("#count-online", "1")
	tb.requireClean()
	require.Zero(t, foreignHits.Load(), "the origin named by ?api= was called")
}

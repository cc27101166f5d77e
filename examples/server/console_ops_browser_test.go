package main

// The console's operations pages in a real browser (the fixture and helpers are
// console_browser_test.go's and console_roles_browser_test.go's): a support operator finds
// a waiting client from the client's name, ends their chat with a refund of the unused
// time and finds the refund on the payment's timeline; refunds a payment with one
// Idempotency-Key per dialog; suspends and reinstates a client; two operators edit the
// same mitra's profile and the second gets the stale-write experience; the Live page and
// the dashboard's statistics follow the API without a reload; a viewer sees every new
// page read only.

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

var consoleOpsScenarios = []consoleScenario{
	{name: "Support_FindsAWaitingClientByNameEndsTheirChatRefundingTheUnusedTimeAndSeesItOnThePayment", run: scenarioOpsSupport},
	{name: "Payments_RefundOncePerDialogWithTheAPIErrorBesideTheField", run: scenarioOpsRefund},
	{name: "Clients_SuspendAndReinstateAfterConfirming", run: scenarioOpsSuspend},
	{name: "Mitras_SecondOperatorGetsTheStaleProfileEditAndReapplies", run: scenarioOpsStaleMitra},
	{name: "Live_ANewPairingAppearsAndMovesOnWithoutAReload", run: scenarioOpsLive},
	{name: "Dashboard_StatisticsAppearAndFollowTheWindow", run: scenarioOpsStats},
	{name: "Viewer_TheNewPagesAreReadOnlyWithTheReason", run: scenarioOpsViewer},
}

// TestConsole_BrowserOps runs the operations scenarios in one Chromium, in memory and
// over Postgres + Valkey.
func TestConsole_BrowserOps(t *testing.T) {
	t.Parallel()
	b := newConsoleBrowser(t)
	started := time.Now()
	for _, be := range []backend{memoryBackend, realBackend} {
		t.Run(be.String(), func(t *testing.T) {
			for _, sc := range consoleOpsScenarios {
				if sc.memoryOnly && be != memoryBackend {
					continue
				}
				t.Run(sc.name, func(t *testing.T) { sc.run(t, b, be) })
			}
		})
	}
	t.Logf("browser operations scenarios took %s", time.Since(started).Round(100*time.Millisecond))
}

// opsChat is a client's 30-minute blast as the API answered it.
type opsChat struct {
	clientID   uuid.UUID
	clientTok  string
	pairingID  string
	paymentID  string
	sessionID  string // once a mitra accepted
	clientName string
}

// startChat makes a client named name start a 30-minute blast (awaiting its payment).
func (e *consoleEnv) startChat(name string) *opsChat {
	e.t.Helper()
	id, tok := e.ts.newClient(name)
	start := e.ts.must(201, "POST", "/api/client/chat/start", tok, map[string]any{"minutes": 30})
	return &opsChat{clientID: id, clientTok: tok, clientName: name,
		pairingID: obj(start, "pairing")["id"].(string), paymentID: obj(start, "payment")["id"].(string)}
}

// pay confirms the chat's payment: the blast offers it to the mitras online.
func (e *consoleEnv) pay(c *opsChat) {
	e.t.Helper()
	require.Equal(e.t, 200, e.ts.webhook(c.paymentID, "paid").Status)
}

// accept makes the mitra accept the chat's offer: the chat runs.
func (e *consoleEnv) accept(c *opsChat, mitra string) {
	e.t.Helper()
	res := e.ts.must(200, "POST", "/api/mitra/pairing-offers/"+c.pairingID+"/accept", e.ts.token("mitra", e.mitras[mitra]), nil)
	c.sessionID = obj(res, "chat_session")["id"].(string)
}

// payment reads a payment's lookup: {payment, refunds, timeline}.
func (e *consoleEnv) payment(id string) map[string]any {
	e.t.Helper()
	return e.ts.must(200, "GET", "/api/internal/payments/"+id, e.ts.op, nil)
}

// opsStepKinds are the kinds of a timeline's steps, in order.
func opsStepKinds(steps any) []string {
	var out []string
	for _, s := range steps.([]any) {
		out = append(out, s.(map[string]any)["kind"].(string))
	}
	return out
}

// rowsOf counts the rows with an id of a table.
func (tb *tab) rowsOf(table string) int {
	tb.t.Helper()
	return eval[int](tb, fmt.Sprintf(`document.querySelectorAll(%s).length`, js(table+" tbody tr[data-id]")))
}

// scenarioOpsSupport: the "done when". A support operator looks a client up by
// name, opens their page, sees their pairing waiting with the offer made so far; once a
// mitra took it, ends the chat from the Live page with a refund of the unused time, and
// finds the refund on the payment's timeline, reached from the client's.
func scenarioOpsSupport(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	ts := env.ts
	env.startChat("Budi Santoso") // another client, not waiting for a mitra
	dewi := env.startChat("Dewi Lestari")
	env.pay(dewi)
	_, samTok := env.newOperator("Sam", "support")

	tb := env.open("ops-support")
	tb.signIn(samTok)
	tb.goTo("Clients")
	tb.requireEveryInputLabelled("Clients")
	tb.waitFor("both clients", `document.querySelectorAll("#client-table tbody tr[data-id]").length === 2`)
	tb.fill("searchbox", "Name or id", "lestari")
	tb.click("button", "Search")
	tb.waitFor("one client found", `document.querySelectorAll("#client-table tbody tr[data-id]").length === 1`)
	tb.screenshot("clients")
	tb.click("link", "Dewi Lestari")
	tb.heading("Dewi Lestari")
	require.Equal(t, "#/clients/"+dewi.clientID.String(), eval[string](tb, `location.hash`))
	// Her pairing waits for a mitra: searching, offered to Ayu (the one mitra online).
	row := fmt.Sprintf(`#client-waiting tr[data-id=%s]`, js(dewi.pairingID))
	tb.waitText(row, "Searching")
	tb.waitText(row+" .offers", "1")
	tb.waitText("#client-timeline", "Offered to 1 mitra")
	tb.waitText("#client-timeline", "Payment paid")
	tb.screenshot("client")

	// Ayu takes it; ten minutes later Sam ends the chat from the Live page.
	env.accept(dewi, "Bestie Ayu")
	ts.clock.Advance(10 * time.Minute)
	tb.goTo("Live")
	tb.requireEveryInputLabelled("Live")
	chat := fmt.Sprintf(`#chat-table tr[data-id=%s]`, js(dewi.sessionID))
	tb.waitText(chat, "Bestie Ayu")
	tb.waitText(chat+" .time-left", "20 min")
	// Time left counts down between two reads of the list.
	tb.waitText(chat+" .time-left", "19 min 59 s")
	// From the keyboard: Enter opens the dialog on its first field, Escape closes it and
	// gives the focus back.
	tb.do(chromedp.Focus(tb.byRole("button", "End chat of Dewi Lestari with Bestie Ayu")))
	tb.keys("\r")
	tb.byRole("dialog", "End this chat?")
	tb.waitFor("the reason to have the focus", `document.activeElement && document.activeElement.id === "end-reason"`)
	tb.keys(kb.Escape)
	tb.waitFor("the dialog to close", `!document.querySelector("dialog")`)
	require.Contains(t, tb.focused(), "End chat of Dewi Lestari with Bestie Ayu")
	tb.click("button", "End chat of Dewi Lestari with Bestie Ayu")
	tb.byRole("dialog", "End this chat?")
	// Neither a reason nor a refund: the dialog says what is missing and sends nothing.
	tb.click("button", "End chat")
	tb.waitText("#end-chat-dialog", "Say why the chat is ended.")
	tb.fill("textbox", "Reason", "client reported abuse")
	tb.click("button", "End chat")
	tb.waitText("#end-chat-dialog", "Choose what to refund.")
	tb.click("radio", "Refund the unused time")
	tb.screenshot("live-end-chat")
	tb.click("button", "End chat")
	tb.waitFor("the dialog to close", `!document.querySelector("dialog")`)
	tb.waitFor("the chat to leave the list", fmt.Sprintf(`!document.querySelector(%s)`, js(chat)))
	tb.waitText("#chat-table", "No chat is running.")

	// The API: ended by the operator, two thirds of the price back.
	lookup := env.payment(dewi.paymentID)
	var refunded float64
	for _, r := range lookup["refunds"].([]any) {
		refunded += r.(map[string]any)["amount"].(float64)
	}
	require.Greater(t, refunded, float64(0), "%v", lookup["refunds"])
	require.Less(t, refunded, float64(25000), "the unused time only")
	require.Contains(t, opsStepKinds(lookup["timeline"]), "refund_requested")
	refundText := fmt.Sprintf("%s IDR", humanInt(int64(refunded)))

	// From the client's page to the payment's, through the timeline's link.
	tb.goTo("Clients")
	tb.fill("searchbox", "Name or id", "Dewi")
	tb.click("button", "Search")
	tb.waitFor("one client found", `document.querySelectorAll("#client-table tbody tr[data-id]").length === 1`)
	tb.click("link", "Dewi Lestari")
	tb.heading("Dewi Lestari")
	tb.waitText("#client-waiting", "Not waiting for anything.")
	tb.waitText("#client-timeline", "Chat ended")
	tb.waitText("#client-timeline", "operator ended")
	tb.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#client-timeline a[href=%s]`, js("#/payments/"+dewi.paymentID))), chromedp.NodeVisible))
	tb.heading("Payments")
	tb.waitText("#payment-facts", dewi.paymentID)
	tb.waitText("#payment-refunds", refundText)
	tb.waitText(`#payment-timeline li[data-kind="refund_requested"]`, refundText)
	// Oldest first: created, paid, …, the refund last of all.
	kinds := eval[[]string](tb, `[...document.querySelectorAll("#payment-timeline li[data-kind]")].map((li) => li.dataset.kind)`)
	require.Equal(t, opsStepKinds(env.payment(dewi.paymentID)["timeline"]), kinds)
	require.Equal(t, "payment_created", kinds[0])
	tb.screenshot("payment")
	tb.requireClean()
}

// humanInt writes n as the console does: 16,667.
func humanInt(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// scenarioOpsRefund: a refund above what is left shows the API's message beside the
// amount; a double click on "Refund" refunds once (one Idempotency-Key per dialog), and a
// new dialog has a new key.
func scenarioOpsRefund(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	c := env.startChat("Rina")
	env.pay(c)
	env.accept(c, "Bestie Ayu")

	tb := env.signedIn("ops-refund")
	tb.goTo("Payments")
	tb.requireEveryInputLabelled("Payments")
	// Not an id: said beside the field, nothing asked.
	tb.fill("textbox", "Payment id", "not-an-id")
	tb.click("button", "Look up")
	tb.waitText("#payment-id-error", "A payment id is a UUID")
	// An id nobody has: the API's 404, beside the field.
	missing := uuid.NewString()
	tb.fill("textbox", "Payment id", missing)
	tb.click("button", "Look up")
	notFound := env.ts.do("GET", "/api/internal/payments/"+missing, env.ts.op, nil)
	require.Equal(t, 404, notFound.Status)
	tb.waitText("#payment-id-error", notFound.Body["error"].(map[string]any)["message"].(string))
	require.Equal(t, "true", eval[string](tb, `document.getElementById("payment-id").getAttribute("aria-invalid")`))

	tb.fill("textbox", "Payment id", c.paymentID)
	tb.click("button", "Look up")
	tb.waitText("#payment-facts", "25,000 IDR")
	require.Equal(t, "#/payments/"+c.paymentID, eval[string](tb, `location.hash`))
	tb.waitText(`#payment-timeline li[data-kind="payment_paid"]`, "25,000 IDR")
	tb.waitText("#payment-refunds", "No refund.")

	tb.click("button", "Refund…")
	tb.byRole("dialog", "Refund this payment")
	require.Equal(t, "25000", tb.value("spinbutton", "Amount"))
	firstKey := eval[string](tb, `document.getElementById("refund-key").textContent`)
	require.NoError(t, uuid.Validate(firstKey))
	tb.fill("spinbutton", "Amount", "30000")
	tb.fill("textbox", "Reason", "goodwill")
	tb.click("button", "Refund")
	// More than is left: the API's refusal beside the amount, with what is left.
	tb.waitText("#refund-amount-error", "Left: 25,000 IDR.")
	require.Equal(t, "true", eval[string](tb, `document.getElementById("refund-amount").getAttribute("aria-invalid")`))
	require.Equal(t, "REFUND_EXCEEDS_REMAINING", env.ts.doWith("POST", "/api/internal/payments/"+c.paymentID+"/refunds", env.ts.op,
		map[string]any{"amount": 30000, "reason": "goodwill"}, "Idempotency-Key", uuid.NewString()).ErrorCode())
	require.Empty(t, env.payment(c.paymentID)["refunds"])
	tb.screenshot("payment-refund-refused")
	tb.click("button", "Cancel")
	tb.waitFor("the dialog to close", `!document.querySelector("dialog")`)

	// A new dialog, a new key; a double click sends one refund.
	tb.click("button", "Refund…")
	tb.byRole("dialog", "Refund this payment")
	require.NotEqual(t, firstKey, eval[string](tb, `document.getElementById("refund-key").textContent`))
	tb.fill("spinbutton", "Amount", "5000")
	tb.fill("textbox", "Reason", "goodwill")
	tb.click("checkbox", "Reverse the mitra's earning")
	eval[bool](tb, `(() => { const b = [...document.querySelectorAll("#refund-dialog button")].find((b) => b.textContent === "Refund"); b.click(); b.click(); return true; })()`)
	tb.waitFor("the dialog to close", `!document.querySelector("dialog")`)
	tb.waitText("#refund-status", "5,000 IDR")
	tb.waitText("#payment-refunds", "5,000 IDR")
	tb.waitText(`#payment-timeline li[data-kind="refund_requested"]`, "5,000 IDR")
	refunds := env.payment(c.paymentID)["refunds"].([]any)
	require.Len(t, refunds, 1, "one refund for one dialog")
	require.Equal(t, float64(5000), refunds[0].(map[string]any)["amount"])
	tb.waitText("#payment-facts", "20,000 IDR") // left to refund
	tb.requireClean(404, 409)
}

// scenarioOpsSuspend: a support operator suspends a client after confirming (Cancel
// changes nothing), the client's token is refused, and reinstates them.
func scenarioOpsSuspend(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	c := env.startChat("Tono")
	_, samTok := env.newOperator("Sam", "support")
	tb := env.open("ops-suspend")
	tb.signIn(samTok)
	tb.goToHash("#/clients/" + c.clientID.String())
	tb.heading("Tono")
	tb.waitText("#client-facts", "active")

	tb.click("button", "Suspend Tono…")
	tb.byRole("dialog", "Suspend Tono?")
	tb.click("button", "Cancel")
	tb.waitFor("the dialog to close", `!document.querySelector("dialog")`)
	require.Equal(t, true, obj(env.ts.must(200, "GET", "/api/internal/clients/"+c.clientID.String(), env.ts.op, nil), "client")["is_active"])

	tb.click("button", "Suspend Tono…")
	tb.click("button", "Suspend")
	tb.waitText("#client-facts", "suspended")
	tb.byRole("button", "Reinstate Tono…")
	require.Equal(t, false, obj(env.ts.must(200, "GET", "/api/internal/clients/"+c.clientID.String(), env.ts.op, nil), "client")["is_active"])
	require.Equal(t, "CLIENT_SUSPENDED", env.ts.do("GET", "/api/client/pairings/"+c.pairingID, env.ts.token("client", c.clientID), nil).ErrorCode())
	tb.screenshot("client-suspended")

	tb.click("button", "Reinstate Tono…")
	tb.click("button", "Reinstate")
	tb.byRole("button", "Suspend Tono…")
	require.Equal(t, true, obj(env.ts.must(200, "GET", "/api/internal/clients/"+c.clientID.String(), env.ts.op, nil), "client")["is_active"])
	tb.goTo("Clients")
	tb.waitText(fmt.Sprintf(`#client-table tr[data-id=%s]`, js(c.clientID.String())), "active")
	tb.requireClean()
}

// scenarioOpsStaleMitra: two operators open the same mitra's profile; the first saves a
// new name and languages, the second's later save of the maximum is refused as stale:
// its edit stays, the current values show, and "Re-apply my edit" sends it on top of the
// first's. The first's next edit is refused in turn and discarded.
func scenarioOpsStaleMitra(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	ayu := env.mitras["Bestie Ayu"].String()
	first := env.signedIn("mitra-edit-first")
	second := env.signedIn("mitra-edit-second")
	for _, tb := range []*tab{first, second} {
		tb.goTo("Mitras")
		tb.click("button", "Edit Bestie Ayu")
		tb.waitFor("the profile form", `!!document.querySelector("form[data-mitra]")`)
		require.Equal(t, "Bestie Ayu", tb.value("textbox", "Display name of Bestie Ayu"))
		require.Contains(t, tb.focused(), "Display name of Bestie Ayu", "the form takes the focus")
		tb.requireEveryInputLabelled("Mitras")
	}
	form := `form[data-mitra]`

	// A language that is no ISO 639-1 code: the API's message beside the field.
	first.fill("textbox", "Languages of Bestie Ayu", "id, xx")
	first.click("button", "Save the profile of Bestie Ayu")
	first.waitFor("the languages error", fmt.Sprintf(`document.querySelector(%s).getAttribute("aria-invalid") === "true"`,
		js(string(first.byRole("textbox", "Languages of Bestie Ayu")))))
	first.waitText(form, `"xx" is not an ISO 639-1 code`)

	first.fill("textbox", "Display name of Bestie Ayu", "Bestie Ayu Putri")
	first.fill("textbox", "Languages of Bestie Ayu", "id, en")
	first.fill("textbox", "Topics of Bestie Ayu", "work, family")
	first.choose("Gender of Bestie Ayu", "Female")
	first.click("button", "Save the profile of Bestie Ayu")
	first.waitText(form, "Saved.")
	first.waitText(fmt.Sprintf(`#mitra-table tr[data-id=%s] th`, js(ayu)), "Bestie Ayu Putri")
	m := env.ts.must(200, "GET", "/api/internal/mitras/"+ayu, env.ts.op, nil)
	require.Equal(t, "Bestie Ayu Putri", m["display_name"])
	require.Equal(t, []any{"id", "en"}, obj(m, "labels")["languages"])
	require.Equal(t, []any{"work", "family"}, obj(m, "labels")["topics"])
	require.Equal(t, "female", obj(m, "labels")["gender"])

	// The second operator's form still has the old token.
	second.fill("spinbutton", "Max concurrent sessions of Bestie Ayu", "3")
	second.click("button", "Save the profile of Bestie Ayu")
	second.waitText(form+" .conflict", "Changed by someone else.")
	second.waitText(form+" .conflict", "Bestie Ayu Putri")
	second.waitText(form+" .conflict", "languages id, en")
	require.Equal(t, "3", second.value("spinbutton", "Max concurrent sessions of Bestie Ayu"), "the edit is kept")
	require.Nil(t, env.ts.must(200, "GET", "/api/internal/mitras/"+ayu, env.ts.op, nil)["max_concurrent_sessions"])
	second.screenshot("mitra-stale-edit")

	second.click("button", "Re-apply my edit")
	second.waitText(form, "Saved.")
	m = env.ts.must(200, "GET", "/api/internal/mitras/"+ayu, env.ts.op, nil)
	require.Equal(t, float64(3), m["max_concurrent_sessions"])
	require.Equal(t, "Bestie Ayu Putri", m["display_name"], "re-applying sent the second's change only")
	require.Equal(t, []any{"id", "en"}, obj(m, "labels")["languages"])
	second.waitFor("the form to show the mitra as saved", fmt.Sprintf(`document.querySelector(%s).value === "Bestie Ayu Putri"`,
		js(string(second.byRole("textbox", "Display name of Bestie Ayu")))))
	second.waitText(fmt.Sprintf(`#mitra-table tr[data-id=%s]`, js(ayu)), "0 / 3")

	// The first's next save is the stale one now: it discards its edit.
	first.fill("textbox", "Topics of Bestie Ayu", "school")
	first.click("button", "Save the profile of Bestie Ayu")
	first.waitText(form+" .conflict", "max concurrent sessions 3")
	first.click("button", "Discard my edit")
	first.waitFor("the current values", fmt.Sprintf(`document.querySelector(%s).value === "3" && !document.querySelector(".conflict")`,
		js(string(first.byRole("spinbutton", "Max concurrent sessions of Bestie Ayu")))))
	require.Equal(t, "work, family", first.value("textbox", "Topics of Bestie Ayu"))
	require.Equal(t, []any{"work", "family"}, obj(env.ts.must(200, "GET", "/api/internal/mitras/"+ayu, env.ts.op, nil), "labels")["topics"])

	// The audit says who changed what.
	var actions []string
	for _, it := range env.ts.must(200, "GET", "/api/internal/audit?action=mitra.profile&target_id="+ayu, env.ts.op, nil)["items"].([]any) {
		actions = append(actions, it.(map[string]any)["action"].(string))
	}
	require.Equal(t, []string{"mitra.profile", "mitra.profile"}, actions)
	first.requireClean(400, 409)
	second.requireClean(409)
}

// scenarioOpsLive: the Live page follows the API: a client starting a chat appears
// awaiting payment, moves to searching with an offer when paid, leaves the waiting list
// and appears among the chats when a mitra accepts; the filter keeps one status. No
// reload happens meanwhile.
func scenarioOpsLive(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	tb := env.signedIn("ops-live")
	tb.goTo("Live")
	tb.waitText("#waiting-table", "Nobody is waiting.")
	tb.waitText("#chat-table", "No chat is running.")
	eval[bool](tb, `(window.__sameDocument = true)`)

	c := env.startChat("Wulan")
	row := fmt.Sprintf(`#waiting-table tr[data-id=%s]`, js(c.pairingID))
	tb.waitText(row, "Wulan")
	tb.waitText(row, "Awaiting payment")
	tb.waitText(row+" .offers", "0")
	require.Equal(t, "#/clients/"+c.clientID.String(), eval[string](tb, fmt.Sprintf(`document.querySelector(%s + " a").getAttribute("href")`, js(row))))
	// Its age counts up from the server's (Ayu's heartbeat keeps her reachable).
	env.ts.clock.Advance(2 * time.Minute)
	env.ts.must(200, "POST", "/api/mitra/status/heartbeat", env.ts.token("mitra", env.mitras["Bestie Ayu"]), nil)
	tb.waitText(row+" .age", "2 min")

	env.pay(c)
	tb.waitText(row, "Searching")
	tb.waitText(row+" .offers", "1")
	tb.waitText("#waiting-count", "(1)")
	tb.screenshot("live")

	// The filter: a status nobody waits in, then the one Wulan waits in.
	tb.choose("Waiting in", "Queued")
	tb.waitText("#waiting-table", "Nobody is waiting.")
	tb.choose("Waiting in", "Searching")
	tb.waitText(row, "Wulan")

	env.accept(c, "Bestie Ayu")
	tb.waitFor("the pairing to leave the waiting list", fmt.Sprintf(`!document.querySelector(%s)`, js(row)))
	chat := fmt.Sprintf(`#chat-table tr[data-id=%s]`, js(c.sessionID))
	tb.waitText(chat, "Wulan")
	tb.waitText(chat, "Bestie Ayu")
	tb.waitText(chat+" .time-left", "min")
	require.True(t, eval[bool](tb, `window.__sameDocument === true`), "the page was not reloaded")
	tb.requireClean()
}

// scenarioOpsStats: the dashboard shows the statistics of the window chosen, and a chat
// paid while it is open shows without a reload.
func scenarioOpsStats(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	c := env.startChat("Sari")
	env.pay(c)
	env.accept(c, "Bestie Ayu")

	tb := env.signedIn("ops-stats")
	tb.waitText("#live-state", "Live")
	tb.waitText("#stat-paid_pairings", "1")
	tb.waitText("#stat-matched", "1")
	tb.waitText("#stat-sessions_active", "1")
	tb.waitText("#stat-offers_sent", "1")
	tb.waitText("#stat-offers_accepted", "1")
	tb.waitText("#stat-gross_paid", "25,000")
	tb.waitText("#stat-waiting_now", "0")
	tb.waitFor("the window's label", `document.getElementById("stats-window").labels[0].textContent === "Window"`)
	tb.screenshot("dashboard-statistics")

	// Another window: read at once.
	tb.choose("Window", "Last 5 minutes")
	tb.waitFor("the 5-minute window", `document.getElementById("stats").dataset.window === "5m"`)
	tb.waitText("#stat-paid_pairings", "1")

	// A client pays while the page is open, and Ayu is busy: the blast fails and is
	// refunded. The statistics follow (the stream's stats events, at least every 5 s).
	d := env.startChat("Tari")
	env.pay(d)
	tb.waitText("#stat-paid_pairings", "2")
	tb.waitText("#stat-failed", "1")
	tb.waitText("#stat-gross_paid", "50,000 IDR")
	tb.waitText("#stat-refunded", "25,000 IDR")
	tb.requireClean()
}

// scenarioOpsViewer: a viewer reads the new pages — Live, Payments, Clients and a
// client's page, a mitra's profile button — with every write disabled and the reason
// beside it, and no request refused.
func scenarioOpsViewer(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	c := env.startChat("Vina")
	env.pay(c)
	env.accept(c, "Bestie Ayu")
	_, viewerTok := env.newOperator("Vera", "viewer")
	tb := env.open("ops-viewer")
	tb.signIn(viewerTok)
	const why = "needs the support or admin role; you are signed in as viewer."

	tb.goTo("Live")
	tb.waitText(fmt.Sprintf(`#chat-table tr[data-id=%s]`, js(c.sessionID)), "Vina")
	tb.requireReadOnly("Read only: ending chats "+why, `#chat-table tbody button`)
	tb.screenshot("live")

	tb.goTo("Payments")
	tb.fill("textbox", "Payment id", c.paymentID)
	tb.click("button", "Look up")
	tb.waitText("#payment-facts", "25,000 IDR")
	tb.requireReadOnly("Read only: refunding payments "+why, `#refund-button`)
	tb.screenshot("payments")

	tb.goTo("Clients")
	tb.waitFor("the client", `document.querySelectorAll("#client-table tbody tr[data-id]").length === 1`)
	require.Zero(t, eval[int](tb, `document.querySelectorAll("main .read-only").length`), "the list has nothing to change")
	tb.click("link", "Vina")
	tb.heading("Vina")
	tb.waitText("#client-timeline", "Chat started")
	tb.requireReadOnly("Read only: suspending and reinstating clients "+why, `#client-area button`)
	tb.screenshot("client")

	tb.goTo("Mitras")
	tb.waitFor("the mitras", `document.querySelectorAll("#mitra-table tbody tr[data-id]").length === 3`)
	require.True(t, eval[bool](tb, fmt.Sprintf(`document.querySelector(%s).disabled`, js(string(tb.byRole("button", "Edit Bestie Ayu"))))))
	tb.requireClean()
}

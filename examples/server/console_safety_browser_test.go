package main

// The console's Safety page in a real browser (the fixture and helpers are
// console_browser_test.go's, console_roles_browser_test.go's and
// console_ops_browser_test.go's): a client's crisis message appears as an alert while the
// page is open, without a reload, and a support operator reads the chat (an audited read)
// and acknowledges it; a report is read and resolved "warned" with a note and leaves the
// open list; a viewer sees the page read only; the Config page edits the crisis terms (a
// list) and the resources text (a string), and shows the API's message for a bad term.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"
)

var consoleSafetyScenarios = []consoleScenario{
	{name: "Alerts_ACrisisMessageAppearsLiveIsReadAndAcknowledged", run: scenarioSafetyAlertLive},
	{name: "Reports_OverdueFirstReadTheMessagesAndResolveWarnedWithANote", run: scenarioSafetyResolve},
	{name: "Viewer_TheSafetyPageIsReadOnlyWithTheReason", run: scenarioSafetyViewer},
	{name: "Config_EditsTheCrisisTermsAndTheResourcesTextAndShowsTheAPIMessage", run: scenarioSafetyConfig},
}

// TestConsole_BrowserSafety runs the Safety scenarios in one Chromium, in memory and over
// Postgres + Valkey.
func TestConsole_BrowserSafety(t *testing.T) {
	t.Parallel()
	b := newConsoleBrowser(t)
	started := time.Now()
	for _, be := range []backend{memoryBackend, realBackend} {
		t.Run(be.String(), func(t *testing.T) {
			for _, sc := range consoleSafetyScenarios {
				if sc.memoryOnly && be != memoryBackend {
					continue
				}
				t.Run(sc.name, func(t *testing.T) { sc.run(t, b, be) })
			}
		})
	}
	t.Logf("browser safety scenarios took %s", time.Since(started).Round(100*time.Millisecond))
}

// chatting starts a client named name's 30-minute chat that Bestie Ayu accepts: it runs.
func (e *consoleEnv) chatting(name string) *opsChat {
	e.t.Helper()
	c := e.startChat(name)
	e.pay(c)
	e.accept(c, "Bestie Ayu")
	return c
}

// say sends a message as the client (party "client") or Bestie Ayu ("mitra") in the chat;
// its id.
func (e *consoleEnv) say(c *opsChat, party, text, clientMsgID string) string {
	e.t.Helper()
	tok := c.clientTok
	if party == "mitra" {
		tok = e.ts.token("mitra", e.mitras["Bestie Ayu"])
	}
	return e.ts.must(201, "POST", "/api/"+party+"/chat-sessions/"+c.sessionID+"/messages", tok,
		map[string]any{"text": text, "client_msg_id": clientMsgID})["id"].(string)
}

// safetyAlerts lists the alerts of a status as the API has them, newest first.
func (e *consoleEnv) safetyAlerts(status string) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	for _, it := range e.ts.must(200, "GET", "/api/internal/safety-alerts?status="+status, e.ts.op, nil)["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

// consoleSeconds writes an API time as the console's timeSeconds does: "2026-05-25 10:07:42 UTC".
func consoleSeconds(t *testing.T, rfc3339 any) string {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, rfc3339.(string))
	require.NoError(t, err)
	return at.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

// auditOf lists the actions of the audit entries of one action as the API has them: who
// did each (operator_id) and its target.
func (e *consoleEnv) auditOf(action string) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	for _, it := range e.ts.must(200, "GET", "/api/internal/audit?action="+action, e.ts.op, nil)["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

// requireNoMissingValue requires the page's text to show no "null" or "undefined" (a value
// the API left out, written as it is).
func (tb *tab) requireNoMissingValue() {
	tb.t.Helper()
	text := eval[string](tb, `document.getElementById("view").textContent + [...document.querySelectorAll("dialog")].map((d) => d.textContent).join(" ")`)
	require.NotContains(tb.t, text, "null")
	require.NotContains(tb.t, text, "undefined")
}

// scenarioSafetyAlertLive: the "done when" for alerts. A support operator has the
// Safety page open; a client's crisis message (sent through the API) appears on top of
// the open alerts without a reload, marked new and announced; the operator reads the
// chat (the alerting message marked, the read audited as theirs) and acknowledges the
// alert from the keyboard: it leaves the open list and shows acknowledged by them. An
// alert arriving while the acknowledged ones are shown is said, with a way to it.
func scenarioSafetyAlertLive(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	dewi := env.chatting("Dewi Lestari")
	hello := env.say(dewi, "client", "halo kak", "c1")
	samID, samTok := env.newOperator("Sam", "support")

	tb := env.open("safety-alert")
	tb.signIn(samTok)
	tb.goTo("Safety")
	tb.requireEveryInputLabelled("Safety")
	tb.requireWritable(`#alert-status, #report-status`)
	tb.waitText("#alert-table", "No alert.")
	tb.waitText("#alerts-count", "(0)")
	tb.waitText("#safety-live", "Live")
	// A reload would lose this.
	eval[bool](tb, `(window.safetyPageKept = true)`)

	crisis := env.say(dewi, "client", "Aku ingin mati saja malam ini", "c2")
	alerts := env.safetyAlerts("open")
	require.Len(t, alerts, 1)
	alert := alerts[0]
	require.Equal(t, crisis, alert["message_id"])
	require.Equal(t, dewi.sessionID, alert["chat_session_id"])
	require.Equal(t, dewi.clientID.String(), alert["client_id"])
	require.Contains(t, alert["terms"], "ingin mati")
	row := fmt.Sprintf(`#alert-table tr[data-id=%s]`, js(alert["id"].(string)))
	tb.waitFor("the alert on top, from the event", fmt.Sprintf(`(() => { const r = document.querySelector("#alert-table tbody tr");
		return !!r && r.matches(%s) && r.classList.contains("new"); })()`, js(row)))
	require.True(t, eval[bool](tb, `window.safetyPageKept === true`), "the page was not reloaded")
	tb.waitText(row, "Dewi Lestari")
	tb.waitText(row, dewi.sessionID)
	tb.waitText(row, "ingin mati")
	tb.waitText(row, "new")
	tb.waitText("#alerts-count", "(1)")
	tb.requireNoMissingValue()
	tb.waitFor("the alert announced", `document.getElementById("announcer").textContent === "New safety alert: Dewi Lestari wrote “ingin mati”."`)
	require.Equal(t, "polite", eval[string](tb, `document.getElementById("announcer").getAttribute("aria-live")`))
	tb.screenshot("safety-alert")

	// The chat, the alerting message marked; the dialog says the read is audited.
	at := consoleSeconds(t, alert["created_at"])
	tb.click("button", "Read the messages of the chat of Dewi Lestari alerted at "+at)
	tb.byRole("dialog", "Messages of the chat")
	tb.waitText("#transcript-audited", "Reading is audited")
	tb.waitText("#transcript-state", "2 messages shown, 1 alerted")
	marked := fmt.Sprintf(`#transcript li[data-id=%s]`, js(crisis))
	tb.waitText(marked, "Aku ingin mati saja malam ini")
	tb.waitText(marked, "alerted")
	tb.waitText(marked, "Dewi Lestari")
	require.True(t, eval[bool](tb, fmt.Sprintf(`document.querySelector(%s).classList.contains("highlight")`, js(marked))))
	require.False(t, eval[bool](tb, fmt.Sprintf(`document.querySelector(%s).classList.contains("highlight")`, js(fmt.Sprintf(`#transcript li[data-id=%s]`, js(hello))))))
	tb.requireNoMissingValue()
	tb.screenshot("safety-alert-messages")
	tb.keys(kb.Escape)
	tb.waitFor("the dialog to close", `!document.querySelector("dialog")`)
	require.Contains(t, tb.focused(), "Read the messages of the chat of Dewi Lestari")
	reads := env.auditOf("chat_session.read_messages")
	require.Len(t, reads, 1)
	require.Equal(t, samID, reads[0]["operator_id"])
	require.Equal(t, dewi.sessionID, reads[0]["target_id"])

	// Acknowledged from the keyboard: it leaves the open alerts.
	tb.do(chromedp.Focus(tb.byRole("button", "Acknowledge the alert of Dewi Lestari at "+at)))
	tb.keys("\r")
	tb.waitFor("the alert to leave the open list", fmt.Sprintf(`!document.querySelector(%s)`, js(row)))
	tb.waitText("#alert-table", "No alert.")
	tb.waitText("#alerts-count", "(0)")
	tb.waitText("#safety-notice", "acknowledged")
	require.Empty(t, env.safetyAlerts("open"))
	acked := env.safetyAlerts("acknowledged")
	require.Len(t, acked, 1)
	require.Equal(t, alert["id"], acked[0]["id"])
	require.NotNil(t, acked[0]["acknowledged_at"])

	tb.choose("Alerts shown", "Acknowledged")
	tb.waitText(row, "acknowledged")
	tb.waitText(row, "by Sam")
	tb.requireNoMissingValue()
	require.Zero(t, eval[int](tb, fmt.Sprintf(`[...document.querySelectorAll(%s)].filter((b) => b.offsetParent !== null).length`,
		js(row+` button[aria-label^="Acknowledge"]`))), "nothing left to acknowledge")

	// Another alert while the acknowledged ones are shown: said, with a way to it.
	again := env.say(dewi, "client", "rasanya mau bunuh diri", "c3")
	tb.waitText("#alerts-elsewhere", "A new safety alert arrived")
	tb.click("button", "Show the open alerts")
	second := env.safetyAlerts("open")
	require.Len(t, second, 1)
	require.Equal(t, again, second[0]["message_id"])
	tb.waitFor("the second alert", fmt.Sprintf(`!!document.querySelector(%s)`, js(fmt.Sprintf(`#alert-table tr[data-id=%s]`, js(second[0]["id"].(string))))))
	require.Equal(t, "open", tb.value("combobox", "Alerts shown"))
	tb.requireClean()
}

// scenarioSafetyResolve: the reports queue lists the overdue report first, marked; a
// support operator reads the reported chat (the reported message marked, the read
// audited) and resolves it "warned" with a note — the dialog first asks for the
// confirmation, then shows the API's refusal of an empty note — and the report leaves the
// open list, resolved by them, the mitra warned.
func scenarioSafetyResolve(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	ts := env.ts
	dewi := env.chatting("Dewi Lestari")
	env.say(dewi, "client", "halo kak", "c1")
	rude := env.say(dewi, "mitra", "kamu bodoh sekali", "m1")
	byDewi := ts.must(201, "POST", "/api/client/reports", dewi.clientTok, map[string]any{"chat_session_id": dewi.sessionID,
		"reason": "harassment", "message_ids": []string{rude}, "note": "Dia kasar padaku."})["id"].(string)
	// Past its due time (72 hours); then Ayu reports Dewi, due later.
	ts.clock.Advance(72*time.Hour + time.Minute)
	byAyu := ts.must(201, "POST", "/api/mitra/reports", ts.token("mitra", env.mitras["Bestie Ayu"]),
		map[string]any{"chat_session_id": dewi.sessionID, "reason": "spam"})["id"].(string)
	samID, samTok := env.newOperator("Sam", "support")

	tb := env.open("safety-resolve")
	tb.signIn(samTok)
	tb.goTo("Safety")
	first := fmt.Sprintf(`#report-table tr[data-id=%s]`, js(byDewi))
	later := fmt.Sprintf(`#report-table tr[data-id=%s]`, js(byAyu))
	tb.waitFor("both reports", `document.querySelectorAll("#report-table tbody tr[data-id]").length === 2`)
	require.Equal(t, []string{byDewi, byAyu}, eval[[]string](tb, `[...document.querySelectorAll("#report-table tbody tr[data-id]")].map((r) => r.dataset.id)`),
		"the earliest due first")
	tb.waitText("#reports-count", "(2 open)")
	tb.waitText(first, "overdue")
	require.True(t, eval[bool](tb, fmt.Sprintf(`document.querySelector(%s).classList.contains("overdue")`, js(first))))
	require.False(t, eval[bool](tb, fmt.Sprintf(`document.querySelector(%s).classList.contains("overdue")`, js(later))))
	tb.waitText(first, "Harassment")
	tb.waitText(first, "Dewi Lestari")
	tb.waitText(first, "Bestie Ayu")
	tb.waitText(first, "Dia kasar padaku.")
	tb.waitText(first, "1 message")
	tb.waitText(later, "Spam")
	// The ids of the messages reported, on demand.
	tb.do(chromedp.Click(chromedp.CSS(first + " summary")))
	tb.waitText(first+" .message-ids", rude)
	tb.requireNoMissingValue()
	tb.screenshot("safety-reports")

	// The reported chat, its reported message marked; the read is audited as Sam's.
	tb.click("button", "Read the messages of the report of Dewi Lestari about Bestie Ayu")
	tb.byRole("dialog", "Messages of the chat")
	tb.waitText("#transcript-audited", "Reading is audited")
	tb.waitText("#transcript-state", "2 messages shown, 1 reported")
	marked := fmt.Sprintf(`#transcript li[data-id=%s]`, js(rude))
	tb.waitText(marked, "kamu bodoh sekali")
	tb.waitText(marked, "reported")
	tb.waitText(marked, "Bestie Ayu")
	require.True(t, eval[bool](tb, fmt.Sprintf(`document.querySelector(%s).classList.contains("highlight")`, js(marked))))
	tb.screenshot("safety-report-messages")
	tb.click("button", "Close")
	tb.waitFor("the dialog to close", `!document.querySelector("dialog")`)
	reads := env.auditOf("chat_session.read_messages")
	require.Len(t, reads, 1)
	require.Equal(t, samID, reads[0]["operator_id"])

	// Resolve…: the outcomes that fit a report about a mitra.
	tb.click("button", "Resolve the report of Dewi Lestari about Bestie Ayu")
	tb.byRole("dialog", "Resolve the report")
	require.Equal(t, []string{"No action", "Warn the mitra", "Deactivate the mitra", "Refund the client"},
		eval[[]string](tb, `[...document.querySelectorAll("#resolve-dialog fieldset label")].map((l) => l.textContent)`))
	require.Equal(t, "INPUT#"+eval[string](tb, `document.querySelector("#resolve-dialog input[type=radio]").id`), tb.focused(),
		"the focus starts on the first outcome")
	tb.click("radio", "Warn the mitra")
	// Not confirmed: said, nothing sent.
	tb.click("button", "Resolve report")
	tb.waitText("#resolve-confirm-error", "Tick the confirmation")
	tb.click("checkbox", "I confirm this outcome: it acts at once and cannot be undone.")
	// No note: the API's own message, beside the note.
	tb.click("button", "Resolve report")
	refused := ts.do("POST", "/api/internal/reports/"+byDewi+"/resolve", ts.op, map[string]any{"outcome": "warned", "note": ""})
	require.Equal(t, 400, refused.Status, "%s", refused.Raw)
	tb.waitText("#resolve-note-error", refused.Body["error"].(map[string]any)["message"].(string))
	require.Equal(t, "true", eval[string](tb, `document.getElementById("resolve-note").getAttribute("aria-invalid")`))
	require.Equal(t, "polite", eval[string](tb, `document.getElementById("resolve-note-error").getAttribute("aria-live")`))
	tb.fill("textbox", "Note", "Bahasa kasar: peringatan pertama.")
	tb.screenshot("safety-resolve")
	tb.click("button", "Resolve report")
	tb.waitFor("the dialog to close", `!document.querySelector("dialog")`)
	tb.waitFor("the report to leave the open list", fmt.Sprintf(`!document.querySelector(%s)`, js(first)))
	tb.waitText("#reports-count", "(1 open)")
	tb.waitText("#safety-notice", "Report of Dewi Lestari about Bestie Ayu resolved: warned.")

	rep := ts.must(200, "GET", "/api/internal/reports?status=resolved", ts.op, nil)["items"].([]any)
	require.Len(t, rep, 1)
	resolved := rep[0].(map[string]any)
	require.Equal(t, byDewi, resolved["id"])
	require.Equal(t, "warned", resolved["outcome"])
	require.Equal(t, "Bahasa kasar: peringatan pertama.", resolved["resolution_note"])
	require.Equal(t, samID, resolved["resolved_by"])
	resolves := env.auditOf("report.resolve")
	require.Len(t, resolves, 1)
	require.Equal(t, samID, resolves[0]["operator_id"])
	require.Equal(t, byDewi, resolves[0]["target_id"])

	// The resolved list has it, with the outcome, the note and who.
	tb.choose("Reports shown", "Resolved, the latest first")
	tb.waitText(first, "Warned")
	tb.waitText(first, "Bahasa kasar: peringatan pertama.")
	tb.waitText(first, "by Sam")
	require.Zero(t, eval[int](tb, fmt.Sprintf(`document.querySelectorAll(%s).length`, js(first+" button"))), "nothing to do on a resolved report")
	tb.requireNoMissingValue()
	tb.screenshot("safety-reports-resolved")
	tb.requireClean(400)
}

// scenarioSafetyViewer: a viewer has the Safety link and reads the alerts and the
// reports; every control that writes or reads a chat's messages is disabled and described
// by the visible reason; the filters work; no request of theirs is refused.
func scenarioSafetyViewer(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	ts := env.ts
	dewi := env.chatting("Dewi Lestari")
	env.say(dewi, "client", "aku ingin mati", "c1")
	ts.must(201, "POST", "/api/client/reports", dewi.clientTok, map[string]any{"chat_session_id": dewi.sessionID, "reason": "inappropriate"})
	_, veraTok := env.newOperator("Vera", "viewer")

	tb := env.open("safety-viewer")
	tb.signIn(veraTok)
	require.True(t, slices.Contains(tb.navLinks(), "Safety"))
	tb.goTo("Safety")
	tb.waitFor("the alert and the report", `document.querySelectorAll("#alert-table tbody tr[data-id]").length === 1 &&
		document.querySelectorAll("#report-table tbody tr[data-id]").length === 1`)
	tb.waitText("#alert-table", "Dewi Lestari")
	tb.waitText("#report-table", "Inappropriate content")
	tb.requireReadOnly("Read only: acknowledging alerts, reading a session's messages and resolving reports needs the support or admin role; you are signed in as viewer.",
		`#alert-table tbody button, #report-table tbody button`)
	require.False(t, eval[bool](tb, `document.getElementById("alert-status").disabled || document.getElementById("report-status").disabled`),
		"choosing what is shown is reading")
	tb.requireEveryInputLabelled("Safety")
	tb.requireNoMissingValue()
	tb.screenshot("safety-viewer")
	tb.choose("Reports shown", "Resolved, the latest first")
	tb.waitText("#report-table", "No resolved report.")
	tb.choose("Alerts shown", "Acknowledged")
	tb.waitText("#alert-table", "No alert.")
	tb.requireClean()
}

// scenarioSafetyConfig: the Config page edits the crisis terms one per line (blank lines
// and blanks around a term left out) and the resources text in a multi-line box; a term
// without a word shows the API's own message beside the list, which keeps its value.
func scenarioSafetyConfig(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	ts := env.ts
	configValue := func(key string) any {
		for _, it := range ts.must(200, "GET", "/api/internal/config", ts.op, nil)["items"].([]any) {
			if it := it.(map[string]any); it["key"] == key {
				return it["value"]
			}
		}
		t.Fatalf("no config key %s", key)
		return nil
	}
	defaults := configValue("safety_crisis_terms").([]any)
	require.NotEmpty(t, defaults)

	tb := env.signedIn("safety-config")
	tb.goTo("Config")
	tb.requireEveryInputLabelled("Config")
	terms := tb.byRole("textbox", "Safety crisis terms")
	require.Equal(t, "TEXTAREA", eval[string](tb, fmt.Sprintf(`document.querySelector(%s).tagName`, js(string(terms)))))
	var lines []string
	for _, d := range defaults {
		lines = append(lines, d.(string))
	}
	require.Equal(t, strings.Join(lines, "\n"), tb.value("textbox", "Safety crisis terms"), "one term per line")
	require.Equal(t, "TEXTAREA", eval[string](tb, `document.getElementById("config-safety_resources_text").tagName`))

	setText := func(id, text string) {
		eval[bool](tb, fmt.Sprintf(`(() => { const e = document.getElementById(%s); e.focus(); e.value = %s; e.dispatchEvent(new Event("input", {bubbles: true})); return true; })()`,
			js(id), js(text)))
	}
	// A term without a word: the API's message beside the list.
	setText("config-safety_crisis_terms", "bunuh diri\n!!!\n")
	tb.click("button", "Save Safety crisis terms")
	refused := ts.do("PUT", "/api/internal/config/safety_crisis_terms", ts.op, map[string]any{"value": []string{"bunuh diri", "!!!"}})
	require.Equal(t, 400, refused.Status, "%s", refused.Raw)
	tb.waitText("#config-safety_crisis_terms-error", refused.Body["error"].(map[string]any)["message"].(string))
	require.Equal(t, "true", eval[string](tb, `document.getElementById("config-safety_crisis_terms").getAttribute("aria-invalid")`))
	require.Equal(t, "polite", eval[string](tb, `document.getElementById("config-safety_crisis_terms-error").getAttribute("aria-live")`))
	require.Equal(t, defaults, configValue("safety_crisis_terms"), "nothing saved")
	tb.screenshot("config-crisis-terms-refused")

	// One per line, trimmed, blank lines left out.
	setText("config-safety_crisis_terms", "bunuh diri\n\n  ingin mati  \nputus asa\n")
	tb.click("button", "Save Safety crisis terms")
	tb.waitText(`form[data-key="safety_crisis_terms"]`, "Saved.")
	require.Equal(t, []any{"bunuh diri", "ingin mati", "putus asa"}, configValue("safety_crisis_terms"))
	require.Equal(t, "bunuh diri\ningin mati\nputus asa", tb.value("textbox", "Safety crisis terms"))
	require.Empty(t, eval[string](tb, `document.getElementById("config-safety_crisis_terms-error").textContent`))
	require.False(t, eval[bool](tb, `document.getElementById("config-safety_crisis_terms").hasAttribute("aria-invalid")`))

	// The resources text, over two lines.
	setText("config-safety_resources_text", "Kamu tidak sendirian.\nHubungi 112.")
	tb.click("button", "Save Safety resources text")
	tb.waitText(`form[data-key="safety_resources_text"]`, "Saved.")
	require.Equal(t, "Kamu tidak sendirian.\nHubungi 112.", configValue("safety_resources_text"))
	tb.screenshot("config-safety")
	tb.requireClean(400)
}

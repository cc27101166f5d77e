package main

// The operator console by role, in a real browser (the fixture and helpers are
// console_browser_test.go's): a viewer, a support operator and an admin each see the
// pages and controls their role may use, the reason for every control they may not, and
// the API's own message when a role lowered after sign-in refuses a write. The admin
// manages operators on the Operators page and finds what it did on the Audit page.

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// bootstrapOperatorID is the id the OPERATOR_TOKEN's operator acts as.
const bootstrapOperatorID = "00000000-0000-0000-0000-000000000000"

// everyRoleLinks are the navigation links of every role; admins also have "Operators".
var everyRoleLinks = []string{"Dashboard", "Mitras", "Pricing", "Config", "Failed pairings", "Live", "Safety", "Payments", "Clients", "Earnings", "Audit"}

// newOperator creates an operator account with role through the API, as the bootstrap
// admin, and mints it a token.
func (e *consoleEnv) newOperator(name, role string) (id, token string) {
	e.t.Helper()
	o := e.ts.must(201, "POST", "/api/internal/operators", e.ts.op, map[string]any{"display_name": name, "role": role})
	require.Equal(e.t, name, o["display_name"])
	require.Equal(e.t, role, o["role"])
	require.Equal(e.t, true, o["is_active"])
	id = o["id"].(string)
	tok := e.ts.must(201, "POST", "/api/internal/tokens", e.ts.op, map[string]any{"subject_kind": "operator", "subject_id": id})
	return id, tok["token"].(string)
}

// navLinks are the navigation links the page shows.
func (tb *tab) navLinks() []string {
	tb.t.Helper()
	return eval[[]string](tb, `[...document.querySelectorAll("#nav a")].filter((a) => a.offsetParent !== null).map((a) => a.textContent.trim())`)
}

// whoami waits for the header to say who is signed in, with the role.
func (tb *tab) whoami(text string) {
	tb.t.Helper()
	tb.waitFor("the header to say "+text, fmt.Sprintf(`(() => { const e = document.getElementById("whoami-text");
		return !!e && e.offsetParent !== null && e.textContent === %s; })()`, js(text)))
}

// requireReadOnly waits for the page's visible read-only note and requires every control
// of sel to be disabled and described by it (so that assistive technology tells why).
func (tb *tab) requireReadOnly(note, sel string) {
	tb.t.Helper()
	tb.waitFor("the read-only note "+note, fmt.Sprintf(`(() => { const n = document.querySelector("main .read-only");
		return !!n && n.offsetParent !== null && n.textContent === %s; })()`, js(note)))
	require.Equal(tb.t, 1, eval[int](tb, `document.querySelectorAll("main .read-only").length`), "one read-only note")
	bad := eval[[]string](tb, fmt.Sprintf(`(() => {
		const note = document.querySelector("main .read-only");
		const els = [...document.querySelectorAll(%s)];
		if (els.length === 0) return ["nothing matches the selector"];
		return els.filter((e) => !e.disabled || !(e.getAttribute("aria-describedby") || "").split(" ").includes(note.id))
			.map((e) => e.outerHTML);
	})()`, js(sel)))
	require.Empty(tb.t, bad, "%s: controls the role may not use, yet enabled or not described by the note", sel)
}

// requireWritable requires the page to have no read-only note and the controls of sel to
// be enabled.
func (tb *tab) requireWritable(sel string) {
	tb.t.Helper()
	require.Zero(tb.t, eval[int](tb, `document.querySelectorAll("main .read-only").length`), "a read-only note on a page the role may change")
	bad := eval[[]string](tb, fmt.Sprintf(`(() => {
		const els = [...document.querySelectorAll(%s)];
		if (els.length === 0) return ["nothing matches the selector"];
		return els.filter((e) => e.disabled).map((e) => e.outerHTML);
	})()`, js(sel)))
	require.Empty(tb.t, bad, "%s: disabled controls the role may use", sel)
}

// goToHash opens a page by its address, as a typed or bookmarked link does.
func (tb *tab) goToHash(hash string) {
	tb.t.Helper()
	eval[bool](tb, fmt.Sprintf(`(location.hash = %s, true)`, js(hash)))
}

// requireEveryInputLabelled requires every input of the page to have an accessible name.
func (tb *tab) requireEveryInputLabelled(page string) {
	tb.t.Helper()
	tb.waitFor(page+" inputs", `document.querySelectorAll("main input, main select, main textarea").length > 0`)
	unlabelled := eval[[]string](tb, `[...document.querySelectorAll("main input, main select, main textarea")]
		.filter((e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label"))
		.map((e) => e.outerHTML)`)
	require.Empty(tb.t, unlabelled, "%s: inputs without a label", page)
}

var consoleRoleScenarios = []consoleScenario{
	{name: "Viewer_EveryPageReadOnlyWithTheReasonAndNoRefusedRequest", run: scenarioRoleViewer},
	{name: "Support_NoOperatorsNoPricingOrConfigEditsButResolvesAndDeactivates", run: scenarioRoleSupport},
	{name: "RoleLoweredAfterSignIn_AWriteShowsTheAPIRefusal", run: scenarioRoleLowered},
	{name: "Admin_CreatesAnOperatorMintsItsTokenOnceAndTheAuditShowsIt", run: scenarioRoleAdmin},
}

// TestConsole_BrowserRoles runs the role scenarios in one Chromium, in memory and over
// Postgres + Valkey (the roles and tokens live in the backend).
func TestConsole_BrowserRoles(t *testing.T) {
	t.Parallel()
	b := newConsoleBrowser(t)
	started := time.Now()
	for _, be := range []backend{memoryBackend, realBackend} {
		t.Run(be.String(), func(t *testing.T) {
			for _, sc := range consoleRoleScenarios {
				if sc.memoryOnly && be != memoryBackend {
					continue
				}
				t.Run(sc.name, func(t *testing.T) { sc.run(t, b, be) })
			}
		})
	}
	t.Logf("browser role scenarios took %s", time.Since(started).Round(100*time.Millisecond))
}

// scenarioRoleViewer: a viewer (its token minted through the API by the bootstrap admin)
// sees every page but Operators, each write control disabled with the reason beside it,
// reads what it may (a tier's history, the audit), and no request of its is refused.
func scenarioRoleViewer(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	// A failed pairing whose refund the gateway refused: a row with an action menu and a
	// refund with "Retry now".
	env.everyoneOffline()
	env.failedBlast(true)
	_, viewerTok := env.newOperator("Vera", "viewer")

	tb := env.open("role-viewer")
	tb.signIn(viewerTok)
	tb.whoami("Vera · viewer")
	require.Equal(t, everyRoleLinks, tb.navLinks())
	require.Equal(t, "viewer", eval[string](tb, `JSON.parse(sessionStorage.getItem("curhat.operator")).role`))
	tb.waitText("#live-state", "Live")
	tb.waitFor("the dashboard's counts", `document.getElementById("count-online").textContent === "0"`)
	require.Zero(t, eval[int](tb, `document.querySelectorAll("main .read-only").length`), "the dashboard has nothing to change")

	const why = "needs the support or admin role; you are signed in as viewer."
	tb.goTo("Mitras")
	tb.waitFor("the mitras", `document.querySelectorAll("#mitra-table tbody tr[data-id]").length === 3`)
	tb.requireReadOnly("Read only: creating, editing, deactivating and reactivating mitras "+why,
		`#mitra-table tbody button, form[aria-labelledby="create-mitra-title"] input, form[aria-labelledby="create-mitra-title"] button`)
	require.False(t, eval[bool](tb, `document.getElementById("mitra-search").disabled`), "searching is reading")
	tb.fill("searchbox", "Search", "citra")
	tb.click("button", "Search")
	tb.waitFor("one mitra found", `document.querySelectorAll("#mitra-table tbody tr[data-id]").length === 1`)
	tb.screenshot("mitras")

	tb.goTo("Pricing")
	tb.waitFor("the tiers", `document.querySelectorAll("tr[data-minutes]").length === 5 && !!document.getElementById("discount-form")`)
	tb.requireReadOnly("Read only: changing prices needs the admin role; you are signed in as viewer.",
		`#view input, #view select, #view textarea, #view button:not([aria-label^="History of"])`)
	// A tier's history is reading: it opens, and says who made the tier.
	tb.click("button", "History of the 15 min session tier")
	tb.waitText("#tier-table-session", "create by Bootstrap admin")
	tb.screenshot("pricing")

	tb.goTo("Config")
	tb.waitFor("the config", `document.querySelectorAll("#config-list form").length > 0`)
	tb.requireReadOnly("Read only: changing the config needs the admin role; you are signed in as viewer.", `#config-list input, #config-list button`)
	tb.screenshot("config")

	tb.goTo("Failed pairings")
	tb.waitFor("the failure and its refund", `document.querySelectorAll("#failure-table tbody tr[data-id]").length === 1 &&
		document.querySelectorAll("#refund-table tbody tr[data-id]").length === 1`)
	tb.requireReadOnly("Read only: acting on failed pairings and refunds (refund, resolve, retry, settle by hand) "+why,
		`#failure-table tbody button, #refund-table tbody button`)
	tb.choose("Status", "Any")
	tb.click("button", "Apply filters")
	tb.waitFor("the failure", `document.querySelectorAll("#failure-table tbody tr[data-id]").length === 1`)
	tb.screenshot("failed-pairings")

	tb.goTo("Earnings")
	tb.waitText("#payout-table", "No payout matches.")
	tb.requireReadOnly("Read only: running payouts needs the admin role; you are signed in as viewer.", `#payout-run button`)
	tb.screenshot("earnings")

	// The audit is for every role: what the bootstrap admin did setting up.
	tb.goTo("Audit")
	tb.waitFor("the audit", `document.querySelectorAll("#audit-table tbody tr[data-id]").length > 0`)
	tb.waitText("#audit-table tbody", "Bootstrap admin")
	tb.waitFor("the viewer's own creation", `[...document.querySelectorAll("#audit-table tbody tr[data-action='operator.create'] .change")].some((c) => c.textContent.includes('"display_name":"Vera"'))`)
	require.Zero(t, eval[int](tb, `document.querySelectorAll("main .read-only").length`))
	tb.requireEveryInputLabelled("Audit")
	tb.screenshot("audit")

	// Operators is an admin's page: no link, and its address says so without asking the API.
	tb.goToHash("#/operators")
	tb.heading("Operators")
	tb.waitText("main [role=alert]", "The Operators page needs the admin role; you are signed in as viewer.")
	require.Zero(t, eval[int](tb, `document.querySelectorAll("#view input, #view button, #operator-table").length`))
	tb.screenshot("operators")
	tb.requireClean()
}

// scenarioRoleSupport: a support operator has no Operators link, cannot open a price or
// config edit (disabled, the reason shown), and resolves a failed pairing and deactivates
// a mitra — both audited as its own.
func scenarioRoleSupport(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	env.everyoneOffline()
	pairingID := env.failedBlast(false)
	samID, samTok := env.newOperator("Sam", "support")

	tb := env.open("role-support")
	tb.signIn(samTok)
	tb.whoami("Sam · support")
	require.Equal(t, everyRoleLinks, tb.navLinks())

	const why = "needs the admin role; you are signed in as support."
	tb.goTo("Pricing")
	tb.waitFor("the tiers", `document.querySelectorAll("tr[data-minutes]").length === 5 && !!document.getElementById("discount-form")`)
	tb.requireReadOnly("Read only: changing prices "+why, `#view input, #view select, #view textarea, #view button:not([aria-label^="History of"])`)
	require.True(t, eval[bool](tb, fmt.Sprintf(`document.querySelector(%s).disabled`, js(string(tb.byRole("spinbutton", "Price of the 30 min session tier"))))))
	require.True(t, eval[bool](tb, fmt.Sprintf(`document.querySelector(%s).disabled`, js(string(tb.byRole("button", "Save discount"))))))
	tb.screenshot("pricing")

	tb.goTo("Config")
	tb.waitFor("the config", `document.querySelectorAll("#config-list form").length > 0`)
	tb.requireReadOnly("Read only: changing the config "+why, `#config-list input, #config-list button`)

	tb.goTo("Earnings")
	tb.waitText("#payout-table", "No payout matches.")
	tb.requireReadOnly("Read only: running payouts "+why, `#payout-run button`)

	// Deactivating a mitra is support's.
	tb.goTo("Mitras")
	tb.waitFor("the mitras", `document.querySelectorAll("#mitra-table tbody tr[data-id]").length === 3`)
	tb.requireWritable(`#mitra-table tbody button, form[aria-labelledby="create-mitra-title"] button`)
	tb.click("button", "Deactivate Bestie Citra")
	tb.byRole("dialog", "Deactivate Bestie Citra?")
	tb.click("button", "Deactivate")
	tb.byRole("button", "Reactivate Bestie Citra")
	citra := env.mitras["Bestie Citra"].String()
	require.Equal(t, false, env.ts.must(200, "GET", "/api/internal/mitras/"+citra, env.ts.op, nil)["is_active"])

	// So is resolving a failed pairing.
	tb.goTo("Failed pairings")
	row := fmt.Sprintf(`#failure-table tr[data-pairing-id=%s]`, js(pairingID))
	tb.waitFor("the failure", fmt.Sprintf(`!!document.querySelector(%s)`, js(row)))
	tb.requireWritable(row + ` button[aria-haspopup]`)
	tb.do(chromedp.Click(chromedp.CSS(row + " button[aria-haspopup]")))
	tb.click("menuitem", "Resolve…")
	tb.byRole("dialog", "Resolve the failed pairing")
	tb.fill("textbox", "Note", "support called the client")
	tb.click("button", "Resolve")
	tb.waitFor("the resolved row to leave the open list", fmt.Sprintf(`!document.querySelector(%s)`, js(row)))
	tb.choose("Status", "Resolved")
	tb.click("button", "Apply filters")
	tb.waitText(row, "resolved by Sam")
	tb.waitText(row, "support called the client")
	tb.screenshot("failed-pairings")
	var resolvedBy any
	for _, it := range env.ts.must(200, "GET", "/api/internal/failed-pairings?status=resolved", env.ts.op, nil)["items"].([]any) {
		if f := it.(map[string]any); f["pairing_id"] == pairingID {
			resolvedBy = f["resolved_by"]
		}
	}
	require.Equal(t, samID, resolvedBy, "resolved_by is the operator's id")

	// The audit has both, as Sam's.
	tb.goTo("Audit")
	tb.waitFor("the audit", `document.querySelectorAll("#audit-table tbody tr[data-id]").length > 0`)
	tb.fill("textbox", "Operator id", samID)
	tb.click("button", "Apply filters")
	tb.waitFor("Sam's two writes", `document.querySelectorAll("#audit-table tbody tr[data-id]").length === 2`)
	require.Equal(t, []string{"Sam", "Sam"}, eval[[]string](tb, `[...document.querySelectorAll("#audit-table tbody tr[data-id] .who span")].map((s) => s.textContent)`))
	actions := eval[[]string](tb, `[...document.querySelectorAll("#audit-table tbody tr[data-id]")].map((r) => r.dataset.action)`)
	require.Equal(t, "mitra.status", actions[1], "newest first: the mitra's deactivation came first")
	tb.waitText(`#audit-table tbody tr[data-action="mitra.status"] .target`, citra)
	require.Regexp(t, `^\{.*"is_active":true.*\} → \{.*"is_active":false.*\}$`,
		eval[string](tb, `document.querySelector('#audit-table tbody tr[data-action="mitra.status"] .change').textContent`))

	// Operators is an admin's page.
	tb.goToHash("#/operators")
	tb.heading("Operators")
	tb.waitText("main [role=alert]", "The Operators page needs the admin role; you are signed in as support.")
	tb.requireClean()
}

// scenarioRoleLowered: a support operator's role is lowered to viewer while its page is
// open; the write it then tries is refused, and the page shows the API's own message (and
// the header the new role). The next page shows it read only.
func scenarioRoleLowered(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	samID, samTok := env.newOperator("Sam", "support")
	tb := env.open("role-lowered")
	tb.signIn(samTok)
	tb.whoami("Sam · support")
	tb.goTo("Mitras")
	tb.waitFor("the mitras", `document.querySelectorAll("#mitra-table tbody tr[data-id]").length === 3`)
	tb.requireWritable(`#mitra-table tbody button`)

	require.Equal(t, "viewer", env.ts.must(200, "PATCH", "/api/internal/operators/"+samID, env.ts.op, map[string]any{"role": "viewer"})["role"])
	citra := env.mitras["Bestie Citra"].String()
	refused := env.ts.do("PATCH", "/api/internal/mitras/"+citra+"/status", samTok, map[string]any{"is_active": false})
	require.Equal(t, 403, refused.Status, "%s", refused.Raw)
	apiErr := refused.Body["error"].(map[string]any)
	require.Equal(t, "FORBIDDEN", apiErr["code"])
	require.Equal(t, "support", apiErr["required_role"])
	require.Equal(t, "viewer", apiErr["role"])
	msg := apiErr["message"].(string)
	require.Equal(t, "this needs the support role; you are signed in as viewer", msg)

	row := fmt.Sprintf(`#mitra-table tr[data-id=%s]`, js(citra))
	tb.click("button", "Deactivate Bestie Citra")
	tb.click("button", "Deactivate")
	tb.waitText(row+" .error", msg)
	require.Equal(t, "polite", eval[string](tb, fmt.Sprintf(`document.querySelector(%s).getAttribute("aria-live")`, js(row+" .error"))))
	tb.whoami("Sam · viewer")
	tb.screenshot("mitras-refused")
	require.Equal(t, true, env.ts.must(200, "GET", "/api/internal/mitras/"+citra, env.ts.op, nil)["is_active"])

	// The next page reads the role again: the controls are disabled now.
	tb.goTo("Dashboard")
	tb.goTo("Mitras")
	tb.waitFor("the mitras", `document.querySelectorAll("#mitra-table tbody tr[data-id]").length === 3`)
	tb.requireReadOnly("Read only: creating, editing, deactivating and reactivating mitras needs the support or admin role; you are signed in as viewer.",
		`#mitra-table tbody button`)
	tb.requireClean(403)
}

// scenarioRoleAdmin: the bootstrap admin creates a support operator on the Operators
// page, mints its token (shown once, and it signs in), changes its role, deactivates it
// (its token stops working) and reactivates it; the Audit page shows each write, newest
// first, with who did it, filtered and paged.
func scenarioRoleAdmin(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	ts := env.ts
	tb := env.signedIn("role-admin")
	tb.whoami("Bootstrap admin · admin")
	require.Equal(t, append(append([]string{}, everyRoleLinks...), "Operators"), tb.navLinks())

	tb.goTo("Operators")
	tb.waitText("#operator-table", "No operator yet.")
	tb.requireEveryInputLabelled("Operators")
	tb.fill("textbox", "Display name", "Ana")
	tb.choose("Role", "Support")
	tb.click("button", "Create operator")
	tb.waitText("#operator-create-status", "Created Ana (support")
	tb.waitFor("Ana's row", `document.querySelectorAll("#operator-table tbody tr[data-id]").length === 1`)
	anaID := eval[string](tb, `document.querySelector("#operator-table tbody tr[data-id]").dataset.id`)
	anaRow := fmt.Sprintf(`#operator-table tr[data-id=%s]`, js(anaID))
	tb.waitText(anaRow, "active")
	require.Equal(t, "support", tb.value("combobox", "Role of Ana"))
	list := ts.must(200, "GET", "/api/internal/operators", ts.op, nil)
	require.Equal(t, float64(1), list["total"])
	require.Equal(t, "support", list["items"].([]any)[0].(map[string]any)["role"])

	// Minting, from the keyboard: the token shows once, in a read-only field that takes
	// the focus, and it signs Ana in.
	tb.do(chromedp.Focus(tb.byRole("button", "Mint a token for Ana")))
	tb.keys("\r")
	tb.waitText("#minted-token", "it will not be shown again")
	token := tb.value("textbox", "Token for Ana")
	require.NotEmpty(t, token)
	require.True(t, eval[bool](tb, `document.getElementById("minted-token-value").readOnly`))
	require.Contains(t, tb.focused(), "INPUT#minted-token-value")
	require.NotContains(t, eval[string](tb, `location.href`), token)
	me := ts.must(200, "GET", "/api/internal/operators/me", token, nil)
	require.Equal(t, anaID, me["id"])
	require.Equal(t, "Ana", me["display_name"])
	require.Equal(t, "support", me["role"])
	tb.screenshot("operators")
	tb.click("button", "Hide token")
	tb.waitFor("the token gone", `!document.getElementById("minted-token-value") && document.getElementById("minted-token").childElementCount === 0`)

	// Another role, with the row's select and button.
	tb.choose("Role of Ana", "Viewer")
	tb.click("button", "Change the role of Ana")
	tb.waitFor("the role saved", fmt.Sprintf(`(() => { const s = document.querySelector(%s + " select"); return !!s && s.value === "viewer" && document.querySelector(%s + " button[aria-label^='Change the role']").disabled; })()`, js(anaRow), js(anaRow)))
	require.Equal(t, "viewer", ts.must(200, "GET", "/api/internal/operators/me", token, nil)["role"])

	// Deactivating asks first; then Ana's token stops working, and no token is offered.
	tb.click("button", "Deactivate Ana")
	tb.byRole("dialog", "Deactivate Ana?")
	tb.click("button", "Cancel")
	tb.waitFor("the dialog to close", `!document.querySelector("dialog")`)
	tb.click("button", "Deactivate Ana")
	tb.click("button", "Deactivate")
	tb.byRole("button", "Reactivate Ana")
	tb.waitText(anaRow, "deactivated")
	require.Zero(t, eval[int](tb, fmt.Sprintf(`document.querySelectorAll(%s + " button[aria-label^='Mint']").length`, js(anaRow))))
	require.Equal(t, 401, ts.do("GET", "/api/internal/operators/me", token, nil).Status)
	inactive := ts.do("POST", "/api/internal/tokens", ts.op, map[string]any{"subject_kind": "operator", "subject_id": anaID})
	require.Equal(t, 409, inactive.Status, "%s", inactive.Raw)
	require.Equal(t, "INVALID_STATE", inactive.ErrorCode())
	tb.click("button", "Reactivate Ana")
	tb.click("button", "Reactivate")
	tb.byRole("button", "Mint a token for Ana")

	// The audit: Ana's history, newest first, by the bootstrap admin.
	tb.goTo("Audit")
	tb.waitFor("the audit", `document.querySelectorAll("#audit-table tbody tr[data-id]").length > 0`)
	tb.requireEveryInputLabelled("Audit")
	tb.fill("combobox", "Action", "operator.create")
	tb.click("button", "Apply filters")
	tb.waitFor("one creation", `document.querySelectorAll("#audit-table tbody tr[data-id]").length === 1`)
	created := `#audit-table tbody tr[data-action="operator.create"]`
	tb.waitText(created+" .who", "Bootstrap admin")
	tb.waitText(created+" .who", bootstrapOperatorID)
	tb.waitText(created+" .target", "operator "+anaID)
	tb.waitText(created+" .change", `— → {`)
	tb.waitText(created+" .change", `"display_name":"Ana"`)
	tb.waitText(created+" .change", `"role":"support"`)
	tb.screenshot("audit")

	tb.fill("combobox", "Action", "")
	tb.fill("textbox", "Target id", anaID)
	tb.click("button", "Apply filters")
	tb.waitFor("Ana's five entries", `document.querySelectorAll("#audit-table tbody tr[data-id]").length === 5`)
	require.Equal(t, []string{"operator.update", "operator.update", "operator.update", "token.mint", "operator.create"},
		eval[[]string](tb, `[...document.querySelectorAll("#audit-table tbody tr[data-id]")].map((r) => r.dataset.action)`))
	changes := eval[[]string](tb, `[...document.querySelectorAll("#audit-table tbody tr[data-id] .change")].map((c) => c.textContent)`)
	// Only what changed (and when): not the name, not the id.
	require.Regexp(t, `^\{"is_active":false[,}].* → \{"is_active":true[,}]`, changes[0])
	require.Regexp(t, `^\{"is_active":true[,}].* → \{"is_active":false[,}]`, changes[1])
	require.Regexp(t, `^\{"role":"support"[,}].* → \{"role":"viewer"[,}]`, changes[2])
	require.NotContains(t, changes[2], "display_name")
	require.NotContains(t, changes[3], token, "the token itself is never in the audit")

	// A filter the API refuses: its message, announced.
	tb.fill("textbox", "Target id", "")
	tb.fill("textbox", "Operator id", "not-an-id")
	tb.click("button", "Apply filters")
	refused := ts.do("GET", "/api/internal/audit?operator_id=not-an-id", ts.op, nil)
	require.Equal(t, 400, refused.Status)
	tb.waitFor("the API's message", fmt.Sprintf(`[...document.querySelectorAll("#audit-error, #audit-operator-error")].some((e) => e.textContent === %s && e.getAttribute("aria-live"))`,
		js(refused.Body["error"].(map[string]any)["message"].(string))))

	// Pages: more writes than a page holds.
	for i := range 20 {
		ts.must(201, "POST", "/api/internal/operators", ts.op, map[string]any{"display_name": fmt.Sprintf("Op %02d", i+1), "role": "viewer"})
	}
	total := ts.must(200, "GET", "/api/internal/audit?operator_id="+bootstrapOperatorID, ts.op, nil)["total"].(float64)
	pages := (int(total) + 19) / 20
	require.GreaterOrEqual(t, pages, 2)
	tb.fill("textbox", "Operator id", bootstrapOperatorID)
	tb.click("button", "Apply filters")
	tb.waitFor("a full first page", `document.querySelectorAll("#audit-table tbody tr[data-id]").length === 20`)
	tb.waitText(`nav[aria-label="entries pages"]`, fmt.Sprintf("Page 1 of %d · %d entries", pages, int(total)))
	// Newest first: the last operator created is the first row.
	tb.waitText(`#audit-table tbody tr[data-id] .change`, `"display_name":"Op 20"`)
	first := eval[[]string](tb, `[...document.querySelectorAll("#audit-table tbody tr[data-id]")].map((r) => r.dataset.id)`)
	tb.click("button", "Next page")
	tb.waitText(`nav[aria-label="entries pages"]`, fmt.Sprintf("Page 2 of %d", pages))
	second := eval[[]string](tb, `[...document.querySelectorAll("#audit-table tbody tr[data-id]")].map((r) => r.dataset.id)`)
	require.NotEmpty(t, second)
	for _, id := range second {
		require.NotContains(t, first, id)
	}

	// Operators pages too: 21 of them.
	tb.goTo("Operators")
	tb.waitText(`nav[aria-label="operators pages"]`, "Page 1 of 2 · 21 operators")
	tb.waitFor("a full first page", `document.querySelectorAll("#operator-table tbody tr[data-id]").length === 20`)
	tb.click("button", "Next page")
	tb.waitText(`nav[aria-label="operators pages"]`, "Page 2 of 2")
	tb.waitFor("the last operator", `document.querySelectorAll("#operator-table tbody tr[data-id]").length === 1`)

	// Signing out forgets who was signed in.
	tb.click("button", "Sign out")
	tb.heading("Sign in")
	require.Empty(t, eval[string](tb, `sessionStorage.getItem("curhat.operator") || ""`))
	require.True(t, eval[bool](tb, `document.getElementById("whoami").hidden`))
	tb.requireClean(400)
}

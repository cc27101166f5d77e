package main

// Ratings in the operator console, in a real browser (the fixture and helpers are
// console_browser_test.go's and console_roles_browser_test.go's): the Mitras list shows
// each mitra's rating, its link opens the mitra's ratings, a support operator hides a
// comment (its stars still count), and a viewer sees the Hide control disabled with the
// reason.

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ratedByAClient gives Bestie Ayu (online) a chat with a fresh client, ended and rated
// with stars and comment through the API; it returns the rating's id.
func (e *consoleEnv) ratedByAClient(stars int, comment string) string {
	e.t.Helper()
	ts := e.ts
	_, clientTok := ts.newClient("Dewi")
	ayuTok := ts.token("mitra", e.mitras["Bestie Ayu"])
	sid := ts.chatWith(clientTok, ayuTok)
	ts.must(200, "POST", "/api/client/chat-sessions/"+sid+"/end", clientTok, nil)
	return ts.must(201, "POST", "/api/client/chat-sessions/"+sid+"/rating", clientTok,
		map[string]any{"stars": stars, "comment": comment})["id"].(string)
}

// openAyusRatings goes from the Mitras list to Bestie Ayu's ratings through its rating.
func (tb *tab) openAyusRatings(rating string) {
	tb.t.Helper()
	tb.goTo("Mitras")
	tb.click("link", rating+" — ratings of Bestie Ayu")
	tb.heading("Ratings of Bestie Ayu")
	tb.waitFor("the ratings", `document.querySelectorAll("#rating-table tbody tr[data-id]").length === 2`)
}

var consoleRatingScenarios = []consoleScenario{
	{name: "Support_HidesACommentAndItsStarsStillCount", run: scenarioRatingsSupport},
	{name: "Viewer_SeesRatingsAndCannotHide", run: scenarioRatingsViewer, memoryOnly: true},
}

// TestConsole_BrowserRatings runs the rating scenarios in one Chromium.
func TestConsole_BrowserRatings(t *testing.T) {
	t.Parallel()
	b := newConsoleBrowser(t)
	started := time.Now()
	for _, be := range []backend{memoryBackend, realBackend} {
		t.Run(be.String(), func(t *testing.T) {
			for _, sc := range consoleRatingScenarios {
				if sc.memoryOnly && be != memoryBackend {
					continue
				}
				t.Run(sc.name, func(t *testing.T) { sc.run(t, b, be) })
			}
		})
	}
	t.Logf("browser rating scenarios took %s", time.Since(started).Round(100*time.Millisecond))
}

// scenarioRatingsSupport: Ayu rated 2 (with a comment sharing a phone number) and 5; the
// list shows (40 + 7) / 12 ≈ 3.9 from 2 ratings, Bima the prior 4.0 from none; support
// hides the comment after confirming, and the rating stays.
func scenarioRatingsSupport(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	rude := env.ratedByAClient(2, "wa aku 0812 3456 7890")
	env.ts.clock.Advance(time.Second)
	env.ratedByAClient(5, "makasih kak")
	_, samTok := env.newOperator("Sam", "support")

	tb := env.open("ratings-support")
	tb.signIn(samTok)
	tb.goTo("Mitras")
	bima := fmt.Sprintf(`#mitra-table tr[data-id=%s] td.rating`, js(env.mitras["Bestie Bima"].String()))
	tb.waitText(bima, "4.0 ★ (0)")
	tb.screenshot("mitras")
	tb.openAyusRatings("3.9 ★ (2)")
	tb.waitText("#rating-summary", "Rating 3.9 ★ from 2 ratings.")
	require.Zero(t, eval[int](tb, `document.querySelectorAll("main .read-only").length`), "support may hide")
	row := fmt.Sprintf(`#rating-table tr[data-id=%s]`, js(rude))
	tb.waitText(row, "wa aku 0812 3456 7890")

	tb.click("button", "Hide the comment “wa aku 0812 3456 7890”")
	tb.byRole("dialog", "Hide this comment?")
	tb.click("button", "Cancel")
	tb.waitFor("the dialog to close", `!document.querySelector("dialog")`)
	tb.waitText(row, "wa aku 0812 3456 7890")

	tb.click("button", "Hide the comment “wa aku 0812 3456 7890”")
	tb.byRole("dialog", "Hide this comment?")
	tb.click("button", "Hide comment")
	tb.waitText(row, "Comment hidden")
	require.NotContains(t, eval[string](tb, fmt.Sprintf(`document.querySelector(%s).textContent`, js(row))), "0812")
	require.Zero(t, eval[int](tb, fmt.Sprintf(`document.querySelectorAll(%s).length`, js(row+" button"))), "nothing left to hide")
	tb.waitText("#rating-summary", "Rating 3.9 ★ from 2 ratings.")
	tb.screenshot("ratings")

	got := env.ts.must(200, "GET", "/api/internal/mitras/"+env.mitras["Bestie Ayu"].String()+"/ratings", env.ts.op, nil)
	hidden := got["items"].([]any)[1].(map[string]any)
	require.Equal(t, rude, hidden["id"])
	require.Equal(t, true, hidden["comment_hidden"])
	require.Nil(t, hidden["comment"])
	tb.requireClean()
}

// scenarioRatingsViewer: a viewer opens Ayu's ratings from the list; the Hide control is
// disabled and says why.
func scenarioRatingsViewer(t *testing.T, b *consoleBrowser, be backend) {
	env := newConsoleEnv(t, b, be)
	env.ratedByAClient(4, "sabar banget")
	env.ts.clock.Advance(time.Second)
	env.ratedByAClient(1, "telat balas")
	_, veraTok := env.newOperator("Vera", "viewer")

	tb := env.open("ratings-viewer")
	tb.signIn(veraTok)
	tb.openAyusRatings("3.8 ★ (2)")
	tb.waitText("#rating-table", "sabar banget")
	tb.requireReadOnly("Read only: hiding rating comments needs the support or admin role; you are signed in as viewer.",
		`#rating-table tbody button`)
	tb.screenshot("ratings")
	tb.requireClean()
}

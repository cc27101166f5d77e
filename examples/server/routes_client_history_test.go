package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sessionItems is the chat sessions of a list answer (field items or chat_sessions).
func sessionItems(t *testing.T, body map[string]any, field string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, it := range body[field].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

// chatWithMitra gives the client a paid blast that the mitra accepts (every online mitra
// is offered it) and returns the chat session's id; the clock moves on a second after, so
// that the next one is newer.
func (ts *testServer) chatWithMitra(clientTok, mitraTok string) string {
	ts.t.Helper()
	pid, _ := ts.paidStart(clientTok)
	sid := obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+pid+"/accept", mitraTok, nil), "chat_session")["id"].(string)
	ts.clock.Advance(time.Second)
	return sid
}

// The client app's history: the client's chat sessions, newest first, each with its
// mitra's display name (never the client's own), a page at a time; nobody else's.
func TestClientHistory_SessionsNewestFirstWithTheMitrasNamesAPageAtATime(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, dewi := ts.newClient("Dewi")
		_, eko := ts.newClient("Eko")
		_, ayu := ts.onlineMitra("Bestie Ayu")
		_, bima := ts.onlineMitra("Bestie Bima")

		first := ts.chatWithMitra(dewi, ayu)
		ts.must(200, "POST", "/api/client/chat-sessions/"+first+"/end", dewi, nil)
		second := ts.chatWithMitra(dewi, bima)
		ts.must(200, "POST", "/api/mitra/chat-sessions/"+second+"/end", bima, nil)
		third := ts.chatWithMitra(dewi, ayu) // active

		page := ts.must(200, "GET", "/api/client/chat-sessions?page=1&page_size=2", dewi, nil)
		items := sessionItems(t, page, "items")
		require.Len(t, items, 2)
		require.Equal(t, []any{third, second}, []any{items[0]["id"], items[1]["id"]}, "newest first")
		require.Equal(t, []any{"Bestie Ayu", "Bestie Bima"}, []any{items[0]["mitra_display_name"], items[1]["mitra_display_name"]})
		require.Equal(t, []any{"active", "ended"}, []any{items[0]["status"], items[1]["status"]})
		require.NotContains(t, items[0], "client_display_name", "the client's own name is not news to it")
		require.Equal(t, true, page["has_more"])
		require.Equal(t, float64(1), page["page"])
		require.Equal(t, float64(2), page["page_size"])

		page = ts.must(200, "GET", "/api/client/chat-sessions?page=2&page_size=2", dewi, nil)
		items = sessionItems(t, page, "items")
		require.Len(t, items, 1)
		require.Equal(t, first, items[0]["id"])
		require.Equal(t, "Bestie Ayu", items[0]["mitra_display_name"])
		require.Equal(t, false, page["has_more"])

		require.Empty(t, sessionItems(t, ts.must(200, "GET", "/api/client/chat-sessions?page=3&page_size=2", dewi, nil), "items"))
		all := ts.must(200, "GET", "/api/client/chat-sessions", dewi, nil)
		require.Len(t, sessionItems(t, all, "items"), 3, "the first page of 20 by default")
		require.Equal(t, float64(sessionHistoryPageSize), all["page_size"])
		require.Empty(t, sessionItems(t, ts.must(200, "GET", "/api/client/chat-sessions", eko, nil), "items"), "another client's are not listed")

		for _, q := range []string{"page=0", "page=abc", "page_size=0", "page_size=51", "page=51&page_size=20", "page=1001"} {
			r := ts.do("GET", "/api/client/chat-sessions?"+q, dewi, nil)
			require.Equal(t, http.StatusBadRequest, r.Status, q)
			require.Equal(t, "VALIDATION_FAILED", r.ErrorCode(), q)
		}
		r := ts.do("GET", "/api/client/chat-sessions", ayu, nil)
		require.Equal(t, http.StatusForbidden, r.Status, "a mitra's token")
	})
}

// The other party's display name on the shapes the apps read: the client's session, its
// end and its pairing name the mitra; the mitra's offers, its accept, its sessions and its
// end name the client.
func TestDisplayNames_EachPartySeesTheOthersName(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, dewi := ts.newClient("Dewi")
		_, ayu := ts.onlineMitra("Bestie Ayu")

		start := ts.must(201, "POST", "/api/client/chat/start", dewi, map[string]any{"minutes": 30})
		pid := obj(start, "pairing")["id"].(string)
		require.Equal(t, 200, ts.webhook(obj(start, "payment")["id"], "paid").Status)

		offers := sessionItems(t, ts.must(200, "GET", "/api/mitra/pairing-offers", ayu, nil), "offers")
		require.Len(t, offers, 1)
		require.Equal(t, "Dewi", offers[0]["client_display_name"])
		require.Equal(t, "blast", offers[0]["type"], "a new client")

		accepted := obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+pid+"/accept", ayu, nil), "chat_session")
		require.Equal(t, "Dewi", accepted["client_display_name"])
		require.NotContains(t, accepted, "mitra_display_name")
		sid := accepted["id"].(string)

		mine := sessionItems(t, ts.must(200, "GET", "/api/mitra/chat-sessions?status=active", ayu, nil), "chat_sessions")
		require.Len(t, mine, 1)
		require.Equal(t, "Dewi", mine[0]["client_display_name"])

		require.Equal(t, "Bestie Ayu", obj(ts.must(200, "GET", "/api/client/pairings/"+pid, dewi, nil), "chat_session")["mitra_display_name"])
		got := ts.must(200, "GET", "/api/client/chat-sessions/"+sid, dewi, nil)
		require.Equal(t, "Bestie Ayu", got["mitra_display_name"])
		require.NotContains(t, got, "client_display_name")

		ended := obj(ts.must(200, "POST", "/api/mitra/chat-sessions/"+sid+"/end", ayu, nil), "chat_session")
		require.Equal(t, "Dewi", ended["client_display_name"])

		// "Curhat lagi": the returning client's offer names it too.
		ts.must(201, "POST", "/api/client/chat/returning", dewi, map[string]any{"mitra_id": got["mitra_id"], "minutes": 30})
		offers = sessionItems(t, ts.must(200, "GET", "/api/mitra/pairing-offers", ayu, nil), "offers")
		require.Len(t, offers, 1)
		require.Equal(t, "targeted", offers[0]["type"])
		require.Equal(t, "Dewi", offers[0]["client_display_name"])
	})
}

// After a reload the client app resumes from the open pairings: waiting for its payment,
// searching, the "Curhat lagi" countdown, its accepted chat waiting for the payment; a
// pairing that matched into a running chat, or ended, is not open.
func TestClientOpenPairings_ListWhatTheClientWaitsFor(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, dewi := ts.newClient("Dewi")
		_, eko := ts.newClient("Eko")
		ayuID, ayu := ts.onlineMitra("Bestie Ayu")
		open := func(tok string) []map[string]any {
			return sessionItems(t, ts.must(200, "GET", "/api/client/pairings?status=open", tok, nil), "items")
		}
		require.Empty(t, open(dewi))

		start := ts.must(201, "POST", "/api/client/chat/start", dewi, map[string]any{"minutes": 30})
		pid := obj(start, "pairing")["id"].(string)
		items := open(dewi)
		require.Len(t, items, 1)
		require.Equal(t, pid, obj(items[0], "pairing")["id"])
		require.Equal(t, "awaiting_payment", obj(items[0], "pairing")["status"])
		require.NotEmpty(t, obj(items[0], "payment")["checkout_url"], "the app shows the link to pay")
		require.Nil(t, items[0]["chat_session"])
		require.Empty(t, open(eko), "another client's are not listed")

		require.Equal(t, 200, ts.webhook(obj(start, "payment")["id"], "paid").Status)
		require.Equal(t, "searching", obj(open(dewi)[0], "pairing")["status"])

		sid := obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+pid+"/accept", ayu, nil), "chat_session")["id"].(string)
		require.Empty(t, open(dewi), "matched into a running chat: the chat is what to resume")
		ts.must(200, "POST", "/api/client/chat-sessions/"+sid+"/end", dewi, nil)

		returning := obj(ts.must(201, "POST", "/api/client/chat/returning", dewi,
			map[string]any{"mitra_id": ayuID.String(), "minutes": 30}), "pairing")
		items = open(dewi)
		require.Len(t, items, 1)
		require.Equal(t, "targeted_waiting", obj(items[0], "pairing")["status"])
		require.NotNil(t, obj(items[0], "pairing")["expires_at"], "the overlay counts down to it")

		obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+returning["id"].(string)+"/accept", ayu, nil), "chat_session")
		items = open(dewi)
		require.Len(t, items, 1, "accepted, waiting for the client's payment")
		require.Equal(t, "matched", obj(items[0], "pairing")["status"])
		cs := obj(items[0], "chat_session")
		require.Equal(t, "pending_payment", cs["status"])
		require.Equal(t, "Bestie Ayu", cs["mitra_display_name"])
		pay := obj(items[0], "payment")
		require.Equal(t, "pending", pay["status"])

		require.Equal(t, 200, ts.webhook(pay["id"], "paid").Status)
		require.Empty(t, open(dewi), "paid: the chat runs")

		for _, q := range []string{"", "?status=", "?status=closed", "?status=OPEN"} {
			r := ts.do("GET", "/api/client/pairings"+q, dewi, nil)
			require.Equal(t, http.StatusBadRequest, r.Status, q)
			require.Equal(t, "VALIDATION_FAILED", r.ErrorCode(), q)
		}
	})
}

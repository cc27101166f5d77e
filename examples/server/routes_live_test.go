package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// items returns a page's items as objects.
func items(page map[string]any) []map[string]any {
	var out []map[string]any
	for _, it := range page["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

func TestLiveRoutes_WaitingPairingsLongestWaitingFirstWithAgeOffersAndPayment(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, viewer := ts.newOperator("viewer")
		ayuID, ayu := ts.onlineMitra("Ayu")
		ts.onlineMitra("Bima")
		// Sari chatted with Ayu before: she may ask for her again ("Curhat lagi").
		sariID, sari := ts.newClient("Sari")
		first, _ := ts.paidStart(sari)
		accepted := ts.must(200, "POST", "/api/mitra/pairing-offers/"+first+"/accept", ayu, nil)
		ts.must(200, "POST", "/api/client/chat-sessions/"+obj(accepted, "chat_session")["id"].(string)+"/end", sari, nil)

		// Dewi starts a blast and does not pay it yet.
		dewiID, dewi := ts.newClient("Dewi")
		start := ts.must(201, "POST", "/api/client/chat/start", dewi, map[string]any{"minutes": 30})
		dewiPairing, dewiPayment := obj(start, "pairing")["id"], obj(start, "payment")["id"]
		ts.clock.Advance(10 * time.Second)
		// Sari asks Ayu again; Ayu accepts: the chat waits for Sari's payment.
		returning := ts.must(201, "POST", "/api/client/chat/returning", sari, map[string]any{"mitra_id": ayuID.String(), "minutes": 30})
		sariPairing := obj(returning, "pairing")["id"].(string)
		held := ts.must(200, "POST", "/api/mitra/pairing-offers/"+sariPairing+"/accept", ayu, nil)
		sariSession := obj(held, "chat_session")["id"]
		ts.clock.Advance(5 * time.Second)
		// Rina pays a blast: Ayu's only slot is held, so Bima alone is offered it.
		rinaID, rina := ts.newClient("Rina")
		rinaPairing, rinaPayment := ts.paidStart(rina)
		ts.clock.Advance(3 * time.Second)

		page := ts.must(200, "GET", "/api/internal/pairings", viewer, nil)
		require.Equal(t, float64(3), page["total"])
		require.Equal(t, float64(1), page["page"])
		require.Equal(t, float64(20), page["page_size"])
		got := items(page)
		require.Len(t, got, 3)
		require.Equal(t, map[string]any{"id": dewiPairing, "status": "awaiting_payment", "type": "blast",
			"client_id": dewiID.String(), "client_name": "Dewi", "minutes": float64(30), "age_seconds": float64(18),
			"created_at": got[0]["created_at"], "offers_sent": float64(0), "target_mitra_id": nil, "payment_id": dewiPayment,
			"chat_session_id": nil, "expires_at": nil, "routing_step": float64(0), "routing_match": "any"}, got[0], "the longest waiting first")
		require.Equal(t, sariPairing, got[1]["id"])
		require.Equal(t, "awaiting_payment", got[1]["status"], "a \"Curhat lagi\" accepted, waiting for the payment")
		require.Equal(t, "targeted", got[1]["type"])
		require.Equal(t, sariID.String(), got[1]["client_id"])
		require.Equal(t, ayuID.String(), got[1]["target_mitra_id"])
		require.Equal(t, sariSession, got[1]["chat_session_id"])
		require.NotNil(t, got[1]["payment_id"])
		require.Equal(t, float64(8), got[1]["age_seconds"])
		require.Equal(t, float64(1), got[1]["offers_sent"])
		require.Equal(t, map[string]any{"id": rinaPairing, "status": "searching", "type": "blast", "client_id": rinaID.String(),
			"client_name": "Rina", "minutes": float64(30), "age_seconds": float64(3), "created_at": got[2]["created_at"],
			"offers_sent": float64(1), "target_mitra_id": nil, "payment_id": rinaPayment, "chat_session_id": nil,
			"expires_at": got[2]["expires_at"], "routing_step": float64(2), "routing_match": "any"}, got[2], "no preferences: at any")
		require.NotNil(t, got[2]["expires_at"], "a searching blast has a deadline")

		only := items(ts.must(200, "GET", "/api/internal/pairings?status=awaiting_payment", viewer, nil))
		require.Equal(t, []any{dewiPairing, sariPairing}, []any{only[0]["id"], only[1]["id"]})
		page = ts.must(200, "GET", "/api/internal/pairings?status=searching", viewer, nil)
		require.Equal(t, float64(1), page["total"])
		require.Equal(t, rinaPairing, items(page)[0]["id"])
		page = ts.must(200, "GET", "/api/internal/pairings?page=2&page_size=2", viewer, nil)
		require.Equal(t, float64(3), page["total"])
		require.Equal(t, rinaPairing, items(page)[0]["id"], "the second page")

		for _, q := range []string{"?status=matched", "?status=nonsense", "?page_size=101", "?page=0"} {
			r := ts.do("GET", "/api/internal/pairings"+q, viewer, nil)
			require.Equal(t, http.StatusBadRequest, r.Status, q)
			require.Equal(t, "VALIDATION_FAILED", r.ErrorCode(), q)
		}

		// Paid, Sari's chat runs: she no longer waits.
		pairing := ts.must(200, "GET", "/api/client/pairings/"+sariPairing, sari, nil)
		require.Equal(t, 200, ts.webhook(obj(pairing, "payment")["id"], "paid").Status)
		page = ts.must(200, "GET", "/api/internal/pairings?status=awaiting_payment", viewer, nil)
		require.Equal(t, float64(1), page["total"])
		require.Equal(t, dewiPairing, items(page)[0]["id"])
	})
}

func TestLiveRoutes_ActiveChatSessionsSoonestEndFirstWithTimeLeft(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		ts.createTier("session", 60, 45000)
		_, viewer := ts.newOperator("viewer")
		ayuID, ayu := ts.onlineMitra("Ayu")
		bimaID, bima := ts.onlineMitra("Bima")

		// Dewi buys an hour with Ayu; ten seconds later Rina buys half an hour with Bima.
		ts.must(200, "POST", "/api/mitra/status/offline", bima, nil)
		dewiID, dewi := ts.newClient("Dewi")
		start := ts.must(201, "POST", "/api/client/chat/start", dewi, map[string]any{"minutes": 60})
		require.Equal(t, 200, ts.webhook(obj(start, "payment")["id"], "paid").Status)
		long := obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+obj(start, "pairing")["id"].(string)+"/accept", ayu, nil), "chat_session")
		ts.clock.Advance(10 * time.Second)
		ts.must(200, "POST", "/api/mitra/status/online", bima, nil)
		rinaID, rina := ts.newClient("Rina")
		rinaPairing, _ := ts.paidStart(rina)
		short := obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+rinaPairing+"/accept", bima, nil), "chat_session")
		// A third chat ended: not listed.
		_, budi := ts.newClient("Budi")
		ts.must(200, "PATCH", "/api/internal/mitras/"+bimaID.String(), ts.op, map[string]any{
			"expected_profile_updated_at": ts.must(200, "GET", "/api/internal/mitras/"+bimaID.String(), ts.op, nil)["profile_updated_at"],
			"max_concurrent_sessions":     2})
		budiPairing, _ := ts.paidStart(budi)
		ended := obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+budiPairing+"/accept", bima, nil), "chat_session")
		ts.must(200, "POST", "/api/client/chat-sessions/"+ended["id"].(string)+"/end", budi, nil)
		ts.clock.Advance(60 * time.Second)

		page := ts.must(200, "GET", "/api/internal/chat-sessions?status=active", viewer, nil)
		require.Equal(t, float64(2), page["total"])
		got := items(page)
		require.Equal(t, map[string]any{"id": short["id"], "client_id": rinaID.String(), "client_name": "Rina",
			"mitra_id": bimaID.String(), "mitra_name": "Bima", "minutes": float64(30), "started_at": short["started_at"],
			"ends_at": short["ends_at"], "seconds_left": float64(30*60 - 60)}, got[0], "the soonest end first")
		require.Equal(t, map[string]any{"id": long["id"], "client_id": dewiID.String(), "client_name": "Dewi",
			"mitra_id": ayuID.String(), "mitra_name": "Ayu", "minutes": float64(60), "started_at": long["started_at"],
			"ends_at": long["ends_at"], "seconds_left": float64(60*60 - 70)}, got[1])

		page = ts.must(200, "GET", "/api/internal/chat-sessions?page=2&page_size=1", viewer, nil)
		require.Equal(t, float64(2), page["total"])
		require.Equal(t, long["id"], items(page)[0]["id"])
		for _, q := range []string{"?status=ended", "?page_size=0"} {
			r := ts.do("GET", "/api/internal/chat-sessions"+q, viewer, nil)
			require.Equal(t, http.StatusBadRequest, r.Status, q)
		}
	})
}

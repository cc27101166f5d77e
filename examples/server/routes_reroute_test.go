package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestChatFlow_LateMitraGetsSearchingBlast(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, clientTok := ts.newClient("Dewi")
		_, tokA := ts.onlineMitra("Ayu")
		_, tokB := ts.newMitra("Bima")
		start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
		ts.webhook(obj(start, "payment")["id"], "paid")
		require.Len(t, ts.must(200, "GET", "/api/mitra/pairing-offers", tokA, nil)["offers"], 1)
		require.Empty(t, ts.must(200, "GET", "/api/mitra/pairing-offers", tokB, nil)["offers"])

		ts.must(200, "POST", "/api/mitra/status/online", tokB, nil)
		offers := ts.must(200, "GET", "/api/mitra/pairing-offers", tokB, nil)["offers"].([]any)
		require.Len(t, offers, 1, "a mitra going online joins the searching blast")
		require.Equal(t, obj(start, "pairing")["id"], offers[0].(map[string]any)["pairing_id"])
	})
}

func TestChatFlow_RerouteCreditsRemainingMinutesWithoutCharge(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, clientTok := ts.newClient("Dewi")
		_, tokA := ts.onlineMitra("Ayu")
		start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
		ts.webhook(obj(start, "payment")["id"], "paid")
		pid := obj(start, "pairing")["id"].(string)
		sid := obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+pid+"/accept", tokA, nil), "chat_session")["id"].(string)

		r := ts.do("POST", "/api/client/chat-sessions/"+sid+"/reroute", clientTok, nil)
		require.Equal(t, "INVALID_STATE", r.ErrorCode(), "a reachable mitra's session cannot be rerouted")

		ts.clock.Advance(10*time.Minute + 30*time.Second)
		ts.must(200, "POST", "/api/mitra/status/offline", tokA, nil)
		_, tokB := ts.onlineMitra("Bima")
		charges := len(ts.app.fakeGateway.Charges())
		np := obj(ts.must(201, "POST", "/api/client/chat-sessions/"+sid+"/reroute", clientTok, nil), "pairing")
		require.Equal(t, "blast", np["type"])
		require.Equal(t, "searching", np["status"])
		require.Equal(t, true, np["prepaid"])
		require.Equal(t, float64(19), np["minutes"], "only the remaining whole minutes are credited")
		require.Equal(t, charges, len(ts.app.fakeGateway.Charges()), "a reroute charges nothing")
		old := ts.must(200, "GET", "/api/client/chat-sessions/"+sid, clientTok, nil)
		require.Equal(t, "rerouted", old["end_reason"])

		cs := obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+np["id"].(string)+"/accept", tokB, nil), "chat_session")
		require.Equal(t, float64(19), cs["minutes"])
	})
}

func TestChatFlow_DeactivationEndsSessionsAndStartsPrepaidBlast(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		clientID, clientTok := ts.newClient("Dewi")
		mitraA, tokA := ts.onlineMitra("Ayu")
		start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
		ts.webhook(obj(start, "payment")["id"], "paid")
		pid := obj(start, "pairing")["id"].(string)
		sid := obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+pid+"/accept", tokA, nil), "chat_session")["id"].(string)
		_ = clientID

		ts.must(200, "PATCH", "/api/internal/mitras/"+mitraA.String()+"/status", ts.op, map[string]any{"is_active": false})
		old := ts.must(200, "GET", "/api/client/chat-sessions/"+sid, clientTok, nil)
		require.Equal(t, "ended", old["status"])
		require.Equal(t, "mitra_deactivated", old["end_reason"])
		d := ts.must(200, "GET", "/api/internal/dashboard", ts.op, nil)
		require.Equal(t, float64(0), d["active_sessions"])
		require.Equal(t, float64(0), d["online_count"])
	})
}

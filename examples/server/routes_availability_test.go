package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/payment"
)

func TestAvailabilityRoutes_OnlineHeartbeatBeaconDashboard(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		_, mitraTok := ts.newMitra("Ayu")
		_, clientTok := ts.newClient("Dewi")

		require.Equal(t, false, ts.must(200, "POST", "/api/mitra/status/heartbeat", mitraTok, nil)["online"],
			"an offline mitra learns it is offline from its heartbeat")
		require.Equal(t, true, ts.must(200, "POST", "/api/mitra/status/online", mitraTok, nil)["online"])
		require.Equal(t, true, ts.must(200, "POST", "/api/mitra/status/heartbeat", mitraTok, nil)["online"])

		st := ts.must(200, "GET", "/api/mitra/status", mitraTok, nil)
		require.Equal(t, true, st["online"])
		require.Equal(t, true, st["is_active"])
		require.Equal(t, true, st["reachable"])
		require.Equal(t, float64(0), st["active_sessions"])
		require.Equal(t, float64(1), st["max_concurrent_sessions"])

		// The beacon snapshot is cached for 10 s; step past it to see the change.
		ts.clock.Advance(11 * time.Second)
		ts.must(200, "POST", "/api/mitra/status/heartbeat", mitraTok, nil)
		b := ts.must(200, "GET", "/api/client/mitra-availability", clientTok, nil)
		require.Equal(t, true, b["available"])
		require.Equal(t, float64(1), b["available_count"])
		_, err := time.Parse(time.RFC3339Nano, b["as_of"].(string))
		require.NoError(t, err)

		d := ts.must(200, "GET", "/api/internal/dashboard", ts.op, nil)
		require.Equal(t, float64(1), d["online_count"])

		require.Equal(t, false, ts.must(200, "POST", "/api/mitra/status/offline", mitraTok, nil)["online"])
		d = ts.must(200, "GET", "/api/internal/dashboard", ts.op, nil)
		require.Equal(t, float64(0), d["online_count"])
	})
}

func TestAvailabilityRoutes_DeactivatedMitraHeartbeatIs403(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		id, tok := ts.newMitra("Ayu")
		ts.must(200, "POST", "/api/mitra/status/online", tok, nil)
		m := ts.must(200, "PATCH", "/api/internal/mitras/"+id.String()+"/status", ts.op, map[string]any{"is_active": false})
		require.Equal(t, false, m["is_active"])
		require.Equal(t, false, m["is_online"])
		r := ts.do("POST", "/api/mitra/status/heartbeat", tok, nil)
		require.Equal(t, http.StatusForbidden, r.Status, "deactivation revokes the mitra's tokens at once, and says why")
		require.Equal(t, "MITRA_DEACTIVATED", r.ErrorCode())

		// A token minted after deactivation still cannot heartbeat.
		fresh := ts.token("mitra", id)
		r = ts.do("POST", "/api/mitra/status/heartbeat", fresh, nil)
		require.Equal(t, http.StatusForbidden, r.Status)
		require.Equal(t, "MITRA_DEACTIVATED", r.ErrorCode())
		r = ts.do("POST", "/api/mitra/status/online", fresh, nil)
		require.Equal(t, "MITRA_DEACTIVATED", r.ErrorCode())

		ts.must(200, "PATCH", "/api/internal/mitras/"+id.String()+"/status", ts.op, map[string]any{"is_active": true})
		require.Equal(t, true, ts.must(200, "POST", "/api/mitra/status/online", fresh, nil)["online"])
	})
}

func TestAuth_SteadyStateBeaconSkipsPostgres(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, realBackend)
	_, mitraTok := ts.newMitra("Ayu")
	_, clientTok := ts.newClient("Dewi")
	ts.must(200, "POST", "/api/mitra/status/online", mitraTok, nil)
	ts.must(200, "GET", "/api/client/mitra-availability", clientTok, nil) // warms token cache and snapshot
	before := ts.app.pgQueries()
	for i := range 50 {
		if i == 25 {
			ts.clock.Advance(11 * time.Second) // the shared snapshot expires: recomputed from Valkey
		}
		ts.must(200, "GET", "/api/client/mitra-availability", clientTok, nil)
	}
	require.Equal(t, before, ts.app.pgQueries(), "beacon requests must not query Postgres")
}

// The beacon may be SnapshotTTL old for clients; the dashboard counts now.
func TestDashboard_AvailableCountIsFreshWhileTheBeaconIsCached(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, mitraTok := ts.onlineMitra("Ayu")
		_, clientTok := ts.newClient("Dewi")
		available := func() any { return ts.must(200, "GET", "/api/internal/dashboard", ts.op, nil)["available_count"] }
		beacon := func() any {
			return ts.must(200, "GET", "/api/client/mitra-availability", clientTok, nil)["available_count"]
		}
		require.Equal(t, float64(1), beacon())
		require.Equal(t, float64(1), available())

		_, sessionID, _ := ts.activeSession(mitraTok)
		require.Equal(t, float64(0), available(), "the mitra's one slot is taken")
		require.Equal(t, float64(1), beacon(), "the clients' beacon is still the cached snapshot")

		ts.must(200, "POST", "/api/mitra/chat-sessions/"+sessionID+"/end", mitraTok, nil)
		require.Equal(t, float64(1), available(), "free again at once")
		ts.must(200, "POST", "/api/mitra/status/offline", mitraTok, nil)
		require.Equal(t, float64(0), available())
		require.Equal(t, float64(1), beacon(), "still cached")
		ts.clock.Advance(11 * time.Second)
		require.Equal(t, float64(0), beacon())
	})
}

// The dashboard counts payments waiting for their client (every purpose) apart from the
// chat sessions waiting for their payment: a blast's payment is pending before any chat
// session exists, a targeted chat's session waits for its payment.
func TestDashboard_PendingPaymentsCountsPaymentsNotTheSessionsAwaitingPayment(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, clientTok := ts.newClient("Dewi")
		mitraID, mitraTok := ts.onlineMitra("Ayu")
		type counts struct{ pendingPayments, awaiting, deprecated, active any }
		dashboard := func() counts {
			d := ts.must(200, "GET", "/api/internal/dashboard", ts.op, nil)
			return counts{d["pending_payments"], d["awaiting_payment_sessions"], d["pending_payment_sessions"], d["active_sessions"]}
		}
		require.Equal(t, counts{float64(0), float64(0), float64(0), float64(0)}, dashboard())

		// A blast's payment waits: one pending payment, no session yet.
		start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
		require.Equal(t, counts{float64(1), float64(0), float64(0), float64(0)}, dashboard())
		require.Equal(t, 200, ts.webhook(obj(start, "payment")["id"], "paid").Status)
		accepted := ts.must(200, "POST", "/api/mitra/pairing-offers/"+obj(start, "pairing")["id"].(string)+"/accept", mitraTok, nil)
		require.Equal(t, counts{float64(0), float64(0), float64(0), float64(1)}, dashboard())
		ts.must(200, "POST", "/api/mitra/chat-sessions/"+obj(accepted, "chat_session")["id"].(string)+"/end", mitraTok, nil)

		// "Curhat lagi" accepted: the session awaits its payment, which is pending.
		returning := ts.must(201, "POST", "/api/client/chat/returning", clientTok, map[string]any{"mitra_id": mitraID.String(), "minutes": 30})
		pairingID := obj(returning, "pairing")["id"].(string)
		ts.must(200, "POST", "/api/mitra/pairing-offers/"+pairingID+"/accept", mitraTok, nil)
		require.Equal(t, counts{float64(1), float64(1), float64(1), float64(0)}, dashboard())
		pairing := ts.must(200, "GET", "/api/client/pairings/"+pairingID, clientTok, nil)
		require.Equal(t, 200, ts.webhook(obj(pairing, "payment")["id"], "paid").Status)
		require.Equal(t, counts{float64(0), float64(0), float64(0), float64(1)}, dashboard())

		// An extension's payment is a pending payment too, until it can no longer be paid.
		sessionID := obj(pairing, "chat_session")["id"].(string)
		ts.must(201, "POST", "/api/client/chat-sessions/"+sessionID+"/extensions", clientTok, map[string]any{"minutes": 10})
		require.Equal(t, counts{float64(1), float64(0), float64(0), float64(1)}, dashboard())
		ts.clock.Advance(payment.DefaultTTL)
		require.Equal(t, float64(0), ts.must(200, "GET", "/api/internal/dashboard", ts.op, nil)["pending_payments"],
			"past its expiry, before the sweep marks it expired")
	})
}

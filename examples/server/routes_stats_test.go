package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// statsScenario is a scripted day of the marketplace on the fake clock, driven through the
// API by instances in turn (step i on nodes[i % len(nodes)]). It returns the mitras' ids
// and when it ended (T+12m). Blast timeout 120 s, one session per mitra:
//
//	T+0:00   C1 pays; offered to A and B      T+7:00   C1 ends its chat (client_ended)
//	T+0:30   B declines C1                    T+8:00   C5 pays; offered to A (B is busy)
//	T+1:00   A accepts C1 (60 s)              T+10:00  C5's deadline: failed, refunded, A's offer lapsed
//	T+2:00   C2 pays; offered to B            T+11:00  C6 pays; offered to A, waits
//	T+3:30   B accepts C2 (90 s)              T+12:00  the figures are read
//	T+5:00   C3 pays; nobody free: failed, refunded
//	T+6:00   C4 starts and cancels unpaid
func statsScenario(t *testing.T, nodes []*testServer) (a, b uuid.UUID, end time.Time) {
	t.Helper()
	first := nodes[0]
	step := 0
	node := func() *testServer {
		step++
		return nodes[step%len(nodes)]
	}
	start := first.clock.Now()
	at := func(d time.Duration) { first.clock.Set(start.Add(d)) }
	first.tiers()
	first.setConfig("pairing_blast_timeout_seconds", 120)
	for _, n := range nodes {
		require.Eventually(t, func() bool { return n.app.runtime.BlastTimeout(t.Context()) == 120*time.Second },
			10*time.Second, 10*time.Millisecond, "every instance has the blast timeout")
	}
	a, tokA := first.onlineMitra("Ayu")
	b, tokB := first.onlineMitra("Bima")
	beat := func(toks ...string) {
		for _, tok := range toks {
			node().must(200, "POST", "/api/mitra/status/heartbeat", tok, nil)
		}
	}
	// paid starts a blast for a new client and pays it (the webhook on the first instance,
	// whose fake gateway every instance shares); it returns the pairing and its client.
	paid := func(name string) (pairingID, clientTok string) {
		_, clientTok = first.newClient(name)
		s := node().must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
		require.Equal(t, 200, first.webhook(obj(s, "payment")["id"], "paid").Status)
		return obj(s, "pairing")["id"].(string), clientTok
	}
	status := func(clientTok, pairingID, want string) {
		require.Eventually(t, func() bool {
			return node().pairingView(clientTok, pairingID)["status"] == want
		}, 10*time.Second, 10*time.Millisecond, "pairing %s becomes %s", pairingID, want)
	}

	p1, c1 := paid("C1")
	status(c1, p1, "searching")
	at(30 * time.Second)
	node().must(200, "POST", "/api/mitra/pairing-offers/"+p1+"/decline", tokB, nil)
	at(time.Minute)
	s1 := obj(node().must(200, "POST", "/api/mitra/pairing-offers/"+p1+"/accept", tokA, nil), "chat_session")["id"].(string)

	at(2 * time.Minute)
	beat(tokA, tokB)
	p2, _ := paid("C2")
	at(3*time.Minute + 30*time.Second)
	node().must(200, "POST", "/api/mitra/pairing-offers/"+p2+"/accept", tokB, nil)

	at(5 * time.Minute)
	beat(tokA, tokB)
	p3, c3 := paid("C3")
	status(c3, p3, "failed")

	at(6 * time.Minute)
	_, c4 := first.newClient("C4")
	s4 := node().must(201, "POST", "/api/client/chat/start", c4, map[string]any{"minutes": 30})
	node().must(200, "POST", "/api/client/chat/cancel", c4, map[string]any{"pairing_id": obj(s4, "pairing")["id"]})

	at(7 * time.Minute)
	node().must(200, "POST", "/api/client/chat-sessions/"+s1+"/end", c1, nil)

	at(8 * time.Minute)
	beat(tokA, tokB)
	p5, c5 := paid("C5")
	status(c5, p5, "searching")
	at(10 * time.Minute)
	status(c5, p5, "failed")

	at(11 * time.Minute)
	beat(tokA, tokB)
	p6, c6 := paid("C6")
	status(c6, p6, "searching")
	at(12 * time.Minute)
	return a, b, start.Add(12 * time.Minute)
}

// wantStats are the figures of the scenario at T+12m, by window (25 000 a chat).
func wantStats(end time.Time) map[string]map[string]any {
	window := func(name string, d time.Duration) map[string]any {
		return map[string]any{"window": name, "from": end.Add(-d).Format(time.RFC3339), "to": end.Format(time.RFC3339),
			"currency": "IDR"}
	}
	hour := window("1h", time.Hour)
	for k, v := range map[string]any{
		"paid_pairings": 5, "matched": 2, "abandoned": 1, "failed": 2,
		// C1 answered in 60 s, C2 in 90 s.
		"asa_seconds": 75, "accept_p50_seconds": 60, "accept_p90_seconds": 90,
		"offers_sent": 5, "offers_accepted": 2, "offers_declined": 1, "offers_lapsed": 1,
		"waiting_now": 1, "longest_waiting_seconds": 60,
		"sessions_active": 1, "sessions_completed": 1,
		"gross_paid": 5 * 25000, "refunded": 2 * 25000,
	} {
		hour[k] = v
	}
	// (T+7m, T+12m]: C1's end at T+7m exactly is not in it.
	five := window("5m", 5*time.Minute)
	for k, v := range map[string]any{
		"paid_pairings": 2, "matched": 0, "abandoned": 0, "failed": 1,
		"asa_seconds": nil, "accept_p50_seconds": nil, "accept_p90_seconds": nil,
		"offers_sent": 2, "offers_accepted": 0, "offers_declined": 0, "offers_lapsed": 1,
		"waiting_now": 1, "longest_waiting_seconds": 60,
		"sessions_active": 1, "sessions_completed": 0,
		"gross_paid": 2 * 25000, "refunded": 25000,
	} {
		five[k] = v
	}
	day := window("24h", 24*time.Hour)
	for k, v := range hour {
		if k != "window" && k != "from" && k != "to" {
			day[k] = v
		}
	}
	return map[string]map[string]any{"5m": five, "1h": hour, "24h": day}
}

// jsonOf re-encodes want as the server's JSON would decode (numbers as float64).
func jsonOf(t *testing.T, want any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(want)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

func wantMitraStats(a, b uuid.UUID) map[uuid.UUID]map[string]any {
	return map[uuid.UUID]map[string]any{
		// Offered C1, C5, C6; accepted C1, C5 lapsed. C1's chat from T+1m to T+7m.
		a: {"mitra_id": a.String(), "window": "1h", "offers_received": 3, "accepted": 1, "declined": 0, "lapsed": 1,
			"acceptance_rate": 0.5, "sessions": 1, "minutes_served": 6, "rating": 4.0, "ratings_count": 0},
		// Offered C1, C2; declined C1, accepted C2. C2's chat from T+3m30s, running.
		b: {"mitra_id": b.String(), "window": "1h", "offers_received": 2, "accepted": 1, "declined": 1, "lapsed": 0,
			"acceptance_rate": 0.5, "sessions": 1, "minutes_served": 8.5, "rating": 4.0, "ratings_count": 0},
	}
}

func TestStats_ScriptedScenarioGivesExactFigures(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		a, b, end := statsScenario(t, []*testServer{ts})
		_, viewer := ts.newOperator("viewer")
		for name, want := range wantStats(end) {
			got := ts.must(200, "GET", "/api/internal/stats?window="+name, viewer, nil)
			require.Equal(t, jsonOf(t, want), got, "window %s", name)
		}
		for id, want := range wantMitraStats(a, b) {
			got := ts.must(200, "GET", "/api/internal/mitras/"+id.String()+"/stats?window=1h", viewer, nil)
			require.Equal(t, jsonOf(t, want), got, "mitra %s", id)
		}
		// The gauges, read at scrape time: C6 waits since T+11m.
		m := scrapeMetrics(t, ts)
		require.Equal(t, 1.0, m.must(t, "curhat_pairings_waiting"))
		require.Equal(t, 60.0, m.must(t, "curhat_pairings_longest_wait_seconds"))
	})
}

func TestStats_TwoInstancesAnswerTheSame(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, realBackend)
	other := ts.sibling(ts.app.gateway)
	nodes := []*testServer{ts, other}
	a, b, end := statsScenario(t, nodes)
	for name, want := range wantStats(end) {
		for i, n := range nodes {
			got := n.must(200, "GET", "/api/internal/stats?window="+name, n.op, nil)
			require.Equal(t, jsonOf(t, want), got, "instance %d, window %s", i, name)
		}
	}
	for id, want := range wantMitraStats(a, b) {
		for i, n := range nodes {
			got := n.must(200, "GET", "/api/internal/mitras/"+id.String()+"/stats?window=1h", n.op, nil)
			require.Equal(t, jsonOf(t, want), got, "instance %d, mitra %s", i, id)
		}
	}
}

func TestStats_WindowIsValidated(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		mitra, _ := ts.newMitra("Ayu")
		for _, path := range []string{"/api/internal/stats", "/api/internal/mitras/" + mitra.String() + "/stats"} {
			for _, q := range []string{"", "?window=", "?window=2h", "?window=5M", "?window=%201h", "?window=1d"} {
				r := ts.do("GET", path+q, ts.op, nil)
				require.Equal(t, http.StatusBadRequest, r.Status, "%s%s: %s", path, q, r.Raw)
				require.Equal(t, "VALIDATION_FAILED", r.ErrorCode(), path+q)
				require.Equal(t, "window", r.errorField(), path+q)
			}
		}
		r := ts.do("GET", "/api/internal/mitras/"+uuid.NewString()+"/stats?window=1h", ts.op, nil)
		require.Equal(t, http.StatusNotFound, r.Status, "%s", r.Raw)
		require.Equal(t, "NOT_FOUND", r.ErrorCode())
		r = ts.do("GET", "/api/internal/mitras/not-a-uuid/stats?window=1h", ts.op, nil)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Raw)
		// An empty marketplace: zeros, and null where nothing matched or was decided.
		got := ts.must(200, "GET", "/api/internal/mitras/"+mitra.String()+"/stats?window=5m", ts.op, nil)
		require.Nil(t, got["acceptance_rate"])
		require.EqualValues(t, 4.0, got["rating"], "no ratings: the prior")
		require.EqualValues(t, 0, got["ratings_count"])
		require.EqualValues(t, 0, got["minutes_served"])
		st := ts.must(200, "GET", "/api/internal/stats?window=24h", ts.op, nil)
		require.Nil(t, st["asa_seconds"])
		require.EqualValues(t, 0, st["waiting_now"])
		require.EqualValues(t, 0, st["longest_waiting_seconds"])
	})
}

func TestStats_OperatorStreamCarriesTheStatsEvent(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, viewer := ts.newOperator("viewer")
		s := openStream(t, ts.http.Client(), ts.http.URL+"/api/internal/events", viewer)
		// At once to a stream that opens, then every 5 s whether anything changed or not.
		s.requireEvent(t, 10*time.Second, `"kind":"stats"`)
		_, clientTok := ts.newClient("Dewi")
		ts.paidStart(clientTok) // nobody online: failed and refunded
		s.requireEvent(t, 10*time.Second, `"window":"5m"`)
		s.requireEvent(t, 10*time.Second, `"failed":1`)
	})
}

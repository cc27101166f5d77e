package main

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// The pairing policies of issue #16 through the HTTP API: the queue, ring offers, missed
// offers. Each turns on with PUT /api/internal/config/{key}.

func (ts *testServer) setConfig(key string, value any) {
	ts.t.Helper()
	ts.must(200, "PUT", "/api/internal/config/"+key, ts.op, map[string]any{"value": value})
}

// paidStart starts a 30-minute blast for the client and pays it; it returns the pairing
// and payment ids.
func (ts *testServer) paidStart(clientTok string) (string, string) {
	ts.t.Helper()
	start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
	payID := obj(start, "payment")["id"].(string)
	require.Equal(ts.t, 200, ts.webhook(payID, "paid").Status)
	return obj(start, "pairing")["id"].(string), payID
}

// pairingView is GET /api/client/pairings/{id}'s pairing.
func (ts *testServer) pairingView(clientTok, id string) map[string]any {
	ts.t.Helper()
	return obj(ts.must(200, "GET", "/api/client/pairings/"+id, clientTok, nil), "pairing")
}

// offerIDs lists the pairing ids of the mitra's live offers.
func (ts *testServer) offerIDs(mitraTok string) []string {
	ts.t.Helper()
	var out []string
	for _, o := range ts.must(200, "GET", "/api/mitra/pairing-offers", mitraTok, nil)["offers"].([]any) {
		out = append(out, o.(map[string]any)["pairing_id"].(string))
	}
	return out
}

// payments counts the payment sessions the fake gateway was asked to charge.
func (ts *testServer) charges() int { return len(ts.app.fakeGateway.Charges()) }

func TestQueueRoutes_PaidClientsWaitInOrderAndAMitraOnlineTakesTheFirst(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		ts.setConfig("pairing_queue_enabled", true)
		_, tok1 := ts.newClient("Dewi")
		_, tok2 := ts.newClient("Rina")
		events1 := openStream(t, ts.http.Client(), ts.http.URL+"/api/client/events", tok1)
		events2 := openStream(t, ts.http.Client(), ts.http.URL+"/api/client/events", tok2)

		p1, pay1 := ts.paidStart(tok1)
		ts.clock.Advance(time.Second)
		p2, _ := ts.paidStart(tok2)
		v1, v2 := ts.pairingView(tok1, p1), ts.pairingView(tok2, p2)
		require.Equal(t, "queued", v1["status"])
		require.EqualValues(t, 1, v1["queue_position"])
		require.Nil(t, v1["estimated_wait_seconds"], "unknown until a queued chat matched")
		require.EqualValues(t, 2, v2["queue_position"])
		events1.requireEvent(t, 5*time.Second, `"queue_position":1`)
		events2.requireEvent(t, 5*time.Second, `"queue_position":2`)
		require.Equal(t, "paid", ts.must(200, "GET", "/api/client/payments/"+pay1, tok1, nil)["status"], "nothing refunded")

		ts.clock.Advance(59 * time.Second)
		_, ayu := ts.onlineMitra("Ayu")
		offers := ts.must(200, "GET", "/api/mitra/pairing-offers", ayu, nil)["offers"].([]any)
		require.Len(t, offers, 1, "client 1 only")
		offer := offers[0].(map[string]any)
		require.Equal(t, p1, offer["pairing_id"])
		require.Equal(t, true, offer["queued"])
		require.Equal(t, ts.clock.Now().Add(20*time.Second).UTC().Format(time.RFC3339Nano), offer["expires_at"], "its own countdown")

		ts.must(200, "POST", "/api/mitra/pairing-offers/"+p1+"/accept", ayu, nil)
		require.Equal(t, "matched", ts.pairingView(tok1, p1)["status"])
		v2 = ts.pairingView(tok2, p2)
		require.EqualValues(t, 1, v2["queue_position"], "after the match client 2 is first")
		require.EqualValues(t, 60, v2["estimated_wait_seconds"], "the first queued wait, from payment to match")
		events2.requireEvent(t, 5*time.Second, `"estimated_wait_seconds":60`)
		require.Nil(t, ts.pairingView(tok1, p1)["queue_position"], "no place once matched")
	})
}

func TestQueueRoutes_AStartBeyondTheMaxLengthIs409QueueFullWithNoPayment(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		ts.setConfig("pairing_queue_enabled", true)
		ts.setConfig("pairing_queue_max_length", 1)
		_, tok1 := ts.newClient("Dewi")
		ts.paidStart(tok1)
		charged := ts.charges()

		client2, tok2 := ts.newClient("Rina")
		r := ts.do("POST", "/api/client/chat/start", tok2, map[string]any{"minutes": 30})
		require.Equal(t, 409, r.Status)
		require.Equal(t, "QUEUE_FULL", r.ErrorCode())
		require.Equal(t, charged, ts.charges(), "no payment session for the refused start")
		if ts.app.pool != nil {
			var n int
			require.NoError(t, ts.app.pool.QueryRow(context.Background(),
				`SELECT count(*) FROM payment_sessions WHERE client_id = $1`, client2).Scan(&n))
			require.Zero(t, n, "no payment row")
		}
	})
}

func TestQueueRoutes_MaxWaitFailsWithQueueTimeoutRefundedOnce(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		ts.setConfig("pairing_queue_enabled", true)
		ts.setConfig("pairing_queue_max_wait_seconds", 10)
		_, tok := ts.newClient("Dewi")
		events := openStream(t, ts.http.Client(), ts.http.URL+"/api/client/events", tok)
		p, pay := ts.paidStart(tok)
		ts.clock.Advance(10 * time.Second)

		v := ts.pairingView(tok, p)
		require.Equal(t, "failed", v["status"])
		require.Equal(t, "queue_timeout", v["failure_reason"])
		require.Equal(t, "refunded", ts.must(200, "GET", "/api/client/payments/"+pay, tok, nil)["status"])
		events.requireEvent(t, 5*time.Second, `"reason":"queue_timeout"`)
		failures := ts.must(200, "GET", "/api/internal/failed-pairings?reason=queue_timeout", ts.op, nil)
		require.EqualValues(t, 1, failures["total"])
		_, err := ts.app.pairer.SweepTimeouts(context.Background())
		require.NoError(t, err)
		require.Equal(t, 1, ts.app.fakeGateway.RefundsFor(uuid.MustParse(pay)), "refunded exactly once")
		ts.requireSettled()
	})
}

func TestQueueRoutes_CancelWhileQueuedRefunds(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		ts.setConfig("pairing_queue_enabled", true)
		_, tok := ts.newClient("Dewi")
		p, pay := ts.paidStart(tok)
		r := ts.must(200, "POST", "/api/client/chat/cancel", tok, map[string]any{"pairing_id": p})
		require.Equal(t, "cancelled", obj(r, "pairing")["status"])
		require.Equal(t, "refunded", ts.must(200, "GET", "/api/client/payments/"+pay, tok, nil)["status"])
		ts.requireSettled()
	})
}

// onlineOneSecondApart creates n mitras that go online one second after another.
func (ts *testServer) onlineOneSecondApart(n int) []string {
	ts.t.Helper()
	toks := make([]string, n)
	for i := range toks {
		if i > 0 {
			ts.clock.Advance(time.Second)
		}
		_, toks[i] = ts.onlineMitra("mitra")
	}
	return toks
}

func TestRingRoutes_TheTwoIdleLongestFirstThenEveryoneAndALateAcceptIsAlreadyMatched(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		ts.setConfig("pairing_offer_policy", "ring")
		ts.setConfig("pairing_ring_size", 2)
		ts.setConfig("pairing_ring_interval_seconds", 10)
		mitras := ts.onlineOneSecondApart(4)
		_, tok := ts.newClient("Dewi")
		p, _ := ts.paidStart(tok)

		offered := func() []int {
			var out []int
			for i, m := range mitras {
				if slices.Contains(ts.offerIDs(m), p) {
					out = append(out, i)
				}
			}
			return out
		}
		require.Equal(t, []int{0, 1}, offered(), "the two idle longest")
		ts.clock.Advance(10 * time.Second)
		require.Equal(t, []int{0, 1, 2, 3}, offered(), "after the interval, all four")

		ts.must(200, "POST", "/api/mitra/pairing-offers/"+p+"/accept", mitras[3], nil)
		r := ts.do("POST", "/api/mitra/pairing-offers/"+p+"/accept", mitras[0], nil)
		require.Equal(t, 409, r.Status)
		require.Equal(t, "ALREADY_MATCHED", r.ErrorCode())
	})
}

// Fairness, short, through the server and the Valkey mirror: 10 equally available mitras
// that always accept share 60 blasts.
func TestRingRoutes_TenMitrasShareSixtyBlastsFairly(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		ts.setConfig("pairing_offer_policy", "ring")
		mitras := ts.onlineOneSecondApart(10)
		_, tok := ts.newClient("Dewi")
		rng := rand.New(rand.NewPCG(6, 10))
		matched := make([]int, len(mitras))
		for round := range 60 {
			ts.clock.Advance(time.Second)
			if round%10 == 0 {
				for _, m := range mitras { // stay fresh: 2 s pass per round
					ts.must(200, "POST", "/api/mitra/status/heartbeat", m, nil)
				}
			}
			p, _ := ts.paidStart(tok)
			var offered []int
			for i, m := range mitras {
				if slices.Contains(ts.offerIDs(m), p) {
					offered = append(offered, i)
				}
			}
			require.Len(t, offered, 3, "one ring of pairing_ring_size (3)")
			w := offered[rng.IntN(len(offered))]
			s := obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+p+"/accept", mitras[w], nil), "chat_session")
			ts.clock.Advance(time.Second)
			ts.must(200, "POST", "/api/mitra/chat-sessions/"+s["id"].(string)+"/end", mitras[w], nil)
			matched[w]++
		}
		for i, n := range matched {
			require.GreaterOrEqual(t, n, 3, "mitra %d: %v", i, matched)
			require.LessOrEqual(t, n, 9, "mitra %d: %v", i, matched)
		}
	})
}

func TestMissedOffersRoutes_TwoUnansweredBlastsSendTheMitraAwayUntilItGoesOnline(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		ts.setConfig("mitra_missed_offers_before_away", 2)
		mitraID, ayu := ts.onlineMitra("Ayu")
		mitraEvents := openStream(t, ts.http.Client(), ts.http.URL+"/api/mitra/events", ayu)
		_, tok := ts.newClient("Dewi")
		for range 2 {
			ts.paidStart(tok)
			ts.clock.Advance(time.Minute) // the blast times out unanswered
			ts.must(200, "POST", "/api/mitra/status/heartbeat", ayu, nil)
		}
		st := ts.must(200, "GET", "/api/mitra/status", ayu, nil)
		require.Equal(t, false, st["online"])
		require.Equal(t, "missed_offers", st["away_reason"])
		require.Equal(t, "missed_offers", ts.must(200, "GET", "/api/internal/mitras/"+mitraID.String(), ts.op, nil)["away_reason"])
		mitraEvents.requireEvent(t, 5*time.Second, `"reason":"missed_offers"`)

		p, _ := ts.paidStart(tok)
		v := ts.pairingView(tok, p)
		require.Equal(t, "no_mitra_available", v["failure_reason"], "the third blast finds nobody")

		ts.must(200, "POST", "/api/mitra/status/online", ayu, nil)
		st = ts.must(200, "GET", "/api/mitra/status", ayu, nil)
		require.Equal(t, true, st["online"])
		require.Nil(t, st["away_reason"])
		require.Nil(t, ts.must(200, "GET", "/api/internal/mitras/"+mitraID.String(), ts.op, nil)["away_reason"])
		ts.paidStart(tok)
		ts.clock.Advance(time.Minute)
		require.Equal(t, true, ts.must(200, "GET", "/api/mitra/status", ayu, nil)["online"], "going online reset the count")
	})
}

func TestConfigRoutes_PairingPolicyKeysAreValidated(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	for _, c := range []struct {
		key   string
		value any
	}{
		{"pairing_queue_max_wait_seconds", 9},
		{"pairing_queue_max_length", 100001},
		{"pairing_offer_policy", "round_robin"},
		{"pairing_ring_size", 0},
		{"pairing_ring_interval_seconds", 301},
		{"mitra_missed_offers_before_away", 101},
		{"pairing_queue_enabled", "yes"},
	} {
		r := ts.do("PUT", "/api/internal/config/"+c.key, ts.op, map[string]any{"value": c.value})
		require.Equal(t, 400, r.Status, "%s = %v", c.key, c.value)
		require.Equal(t, "VALIDATION_FAILED", r.ErrorCode())
	}
	items := ts.must(200, "GET", "/api/internal/config", ts.op, nil)["items"].([]any)
	got := map[string]any{}
	for _, it := range items {
		m := it.(map[string]any)
		got[m["key"].(string)] = m["value"]
	}
	require.Equal(t, "blast", got["pairing_offer_policy"])
	require.Equal(t, false, got["pairing_queue_enabled"])
	require.EqualValues(t, 0, got["mitra_missed_offers_before_away"])
}

func TestMetrics_PairingPoliciesQueueLengthWaitRingsAndMitrasSentAway(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		ts.setConfig("pairing_queue_enabled", true)
		ts.setConfig("pairing_offer_policy", "ring")
		ts.setConfig("mitra_missed_offers_before_away", 1)
		_, tok1 := ts.newClient("Dewi")
		_, tok2 := ts.newClient("Rina")
		p1, _ := ts.paidStart(tok1)
		ts.clock.Advance(time.Second)
		ts.paidStart(tok2)
		m := scrapeMetrics(t, ts)
		require.Equal(t, float64(2), m.must(t, "curhat_pairing_queue_length"))
		require.Zero(t, m.must(t, "curhat_pairing_queue_wait_seconds_count", "outcome", "matched"))
		require.Zero(t, m.must(t, "curhat_mitras_sent_away_total", "reason", "missed_offers"))

		ts.clock.Advance(29 * time.Second)
		_, ayu := ts.onlineMitra("Ayu")
		ts.must(200, "POST", "/api/mitra/pairing-offers/"+p1+"/accept", ayu, nil)
		_, bima := ts.onlineMitra("Bima")
		require.Len(t, ts.offerIDs(bima), 1)
		ts.clock.Advance(20 * time.Second) // Bima lets the queued offer lapse: sent away

		_, tok3 := ts.newClient("Sari")
		ts.must(200, "POST", "/api/mitra/status/online", bima, nil)
		cancelled := ts.offerIDs(bima)[0]
		ts.must(200, "POST", "/api/client/chat/cancel", tok2, map[string]any{"pairing_id": cancelled})
		p3, _ := ts.paidStart(tok3) // the queue is empty now: a ring blast
		ts.must(200, "POST", "/api/mitra/pairing-offers/"+p3+"/accept", bima, nil)

		m = scrapeMetrics(t, ts)
		require.Zero(t, m.must(t, "curhat_pairing_queue_length"))
		require.Equal(t, float64(1), m.must(t, "curhat_pairing_queue_wait_seconds_count", "outcome", "matched"))
		require.Equal(t, float64(30), m.must(t, "curhat_pairing_queue_wait_seconds_sum", "outcome", "matched"))
		require.Equal(t, float64(1), m.must(t, "curhat_pairing_queue_wait_seconds_count", "outcome", "cancelled"))
		require.Equal(t, float64(1), m.must(t, "curhat_pairing_ring_at_match_count"))
		require.Equal(t, float64(1), m.must(t, "curhat_mitras_sent_away_total", "reason", "missed_offers"))
	})
}

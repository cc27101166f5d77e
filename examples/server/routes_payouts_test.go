package main

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/payout"
)

// testDestination is a valid payout destination body.
var testDestination = map[string]any{"channel_code": "ID_BCA", "account_number": "1234567890", "account_holder_name": "Ayu Lestari"}

// The earning of one paid 30-minute session (ts.tiers: 25,000) at the default fee of 30 %.
const sessionEarning = 25000 - 7500

// payoutServer is a server whose sweeps exist (ts.runSweep), with earnings available as
// soon as their session ends and a payout minimum of 10,000. The sweeps' own cadences
// are longer than any test advances the clock, so that only the test runs them.
func payoutServer(t *testing.T, b backend) *testServer {
	ts := newTestServer(t, b, func(c *Config) {
		c.Sweeps, c.EarningsClearance, c.PayoutRetry = true, 7*time.Minute, 7*time.Minute
	})
	ts.tiers()
	ts.setConfig("earnings_clearance_hours", 0)
	ts.setConfig("payout_minimum_amount", 10000)
	return ts
}

// earn: the mitra of mitraTok (online) serves a paid 30-minute session, which ends; the
// clearance sweep makes its earning available.
func (ts *testServer) earn(mitraTok ...string) {
	ts.t.Helper()
	for _, tok := range mitraTok {
		clientTok, sessionID, _ := ts.activeSession(tok)
		ts.must(200, "POST", "/api/client/chat-sessions/"+sessionID+"/end", clientTok, nil)
	}
	ts.clock.Advance(time.Second)
	_, r := ts.runSweep("earnings_clearance")
	require.Equal(ts.t, len(mitraTok), r.Counts["cleared"])
}

// runPayouts runs payouts (for one mitra when mitra is set) and returns the payouts created.
func (ts *testServer) runPayouts(mitra *uuid.UUID) []map[string]any {
	ts.t.Helper()
	body := map[string]any{}
	if mitra != nil {
		body["mitra_id"] = mitra.String()
	}
	var out []map[string]any
	for _, it := range ts.must(200, "POST", "/api/internal/payouts/run", ts.op, body)["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

// payouts lists the payouts of a query ("status=failed", …) and returns them and the total.
func (ts *testServer) payouts(query string) ([]map[string]any, float64) {
	ts.t.Helper()
	body := ts.must(200, "GET", "/api/internal/payouts?page_size=100&"+query, ts.op, nil)
	var out []map[string]any
	for _, it := range body["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out, body["total"].(float64)
}

func (ts *testServer) earnings(mitra uuid.UUID) map[string]any {
	ts.t.Helper()
	return ts.must(200, "GET", "/api/internal/mitras/"+mitra.String()+"/earnings", ts.op, nil)
}

// requireBooksBalance requires a zero imbalance and no ledger finding, and returns the
// accounts.
func (ts *testServer) requireBooksBalance() map[string]any {
	ts.t.Helper()
	bal := ts.must(200, "GET", "/api/internal/ledger/balance", ts.op, nil)
	require.Equal(ts.t, float64(0), bal["imbalance"])
	findings, err := ts.app.client.LedgerFindings(context.Background())
	require.NoError(ts.t, err)
	require.Empty(ts.t, findings)
	return obj(bal, "accounts")
}

func TestPayoutRoutes_ARunPaysTheAvailableBalanceOutToTheMitrasDestination(t *testing.T) {
	t.Parallel()
	for _, b := range []backend{memoryBackend, realBackend} {
		t.Run(b.String(), func(t *testing.T) {
			t.Parallel()
			ts := payoutServer(t, b)
			mitra, mitraTok := ts.onlineMitra("Ayu")
			ts.earn(mitraTok)

			// The mitra sets where it is paid, and reads it back.
			r := ts.do("GET", "/api/mitra/payout-destination", mitraTok, nil)
			require.Equal(t, http.StatusNotFound, r.Status, "%s", r.Raw)
			require.Equal(t, "NOT_FOUND", r.ErrorCode())
			set := ts.must(200, "PUT", "/api/mitra/payout-destination", mitraTok, testDestination)
			require.Equal(t, ts.clock.Now().UTC().Format(time.RFC3339Nano), set["updated_at"])
			delete(set, "updated_at")
			require.Equal(t, testDestination, set)
			got := ts.must(200, "GET", "/api/mitra/payout-destination", mitraTok, nil)
			delete(got, "updated_at")
			require.Equal(t, testDestination, got)

			require.Equal(t, float64(25000), ts.requireBooksBalance()["gateway"])
			created := ts.runPayouts(nil)
			require.Len(t, created, 1)
			p := created[0]
			id := p["id"].(string)
			require.Equal(t, map[string]any{"id": id, "mitra_id": mitra.String(), "amount": float64(sessionEarning), "currency": "IDR",
				"status": "succeeded", "provider_ref": "fake_po_" + id, "failure_reason": nil,
				"created_at": p["created_at"], "updated_at": p["updated_at"]}, p)
			require.Equal(t, 1, ts.app.fakePayouts.Sends(uuid.MustParse(id)))

			// Available went to paid out, and the money left the gateway.
			e := ts.earnings(mitra)
			require.Equal(t, float64(0), e["available"])
			require.Equal(t, float64(0), e["in_flight"])
			require.Equal(t, float64(sessionEarning), e["paid_out"])
			require.Equal(t, e, ts.must(200, "GET", "/api/mitra/earnings", mitraTok, nil))
			accounts := ts.requireBooksBalance()
			require.Equal(t, float64(25000-sessionEarning), accounts["gateway"])
			require.Equal(t, float64(0), accounts["mitra_available"])
			require.Equal(t, float64(0), accounts["payouts_in_flight"])

			// The list, by status and by mitra.
			items, total := ts.payouts("status=succeeded")
			require.Equal(t, float64(1), total)
			require.Equal(t, p, items[0])
			_, total = ts.payouts("mitra_id=" + mitra.String())
			require.Equal(t, float64(1), total)
			_, total = ts.payouts("mitra_id=" + uuid.NewString())
			require.Equal(t, float64(0), total)
			_, total = ts.payouts("status=failed")
			require.Equal(t, float64(0), total)
			page := ts.must(200, "GET", "/api/internal/payouts?page=2&page_size=1", ts.op, nil)
			require.Equal(t, map[string]any{"items": []any{}, "page": float64(2), "page_size": float64(1), "total": float64(1)}, page)

			// Nothing is left to pay: a run creates nothing, and asked for the mitra it says why.
			require.Empty(t, ts.runPayouts(nil))
			r = ts.do("POST", "/api/internal/payouts/run", ts.op, map[string]any{"mitra_id": mitra.String()})
			require.Equal(t, http.StatusConflict, r.Status, "%s", r.Raw)
			require.Equal(t, "NOT_ELIGIBLE", r.ErrorCode())
			require.Contains(t, string(r.Raw), "no available balance")

			m := scrapeMetrics(t, ts)
			require.Equal(t, float64(1), m.must(t, "curhat_payouts", "status", "succeeded"))
			for _, s := range []string{"pending", "processing", "failed", "reversed"} {
				require.Equal(t, float64(0), m.must(t, "curhat_payouts", "status", s), s)
			}
			require.Equal(t, float64(sessionEarning), m.must(t, "curhat_payouts_paid_out_amount"))
			ts.requireSettled()
		})
	}
}

func TestPayoutRoutes_ARefusedPayoutFailsItsAmountIsAvailableAgainAndTheNextRunPaysItOnce(t *testing.T) {
	t.Parallel()
	bothBackendsWith(t, payoutServer, func(t *testing.T, ts *testServer) {
		mitra, mitraTok := ts.onlineMitra("Ayu")
		ts.must(200, "PUT", "/api/internal/mitras/"+mitra.String()+"/payout-destination", ts.op, testDestination)
		ts.earn(mitraTok)

		require.Equal(t, float64(1), ts.must(200, "POST", "/api/internal/fake-gateway/payout-failures", ts.op, map[string]any{"count": 1})["count"])
		created := ts.runPayouts(&mitra)
		require.Len(t, created, 1)
		failed := created[0]
		require.Equal(t, "failed", failed["status"])
		require.Equal(t, payout.FakeReason, failed["failure_reason"])
		require.Equal(t, float64(sessionEarning), failed["amount"])
		e := ts.earnings(mitra)
		require.Equal(t, float64(sessionEarning), e["available"], "the amount is available again")
		require.Equal(t, float64(0), e["in_flight"])
		require.Equal(t, float64(0), e["paid_out"])
		accounts := ts.requireBooksBalance()
		require.Equal(t, float64(25000), accounts["gateway"], "nothing left the gateway")
		require.Equal(t, float64(sessionEarning), accounts["mitra_available"])

		// The next run pays it, once, as a new payout; the failed one stays failed.
		created = ts.runPayouts(nil)
		require.Len(t, created, 1)
		require.Equal(t, "succeeded", created[0]["status"])
		require.Equal(t, float64(sessionEarning), created[0]["amount"])
		require.NotEqual(t, failed["id"], created[0]["id"])
		require.Empty(t, ts.runPayouts(nil))
		_, total := ts.payouts("mitra_id=" + mitra.String())
		require.Equal(t, float64(2), total)
		items, _ := ts.payouts("status=failed")
		require.Len(t, items, 1)
		require.Equal(t, failed["id"], items[0]["id"])
		e = ts.earnings(mitra)
		require.Equal(t, float64(0), e["available"])
		require.Equal(t, float64(sessionEarning), e["paid_out"])
		require.Equal(t, float64(25000-sessionEarning), ts.requireBooksBalance()["gateway"])
	})
}

func TestPayoutRoutes_ConcurrentRunsCreateOnePayoutPerMitra(t *testing.T) {
	t.Parallel()
	bothBackendsWith(t, payoutServer, func(t *testing.T, ts *testServer) {
		var mitras []uuid.UUID
		var toks []string
		for _, name := range []string{"Ayu", "Bima", "Citra"} {
			id, tok := ts.onlineMitra(name)
			ts.must(200, "PUT", "/api/internal/mitras/"+id.String()+"/payout-destination", ts.op, testDestination)
			mitras, toks = append(mitras, id), append(toks, tok)
		}
		ts.earn(toks...)

		const runs = 6
		created := make([][]any, runs)
		var wg sync.WaitGroup
		for i := range runs {
			wg.Go(func() {
				// Half the runs name a mitra; a refused one (409 NOT_ELIGIBLE: another run
				// paid it) creates nothing.
				var body any = map[string]any{}
				if i%2 == 1 {
					body = map[string]any{"mitra_id": mitras[i%len(mitras)].String()}
				}
				r := ts.do("POST", "/api/internal/payouts/run", ts.op, body)
				if r.Status == http.StatusConflict {
					assertNotEligible(t, r)
					return
				}
				if r.Status != http.StatusOK {
					t.Errorf("run %d: %d %s", i, r.Status, r.Raw)
					return
				}
				created[i] = r.Body["items"].([]any)
			})
		}
		wg.Wait()
		perMitra := map[string]int{}
		for _, items := range created {
			for _, it := range items {
				perMitra[it.(map[string]any)["mitra_id"].(string)]++
			}
		}
		require.Equal(t, map[string]int{mitras[0].String(): 1, mitras[1].String(): 1, mitras[2].String(): 1}, perMitra)
		items, total := ts.payouts("")
		require.Equal(t, float64(3), total)
		for _, p := range items {
			require.Equal(t, "succeeded", p["status"])
			require.Equal(t, float64(sessionEarning), p["amount"])
		}
		require.Equal(t, float64(25000*3-sessionEarning*3), ts.requireBooksBalance()["gateway"])
	})
}

// assertNotEligible checks a 409 of a run from another goroutine (no require there).
func assertNotEligible(t *testing.T, r response) {
	if r.ErrorCode() != "NOT_ELIGIBLE" {
		t.Errorf("a refused run: %s", r.Raw)
	}
}

func TestPayoutRoutes_AMitraWithoutADestinationBelowTheMinimumOrWithAnOpenPayoutGetsNone(t *testing.T) {
	t.Parallel()
	bothBackendsWith(t, payoutServer, func(t *testing.T, ts *testServer) {
		bare, bareTok := ts.onlineMitra("Ayu")    // no destination
		under, underTok := ts.onlineMitra("Bima") // below the minimum
		ts.must(200, "PUT", "/api/internal/mitras/"+under.String()+"/payout-destination", ts.op, testDestination)
		ts.earn(bareTok, underTok)
		ts.setConfig("payout_minimum_amount", sessionEarning+1)

		notEligible := func(mitra uuid.UUID, why string) {
			t.Helper()
			r := ts.do("POST", "/api/internal/payouts/run", ts.op, map[string]any{"mitra_id": mitra.String()})
			require.Equal(t, http.StatusConflict, r.Status, "%s", r.Raw)
			require.Equal(t, "NOT_ELIGIBLE", r.ErrorCode())
			require.Contains(t, string(r.Raw), why)
		}
		notEligible(bare, "the mitra has no payout destination")
		notEligible(under, "is below payout_minimum_amount")
		require.Empty(t, ts.runPayouts(nil), "a general run pays neither")
		_, total := ts.payouts("")
		require.Equal(t, float64(0), total)
		for _, m := range []uuid.UUID{bare, under} {
			require.Equal(t, float64(sessionEarning), ts.earnings(m)["available"])
		}

		// An unknown mitra is 404, a malformed id 400, and the body is checked.
		r := ts.do("POST", "/api/internal/payouts/run", ts.op, map[string]any{"mitra_id": uuid.NewString()})
		require.Equal(t, http.StatusNotFound, r.Status, "%s", r.Raw)
		require.Equal(t, "NOT_FOUND", r.ErrorCode())
		r = ts.do("POST", "/api/internal/payouts/run", ts.op, map[string]any{"mitra_id": "nope"})
		require.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Raw)
		require.Equal(t, "INVALID_ID", r.ErrorCode())
		r = ts.do("POST", "/api/internal/payouts/run", ts.op, map[string]any{"mitra": under.String()})
		require.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Raw)
		require.Equal(t, "VALIDATION_FAILED", r.ErrorCode())

		// At the minimum exactly, the mitra is paid; an open payout (the provider answers
		// later) holds the next one back.
		ts.setConfig("payout_minimum_amount", sessionEarning)
		ts.app.fakePayouts.SetAsync(true)
		created := ts.runPayouts(&under)
		require.Len(t, created, 1)
		require.Equal(t, "processing", created[0]["status"])
		require.Equal(t, float64(sessionEarning), ts.earnings(under)["in_flight"])
		notEligible(under, "the mitra has an open payout")
		// An empty body runs every eligible mitra: none.
		require.Empty(t, ts.must(200, "POST", "/api/internal/payouts/run", ts.op, "")["items"])
		require.Equal(t, float64(sessionEarning), ts.requireBooksBalance()["payouts_in_flight"])
	})
}

func TestPayoutRoutes_APayoutTheProviderCouldNotTakeIsSentAgainByTheRetrySweep(t *testing.T) {
	t.Parallel()
	bothBackendsWith(t, payoutServer, func(t *testing.T, ts *testServer) {
		mitra, mitraTok := ts.onlineMitra("Ayu")
		ts.must(200, "PUT", "/api/internal/mitras/"+mitra.String()+"/payout-destination", ts.op, testDestination)
		ts.earn(mitraTok)
		ts.app.fakePayouts.SetDown(true)
		created := ts.runPayouts(nil)
		require.Len(t, created, 1)
		require.Equal(t, "pending", created[0]["status"])
		require.Nil(t, created[0]["provider_ref"])
		ts.app.fakePayouts.SetDown(false)

		ts.clock.Advance(payout.DefaultSendLease + time.Second)
		sw, r := ts.runSweep("payout_retry")
		require.Equal(t, 7*time.Minute, sw.Interval(), "PAYOUT_RETRY_SECONDS reaches the sweep")
		require.Equal(t, 1, r.Counts["sent"])
		items, _ := ts.payouts("mitra_id=" + mitra.String())
		require.Len(t, items, 1)
		require.Equal(t, "succeeded", items[0]["status"])
		require.Equal(t, float64(sessionEarning), ts.earnings(mitra)["paid_out"])
		ts.requireBooksBalance()
	})
}

func TestPayoutRoutes_DestinationsAndListsRefuseBadInputAndOtherRoles(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		mitra, mitraTok := ts.newMitra("Ayu")
		_, clientTok := ts.newClient("Dewi")
		with := func(k string, v any) map[string]any {
			out := map[string]any{}
			for key, val := range testDestination {
				out[key] = val
			}
			out[k] = v
			return out
		}
		for _, c := range []struct {
			body  any
			field string
		}{
			{with("channel_code", "bca"), "channel_code"},
			{with("channel_code", ""), "channel_code"},
			{with("account_number", "12ab5678"), "account_number"},
			{with("account_number", "123"), "account_number"},
			{with("account_holder_name", ""), "account_holder_name"},
			{with("account_holder_name", "   "), "account_holder_name"},
			{with("account_holder_name", "Ayu\u0007"), "account_holder_name"},
			{map[string]any{"channel_code": "ID_BCA", "account_number": "1234567890"}, "account_holder_name"},
		} {
			for _, route := range []struct{ path, tok string }{
				{"/api/mitra/payout-destination", mitraTok},
				{"/api/internal/mitras/" + mitra.String() + "/payout-destination", ts.op},
			} {
				r := ts.do("PUT", route.path, route.tok, c.body)
				require.Equal(t, http.StatusBadRequest, r.Status, "%v: %s", c.body, r.Raw)
				require.Equal(t, "VALIDATION_FAILED", r.ErrorCode())
				require.Equal(t, c.field, r.errorField(), "%v", c.body)
			}
		}
		r := ts.do("PUT", "/api/mitra/payout-destination", mitraTok, with("bank", "BCA"))
		require.Equal(t, http.StatusBadRequest, r.Status, "an unknown key: %s", r.Raw)
		r = ts.do("GET", "/api/mitra/payout-destination", mitraTok, nil)
		require.Equal(t, http.StatusNotFound, r.Status, "nothing was stored: %s", r.Raw)

		r = ts.do("PUT", "/api/internal/mitras/"+uuid.NewString()+"/payout-destination", ts.op, testDestination)
		require.Equal(t, http.StatusNotFound, r.Status, "%s", r.Raw)
		require.Equal(t, "NOT_FOUND", r.ErrorCode())
		r = ts.do("PUT", "/api/internal/mitras/nope/payout-destination", ts.op, testDestination)
		require.Equal(t, "INVALID_ID", r.ErrorCode())
		// An operator's write is the mitra's to read.
		ts.must(200, "PUT", "/api/internal/mitras/"+mitra.String()+"/payout-destination", ts.op, with("channel_code", "ID_OVO"))
		require.Equal(t, "ID_OVO", ts.must(200, "GET", "/api/mitra/payout-destination", mitraTok, nil)["channel_code"])

		for query, field := range map[string]string{
			"status=paid":   "status",
			"mitra_id=nope": "mitra_id",
			"page=0":        "page",
			"page_size=101": "page_size",
			"page_size=x":   "page_size",
		} {
			r := ts.do("GET", "/api/internal/payouts?"+query, ts.op, nil)
			require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", query, r.Raw)
			require.Equal(t, "VALIDATION_FAILED", r.ErrorCode(), query)
			require.Equal(t, field, r.errorField(), query)
		}
		for _, body := range []any{map[string]any{}, map[string]any{"count": -1}, map[string]any{"count": 1001}, map[string]any{"count": "1"}} {
			r := ts.do("POST", "/api/internal/fake-gateway/payout-failures", ts.op, body)
			require.Equal(t, http.StatusBadRequest, r.Status, "%v: %s", body, r.Raw)
		}

		for _, c := range []struct {
			method, path, token string
			status              int
		}{
			{"GET", "/api/mitra/payout-destination", "", http.StatusUnauthorized},
			{"GET", "/api/mitra/payout-destination", clientTok, http.StatusForbidden},
			{"GET", "/api/mitra/payout-destination", ts.op, http.StatusForbidden},
			{"PUT", "/api/mitra/payout-destination", clientTok, http.StatusForbidden},
			{"PUT", "/api/internal/mitras/" + mitra.String() + "/payout-destination", mitraTok, http.StatusForbidden},
			{"POST", "/api/internal/payouts/run", mitraTok, http.StatusForbidden},
			{"POST", "/api/internal/payouts/run", "", http.StatusUnauthorized},
			{"GET", "/api/internal/payouts", clientTok, http.StatusForbidden},
			{"POST", "/api/internal/fake-gateway/payout-failures", mitraTok, http.StatusForbidden},
		} {
			var body any
			if c.method != "GET" {
				body = testDestination
			}
			r := ts.do(c.method, c.path, c.token, body)
			require.Equal(t, c.status, r.Status, "%s %s: %s", c.method, c.path, r.Raw)
		}
	})
}

// Without the fake gateway there is no payout provider: runs say so, destinations still
// work, and the fake provider's switch does not exist.
func TestPayoutRoutes_WithoutAPayoutProviderARunIsRefused(t *testing.T) {
	t.Parallel()
	ts := newTestServerWith(t, memoryBackend, func(o *appOptions) { o.Gateway = providerGateway{payment.NewFakeGateway()} })
	require.Nil(t, ts.app.payouts)
	mitra, _ := ts.newMitra("Ayu")
	ts.must(200, "PUT", "/api/internal/mitras/"+mitra.String()+"/payout-destination", ts.op, testDestination)
	r := ts.do("POST", "/api/internal/payouts/run", ts.op, nil)
	require.Equal(t, http.StatusConflict, r.Status, "%s", r.Raw)
	require.Equal(t, "NO_PAYOUT_PROVIDER", r.ErrorCode())
	r = ts.do("POST", "/api/internal/fake-gateway/payout-failures", ts.op, map[string]any{"count": 1})
	require.Equal(t, http.StatusNotFound, r.Status, "%s", r.Raw)
}

// bothBackendsWith is bothBackends with the server that start makes.
func bothBackendsWith(t *testing.T, start func(t *testing.T, b backend) *testServer, fn func(t *testing.T, ts *testServer)) {
	for _, b := range []backend{memoryBackend, realBackend} {
		t.Run(b.String(), func(t *testing.T) {
			t.Parallel()
			fn(t, start(t, b))
		})
	}
}

package main

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/sweeps"
)

// runSweep runs the client's sweep of that name once, as its loop would (the server must
// run its sweeps: Config.Sweeps), and returns the sweep and its report.
func (ts *testServer) runSweep(name string) (*sweeps.Sweep, sweeps.Report) {
	ts.t.Helper()
	for _, sw := range ts.app.client.Sweeps() {
		if sw.Name() == name {
			r, err := sw.RunOnce(context.Background())
			require.NoError(ts.t, err)
			return sw, r
		}
	}
	require.FailNow(ts.t, "no sweep "+name)
	return nil, sweeps.Report{}
}

func TestEarningsRoutes_AnEndedSessionEarnsPendingThenTheSweepMakesItAvailable(t *testing.T) {
	t.Parallel()
	for _, b := range []backend{memoryBackend, realBackend} {
		t.Run(b.String(), func(t *testing.T) {
			t.Parallel()
			// The sweeps run (on the test's clock, which does not move here) so that the
			// clearance sweep exists at the cadence EARNINGS_CLEARANCE_SWEEP_SECONDS sets.
			ts := newTestServer(t, b, func(c *Config) { c.Sweeps, c.EarningsClearance = true, 7*time.Minute })
			ts.createTier("session", 30, 30000)
			ts.setConfig("platform_fee_percent", 30)
			ts.setConfig("earnings_clearance_hours", 0) // due as soon as the session ends
			mitra, mitraTok := ts.onlineMitra("Ayu")

			clientTok, sessionID, paymentID := ts.activeSession(mitraTok)
			require.Equal(t, float64(30000), ts.must(200, "GET", "/api/client/payments/"+paymentID, clientTok, nil)["amount"])
			// Paid, not delivered yet: the money is the client's.
			bal := ts.must(200, "GET", "/api/internal/ledger/balance", ts.op, nil)
			require.Equal(t, map[string]any{"gateway": float64(30000), "client_funds": float64(30000), "platform_revenue": float64(0),
				"mitra_pending": float64(0), "mitra_available": float64(0), "payouts_in_flight": float64(0), "mitra_receivable": float64(0)},
				bal["accounts"])

			ended := ts.clock.Now()
			ts.must(200, "POST", "/api/client/chat-sessions/"+sessionID+"/end", clientTok, nil)

			// 30,000 at 30 %: a fee of 9,000 and an earning of 21,000, pending until cleared.
			mine := ts.must(200, "GET", "/api/mitra/earnings", mitraTok, nil)
			require.Equal(t, map[string]any{"currency": "IDR", "pending": float64(21000), "available": float64(0), "in_flight": float64(0),
				"paid_out": float64(0), "receivable": float64(0), "next_clearance_at": ended.UTC().Format(time.RFC3339Nano)}, mine)
			require.Equal(t, mine, ts.must(200, "GET", "/api/internal/mitras/"+mitra.String()+"/earnings", ts.op, nil),
				"the operator sees what the mitra sees")
			bal = ts.must(200, "GET", "/api/internal/ledger/balance", ts.op, nil)
			require.Equal(t, "IDR", bal["currency"])
			require.Equal(t, float64(0), bal["imbalance"])
			require.Equal(t, map[string]any{"gateway": float64(30000), "client_funds": float64(0), "platform_revenue": float64(9000),
				"mitra_pending": float64(21000), "mitra_available": float64(0), "payouts_in_flight": float64(0), "mitra_receivable": float64(0)},
				bal["accounts"])

			entries := ts.must(200, "GET", "/api/mitra/earnings/entries", mitraTok, nil)
			require.Equal(t, float64(1), entries["total"])
			require.Equal(t, float64(1), entries["page"])
			require.Equal(t, float64(20), entries["page_size"])
			items := entries["items"].([]any)
			require.Len(t, items, 1)
			line := items[0].(map[string]any)
			require.NotEmpty(t, line["txn_id"])
			delete(line, "txn_id")
			require.Equal(t, map[string]any{"kind": "session_value", "account": "mitra_pending", "amount": float64(21000),
				"chat_session_id": sessionID, "payout_id": nil, "created_at": ended.UTC().Format(time.RFC3339Nano)}, line)

			dash := ts.must(200, "GET", "/api/internal/dashboard", ts.op, nil)
			require.Equal(t, float64(0), dash["ledger_imbalance"])
			require.Equal(t, float64(9000), dash["platform_revenue_today"])
			require.Equal(t, float64(0), scrapeMetrics(t, ts).must(t, "curhat_ledger_imbalance"))

			// The clearance sweep makes the due earning available (a minute later: the
			// statement below orders its lines after the earning's).
			ts.clock.Advance(time.Minute)
			sw, r := ts.runSweep("earnings_clearance")
			require.Equal(t, 7*time.Minute, sw.Interval(), "EARNINGS_CLEARANCE_SWEEP_SECONDS reaches the sweep")
			require.Equal(t, 1, r.Counts["cleared"])
			mine = ts.must(200, "GET", "/api/mitra/earnings", mitraTok, nil)
			require.Equal(t, float64(0), mine["pending"])
			require.Equal(t, float64(21000), mine["available"])
			require.Nil(t, mine["next_clearance_at"], "nothing left to clear")
			bal = ts.must(200, "GET", "/api/internal/ledger/balance", ts.op, nil)
			require.Equal(t, float64(21000), obj(bal, "accounts")["mitra_available"])
			require.Equal(t, float64(0), obj(bal, "accounts")["mitra_pending"])
			require.Equal(t, float64(0), bal["imbalance"])
			_, r = ts.runSweep("earnings_clearance")
			require.Equal(t, 0, r.Counts["cleared"], "cleared once")
			sound := ts.must(200, "GET", "/api/internal/ledger/findings", ts.op, nil)
			require.Equal(t, []any{}, sound["items"], "the books are sound")

			// The statement, newest first: the clearance takes the earning out of pending (−)
			// and puts it in available (+); one line per page.
			var kinds, accounts []any
			var amounts []float64
			for page := 1; page <= 3; page++ {
				entries = ts.must(200, "GET", "/api/mitra/earnings/entries?page_size=1&page="+strconv.Itoa(page), mitraTok, nil)
				require.Equal(t, float64(3), entries["total"])
				items := entries["items"].([]any)
				require.Len(t, items, 1)
				it := items[0].(map[string]any)
				kinds, accounts, amounts = append(kinds, it["kind"]), append(accounts, it["account"]), append(amounts, it["amount"].(float64))
			}
			require.ElementsMatch(t, []any{"earning_cleared", "earning_cleared", "session_value"}, kinds)
			require.Equal(t, "session_value", kinds[2], "the oldest last")
			require.ElementsMatch(t, []any{"mitra_pending", "mitra_available", "mitra_pending"}, accounts)
			require.ElementsMatch(t, []float64{21000, -21000, 21000}, amounts)

			findings, err := ts.app.client.LedgerFindings(context.Background())
			require.NoError(t, err)
			require.Empty(t, findings)
			ts.requireSettled()
		})
	}
}

func TestEarningsRoutes_EmptyLedgerUnknownMitraBadPagesAndRoles(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		mitra, mitraTok := ts.newMitra("Ayu")
		_, clientTok := ts.newClient("Dewi")

		// Nothing paid yet: zeros in the server's currency.
		zero := map[string]any{"currency": "IDR", "pending": float64(0), "available": float64(0), "in_flight": float64(0),
			"paid_out": float64(0), "receivable": float64(0), "next_clearance_at": nil}
		require.Equal(t, zero, ts.must(200, "GET", "/api/mitra/earnings", mitraTok, nil))
		require.Equal(t, zero, ts.must(200, "GET", "/api/internal/mitras/"+mitra.String()+"/earnings", ts.op, nil))
		require.Equal(t, map[string]any{"items": []any{}, "page": float64(2), "page_size": float64(5), "total": float64(0)},
			ts.must(200, "GET", "/api/mitra/earnings/entries?page=2&page_size=5", mitraTok, nil))
		bal := ts.must(200, "GET", "/api/internal/ledger/balance", ts.op, nil)
		require.Equal(t, "IDR", bal["currency"])
		require.Equal(t, float64(0), bal["imbalance"])
		for account, v := range obj(bal, "accounts") {
			require.Equal(t, float64(0), v, account)
		}
		require.Len(t, obj(bal, "accounts"), 7)

		// An unknown mitra is 404, as on GET /api/internal/mitras/{id}; a malformed id 400.
		r := ts.do("GET", "/api/internal/mitras/"+uuid.NewString()+"/earnings", ts.op, nil)
		require.Equal(t, http.StatusNotFound, r.Status, "%s", r.Raw)
		require.Equal(t, "NOT_FOUND", r.ErrorCode())
		r = ts.do("GET", "/api/internal/mitras/not-a-uuid/earnings", ts.op, nil)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Raw)
		require.Equal(t, "INVALID_ID", r.ErrorCode())

		for query, field := range map[string]string{
			"page_size=101": "page_size",
			"page_size=0":   "page_size",
			"page_size=x":   "page_size",
			"page=0":        "page",
			"page=1000001":  "page",
		} {
			r := ts.do("GET", "/api/mitra/earnings/entries?"+query, mitraTok, nil)
			require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", query, r.Raw)
			require.Equal(t, "VALIDATION_FAILED", r.ErrorCode(), query)
			require.Equal(t, field, r.errorField(), query)
		}

		// Each route is its role's: the others are refused, and no token is 401.
		for _, c := range []struct {
			path, token string
			status      int
		}{
			{"/api/mitra/earnings", "", http.StatusUnauthorized},
			{"/api/mitra/earnings", clientTok, http.StatusForbidden},
			{"/api/mitra/earnings", ts.op, http.StatusForbidden},
			{"/api/mitra/earnings/entries", clientTok, http.StatusForbidden},
			{"/api/internal/ledger/balance", "", http.StatusUnauthorized},
			{"/api/internal/ledger/balance", mitraTok, http.StatusForbidden},
			{"/api/internal/ledger/balance", clientTok, http.StatusForbidden},
			{"/api/internal/mitras/" + mitra.String() + "/earnings", mitraTok, http.StatusForbidden},
		} {
			r := ts.do("GET", c.path, c.token, nil)
			require.Equal(t, c.status, r.Status, "%s: %s", c.path, r.Raw)
		}
	})
}

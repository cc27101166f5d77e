package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/payment"
)

// refuseRefunds tells the fake gateway, through the operator route, to refuse the next n
// refunds.
func (ts *testServer) refuseRefunds(n int) {
	ts.t.Helper()
	ts.must(200, "POST", "/api/internal/fake-gateway/refund-failures", ts.op, map[string]any{"count": n})
}

// refunds lists the refunds of a status (all of them: "") through the operator route.
func (ts *testServer) refunds(status string) []map[string]any {
	ts.t.Helper()
	body := ts.must(200, "GET", "/api/internal/refunds?page_size=100&status="+status, ts.op, nil)
	var out []map[string]any
	for _, it := range body["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

// requireSettled requires that every paid amount has an outcome: payment.Reconcile with no
// grace is empty.
func (ts *testServer) requireSettled() {
	ts.t.Helper()
	unsettled, err := ts.app.payments.Reconcile(context.Background(), 0)
	require.NoError(ts.t, err)
	require.Empty(ts.t, unsettled)
}

// failedBlast: a fresh client pays a blast while nobody is online; it returns the
// client's token and the payment id.
func (ts *testServer) failedBlast() (string, string) {
	ts.t.Helper()
	_, tok := ts.newClient("Dewi")
	start := ts.must(201, "POST", "/api/client/chat/start", tok, map[string]any{"minutes": 30})
	payID := obj(start, "payment")["id"].(string)
	require.Equal(ts.t, 200, ts.webhook(payID, "paid").Status)
	require.Equal(ts.t, "failed", obj(ts.must(200, "GET", "/api/client/pairings/"+obj(start, "pairing")["id"].(string), tok, nil), "pairing")["status"])
	return tok, payID
}

// activeSession: a fresh client's paid blast accepted by the mitra of mitraTok.
func (ts *testServer) activeSession(mitraTok string) (clientTok, sessionID, paymentID string) {
	ts.t.Helper()
	_, clientTok = ts.newClient("Dewi")
	start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
	paymentID = obj(start, "payment")["id"].(string)
	ts.webhook(paymentID, "paid")
	pid := obj(start, "pairing")["id"].(string)
	sessionID = obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+pid+"/accept", mitraTok, nil), "chat_session")["id"].(string)
	return clientTok, sessionID, paymentID
}

func TestRefundRoutes_ListTheFailedRefundsAndRetryOneNow(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		ts.refuseRefunds(1)
		clientTok, payID := ts.failedBlast()

		failed := ts.refunds("failed")
		require.Len(t, failed, 1)
		r := failed[0]
		require.Equal(t, payID, r["payment_id"])
		require.Equal(t, float64(25000), r["amount"])
		require.Equal(t, "IDR", r["currency"])
		require.Equal(t, "failed", r["status"])
		require.Equal(t, float64(1), r["attempts"])
		require.Equal(t, ts.clock.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano), r["next_attempt_at"], "retried after the 60 s base")
		require.Contains(t, r["last_error"], "declined")
		require.Equal(t, "pairing no_mitra_available", r["reason"])
		pay := ts.must(200, "GET", "/api/client/payments/"+payID, clientTok, nil)
		require.Equal(t, "refund_failed", pay["status"])
		require.Equal(t, float64(0), pay["refunded_amount"])

		for _, q := range []string{"status=bogus", "page=0", "page=x", "page_size=101", "page_size=0", "page=1000001"} {
			res := ts.do("GET", "/api/internal/refunds?"+q, ts.op, nil)
			require.Equal(t, 400, res.Status, q)
			require.Equal(t, "VALIDATION_FAILED", res.ErrorCode(), q)
		}

		id := r["id"].(string)
		done := ts.must(200, "POST", "/api/internal/refunds/"+id+"/retry", ts.op, nil)
		require.Equal(t, "succeeded", done["status"])
		require.Equal(t, float64(2), done["attempts"])
		require.Nil(t, done["next_attempt_at"])
		require.NotContains(t, done, "last_error")
		pay = ts.must(200, "GET", "/api/client/payments/"+payID, clientTok, nil)
		require.Equal(t, "refunded", pay["status"])
		require.Equal(t, float64(25000), pay["refunded_amount"])
		fails := ts.must(200, "GET", "/api/internal/failed-pairings", ts.op, nil)["items"].([]any)
		require.Equal(t, "refunded", fails[0].(map[string]any)["refund_status"], "the failure row follows its refund")

		res := ts.do("POST", "/api/internal/refunds/"+id+"/retry", ts.op, nil)
		require.Equal(t, 409, res.Status)
		require.Equal(t, "INVALID_STATE", res.ErrorCode(), "a succeeded refund is not retried")
		require.Equal(t, 404, ts.do("POST", "/api/internal/refunds/"+uuid.NewString()+"/retry", ts.op, nil).Status)
		require.Equal(t, "INVALID_ID", ts.do("POST", "/api/internal/refunds/nope/retry", ts.op, nil).ErrorCode())

		all := ts.must(200, "GET", "/api/internal/refunds", ts.op, nil)
		require.Equal(t, float64(1), all["total"])
		require.Equal(t, float64(1), all["page"])
		require.Equal(t, float64(20), all["page_size"])
		require.Equal(t, 1, ts.app.fakeGateway.RefundsFor(uuid.MustParse(payID)))
		ts.requireSettled()
	})
}

// heldRefunds is the fake provider with a switch: once hold is called, the next refund
// sent waits until release (or its context ends), so that its attempt stays in flight
// while other requests try; every other call goes straight through.
type heldRefunds struct {
	*payment.FakeGateway
	armed    atomic.Bool
	once     sync.Once
	entered  chan struct{} // closed when the held call arrived
	released chan struct{}
	release  func()
}

func newHeldRefunds() *heldRefunds {
	g := &heldRefunds{FakeGateway: payment.NewFakeGateway(), entered: make(chan struct{}), released: make(chan struct{})}
	var once sync.Once
	g.release = func() { once.Do(func() { close(g.released) }) }
	return g
}

func (g *heldRefunds) hold() { g.armed.Store(true) }

func (g *heldRefunds) Refund(ctx context.Context, req payment.RefundRequest) (payment.RefundReceipt, error) {
	held := false
	if g.armed.Load() {
		g.once.Do(func() { held = true; close(g.entered) })
	}
	if held {
		select {
		case <-g.released:
		case <-ctx.Done():
			return payment.RefundReceipt{}, ctx.Err()
		}
	}
	return g.FakeGateway.Refund(ctx, req)
}

// sibling starts another instance over ts's Postgres and Valkey, on ts's clock, with
// gateway as its provider; it stops when the test ends.
func (ts *testServer) sibling(gateway payment.Gateway) *testServer {
	ts.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	app, err := NewApp(ctx, ts.app.cfg, slog.New(slog.DiscardHandler), appOptions{Clock: ts.clock, Pool: ts.app.pool,
		Gateway: gateway, WrapHandler: func(h http.Handler) http.Handler { return contractHandler(ts.t, h) }})
	require.NoError(ts.t, err)
	ts.t.Cleanup(func() { app.Close(context.Background()) })
	require.NoError(ts.t, app.Start(ctx))
	require.Eventually(ts.t, app.busFollowed, 10*time.Second, time.Millisecond, "bus subscriptions up")
	srv := NewServer(app)
	hs := httptest.NewServer(contractHandler(ts.t, srv))
	ts.t.Cleanup(hs.Close)
	return &testServer{t: ts.t, app: app, srv: srv, http: hs, clock: ts.clock, op: ts.op}
}

func TestRefundRoutes_ConcurrentRetriesOfOneRefundMakeOneAttempt(t *testing.T) {
	t.Parallel()
	for _, b := range []backend{memoryBackend, realBackend} {
		t.Run(b.String(), func(t *testing.T) {
			t.Parallel()
			gw := newHeldRefunds()
			t.Cleanup(gw.release)
			ts := newTestServerWith(t, b, func(o *appOptions) { o.Gateway = gw })
			ts.tiers()
			gw.FailNextRefunds(1)
			// A blast paid while nobody is online fails and is refunded; the provider refuses.
			// (Its confirmation goes to the service: a server whose gateway is not the bare
			// fake has none of the fake's routes.)
			_, tok := ts.newClient("Dewi")
			start := ts.must(201, "POST", "/api/client/chat/start", tok, map[string]any{"minutes": 30})
			payID := obj(start, "payment")["id"].(string)
			_, err := ts.app.payments.MarkPaid(context.Background(), uuid.MustParse(payID), "fake_ch_"+payID)
			require.NoError(t, err)
			failed := ts.refunds("failed")
			require.Len(t, failed, 1)
			id := failed[0]["id"].(string)
			// Postgres: operators on two instances. In memory there is one instance.
			instances := []*testServer{ts}
			if b == realBackend {
				instances = append(instances, ts.sibling(gw))
			}

			type answer struct {
				status int
				code   string
				err    error
			}
			retry := func(srv *testServer) answer {
				req, err := http.NewRequest("POST", srv.http.URL+"/api/internal/refunds/"+id+"/retry", nil)
				if err != nil {
					return answer{err: err}
				}
				req.Header.Set("Authorization", "Bearer "+srv.op)
				resp, err := srv.http.Client().Do(req)
				if err != nil {
					return answer{err: err}
				}
				defer resp.Body.Close()
				var body struct {
					Error struct{ Code string } `json:"error"`
				}
				err = json.NewDecoder(resp.Body).Decode(&body)
				return answer{status: resp.StatusCode, code: body.Error.Code, err: err}
			}

			gw.hold()
			const n = 8
			answers := make(chan answer, n)
			begin := make(chan struct{})
			for i := range n {
				go func() {
					<-begin
					answers <- retry(instances[i%len(instances)])
				}()
			}
			close(begin)
			deadline := time.After(20 * time.Second)
			select {
			case <-gw.entered:
			case <-deadline:
				t.Fatal("no retry reached the provider")
			}
			var got []answer
			for range n - 1 {
				select {
				case a := <-answers:
					got = append(got, a)
				case <-deadline:
					t.Fatal("the retries that lost the claim did not answer while the attempt was in flight")
				}
			}
			gw.release()
			select {
			case a := <-answers:
				got = append(got, a)
			case <-deadline:
				t.Fatal("the held retry did not answer")
			}
			byAnswer := map[string]int{}
			for _, a := range got {
				require.NoError(t, a.err)
				byAnswer[fmt.Sprint(a.status, " ", a.code)]++
			}
			require.Equal(t, map[string]int{"200 ": 1, "409 REFUND_IN_FLIGHT": n - 1}, byAnswer)
			require.Equal(t, 2, gw.RefundCalls(uuid.MustParse(id)), "the refused attempt and one retry reached the provider")
			require.Equal(t, "succeeded", ts.refunds("")[0]["status"])
			require.Equal(t, 1, gw.RefundsFor(uuid.MustParse(payID)))
			ts.requireSettled()
		})
	}
}

func TestFakeGatewayRoute_RefusesTheNextRefunds(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	ts.tiers()
	for _, body := range []any{map[string]any{}, map[string]any{"count": -1}, map[string]any{"count": 1001},
		map[string]any{"count": "2"}, map[string]any{"count": 2, "extra": true}, map[string]any{"count": 2, "mode": "sometimes"}} {
		res := ts.do("POST", "/api/internal/fake-gateway/refund-failures", ts.op, body)
		require.Equal(t, 400, res.Status, "%v", body)
		require.Equal(t, "VALIDATION_FAILED", res.ErrorCode(), "%v", body)
	}
	require.Equal(t, float64(2), ts.must(200, "POST", "/api/internal/fake-gateway/refund-failures", ts.op,
		map[string]any{"count": 2})["count"])
	ts.failedBlast()
	ts.failedBlast()
	_, third := ts.failedBlast()
	require.Len(t, ts.refunds("failed"), 2, "the next two refunds were refused")
	require.Len(t, ts.refunds("succeeded"), 1)
	require.Equal(t, 1, ts.app.fakeGateway.RefundsFor(uuid.MustParse(third)))

	ts.refuseRefunds(5)
	ts.refuseRefunds(0) // stops refusing
	ts.failedBlast()
	require.Len(t, ts.refunds("succeeded"), 2)
}

// providerGateway stands for a real provider's gateway: not the fake one.
type providerGateway struct{ payment.Gateway }

func TestFakeGatewayRoute_IsNotFoundWithoutTheFakeGateway(t *testing.T) {
	t.Parallel()
	ts := newTestServerWith(t, memoryBackend, func(o *appOptions) { o.Gateway = providerGateway{payment.NewFakeGateway()} })
	require.Nil(t, ts.app.fakeGateway)
	res := ts.do("POST", "/api/internal/fake-gateway/refund-failures", ts.op, map[string]any{"count": 1})
	require.Equal(t, 404, res.Status)
	require.Equal(t, "NOT_FOUND", res.ErrorCode())
	_, clientTok := ts.newClient("Dewi")
	res = ts.do("POST", "/api/internal/fake-gateway/refund-failures", clientTok, map[string]any{"count": 1})
	require.Equal(t, 404, res.Status, "the route does not exist, for anybody")
}

func TestDashboard_CountsPaidMoneyWithoutAnOutcomeAfterTenMinutes(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		unsettled := func() any { return ts.must(200, "GET", "/api/internal/dashboard", ts.op, nil)["unsettled_payments"] }
		require.Equal(t, float64(0), unsettled())
		ts.refuseRefunds(1000)
		ts.failedBlast()
		require.Equal(t, float64(0), unsettled(), "within the grace")
		ts.clock.Advance(curhat.DefaultUnsettledGrace + time.Second)
		require.Equal(t, float64(1), unsettled(), "a refund that has not gone through for ten minutes")

		ts.refuseRefunds(0)
		ts.must(200, "POST", "/api/internal/refunds/"+ts.refunds("failed")[0]["id"].(string)+"/retry", ts.op, nil)
		require.Equal(t, float64(0), unsettled())
	})
}

func TestReroute_DeactivatingTheOnlyBusyMitraRefundsTheUnusedMinutesAndExtension(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers() // 30 minutes for 25000, 10 more for 10000
		mitraID, mitraTok := ts.onlineMitra("Ayu")
		clientTok, sid, chatPay := ts.activeSession(mitraTok)
		ext := ts.must(201, "POST", "/api/client/chat-sessions/"+sid+"/extensions", clientTok, map[string]any{"minutes": 10})
		extPay := obj(ext, "payment")["id"].(string)
		require.Equal(t, 200, ts.webhook(extPay, "paid").Status)
		require.Equal(t, float64(40), ts.must(200, "GET", "/api/client/chat-sessions/"+sid, clientTok, nil)["minutes"])

		ts.clock.Advance(12*time.Minute + 30*time.Second) // 27.5 of 40 minutes left
		ts.must(200, "PATCH", "/api/internal/mitras/"+mitraID.String()+"/status", ts.op, map[string]any{"is_active": false})
		old := ts.must(200, "GET", "/api/client/chat-sessions/"+sid, clientTok, nil)
		require.Equal(t, "mitra_deactivated", old["end_reason"])

		// Nobody is free: the prepaid blast of 27 minutes fails at once and refunds
		// floor(35000 × 27 / 40) = 23625: the extension's 10000, then 13625 of the chat.
		fails := ts.must(200, "GET", "/api/internal/failed-pairings", ts.op, nil)["items"].([]any)
		require.Len(t, fails, 1)
		f := fails[0].(map[string]any)
		require.Equal(t, "no_mitra_available", f["reason"])
		require.Equal(t, float64(23625), f["amount"])
		require.Equal(t, "refunded", f["refund_status"])
		p := ts.must(200, "GET", "/api/client/payments/"+extPay, clientTok, nil)
		require.Equal(t, "refunded", p["status"])
		require.Equal(t, float64(10000), p["refunded_amount"])
		p = ts.must(200, "GET", "/api/client/payments/"+chatPay, clientTok, nil)
		require.Equal(t, "partially_refunded", p["status"])
		require.Equal(t, float64(13625), p["refunded_amount"])
		require.Equal(t, int64(13625), ts.app.fakeGateway.RefundedAmount(uuid.MustParse(chatPay)))
		require.Equal(t, int64(10000), ts.app.fakeGateway.RefundedAmount(uuid.MustParse(extPay)))
		ts.requireSettled()
	})
}

func TestRefunds_EverySourceIsRetriedUntilItGoesThrough(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		ts.tiers()
		ts.refuseRefunds(1000)

		// A blast that found nobody.
		ts.failedBlast()
		// A search the client cancelled.
		_, m1 := ts.onlineMitra("Ayu")
		_, clientTok := ts.newClient("Dewi")
		start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
		ts.webhook(obj(start, "payment")["id"], "paid")
		ts.must(200, "POST", "/api/client/chat/cancel", clientTok, map[string]any{"pairing_id": obj(start, "pairing")["id"]})
		// An extension paid after its session ended.
		extClient, sid, _ := ts.activeSession(m1)
		ext := ts.must(201, "POST", "/api/client/chat-sessions/"+sid+"/extensions", extClient, map[string]any{"minutes": 10})
		ts.must(200, "POST", "/api/client/chat-sessions/"+sid+"/end", extClient, nil)
		require.Equal(t, 200, ts.webhook(obj(ext, "payment")["id"], "paid").Status)
		// A reroute that found nobody (the mitra deactivated).
		m2ID, m2 := ts.onlineMitra("Bima")
		ts.must(200, "POST", "/api/mitra/status/offline", m1, nil)
		ts.activeSession(m2)
		ts.clock.Advance(5 * time.Minute)
		ts.must(200, "PATCH", "/api/internal/mitras/"+m2ID.String()+"/status", ts.op, map[string]any{"is_active": false})
		// A payment confirmed after its session expired.
		_, lateTok := ts.newClient("Eko")
		late := ts.must(201, "POST", "/api/client/chat/start", lateTok, map[string]any{"minutes": 30})
		ts.clock.Advance(16 * time.Minute)
		require.Equal(t, 200, ts.webhook(obj(late, "payment")["id"], "paid").Status)

		failed := ts.refunds("failed")
		require.Len(t, failed, 5, "one refused refund per source")
		unsettled, err := ts.app.payments.Reconcile(ctx, 0)
		require.NoError(t, err)
		require.Len(t, unsettled, 5)

		ts.refuseRefunds(0)
		ts.clock.Advance(payment.DefaultRefundRetryBase)
		rep, err := ts.app.payments.RetryRefunds(ctx)
		require.NoError(t, err)
		require.Equal(t, 5, rep.Succeeded)
		require.Empty(t, ts.refunds("failed"))
		require.Len(t, ts.refunds("succeeded"), 5)
		for _, it := range ts.must(200, "GET", "/api/internal/failed-pairings", ts.op, nil)["items"].([]any) {
			require.Equal(t, "refunded", it.(map[string]any)["refund_status"])
		}
		ts.requireSettled()
	})
}

// setRefundMode tells the fake gateway, through the operator route, to answer the next
// count refunds as mode says (refuse, not_possible, processing).
func (ts *testServer) setRefundMode(mode string, count int) {
	ts.t.Helper()
	got := ts.must(200, "POST", "/api/internal/fake-gateway/refund-failures", ts.op, map[string]any{"count": count, "mode": mode})
	require.Equal(ts.t, map[string]any{"count": float64(count), "mode": mode}, got)
}

// findingsAbout returns the ledger's findings that name the payment payID.
func (ts *testServer) findingsAbout(payID string) []any {
	ts.t.Helper()
	var out []any
	for _, it := range ts.must(200, "GET", "/api/internal/ledger/findings", ts.op, nil)["items"].([]any) {
		if it.(map[string]any)["payment_id"] == payID {
			out = append(out, it)
		}
	}
	return out
}

func TestRefundRoutes_ARefundTheProviderCannotMakeIsManualAndSettledByHand(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		ts.tiers()
		ts.setRefundMode("not_possible", 1)
		clientTok, payID := ts.failedBlast()

		manual := ts.refunds("manual")
		require.Len(t, manual, 1)
		r := manual[0]
		id := r["id"].(string)
		require.Equal(t, payID, r["payment_id"])
		require.Equal(t, "manual", r["status"])
		require.Equal(t, float64(1), r["attempts"])
		require.Nil(t, r["next_attempt_at"], "never retried")
		require.Contains(t, r["last_error"], "takes no refunds")
		require.Nil(t, r["note"])
		require.Empty(t, ts.refunds("failed"))
		pay := ts.must(200, "GET", "/api/client/payments/"+payID, clientTok, nil)
		require.Equal(t, "refund_failed", pay["status"])
		require.Equal(t, float64(0), pay["refunded_amount"])

		// The sweep leaves it; a retry says it must be paid by hand.
		ts.clock.Advance(time.Hour)
		rep, err := ts.app.payments.RetryRefunds(ctx)
		require.NoError(t, err)
		require.Zero(t, rep.Attempted, "%+v", rep)
		res := ts.do("POST", "/api/internal/refunds/"+id+"/retry", ts.op, nil)
		require.Equal(t, 409, res.Status)
		require.Equal(t, "REFUND_MANUAL", res.ErrorCode())
		require.Contains(t, res.Body["error"].(map[string]any)["message"], "by hand")
		// The failed pairing's refund action says the same.
		failures := ts.must(200, "GET", "/api/internal/failed-pairings", ts.op, nil)["items"].([]any)
		require.Len(t, failures, 1)
		fid := failures[0].(map[string]any)["id"].(string)
		res = ts.do("POST", "/api/internal/failed-pairings/"+fid+"/actions", ts.op, map[string]any{"action": "refund"})
		require.Equal(t, 409, res.Status)
		require.Equal(t, "REFUND_MANUAL", res.ErrorCode())
		require.Equal(t, "manual", ts.refunds("")[0]["status"])
		require.Zero(t, ts.app.fakeGateway.RefundsFor(uuid.MustParse(payID)))
		require.NotEmpty(t, ts.findingsAbout(payID), "the ledger holds its money for nobody until it is settled")

		for _, body := range []any{map[string]any{}, map[string]any{"note": ""}, map[string]any{"note": " \n"},
			map[string]any{"note": strings.Repeat("é", 251)}, map[string]any{"note": 5}, map[string]any{"note": "a\x00b"},
			map[string]any{"note": "paid", "by": "me"}} {
			res := ts.do("POST", "/api/internal/refunds/"+id+"/settle-manually", ts.op, body)
			require.Equal(t, 400, res.Status, "%v", body)
			require.Equal(t, "VALIDATION_FAILED", res.ErrorCode(), "%v", body)
		}
		note := map[string]any{"note": "bank transfer BT-0042 to the client's account"}
		require.Equal(t, 404, ts.do("POST", "/api/internal/refunds/"+uuid.NewString()+"/settle-manually", ts.op, note).Status)
		require.Equal(t, "INVALID_ID", ts.do("POST", "/api/internal/refunds/nope/settle-manually", ts.op, note).ErrorCode())

		done := ts.must(200, "POST", "/api/internal/refunds/"+id+"/settle-manually", ts.op, note)
		require.Equal(t, "succeeded", done["status"])
		require.Equal(t, note["note"], done["note"])
		require.Equal(t, float64(25000), done["amount"])
		require.Equal(t, float64(1), done["attempts"], "settling is no attempt at the provider")
		require.Contains(t, done["last_error"], "takes no refunds", "why the provider could not stays on record")
		res = ts.do("POST", "/api/internal/refunds/"+id+"/settle-manually", ts.op, note)
		require.Equal(t, 409, res.Status, "settled once")
		require.Equal(t, "NOT_MANUAL", res.ErrorCode())
		require.Contains(t, res.Body["error"].(map[string]any)["message"], "succeeded")
		res = ts.do("POST", "/api/internal/refunds/"+id+"/retry", ts.op, nil)
		require.Equal(t, 409, res.Status)
		require.Equal(t, "INVALID_STATE", res.ErrorCode())

		require.Empty(t, ts.refunds("manual"))
		require.Equal(t, note["note"], ts.refunds("succeeded")[0]["note"])
		pay = ts.must(200, "GET", "/api/client/payments/"+payID, clientTok, nil)
		require.Equal(t, "refunded", pay["status"])
		require.Equal(t, float64(25000), pay["refunded_amount"])
		fails := ts.must(200, "GET", "/api/internal/failed-pairings", ts.op, nil)["items"].([]any)
		require.Equal(t, "refunded", fails[0].(map[string]any)["refund_status"])
		require.Empty(t, ts.findingsAbout(payID))
		require.Zero(t, ts.app.fakeGateway.RefundsFor(uuid.MustParse(payID)), "paid by hand, not by the provider")
		ts.requireSettled()
	})
}

func TestFakeGatewayRoutes_AProcessingRefundIsDecidedByItsOutcome(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		ts.tiers()
		ts.setRefundMode("processing", 3)
		toks := map[string]string{}
		var paid, failed, impossible string
		for _, payID := range []*string{&paid, &failed, &impossible} {
			var tok string
			tok, *payID = ts.failedBlast()
			toks[*payID] = tok
		}
		ids := map[string]string{}
		for _, r := range ts.refunds("processing") {
			ids[r["payment_id"].(string)] = r["id"].(string)
			require.Nil(t, r["next_attempt_at"])
		}
		require.Len(t, ids, 3)
		outcome := func(payID string) string { return "/api/internal/fake-gateway/refunds/" + ids[payID] + "/outcome" }

		// The provider has them: neither a retry nor the sweep sends them again.
		res := ts.do("POST", "/api/internal/refunds/"+ids[paid]+"/retry", ts.op, nil)
		require.Equal(t, 409, res.Status)
		require.Equal(t, "REFUND_IN_FLIGHT", res.ErrorCode())
		ts.clock.Advance(time.Hour)
		rep, err := ts.app.payments.RetryRefunds(ctx)
		require.NoError(t, err)
		require.Zero(t, rep.Attempted, "%+v", rep)

		for _, body := range []any{map[string]any{}, map[string]any{"succeeded": "yes"},
			map[string]any{"succeeded": true, "not_possible": true}, map[string]any{"succeeded": true, "reason": "x"},
			map[string]any{"succeeded": false, "reason": strings.Repeat("x", 501)}, map[string]any{"succeeded": true, "extra": 1}} {
			res := ts.do("POST", outcome(paid), ts.op, body)
			require.Equal(t, 400, res.Status, "%v", body)
			require.Equal(t, "VALIDATION_FAILED", res.ErrorCode(), "%v", body)
		}
		require.Equal(t, 404, ts.do("POST", "/api/internal/fake-gateway/refunds/"+uuid.NewString()+"/outcome", ts.op,
			map[string]any{"succeeded": true}).Status)

		// Succeeded: the payment is refunded; the same word again changes nothing.
		done := ts.must(200, "POST", outcome(paid), ts.op, map[string]any{"succeeded": true})
		require.Equal(t, "succeeded", done["status"])
		require.Equal(t, done, ts.must(200, "POST", outcome(paid), ts.op, map[string]any{"succeeded": false}))

		// Failed: retried by the sweep with a new idempotency key, and made then.
		f := ts.must(200, "POST", outcome(failed), ts.op, map[string]any{"succeeded": false, "reason": "the bank refused the account"})
		require.Equal(t, "failed", f["status"])
		require.Equal(t, "the bank refused the account", f["last_error"])
		require.NotNil(t, f["next_attempt_at"])
		ts.clock.Advance(payment.DefaultRefundRetryBase)
		rep, err = ts.app.payments.RetryRefunds(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Succeeded)
		require.Contains(t, ts.app.fakeGateway.RefundKeys(), ids[failed]+":2", "a new key after a final refusal")

		// Not possible: manual, then settled by hand.
		m := ts.must(200, "POST", outcome(impossible), ts.op, map[string]any{"succeeded": false, "not_possible": true})
		require.Equal(t, "manual", m["status"])
		ts.must(200, "POST", "/api/internal/refunds/"+ids[impossible]+"/settle-manually", ts.op, map[string]any{"note": "cash at the office"})

		require.Len(t, ts.refunds("succeeded"), 3)
		for payID, tok := range toks {
			pay := ts.must(200, "GET", "/api/client/payments/"+payID, tok, nil)
			require.Equal(t, "refunded", pay["status"])
			require.Equal(t, float64(25000), pay["refunded_amount"])
		}
		ts.requireSettled()
	})
}

package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/payment/xendit"
	"github.com/curhat/curhat/payment/xendit/xendittest"
)

// The fake Xendit account of these tests.
const (
	testXenditKey   = "xnd_development_0123456789abcdef"
	testXenditToken = "xendit-callback-token-0123456789"
)

// xenditServer is a reference server with PAYMENT_GATEWAY=xendit, talking to a fake
// Xendit.
type xenditServer struct {
	*testServer
	xendit *xendittest.Server
}

// newXenditServer starts a fake Xendit and a server (sweeps off, fake clock) whose gateway
// and payout provider it is.
func newXenditServer(t *testing.T, b backend, opts ...serverOption) *xenditServer {
	t.Helper()
	fake := xendittest.NewServer(t, testXenditKey, testXenditToken)
	gateway := func(c *Config) {
		c.PaymentGateway, c.XenditSecretKey, c.XenditCallbackToken, c.XenditAPIURL = GatewayXendit, testXenditKey, testXenditToken, fake.URL
	}
	ts := newTestServerWith(t, b, func(o *appOptions) { o.XenditHTTPClient = fake.HTTPClient() }, append([]serverOption{gateway}, opts...)...)
	return &xenditServer{testServer: ts, xendit: fake}
}

// url is the server's address of path (where Xendit's dashboard points).
func (xs *xenditServer) url(path string) string { return xs.http.URL + path }

// callback posts body to path with the right callback token, and returns the answer.
func (xs *xenditServer) callback(path string, body []byte) response {
	xs.t.Helper()
	return xs.doWith("POST", path, "", body, xendit.CallbackTokenHeader, testXenditToken)
}

// requireResult requires a callback's 200 answer with result.
func requireResult(t *testing.T, r response, result string) {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
	require.Equal(t, map[string]any{"result": result}, r.Body)
}

// start starts a 30-minute blast for a fresh client: its token, the pairing and payment
// ids, and the payment's invoice at Xendit.
func (xs *xenditServer) start() (clientTok, pairingID, paymentID string, inv xendittest.Invoice) {
	xs.t.Helper()
	_, clientTok = xs.newClient("Dewi")
	start := xs.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
	pay := obj(start, "payment")
	paymentID = pay["id"].(string)
	for _, i := range xs.xendit.Invoices() {
		if i.ExternalID == paymentID {
			inv = i
		}
	}
	require.NotEmpty(xs.t, inv.ID, "no invoice at Xendit for payment %s", paymentID)
	require.Equal(xs.t, inv.InvoiceURL, pay["checkout_url"], "the client pays on Xendit's invoice page")
	return clientTok, obj(start, "pairing")["id"].(string), paymentID, inv
}

// pay is Xendit's callback that the payment's invoice was paid.
func (xs *xenditServer) pay(inv xendittest.Invoice) {
	xs.t.Helper()
	require.Equal(xs.t, http.StatusOK, xs.xendit.PostInvoiceCallback(xs.url(xenditInvoicePath), inv.ID, xendittest.StatusPaid))
}

// payment is the client's view of the payment.
func (xs *xenditServer) payment(clientTok, id string) map[string]any {
	xs.t.Helper()
	return xs.must(200, "GET", "/api/client/payments/"+id, clientTok, nil)
}

// findings requires that the ledger's invariants hold, through the operator route.
func (xs *xenditServer) requireNoFindings() {
	xs.t.Helper()
	require.Equal(xs.t, []any{}, xs.must(200, "GET", "/api/internal/ledger/findings", xs.op, nil)["items"], "the books are sound")
}

// isXenditCallback reports whether r is one of Xendit's callbacks, which take its callback
// token instead of a bearer token.
func isXenditCallback(r route) bool {
	return r.Role == rolePublic && strings.HasPrefix(r.Path, "/api/payments/xendit/")
}

// routesOfEveryGateway is the route table of a server over the fake gateway followed by
// the routes only a server over Xendit has: every route the server can register.
func routesOfEveryGateway(t *testing.T) []route {
	t.Helper()
	fake, xs := newTestServer(t, memoryBackend), newXenditServer(t, memoryBackend)
	routes := slices.Clone(fake.srv.routes)
	for _, r := range xs.srv.routes {
		if !slices.Contains(fake.srv.routes, r) {
			routes = append(routes, r)
		}
	}
	return routes
}

// The server refuses to start over Xendit without the account's secret key or callback
// token, naming the variable (never its value).
func TestXendit_TheServerRefusesToStartWithoutTheSecretKeyOrTheCallbackToken(t *testing.T) {
	t.Parallel()
	strong := strings.Repeat("s", minSecretBytes)
	memory := map[string]string{"PAYMENT_GATEWAY": "xendit", "XENDIT_SECRET_KEY": testXenditKey, "XENDIT_CALLBACK_TOKEN": testXenditToken}
	postgres := map[string]string{"DATABASE_URL": "postgres://127.0.0.1:5432/test", "OPERATOR_TOKEN": strong,
		"PAYMENT_GATEWAY": "xendit", "XENDIT_SECRET_KEY": testXenditKey, "XENDIT_CALLBACK_TOKEN": testXenditToken}
	with := func(env map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range env {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string
		apiURL  string // when it starts
	}{
		{"memory, no secret key", with(memory, "XENDIT_SECRET_KEY", ""), "XENDIT_SECRET_KEY is required with PAYMENT_GATEWAY=xendit", ""},
		{"memory, blank secret key", with(memory, "XENDIT_SECRET_KEY", "  "), "XENDIT_SECRET_KEY is required", ""},
		{"memory, no callback token", with(memory, "XENDIT_CALLBACK_TOKEN", ""), "XENDIT_CALLBACK_TOKEN is required with PAYMENT_GATEWAY=xendit", ""},
		{"postgres, no secret key", with(postgres, "XENDIT_SECRET_KEY", ""), "XENDIT_SECRET_KEY is required", ""},
		{"postgres, no callback token", with(postgres, "XENDIT_CALLBACK_TOKEN", ""), "XENDIT_CALLBACK_TOKEN is required", ""},
		{"a bad API URL", with(memory, "XENDIT_API_URL", "api.xendit.co"), `XENDIT_API_URL="api.xendit.co": want an absolute http(s) URL`, ""},
		{"memory, both", memory, "", xendit.DefaultAPIURL},
		// Over Postgres, PAYMENT_WEBHOOK_SECRET (the fake gateway's) is not needed.
		{"postgres, both", postgres, "", xendit.DefaultAPIURL},
		{"another API URL", with(memory, "XENDIT_API_URL", "http://127.0.0.1:4010/"), "", "http://127.0.0.1:4010"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := configFromEnv(envOf(c.env))
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				require.NotContains(t, err.Error(), testXenditKey, "the error must not echo the secret key")
				require.NotContains(t, err.Error(), testXenditToken, "the error must not echo the token")
				return
			}
			require.NoError(t, err)
			require.Equal(t, GatewayXendit, cfg.PaymentGateway)
			require.Equal(t, c.apiURL, cfg.XenditAPIURL)
		})
	}

	// A Config built in code gets the same check before anything connects.
	cfg, err := configFromEnv(envOf(memory))
	require.NoError(t, err)
	cfg.XenditCallbackToken = ""
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = NewApp(ctx, cfg, slog.New(slog.DiscardHandler), appOptions{})
	require.ErrorContains(t, err, "XENDIT_CALLBACK_TOKEN is required")
}

// Over Xendit the fake gateway's routes do not exist, Xendit's callbacks do, and they take
// Xendit's callback token, never a bearer token; over the fake gateway they do not exist.
// Every route of the Xendit server is in the authorization matrix (authz_test.go) or is one
// of these callbacks.
func TestXendit_CallbackRoutesExistOnlyOverXenditAndTakeTheCallbackTokenNotABearerToken(t *testing.T) {
	t.Parallel()
	xs := newXenditServer(t, memoryBackend)
	require.NotNil(t, xs.app.xendit)
	require.Nil(t, xs.app.fakeGateway)
	require.Nil(t, xs.app.checkout)
	require.Same(t, xs.app.xendit, xs.app.payouts, "Xendit pays the payouts too")

	rows := authzRows()
	var callbacks []string
	for _, r := range xs.srv.routes {
		key := r.Method + " " + r.Path
		require.False(t, strings.Contains(r.Path, "fake-gateway") || r.Path == "/api/payments/webhook", "%s exists over Xendit", key)
		if isXenditCallback(r) {
			callbacks = append(callbacks, key)
			continue
		}
		_, ok := rows[key]
		require.True(t, ok, "route %s has no row in authzRows (authz_test.go)", key)
	}
	require.ElementsMatch(t, []string{"POST " + xenditInvoicePath, "POST " + xenditRefundPath, "POST " + xenditPayoutPath}, callbacks)

	_, clientTok := xs.newClient("Dewi")
	_, mitraTok := xs.newMitra("Ayu")
	body := []byte(`{"id":"inv_1","external_id":"` + uuid.NewString() + `","status":"PAID","amount":25000,"currency":"IDR"}`)
	for _, path := range []string{xenditInvoicePath, xenditRefundPath, xenditPayoutPath} {
		for _, tok := range []string{"", xs.op, clientTok, mitraTok} {
			r := xs.do("POST", path, tok, body)
			require.Equal(t, http.StatusUnauthorized, r.Status, "%s with bearer %q: %s", path, tok, r.Raw)
			require.Equal(t, "UNAUTHENTICATED", r.ErrorCode())
		}
		require.Equal(t, http.StatusUnauthorized, xs.xendit.PostForgedCallback(xs.url(path), body), "%s with a forged token", path)
	}
	for _, path := range []string{"/api/payments/webhook", "/api/internal/fake-gateway/refund-failures", fakeCheckoutPath + "x"} {
		require.Equal(t, http.StatusNotFound, xs.do("POST", path, xs.op, map[string]any{}).Status, path)
	}

	fake := newTestServer(t, memoryBackend)
	require.Nil(t, fake.app.xendit)
	for _, path := range []string{xenditInvoicePath, xenditRefundPath, xenditPayoutPath} {
		r := fake.doWith("POST", path, "", body, xendit.CallbackTokenHeader, testXenditToken)
		require.Equal(t, http.StatusNotFound, r.Status, "%s over the fake gateway: %s", path, r.Raw)
		require.Equal(t, "NOT_FOUND", r.ErrorCode())
	}
}

// The paid blast over Xendit, end to end: the checkout URL is the invoice's, Xendit's
// paid callback starts the blast, the mitra accepts, the client ends, and the mitra's
// earning is pending with the books balanced.
func TestXendit_APaidBlastRunsFromTheInvoiceToTheMitrasEarning(t *testing.T) {
	t.Parallel()
	for _, b := range []backend{memoryBackend, realBackend} {
		t.Run(b.String(), func(t *testing.T) {
			t.Parallel()
			xs := newXenditServer(t, b)
			xs.tiers()
			_, mitraTok := xs.onlineMitra("Ayu")

			clientTok, pairingID, paymentID, inv := xs.start()
			require.Equal(t, int64(25000), inv.Amount)
			require.Equal(t, "IDR", inv.Currency)
			require.Equal(t, xendittest.StatusPending, inv.Status)
			// The invoice lasts as long as the payment may be paid (payment_session_ttl).
			pay := xs.payment(clientTok, paymentID)
			expires, err := time.Parse(time.RFC3339Nano, pay["expires_at"].(string))
			require.NoError(t, err)
			require.Equal(t, int64(expires.Sub(xs.clock.Now()).Seconds()), inv.Duration)
			require.Equal(t, "awaiting_payment", xs.pairingView(clientTok, pairingID)["status"])

			xs.pay(inv)
			require.Equal(t, "paid", xs.payment(clientTok, paymentID)["status"])
			require.Equal(t, "searching", xs.pairingView(clientTok, pairingID)["status"])
			require.Equal(t, []string{pairingID}, xs.offerIDs(mitraTok), "the mitra is offered the chat")

			sessionID := obj(xs.must(200, "POST", "/api/mitra/pairing-offers/"+pairingID+"/accept", mitraTok, nil), "chat_session")["id"].(string)
			xs.must(200, "POST", "/api/client/chat-sessions/"+sessionID+"/end", clientTok, nil)

			mine := xs.must(200, "GET", "/api/mitra/earnings", mitraTok, nil)
			require.Equal(t, float64(sessionEarning), mine["pending"])
			require.Equal(t, float64(0), mine["available"])
			require.Equal(t, float64(25000), xs.requireBooksBalance()["gateway"])
			xs.requireNoFindings()
			xs.requireSettled()
		})
	}
}

// Xendit's invoice callbacks change a payment forward only: a duplicate changes nothing
// (one payment_paid, one offer), an expiry after the payment changes nothing, a forged or
// missing token is 401, an unknown invoice or one that is not the payment's is answered
// 200 and changes nothing, and an expiry of a pending payment expires it and cancels its
// pairing.
func TestXendit_InvoiceCallbacksAreIdempotentForwardOnlyAndAuthenticated(t *testing.T) {
	t.Parallel()
	for _, b := range []backend{memoryBackend, realBackend} {
		t.Run(b.String(), func(t *testing.T) {
			t.Parallel()
			xs := newXenditServer(t, b)
			xs.tiers()
			_, mitraTok := xs.onlineMitra("Ayu")
			clientTok, pairingID, paymentID, inv := xs.start()
			events := openStream(t, xs.http.Client(), xs.url("/api/client/events"), clientTok)
			paid := xs.xendit.InvoiceCallback(inv.ID, xendittest.StatusPaid)

			// Forged, missing, or a bearer token instead: refused before anything is read.
			require.Equal(t, http.StatusUnauthorized, xs.xendit.PostForgedCallback(xs.url(xenditInvoicePath), paid))
			require.Equal(t, http.StatusUnauthorized, xs.xendit.PostCallbackWithToken(xs.url(xenditInvoicePath), "", paid))
			r := xs.do("POST", xenditInvoicePath, xs.op, paid)
			require.Equal(t, http.StatusUnauthorized, r.Status, "%s", r.Raw)
			require.Equal(t, "pending", xs.payment(clientTok, paymentID)["status"])

			// Not the payment's: another amount, another currency, another invoice. Logged,
			// answered 200, nothing marked.
			for _, change := range []map[string]any{{"amount": 1}, {"currency": "USD"}, {"id": "inv_other"}} {
				var cb map[string]any
				require.NoError(t, json.Unmarshal(paid, &cb))
				for k, v := range change {
					cb[k] = v
				}
				raw, err := json.Marshal(cb)
				require.NoError(t, err)
				requireResult(t, xs.callback(xenditInvoicePath, raw), callbackIgnored)
			}
			// Unknown: an external_id that is no payment id, or no payment of this server.
			requireResult(t, xs.callback(xenditInvoicePath, []byte(`{"id":"inv_1","external_id":"order-17","status":"PAID","amount":25000,"currency":"IDR"}`)), callbackIgnored)
			requireResult(t, xs.callback(xenditInvoicePath, []byte(`{"id":"inv_2","external_id":"`+uuid.NewString()+`","status":"PAID","amount":25000,"currency":"IDR"}`)), callbackIgnored)
			// A status this server does not act on.
			requireResult(t, xs.callback(xenditInvoicePath, xs.xendit.InvoiceCallback(inv.ID, xendittest.StatusPending)), callbackIgnored)
			// Not a callback.
			r = xs.callback(xenditInvoicePath, []byte(`{"id":"inv_1"}`))
			require.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Raw)
			require.Equal(t, "VALIDATION_FAILED", r.ErrorCode())
			require.Equal(t, "pending", xs.payment(clientTok, paymentID)["status"])
			require.Equal(t, "awaiting_payment", xs.pairingView(clientTok, pairingID)["status"])
			require.Equal(t, float64(0), xs.requireBooksBalance()["gateway"], "nothing was paid")

			// Paid, then the same callback again, then an expiry that comes late.
			requireResult(t, xs.callback(xenditInvoicePath, paid), callbackApplied)
			requireResult(t, xs.callback(xenditInvoicePath, paid), callbackUnchanged)
			require.Equal(t, http.StatusOK, xs.xendit.PostInvoiceCallback(xs.url(xenditInvoicePath), inv.ID, xendittest.StatusSettled))
			requireResult(t, xs.callback(xenditInvoicePath, xs.xendit.InvoiceCallback(inv.ID, xendittest.StatusExpired)), callbackUnchanged)
			require.Equal(t, "paid", xs.payment(clientTok, paymentID)["status"])
			require.Equal(t, "searching", xs.pairingView(clientTok, pairingID)["status"])
			require.Equal(t, []string{pairingID}, xs.offerIDs(mitraTok), "one pairing, offered once")
			require.Equal(t, float64(25000), xs.requireBooksBalance()["gateway"], "paid once")

			// The client was told once: every payment_paid comes before the match.
			xs.must(200, "POST", "/api/mitra/pairing-offers/"+pairingID+"/accept", mitraTok, nil)
			kinds := map[string]int{}
			deadline := time.After(5 * time.Second)
			for kinds["pairing_matched"] == 0 {
				select {
				case data := <-events.events:
					var e struct{ Kind string }
					require.NoError(t, json.Unmarshal([]byte(data), &e))
					kinds[e.Kind]++
				case <-deadline:
					t.Fatalf("no pairing_matched; saw %v", kinds)
				}
			}
			require.Equal(t, 1, kinds["payment_paid"], "%v", kinds)

			// An expiry of a payment still pending expires it and cancels its pairing.
			otherTok, otherPairing, otherPayment, otherInv := xs.start()
			requireResult(t, xs.callback(xenditInvoicePath, xs.xendit.InvoiceCallback(otherInv.ID, xendittest.StatusExpired)), callbackApplied)
			require.Equal(t, "expired", xs.payment(otherTok, otherPayment)["status"])
			require.Equal(t, "cancelled", xs.pairingView(otherTok, otherPairing)["status"])
			requireResult(t, xs.callback(xenditInvoicePath, xs.xendit.InvoiceCallback(otherInv.ID, xendittest.StatusExpired)), callbackUnchanged)
			require.Equal(t, float64(25000), xs.requireBooksBalance()["gateway"])
			xs.requireNoFindings()
		})
	}
}

// A refund through Xendit: a paid blast that finds nobody is refunded, Xendit accepts the
// refund (processing), and its callback decides it; later words change nothing.
func TestXendit_ARefundXenditAcceptedIsDecidedByItsCallback(t *testing.T) {
	t.Parallel()
	for _, b := range []backend{memoryBackend, realBackend} {
		t.Run(b.String(), func(t *testing.T) {
			t.Parallel()
			xs := newXenditServer(t, b)
			xs.tiers()
			clientTok, pairingID, paymentID, inv := xs.start()
			xs.pay(inv) // nobody is online: the blast fails and the payment is refunded
			require.Equal(t, "failed", xs.pairingView(clientTok, pairingID)["status"])

			processing := xs.refunds("processing")
			require.Len(t, processing, 1)
			refundID := processing[0]["id"].(string)
			require.Equal(t, paymentID, processing[0]["payment_id"])
			sent := xs.xendit.Refunds()
			require.Len(t, sent, 1)
			require.Equal(t, inv.ID, sent[0].InvoiceID)
			require.Equal(t, refundID, sent[0].ReferenceID)
			require.Equal(t, refundID, sent[0].IdempotencyKey, "the first attempt's key is the refund id")
			require.Equal(t, int64(25000), sent[0].Amount)
			require.Equal(t, "paid", xs.payment(clientTok, paymentID)["status"], "not refunded until Xendit says so")

			// A callback about another Xendit refund, or an unknown refund: nothing changes.
			other := xs.xendit.RefundCallback(sent[0].ID, "SUCCEEDED", "")
			var cb map[string]any
			require.NoError(t, json.Unmarshal(other, &cb))
			cb["data"].(map[string]any)["id"] = "rfd-other"
			raw, err := json.Marshal(cb)
			require.NoError(t, err)
			requireResult(t, xs.callback(xenditRefundPath, raw), callbackIgnored)
			cb["data"].(map[string]any)["reference_id"] = uuid.NewString()
			raw, err = json.Marshal(cb)
			require.NoError(t, err)
			requireResult(t, xs.callback(xenditRefundPath, raw), callbackIgnored)
			require.Len(t, xs.refunds("processing"), 1)

			require.Equal(t, http.StatusOK, xs.xendit.PostRefundCallback(xs.url(xenditRefundPath), sent[0].ID, "SUCCEEDED", ""))
			require.Empty(t, xs.refunds("processing"))
			done := xs.refunds("succeeded")
			require.Len(t, done, 1)
			require.Equal(t, refundID, done[0]["id"])
			pay := xs.payment(clientTok, paymentID)
			require.Equal(t, "refunded", pay["status"])
			require.Equal(t, float64(25000), pay["refunded_amount"])

			// The same callback again, or a failure arriving after the success: unchanged.
			requireResult(t, xs.callback(xenditRefundPath, xs.xendit.RefundCallback(sent[0].ID, "SUCCEEDED", "")), callbackUnchanged)
			requireResult(t, xs.callback(xenditRefundPath, xs.xendit.RefundCallback(sent[0].ID, "FAILED", "REFUND_FAILED")), callbackUnchanged)
			require.Len(t, xs.refunds("succeeded"), 1)
			require.Len(t, xs.xendit.Refunds(), 1, "refunded once")
			require.Equal(t, float64(0), xs.requireBooksBalance()["gateway"])
			xs.requireNoFindings()
			xs.requireSettled()
		})
	}
}

// A payout through Xendit: the run sends it (processing), Xendit's callback says it
// succeeded and the mitra's paid_out grows; a reversal that arrives before the success
// is refused so that Xendit delivers it again, and one after it makes the amount available
// again.
func TestXendit_APayoutXenditAcceptedIsDecidedByItsCallback(t *testing.T) {
	t.Parallel()
	for _, b := range []backend{memoryBackend, realBackend} {
		t.Run(b.String(), func(t *testing.T) {
			t.Parallel()
			xs := newXenditServer(t, b, func(c *Config) {
				c.Sweeps, c.EarningsClearance, c.PayoutRetry = true, 7*time.Minute, 7*time.Minute
			})
			xs.tiers()
			xs.setConfig("earnings_clearance_hours", 0)
			xs.setConfig("payout_minimum_amount", 10000)
			mitra, mitraTok := xs.onlineMitra("Ayu")
			clientTok, pairingID, _, inv := xs.start()
			xs.pay(inv)
			sessionID := obj(xs.must(200, "POST", "/api/mitra/pairing-offers/"+pairingID+"/accept", mitraTok, nil), "chat_session")["id"].(string)
			xs.must(200, "POST", "/api/client/chat-sessions/"+sessionID+"/end", clientTok, nil)
			xs.clock.Advance(time.Second)
			_, r := xs.runSweep("earnings_clearance")
			require.Equal(t, 1, r.Counts["cleared"])
			xs.must(200, "PUT", "/api/internal/mitras/"+mitra.String()+"/payout-destination", xs.op, testDestination)

			created := xs.runPayouts(nil)
			require.Len(t, created, 1)
			p := created[0]
			payoutID := p["id"].(string)
			require.Equal(t, "processing", p["status"])
			sent := xs.xendit.Payouts()
			require.Len(t, sent, 1)
			require.Equal(t, sent[0].ID, p["provider_ref"])
			require.Equal(t, payoutID, sent[0].ReferenceID)
			require.Equal(t, payoutID, sent[0].IdempotencyKey)
			require.Equal(t, int64(sessionEarning), sent[0].Amount)
			require.Equal(t, []string{"ID_BCA", "1234567890", "Ayu Lestari"}, []string{sent[0].ChannelCode, sent[0].AccountNumber, sent[0].AccountHolderName})
			require.Equal(t, float64(sessionEarning), xs.earnings(mitra)["in_flight"])

			// Reversed before its success is recorded: not applied, and not 2xx, so that
			// Xendit delivers it again.
			r2 := xs.callback(xenditPayoutPath, xs.xendit.PayoutCallback(sent[0].ID, "REVERSED", "RETURNED_BY_BANK"))
			require.Equal(t, http.StatusConflict, r2.Status, "%s", r2.Raw)
			require.Equal(t, "INVALID_STATE", r2.ErrorCode())
			// Unknown payout: nothing changes.
			var cb map[string]any
			require.NoError(t, json.Unmarshal(xs.xendit.PayoutCallback(sent[0].ID, "SUCCEEDED", ""), &cb))
			cb["data"].(map[string]any)["reference_id"] = uuid.NewString()
			raw, err := json.Marshal(cb)
			require.NoError(t, err)
			requireResult(t, xs.callback(xenditPayoutPath, raw), callbackIgnored)
			processing, _ := xs.payouts("status=processing")
			require.Len(t, processing, 1)

			require.Equal(t, http.StatusOK, xs.xendit.PostPayoutCallback(xs.url(xenditPayoutPath), sent[0].ID, "SUCCEEDED", ""))
			succeeded, _ := xs.payouts("status=succeeded")
			require.Len(t, succeeded, 1)
			require.Equal(t, payoutID, succeeded[0]["id"])
			mine := xs.must(200, "GET", "/api/mitra/earnings", mitraTok, nil)
			require.Equal(t, float64(sessionEarning), mine["paid_out"])
			require.Equal(t, float64(0), mine["in_flight"])
			require.Equal(t, float64(0), mine["available"])
			require.Equal(t, float64(25000-sessionEarning), xs.requireBooksBalance()["gateway"])
			// The same word again, or a failure after the success: unchanged.
			requireResult(t, xs.callback(xenditPayoutPath, xs.xendit.PayoutCallback(sent[0].ID, "SUCCEEDED", "")), callbackUnchanged)
			requireResult(t, xs.callback(xenditPayoutPath, xs.xendit.PayoutCallback(sent[0].ID, "FAILED", "INVALID_DESTINATION")), callbackUnchanged)
			xs.requireNoFindings()

			// Reversed after it succeeded: the amount is the mitra's to pay out again.
			requireResult(t, xs.callback(xenditPayoutPath, xs.xendit.PayoutCallback(sent[0].ID, "REVERSED", "RETURNED_BY_BANK")), callbackApplied)
			reversed, _ := xs.payouts("status=reversed")
			require.Len(t, reversed, 1)
			require.Equal(t, "RETURNED_BY_BANK", reversed[0]["failure_reason"])
			mine = xs.must(200, "GET", "/api/mitra/earnings", mitraTok, nil)
			require.Equal(t, float64(sessionEarning), mine["available"])
			requireResult(t, xs.callback(xenditPayoutPath, xs.xendit.PayoutCallback(sent[0].ID, "REVERSED", "RETURNED_BY_BANK")), callbackUnchanged)
			require.Equal(t, float64(25000), xs.requireBooksBalance()["gateway"])
			xs.requireNoFindings()
		})
	}
}

// The start says which gateway takes the money; over Xendit, the callback URLs to set in
// its dashboard.
func TestXendit_TheStartSaysTheGatewayAndTheCallbackURLs(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	printPayments(&out, Config{PaymentGateway: GatewayXendit, XenditAPIURL: xendit.DefaultAPIURL, PublicURL: "https://api.example.com"})
	require.Equal(t, "payments: PAYMENT_GATEWAY=xendit through https://api.xendit.co; in Xendit's dashboard, with the verification token XENDIT_CALLBACK_TOKEN, set the callback URLs:\n"+
		"  invoices paid and expired: https://api.example.com/api/payments/xendit/invoice\n"+
		"  refunds:                   https://api.example.com/api/payments/xendit/refund\n"+
		"  payouts:                   https://api.example.com/api/payments/xendit/payout\n", out.String())
	out.Reset()
	printPayments(&out, Config{PaymentGateway: GatewayFake})
	require.Contains(t, out.String(), "PAYMENT_GATEWAY=fake: nothing is charged")
}

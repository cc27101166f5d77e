package main

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/payment"
)

// startKeyed posts chat/start for 30 minutes with an Idempotency-Key, whatever the answer.
func (ts *testServer) startKeyed(token, key string) response {
	ts.t.Helper()
	return ts.doWith("POST", "/api/client/chat/start", token, map[string]any{"minutes": 30}, "Idempotency-Key", key)
}

// A declined charge is the provider's answer, not an outage: 402 PAYMENT_DECLINED, the
// payment failed and the pairing cancelled; the same Idempotency-Key replays the 402
// (nothing is asked of the provider again, even once it would accept), and a new key is
// a new attempt that pays as usual.
func TestChatStart_DeclinedChargeIs402AndTheSameKeyReplaysIt(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		clientID, clientTok := ts.newClient("Dewi")
		ts.app.fakeGateway.FailCharges(true)

		res := ts.startKeyed(clientTok, "tap-1")
		require.Equal(t, 402, res.Status, "%s", res.Raw)
		require.Equal(t, "PAYMENT_DECLINED", res.ErrorCode())

		pay, err := ts.app.payments.FindByIdempotencyKey(t.Context(), clientID, "tap-1")
		require.NoError(t, err, "the key stays mapped to the declined payment")
		got := ts.must(200, "GET", "/api/client/payments/"+pay.ID.String(), clientTok, nil)
		require.Equal(t, "failed", got["status"])
		view := ts.must(200, "GET", "/api/client/pairings/"+pay.PairingID.String(), clientTok, nil)
		require.Equal(t, "cancelled", obj(view, "pairing")["status"])
		require.Equal(t, "payment_declined", obj(view, "pairing")["failure_reason"])
		require.Equal(t, pay.ID.String(), obj(view, "payment")["id"])

		ts.app.fakeGateway.FailCharges(false)
		res = ts.startKeyed(clientTok, "tap-1")
		require.Equal(t, 402, res.Status, "the same key replays the decline: %s", res.Raw)
		require.Equal(t, "PAYMENT_DECLINED", res.ErrorCode())
		require.Zero(t, ts.charges(), "a replay never charges")

		start := ts.startKeyed(clientTok, "tap-2")
		require.Equal(t, 201, start.Status, "a new key is a new attempt: %s", start.Raw)
		require.Equal(t, "awaiting_payment", obj(start.Body, "pairing")["status"])
		require.NotEqual(t, pay.PairingID.String(), obj(start.Body, "pairing")["id"])
		status, _, page := ts.checkout(obj(start.Body, "payment")["checkout_url"].(string), "paid")
		require.Equal(t, 200, status, page)
		require.Contains(t, page, "Paid.")
	})
}

// An outage of the provider keeps its own answer: 503 UNAVAILABLE, a retry later.
func TestChatStart_GatewayOutageIs503NotADecline(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	ts.tiers()
	_, clientTok := ts.newClient("Dewi")
	ts.app.fakeGateway.FailChargesWith(payment.ErrFakeChargeUnreachable)
	res := ts.startKeyed(clientTok, "tap-1")
	require.Equal(t, 503, res.Status, "%s", res.Raw)
	require.Equal(t, "UNAVAILABLE", res.ErrorCode())
}

// An extension whose charge is declined: 402, the extension expired with its failed
// payment linked and the session's slot free, so that the next request (a new attempt)
// is approved and charged once the provider accepts.
func TestExtensions_DeclinedChargeIs402AndTheNextRequestPays(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, mitraTok := ts.onlineMitra("Ayu")
		clientTok, sessionID, _ := ts.activeSession(mitraTok)
		path := "/api/client/chat-sessions/" + sessionID + "/extensions"

		ts.app.fakeGateway.FailCharges(true)
		res := ts.do("POST", path, clientTok, map[string]any{"minutes": 10})
		require.Equal(t, 402, res.Status, "%s", res.Raw)
		require.Equal(t, "PAYMENT_DECLINED", res.ErrorCode())
		exts, err := ts.app.exts.ListForSession(t.Context(), uuid.MustParse(sessionID))
		require.NoError(t, err)
		require.Len(t, exts, 1)
		require.Equal(t, extension.StatusExpired, exts[0].Status)
		require.NotNil(t, exts[0].PaymentSessionID)
		got := ts.must(200, "GET", "/api/client/payments/"+exts[0].PaymentSessionID.String(), clientTok, nil)
		require.Equal(t, "failed", got["status"])

		ts.app.fakeGateway.FailCharges(false)
		ext := ts.must(201, "POST", path, clientTok, map[string]any{"minutes": 10})
		require.Equal(t, "approved", obj(ext, "extension")["status"])
		require.Equal(t, "pending", obj(ext, "payment")["status"])
	})
}

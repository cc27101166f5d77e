package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// signedWebhook posts raw as the webhook body, signed over exactly these bytes (or over
// signed, when given: a body altered after signing).
func (ts *testServer) signedWebhook(raw []byte, signed ...[]byte) response {
	ts.t.Helper()
	sig := raw
	if len(signed) > 0 {
		sig = signed[0]
	}
	req, err := http.NewRequest("POST", ts.http.URL+"/api/payments/webhook", bytes.NewReader(raw))
	require.NoError(ts.t, err)
	req.Header.Set("X-Signature", signBody(ts.app.cfg.PaymentWebhookSecret, sig))
	resp, err := ts.http.Client().Do(req)
	require.NoError(ts.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(ts.t, err)
	out := response{Status: resp.StatusCode, Header: resp.Header, Raw: body}
	_ = json.Unmarshal(body, &out.Body)
	return out
}

// pendingPayment starts a blast for a fresh client and returns its payment id.
func (ts *testServer) pendingPayment() string {
	ts.t.Helper()
	_, tok := ts.newClient("Dewi")
	start := ts.must(201, "POST", "/api/client/chat/start", tok, map[string]any{"minutes": 30})
	return obj(start, "payment")["id"].(string)
}

func TestWebhook_ProviderRefMismatch(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		ts.onlineMitra("Ayu") // so that the paid blast searches instead of being refunded
		id := ts.pendingPayment()
		ref := "fake_ch_" + id // the charge the fake gateway created for it

		wrong := jsonBody(map[string]any{"payment_id": id, "status": "paid", "provider_ref": "fake_ch_someone_else"})
		r := ts.signedWebhook(wrong)
		require.Equal(t, http.StatusConflict, r.Status, "%s", r.Raw)
		require.Equal(t, "PROVIDER_REF_MISMATCH", r.ErrorCode())
		p, err := ts.app.payments.Get(t.Context(), uuid.MustParse(id))
		require.NoError(t, err)
		require.Equal(t, "pending", string(p.Status), "a mismatched confirmation changes nothing")
		require.Equal(t, ref, p.ProviderRef, "nor the charge's reference")

		r = ts.signedWebhook(jsonBody(map[string]any{"payment_id": id, "status": "failed", "provider_ref": "other"}))
		require.Equal(t, "PROVIDER_REF_MISMATCH", r.ErrorCode(), "failed confirmations too")

		// The right reference, or none, is applied.
		r = ts.signedWebhook(jsonBody(map[string]any{"payment_id": id, "status": "paid", "provider_ref": ref}))
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
		require.Equal(t, "paid", obj(r.Body, "payment")["status"])
		r = ts.signedWebhook(jsonBody(map[string]any{"payment_id": id, "status": "paid"}))
		require.Equal(t, http.StatusOK, r.Status, "a duplicate without a reference: %s", r.Raw)
		r = ts.signedWebhook(wrong)
		require.Equal(t, "PROVIDER_REF_MISMATCH", r.ErrorCode(), "a late duplicate naming another charge")
	})
}

func TestWebhook_ToleratesUnknownFields(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		ts.onlineMitra("Ayu") // so that the paid blast searches instead of being refunded
		id := ts.pendingPayment()
		// The provider adds fields: an event id, the amount, nested metadata.
		raw := []byte(`{"event_id":"evt_1","payment_id":"` + id + `","status":"paid","provider_ref":"fake_ch_` + id +
			`","amount":25000,"metadata":{"attempt":1,"tags":["a","b"]},"livemode":false}`)
		r := ts.signedWebhook(raw)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
		require.Equal(t, "paid", obj(r.Body, "payment")["status"])

		// The signature stays over the raw bytes: the same JSON spaced differently fails.
		spaced := bytes.ReplaceAll(raw, []byte(`,"`), []byte(`, "`))
		require.Equal(t, http.StatusUnauthorized, ts.signedWebhook(spaced, raw).Status)
		// Signed, but ambiguous: duplicate keys, or a case variant of a known field.
		other := ts.pendingPayment()
		for _, body := range []string{
			`{"payment_id":"` + other + `","status":"failed","status":"paid"}`,
			`{"payment_id":"` + other + `","Status":"paid"}`,
		} {
			r := ts.signedWebhook([]byte(body))
			require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", body, r.Raw)
			require.Equal(t, "VALIDATION_FAILED", r.ErrorCode())
		}
		// Known fields keep their types and rules.
		r = ts.signedWebhook([]byte(`{"payment_id":"` + other + `","status":"paid","provider_ref":5,"extra":true}`))
		require.Equal(t, "VALIDATION_FAILED", r.ErrorCode())
	})
}

// The three usual mistakes get three different answers, none with the secret.
func TestWebhook_SignatureErrorsSayWhichPartIsWrong(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	ts.tiers()
	id := ts.pendingPayment()
	body := jsonBody(map[string]any{"payment_id": id, "status": "paid"})
	secret := ts.app.cfg.PaymentWebhookSecret
	send := func(sig string, set bool) response {
		req, err := http.NewRequest("POST", ts.http.URL+"/api/payments/webhook", bytes.NewReader(body))
		require.NoError(t, err)
		if set {
			req.Header.Set("X-Signature", sig)
		}
		resp, err := ts.http.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		out := response{Status: resp.StatusCode, Raw: raw}
		require.NoError(t, json.Unmarshal(raw, &out.Body))
		return out
	}
	message := func(r response) string {
		require.Equal(t, http.StatusUnauthorized, r.Status, "%s", r.Raw)
		require.Equal(t, "UNAUTHENTICATED", r.ErrorCode())
		require.NotContains(t, string(r.Raw), secret)
		return r.Body["error"].(map[string]any)["message"].(string)
	}
	good := signBody(secret, body)
	missing := message(send("", false))
	require.Contains(t, missing, "missing")
	prefixed := message(send("sha256="+good, true))
	require.Contains(t, prefixed, "not 64 hex digits")
	require.Contains(t, message(send("SHA2-256(stdin)= "+good, true)), "not 64 hex digits", "the whole openssl line")
	echoed := message(send(signBody(secret, append(bytes.Clone(body), '\n')), true))
	require.Contains(t, echoed, "does not match the body")
	require.Contains(t, echoed, "echo")
	require.Len(t, map[string]bool{missing: true, prefixed: true, echoed: true}, 3)

	require.Equal(t, http.StatusOK, send(good, true).Status)
	require.Equal(t, http.StatusOK, send(strings.ToUpper(good), true).Status, "hex digits in either case")
}

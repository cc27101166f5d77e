package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/curhat/curhat/payment"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// checkout opens a checkout URL (GET) or posts its form with outcome (POST).
func (ts *testServer) checkout(checkoutURL, outcome string) (int, http.Header, string) {
	ts.t.Helper()
	req, err := http.NewRequest("GET", checkoutURL, nil)
	if outcome != "" {
		req, err = http.NewRequest("POST", checkoutURL, strings.NewReader(url.Values{"outcome": {outcome}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	require.NoError(ts.t, err)
	resp, err := ts.http.Client().Do(req)
	require.NoError(ts.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(ts.t, err)
	return resp.StatusCode, resp.Header, string(raw)
}

func TestFakeCheckout_PageIsSelfContainedAndPaysThroughTheWebhook(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, mitraTok := ts.onlineMitra("Ayu")
		_, clientTok := ts.newClient("Dewi")
		start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
		pay := obj(start, "payment")
		checkoutURL := pay["checkout_url"].(string)
		require.True(t, strings.HasPrefix(checkoutURL, ts.http.URL+fakeCheckoutPath), checkoutURL)

		status, h, page := ts.checkout(checkoutURL, "")
		require.Equal(t, 200, status, page)
		require.Equal(t, "text/html; charset=utf-8", h.Get("Content-Type"))
		require.Contains(t, h.Get("Content-Security-Policy"), "default-src 'none'")
		require.Contains(t, h.Get("Content-Security-Policy"), "form-action 'self'")
		for _, outside := range []string{"<script", "style=", "<style", "<link", "<img", "src=", "href=", "http://", "https://"} {
			require.NotContains(t, page, outside, "no script, no style, nothing loaded from elsewhere")
		}
		require.Equal(t, 2, strings.Count(page, `<form method="post">`), "pay, or make it fail")
		require.Contains(t, page, "25000 IDR")

		status, _, page = ts.checkout(checkoutURL, "paid")
		require.Equal(t, 200, status, page)
		require.Contains(t, page, "Paid.")
		require.Contains(t, page, "Status: <strong>paid</strong>")
		require.NotContains(t, page, "<form", "nothing left to pay")
		got := ts.must(200, "GET", "/api/client/pairings/"+obj(start, "pairing")["id"].(string), clientTok, nil)
		require.Equal(t, "searching", obj(got, "pairing")["status"], "the blast searches, as after the provider's webhook")
		offers := ts.must(200, "GET", "/api/mitra/pairing-offers", mitraTok, nil)["offers"].([]any)
		require.Len(t, offers, 1)

		// A second answer for the same payment is the webhook's: paid stays paid.
		status, _, _ = ts.checkout(checkoutURL, "paid")
		require.Equal(t, 200, status)

		// Failing a payment cancels what waited on it.
		_, otherTok := ts.newClient("Eko")
		start = ts.must(201, "POST", "/api/client/chat/start", otherTok, map[string]any{"minutes": 30})
		status, _, page = ts.checkout(obj(start, "payment")["checkout_url"].(string), "failed")
		require.Equal(t, 200, status, page)
		require.Contains(t, page, "The payment failed.")
		got = ts.must(200, "GET", "/api/client/pairings/"+obj(start, "pairing")["id"].(string), otherTok, nil)
		require.Equal(t, "cancelled", obj(got, "pairing")["status"])

		status, _, page = ts.checkout(checkoutURL, "maybe")
		require.Equal(t, 400, status)
		require.Contains(t, page, `"field":"outcome"`)
		status, _, _ = ts.checkout(ts.http.URL+fakeCheckoutPath+ts.app.checkout.links.token(uuid.New()), "")
		require.Equal(t, 404, status, "a link to no payment")
	})
}

// Whoever opens a checkout page can mark its payment paid for nothing, so the page is
// reached through its link, like a provider's invoice URL: a token the server signs, which
// the payment id alone does not give. The old form, the payment id in the path, is gone.
// base64URL is the alphabet of the link tokens, in the order of their 6-bit values.
const base64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func TestFakeCheckout_LinkIsAnUnguessableTokenNotThePaymentID(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, clientTok := ts.newClient("Dewi")
		start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
		pay := obj(start, "payment")
		payID := pay["id"].(string)
		checkoutURL := pay["checkout_url"].(string)
		token, ok := strings.CutPrefix(checkoutURL, ts.http.URL+fakeCheckoutPath)
		require.True(t, ok, checkoutURL)
		require.NotContains(t, checkoutURL, payID)
		require.NotContains(t, checkoutURL, strings.ReplaceAll(payID, "-", ""))
		require.GreaterOrEqual(t, len(token), 43, "at least 256 bits in the link")

		// The payment id in the path, as before: no page, and nothing paid.
		byID := ts.http.URL + fakeCheckoutPath + payID
		for _, outcome := range []string{"", "paid"} {
			status, _, body := ts.checkout(byID, outcome)
			require.Equal(t, 404, status, "outcome %q: %s", outcome, body)
			require.Contains(t, body, `"NOT_FOUND"`)
		}
		// A token altered by one character, or signed with another secret.
		flipped := []byte(token)
		flipped[len(flipped)-1] = map[bool]byte{true: 'B', false: 'A'}[flipped[len(flipped)-1] == 'A']
		other := newCheckoutLinks(strings.Repeat("x", minSecretBytes)).token(uuid.MustParse(payID))
		// The last character's low bits are padding: set them, and the bytes are the same.
		padded := []byte(token)
		padded[len(padded)-1] = base64URL[strings.IndexByte(base64URL, padded[len(padded)-1])|1]
		forgeries := []string{string(flipped), other, token[:len(token)-1]}
		if string(padded) != token {
			forgeries = append(forgeries, string(padded))
		}
		for _, forged := range forgeries {
			status, _, body := ts.checkout(ts.http.URL+fakeCheckoutPath+forged, "paid")
			require.Equal(t, 404, status, "%q: %s", forged, body)
		}
		got := ts.must(200, "GET", "/api/client/payments/"+payID, clientTok, nil)
		require.Equal(t, "pending", got["status"], "no forged link paid it")

		// The link itself works.
		status, _, page := ts.checkout(checkoutURL, "")
		require.Equal(t, 200, status, page)
		require.Contains(t, page, "curl -d outcome=paid "+fakeCheckoutPath+token)
		status, _, page = ts.checkout(checkoutURL, "paid")
		require.Equal(t, 200, status, page)
		require.Contains(t, page, "Paid.")
		got = ts.must(200, "GET", "/api/client/payments/"+payID, clientTok, nil)
		require.NotEqual(t, "pending", got["status"], "the link paid it (and, with nobody online, the blast refunded it)")
	})
}

// With a gateway that is not the fake, none of the fake's routes exist: not its checkout
// page (even behind a link signed as the fake would sign it), not its signed webhook, not
// the operators' refund switch — 404 for everybody, as for any unknown path.
func TestFakeGatewayRoutes_AreNotMountedWithoutTheFakeGateway(t *testing.T) {
	t.Parallel()
	ts := newTestServerWith(t, memoryBackend, func(o *appOptions) { o.Gateway = providerGateway{payment.NewFakeGateway()} })
	require.Nil(t, ts.app.checkout)
	require.Nil(t, ts.app.fakeGateway)
	for _, r := range ts.srv.routes {
		require.NotContains(t, r.Path, "fake-gateway", "%s %s", r.Method, r.Path)
		require.NotEqual(t, "/api/payments/webhook", r.Path)
	}
	ts.tiers()
	_, clientTok := ts.newClient("Dewi")
	start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
	pay := obj(start, "payment")
	require.NotContains(t, pay["checkout_url"], "/fake-gateway/", "the provider's own page")

	signed := newCheckoutLinks(ts.app.cfg.PaymentWebhookSecret).token(uuid.MustParse(pay["id"].(string)))
	for _, path := range []string{fakeCheckoutPath + signed, fakeCheckoutPath + pay["id"].(string)} {
		for _, outcome := range []string{"", "paid"} {
			status, _, body := ts.checkout(ts.http.URL+path, outcome)
			require.Equal(t, 404, status, "%s %q: %s", path, outcome, body)
			require.Contains(t, body, `"NOT_FOUND"`)
		}
	}
	body, err := json.Marshal(map[string]string{"payment_id": pay["id"].(string), "status": "paid"})
	require.NoError(t, err)
	res := ts.doWith("POST", "/api/payments/webhook", "", body, "X-Signature", signBody(ts.app.cfg.PaymentWebhookSecret, body))
	require.Equal(t, 404, res.Status, "%s", res.Raw)
	require.Equal(t, "NOT_FOUND", res.ErrorCode())
	for _, tok := range []string{ts.op, clientTok} {
		res = ts.do("POST", "/api/internal/fake-gateway/refund-failures", tok, map[string]any{"count": 1})
		require.Equal(t, 404, res.Status, "%s", res.Raw)
	}
	got := ts.must(200, "GET", "/api/client/payments/"+pay["id"].(string), clientTok, nil)
	require.Equal(t, "pending", got["status"])
}

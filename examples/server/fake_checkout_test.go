package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/payment/paymenttest"
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
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, mitraTok := ts.onlineMitra("Ayu")
		_, clientTok := ts.newClient("Dewi")
		start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
		pay := obj(start, "payment")
		checkoutURL := pay["checkout_url"].(string)
		require.Equal(t, ts.http.URL+"/fake-gateway/checkout/"+pay["id"].(string), checkoutURL)

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
		status, _, _ = ts.checkout(ts.http.URL+"/fake-gateway/checkout/"+uuid.NewString(), "")
		require.Equal(t, 404, status)
	})
}

func TestFakeCheckout_IsNotFoundWithoutTheFakeGateway(t *testing.T) {
	t.Parallel()
	ts := newTestServerWith(t, memoryBackend, func(o *appOptions) { o.Gateway = providerGateway{paymenttest.NewGateway()} })
	require.Nil(t, ts.app.checkout)
	ts.tiers()
	_, clientTok := ts.newClient("Dewi")
	start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
	require.NotContains(t, obj(start, "payment")["checkout_url"], "/fake-gateway/", "the provider's own page")
	status, _, body := ts.checkout(ts.http.URL+"/fake-gateway/checkout/"+obj(start, "payment")["id"].(string), "")
	require.Equal(t, 404, status)
	require.Contains(t, body, `"NOT_FOUND"`)
}

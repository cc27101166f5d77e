package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// webhook posts a signed payment confirmation.
func (ts *testServer) webhook(paymentID any, status string) response {
	ts.t.Helper()
	// The fake gateway's reference of the charge: a different one is refused (409).
	body, err := json.Marshal(map[string]any{"payment_id": paymentID, "status": status, "provider_ref": fmt.Sprint("fake_ch_", paymentID)})
	require.NoError(ts.t, err)
	req, err := http.NewRequest("POST", ts.http.URL+"/api/payments/webhook", strings.NewReader(string(body)))
	require.NoError(ts.t, err)
	req.Header.Set("X-Signature", signBody(ts.app.cfg.PaymentWebhookSecret, body))
	resp, err := ts.http.Client().Do(req)
	require.NoError(ts.t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return response{Status: resp.StatusCode, Body: out}
}

// startWithKey posts chat/start for 30 minutes with an Idempotency-Key.
func (ts *testServer) startWithKey(token, key string) map[string]any {
	ts.t.Helper()
	req, err := http.NewRequest("POST", ts.http.URL+"/api/client/chat/start", strings.NewReader(`{"minutes":30}`))
	require.NoError(ts.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", key)
	resp, err := ts.http.Client().Do(req)
	require.NoError(ts.t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(ts.t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(ts.t, 201, resp.StatusCode, "%v", body)
	return body
}

// tiers creates a 30-minute session tier and a 10-minute extension tier.
func (ts *testServer) tiers() {
	ts.t.Helper()
	ts.must(201, "POST", "/api/internal/pricing/tiers", ts.op, map[string]any{"mode": "session", "minutes": 30, "price": 25000})
	ts.must(201, "POST", "/api/internal/pricing/tiers", ts.op, map[string]any{"mode": "extension", "minutes": 10, "price": 10000})
}

// onlineMitra creates a mitra that is online with a fresh heartbeat.
func (ts *testServer) onlineMitra(name string) (uuid.UUID, string) {
	ts.t.Helper()
	id, tok := ts.newMitra(name)
	ts.must(200, "POST", "/api/mitra/status/online", tok, nil)
	return id, tok
}

func obj(m map[string]any, key string) map[string]any {
	v, _ := m[key].(map[string]any)
	return v
}

func TestChatFlow_BlastPayAcceptExtendEnd(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, clientTok := ts.newClient("Dewi")
		mitraA, tokA := ts.onlineMitra("Ayu")
		_, tokB := ts.onlineMitra("Bima")

		// Start (idempotent), pay, and the blast reaches both mitras.
		first := ts.startWithKey(clientTok, "start-1")
		again := ts.startWithKey(clientTok, "start-1")
		require.Equal(t, obj(first, "payment")["id"], obj(again, "payment")["id"], "a retried start returns the same payment")
		require.Equal(t, obj(first, "pairing")["id"], obj(again, "pairing")["id"])
		p, pay := obj(first, "pairing"), obj(first, "payment")
		require.Equal(t, "awaiting_payment", p["status"])
		require.Equal(t, "blast", p["type"])
		require.Equal(t, "pending", pay["status"])
		require.Equal(t, float64(25000), pay["amount"])
		require.Equal(t, 1, ts.app.fakeGateway.ChargesFor(uuid.MustParse(pay["id"].(string))))

		require.Equal(t, 200, ts.webhook(pay["id"], "paid").Status)
		require.Equal(t, 200, ts.webhook(pay["id"], "paid").Status, "a duplicate webhook is a no-op")
		pid := p["id"].(string)
		got := ts.must(200, "GET", "/api/client/pairings/"+pid, clientTok, nil)
		require.Equal(t, "searching", obj(got, "pairing")["status"])
		require.Equal(t, "paid", obj(got, "payment")["status"])
		for _, tok := range []string{tokA, tokB} {
			offers := ts.must(200, "GET", "/api/mitra/pairing-offers", tok, nil)["offers"].([]any)
			require.Len(t, offers, 1)
			require.Equal(t, pid, offers[0].(map[string]any)["pairing_id"])
		}

		// First accept wins; the other gets ALREADY_MATCHED and loses its offer.
		cs := obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+pid+"/accept", tokA, nil), "chat_session")
		require.Equal(t, "active", cs["status"])
		require.Equal(t, mitraA.String(), cs["mitra_id"])
		r := ts.do("POST", "/api/mitra/pairing-offers/"+pid+"/accept", tokB, nil)
		require.Equal(t, 409, r.Status, "%s", r.Raw)
		require.Equal(t, "ALREADY_MATCHED", r.ErrorCode())
		require.Empty(t, ts.must(200, "GET", "/api/mitra/pairing-offers", tokB, nil)["offers"])
		require.Equal(t, float64(1), ts.must(200, "GET", "/api/mitra/status", tokA, nil)["active_sessions"])

		// Extend by 10 minutes: auto-approved (the mitra is reachable), charged, then applied.
		sid := cs["id"].(string)
		endsBefore, err := time.Parse(time.RFC3339Nano, cs["ends_at"].(string))
		require.NoError(t, err)
		ext := ts.must(201, "POST", "/api/client/chat-sessions/"+sid+"/extensions", clientTok, map[string]any{"minutes": 10})
		require.Equal(t, "approved", obj(ext, "extension")["status"])
		require.Equal(t, "auto", obj(ext, "extension")["decided_by"])
		r = ts.do("POST", "/api/client/chat-sessions/"+sid+"/extensions", clientTok, map[string]any{"minutes": 10})
		require.Equal(t, "INVALID_STATE", r.ErrorCode(), "one open extension at a time")
		require.Equal(t, 200, ts.webhook(obj(ext, "payment")["id"], "paid").Status)
		after := ts.must(200, "GET", "/api/client/chat-sessions/"+sid, clientTok, nil)
		require.Equal(t, float64(40), after["minutes"])
		endsAfter, err := time.Parse(time.RFC3339Nano, after["ends_at"].(string))
		require.NoError(t, err)
		require.Equal(t, 10*time.Minute, endsAfter.Sub(endsBefore))

		// The session does not expire at the old end, and does at the new one.
		ts.clock.Set(endsBefore.Add(time.Second))
		require.Equal(t, "active", ts.must(200, "GET", "/api/client/chat-sessions/"+sid, clientTok, nil)["status"])
		ts.clock.Set(endsAfter.Add(time.Second))
		ended := ts.must(200, "GET", "/api/client/chat-sessions/"+sid, clientTok, nil)
		require.Equal(t, "ended", ended["status"])
		require.Equal(t, "expired", ended["end_reason"])
		require.Equal(t, float64(0), ts.must(200, "GET", "/api/mitra/status", tokA, nil)["active_sessions"])
	})
}

func TestChatFlow_EndByClientAndCrossAccessIsNotFound(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, clientTok := ts.newClient("Dewi")
		_, otherTok := ts.newClient("Eko")
		_, tokA := ts.onlineMitra("Ayu")
		_, tokB := ts.newMitra("Bima")
		start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
		pid, payID := obj(start, "pairing")["id"].(string), obj(start, "payment")["id"].(string)

		for _, path := range []string{"/api/client/pairings/" + pid, "/api/client/payments/" + payID} {
			r := ts.do("GET", path, otherTok, nil)
			require.Equal(t, 404, r.Status, path)
		}
		require.Equal(t, 404, ts.do("POST", "/api/client/chat/cancel", otherTok, map[string]any{"pairing_id": pid}).Status)

		ts.webhook(payID, "paid")
		require.Equal(t, 404, ts.do("POST", "/api/mitra/pairing-offers/"+pid+"/accept", tokB, nil).Status,
			"a mitra without an offer cannot accept")
		cs := obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+pid+"/accept", tokA, nil), "chat_session")
		sid := cs["id"].(string)
		require.Equal(t, 404, ts.do("GET", "/api/client/chat-sessions/"+sid, otherTok, nil).Status)
		require.Equal(t, 404, ts.do("POST", "/api/mitra/chat-sessions/"+sid+"/end", tokB, nil).Status)
		require.Equal(t, 404, ts.do("POST", "/api/client/chat-sessions/"+sid+"/extensions", otherTok, map[string]any{"minutes": 10}).Status)

		list := ts.must(200, "GET", "/api/mitra/chat-sessions?status=active", tokA, nil)["chat_sessions"].([]any)
		require.Len(t, list, 1)
		out := obj(ts.must(200, "POST", "/api/client/chat-sessions/"+sid+"/end", clientTok, nil), "chat_session")
		require.Equal(t, "ended", out["status"])
		require.Equal(t, "client_ended", out["end_reason"])
		require.Equal(t, "INVALID_STATE", ts.do("POST", "/api/mitra/chat-sessions/"+sid+"/end", tokA, nil).ErrorCode())
	})
}

func TestChatFlow_NoMitraFailsRefundsAndOperatorsResolve(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, clientTok := ts.newClient("Dewi")
		start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
		pid, payID := obj(start, "pairing")["id"].(string), obj(start, "payment")["id"].(string)
		ts.webhook(payID, "paid")

		got := ts.must(200, "GET", "/api/client/pairings/"+pid, clientTok, nil)
		require.Equal(t, "failed", obj(got, "pairing")["status"])
		require.Equal(t, "no_mitra_available", obj(got, "pairing")["failure_reason"])
		require.Equal(t, "refunded", obj(got, "payment")["status"])
		require.Equal(t, 1, ts.app.fakeGateway.RefundsFor(uuid.MustParse(payID)))

		list := ts.must(200, "GET", "/api/internal/failed-pairings?reason=no_mitra_available&status=open", ts.op, nil)
		require.Equal(t, float64(1), list["total"])
		item := list["items"].([]any)[0].(map[string]any)
		require.Equal(t, "refunded", item["refund_status"])
		require.Equal(t, float64(25000), item["amount"])
		fid := item["id"].(string)
		res := ts.must(200, "POST", "/api/internal/failed-pairings/"+fid+"/actions", ts.op, map[string]any{"action": "resolve", "note": "called the client"})
		require.Equal(t, "resolved", res["status"])
		require.Equal(t, uuid.Nil.String(), res["resolved_by"])
		r := ts.do("POST", "/api/internal/failed-pairings/"+fid+"/actions", ts.op, map[string]any{"action": "resolve"})
		require.Equal(t, 409, r.Status)
		require.Equal(t, "INVALID_STATE", r.ErrorCode())
		require.Equal(t, float64(0), ts.must(200, "GET", "/api/internal/failed-pairings?status=open", ts.op, nil)["total"])
		require.Equal(t, "VALIDATION_FAILED", ts.do("GET", "/api/internal/failed-pairings?page_size=500", ts.op, nil).ErrorCode())
		require.Equal(t, "VALIDATION_FAILED", ts.do("GET", "/api/internal/failed-pairings?reason=bogus", ts.op, nil).ErrorCode())
	})
}

func TestChatFlow_ReturningDeclineFallbackAndCancel(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, clientTok := ts.newClient("Dewi")
		mitraA, tokA := ts.onlineMitra("Ayu")

		r := ts.do("POST", "/api/client/chat/returning", clientTok, map[string]any{"mitra_id": mitraA.String(), "minutes": 30})
		require.Equal(t, "NO_PREVIOUS_SESSION", r.ErrorCode(), "%s", r.Raw)

		// One ended session together makes "Curhat lagi" possible.
		start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
		ts.webhook(obj(start, "payment")["id"], "paid")
		pid := obj(start, "pairing")["id"].(string)
		cs := obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+pid+"/accept", tokA, nil), "chat_session")
		ts.must(200, "POST", "/api/mitra/chat-sessions/"+cs["id"].(string)+"/end", tokA, nil)

		charges := len(ts.app.fakeGateway.Charges())
		tp := obj(ts.must(201, "POST", "/api/client/chat/returning", clientTok, map[string]any{"mitra_id": mitraA.String(), "minutes": 30}), "pairing")
		require.Equal(t, "targeted_waiting", tp["status"])
		require.Equal(t, "targeted", tp["type"])
		require.Equal(t, charges, len(ts.app.fakeGateway.Charges()), "nothing is charged before the mitra accepts")
		tpid := tp["id"].(string)
		ts.must(200, "POST", "/api/mitra/pairing-offers/"+tpid+"/decline", tokA, nil)
		got := obj(ts.must(200, "GET", "/api/client/pairings/"+tpid, clientTok, nil), "pairing")
		require.Equal(t, "targeted_unavailable", got["status"])

		fb := ts.must(200, "POST", "/api/client/chat/fallback-to-blast", clientTok, map[string]any{"pairing_id": tpid})
		require.Equal(t, tpid, obj(fb, "pairing")["id"], "fallback reuses the pairing")
		require.Equal(t, "blast", obj(fb, "pairing")["type"])
		require.Equal(t, "awaiting_payment", obj(fb, "pairing")["status"])
		require.Equal(t, "pending", obj(fb, "payment")["status"])

		c := ts.must(200, "POST", "/api/client/chat/cancel", clientTok, map[string]any{"pairing_id": tpid})
		require.Equal(t, "cancelled", obj(c, "pairing")["status"])
		pay := ts.must(200, "GET", "/api/client/payments/"+obj(fb, "payment")["id"].(string), clientTok, nil)
		require.Equal(t, "cancelled", pay["status"])
	})
}

func TestWebhook_RefusesBadSignatures(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		body := `{"payment_id":"` + uuid.NewString() + `","status":"paid","provider_ref":"x"}`
		for _, sig := range []string{"", "zz", signBody("wrong-secret", []byte(body))} {
			req, _ := http.NewRequest("POST", ts.http.URL+"/api/payments/webhook", strings.NewReader(body))
			if sig != "" {
				req.Header.Set("X-Signature", sig)
			}
			resp, err := ts.http.Client().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, 401, resp.StatusCode, "signature %q", sig)
		}
		require.Equal(t, 404, ts.webhook(uuid.NewString(), "paid").Status, "a signed webhook for an unknown payment")
		require.Equal(t, 400, ts.webhook(uuid.NewString(), "refunded").Status)
	})
}

func TestEvents_MitraReceivesOfferOverSSE(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, clientTok := ts.newClient("Dewi")
		mitraID, tokA := ts.onlineMitra("Ayu")

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.http.URL+"/api/mitra/events", nil)
		req.Header.Set("Authorization", "Bearer "+tokA)
		resp, err := ts.http.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
		rd := bufio.NewReader(resp.Body)
		line, err := rd.ReadString('\n') // ": connected"
		require.NoError(t, err)
		require.Contains(t, line, "connected")
		require.Equal(t, 1, ts.app.events.subscribers(SubjectMitra, mitraID))

		start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
		ts.webhook(obj(start, "payment")["id"], "paid")
		pid := obj(start, "pairing")["id"].(string)
		for {
			line, err := rd.ReadString('\n')
			require.NoError(t, err, "stream ended before the offer arrived")
			if strings.HasPrefix(line, "data: ") && strings.Contains(line, `"pairing_offer"`) {
				require.Contains(t, line, pid)
				return
			}
		}
	})
}

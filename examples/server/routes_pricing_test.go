package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

const pricingBase = "/api/internal/pricing"

// createTier creates a tier through the API and returns its JSON.
func (ts *testServer) createTier(mode string, minutes int, price int64) map[string]any {
	ts.t.Helper()
	return ts.must(http.StatusCreated, "POST", pricingBase+"/tiers", ts.op,
		map[string]any{"mode": mode, "minutes": minutes, "price": price, "label": mode + " tier"})
}

// errorField returns error.field of an error body.
func (r response) errorField() string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e["field"].(string)
	return s
}

func TestPricingRoutes_TierLifecycleWithOptimisticLocking(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		s30 := ts.createTier("session", 30, 25000)
		require.Equal(t, "session", s30["mode"])
		require.Equal(t, float64(30), s30["minutes"])
		require.Equal(t, "IDR", s30["currency"])
		require.Equal(t, true, s30["is_active"])
		for _, k := range []string{"id", "price", "label", "sort_order", "created_at", "updated_at"} {
			require.Contains(t, s30, k)
		}
		s60 := ts.createTier("session", 60, 45000)
		ext := ts.createTier("extension", 10, 8000)
		id30 := s30["id"].(string)

		r := ts.do("POST", pricingBase+"/tiers", ts.op, map[string]any{"mode": "session", "minutes": 30, "price": 1})
		require.Equal(t, http.StatusConflict, r.Status)
		require.Equal(t, "DUPLICATE_TIER", r.ErrorCode())

		list := ts.must(200, "GET", pricingBase+"/tiers", ts.op, nil)["tiers"].([]any)
		require.Equal(t, []any{s30, s60, ext}, list)
		list = ts.must(200, "GET", pricingBase+"/tiers?mode=extension", ts.op, nil)["tiers"].([]any)
		require.Equal(t, []any{ext}, list)

		// Edit with the token just read; the same token again is a stale write whose 409
		// body shows the current row.
		edited := ts.must(200, "PATCH", pricingBase+"/tiers/"+id30, ts.op,
			map[string]any{"expected_updated_at": s30["updated_at"], "price": 27500, "label": "Populer"})
		require.Equal(t, float64(27500), edited["price"])
		require.NotEqual(t, s30["updated_at"], edited["updated_at"])
		r = ts.do("PATCH", pricingBase+"/tiers/"+id30, ts.op, map[string]any{"expected_updated_at": s30["updated_at"], "price": 1})
		require.Equal(t, http.StatusConflict, r.Status)
		require.Equal(t, "STALE_WRITE", r.ErrorCode())
		require.Equal(t, edited, r.Body["error"].(map[string]any)["current"])

		off := ts.must(200, "POST", pricingBase+"/tiers/"+id30+"/deactivate", ts.op, map[string]any{"expected_updated_at": edited["updated_at"]})
		require.Equal(t, false, off["is_active"])
		list = ts.must(200, "GET", pricingBase+"/tiers?mode=session", ts.op, nil)["tiers"].([]any)
		require.Equal(t, []any{s60}, list)
		list = ts.must(200, "GET", pricingBase+"/tiers?mode=session&include_inactive=true", ts.op, nil)["tiers"].([]any)
		require.Len(t, list, 2)
		on := ts.must(200, "POST", pricingBase+"/tiers/"+id30+"/reactivate", ts.op, map[string]any{"expected_updated_at": off["updated_at"]})
		require.Equal(t, true, on["is_active"])

		// Reorder: stale rows change nothing; a fresh list applies.
		r = ts.do("POST", pricingBase+"/tiers/reorder", ts.op, map[string]any{"mode": "session", "tiers": []any{
			map[string]any{"id": s60["id"], "expected_updated_at": s60["updated_at"]},
			map[string]any{"id": id30, "expected_updated_at": s30["updated_at"]}, // stale
		}})
		require.Equal(t, http.StatusConflict, r.Status)
		require.Equal(t, "STALE_WRITE", r.ErrorCode())
		require.Len(t, r.Body["error"].(map[string]any)["current"], 2)
		reordered := ts.must(200, "POST", pricingBase+"/tiers/reorder", ts.op, map[string]any{"mode": "session", "tiers": []any{
			map[string]any{"id": s60["id"], "expected_updated_at": s60["updated_at"]},
			map[string]any{"id": id30, "expected_updated_at": on["updated_at"]},
		}})["tiers"].([]any)
		require.Equal(t, s60["id"], reordered[0].(map[string]any)["id"])
		require.Equal(t, id30, reordered[1].(map[string]any)["id"])

		entries := ts.must(200, "GET", pricingBase+"/tiers/"+id30+"/history", ts.op, nil)["entries"].([]any)
		var kinds []string
		for _, e := range entries {
			e := e.(map[string]any)
			kinds = append(kinds, e["change_kind"].(string))
			require.Equal(t, uuid.Nil.String(), e["changed_by"])
		}
		require.Equal(t, []string{"reorder", "reactivate", "deactivate", "update", "create"}, kinds)
		require.Nil(t, entries[4].(map[string]any)["before"])

		r = ts.do("GET", pricingBase+"/tiers/"+uuid.NewString()+"/history", ts.op, nil)
		require.Equal(t, http.StatusNotFound, r.Status)
	})
}

func TestPricingRoutes_FirstSessionDiscountAndClientPricing(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		s30 := ts.createTier("session", 30, 25000)
		ts.createTier("session", 60, 45000)
		ts.createTier("extension", 10, 8000)
		off := ts.createTier("session", 90, 60000)
		ts.must(200, "POST", pricingBase+"/tiers/"+off["id"].(string)+"/deactivate", ts.op, map[string]any{"expected_updated_at": off["updated_at"]})
		_, clientTok := ts.newClient("Dewi")

		cur := ts.must(200, "GET", pricingBase+"/promotions/first-session", ts.op, nil)
		require.Equal(t, false, cur["enabled"])
		put := map[string]any{"expected_updated_at": cur["updated_at"], "enabled": true, "discount_percent": 40,
			"max_discount_amount": 15000, "eligible_minutes": []int{30}, "label": "Sesi pertama"}
		promo := ts.must(200, "PUT", pricingBase+"/promotions/first-session", ts.op, put)
		require.Equal(t, []any{float64(30)}, promo["eligible_minutes"])
		r := ts.do("PUT", pricingBase+"/promotions/first-session", ts.op, put) // the same token again
		require.Equal(t, http.StatusConflict, r.Status)
		require.Equal(t, "STALE_WRITE", r.ErrorCode())
		require.Equal(t, promo, r.Body["error"].(map[string]any)["current"])
		entries := ts.must(200, "GET", pricingBase+"/promotions/first-session/history", ts.op, nil)["entries"].([]any)
		require.Len(t, entries, 1)
		require.Equal(t, "update", entries[0].(map[string]any)["change_kind"])

		body := ts.must(200, "GET", "/api/client/chat/pricing", clientTok, nil)
		require.Equal(t, "IDR", body["currency"])
		sessions := body["session_tiers"].([]any)
		require.Len(t, sessions, 2, "inactive tiers are hidden from clients")
		require.Equal(t, map[string]any{"id": s30["id"], "minutes": float64(30), "price": float64(25000),
			"discounted_price": float64(15000), "label": "session tier"}, sessions[0])
		require.Nil(t, sessions[1].(map[string]any)["discounted_price"], "60 minutes is not eligible")
		exts := body["extension_tiers"].([]any)
		require.Len(t, exts, 1)
		require.NotContains(t, exts[0], "discounted_price")
		require.Equal(t, map[string]any{"eligible": true, "discount_percent": float64(40),
			"max_discount_amount": float64(15000), "label": "Sesi pertama"}, body["first_session_discount"])

		// An operator edit shows on the client's very next request.
		ts.must(200, "PATCH", pricingBase+"/tiers/"+s30["id"].(string), ts.op, map[string]any{"expected_updated_at": s30["updated_at"], "price": 30000})
		body = ts.must(200, "GET", "/api/client/chat/pricing", clientTok, nil)
		require.Equal(t, float64(30000), body["session_tiers"].([]any)[0].(map[string]any)["price"])
		require.Equal(t, float64(18000), body["session_tiers"].([]any)[0].(map[string]any)["discounted_price"])
	})
}

// With Postgres, a client with a paid chat_start payment is no longer eligible.
func TestPricingRoutes_ClientWithPaidChatStartGetsNoDiscount(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, realBackend)
	s30 := ts.createTier("session", 30, 25000)
	cur := ts.must(200, "GET", pricingBase+"/promotions/first-session", ts.op, nil)
	ts.must(200, "PUT", pricingBase+"/promotions/first-session", ts.op,
		map[string]any{"expected_updated_at": cur["updated_at"], "enabled": true, "discount_percent": 50})
	clientID, clientTok := ts.newClient("Eko")
	_, err := ts.app.pool.Exec(context.Background(), `INSERT INTO payment_sessions
		(client_id, purpose, tier_id, minutes, base_amount, discount_amount, amount, currency, status, expires_at, paid_at)
		VALUES ($1, 'chat_start', $2, 30, 25000, 0, 25000, 'IDR', 'paid', $3, $3)`,
		clientID, uuid.MustParse(s30["id"].(string)), time.Now())
	require.NoError(t, err)

	body := ts.must(200, "GET", "/api/client/chat/pricing", clientTok, nil)
	require.Equal(t, false, body["first_session_discount"].(map[string]any)["eligible"])
	require.Nil(t, body["session_tiers"].([]any)[0].(map[string]any)["discounted_price"])
}

func TestPricingRoutes_BadInputIs400NamingTheField(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		s30 := ts.createTier("session", 30, 25000)
		ext := ts.createTier("extension", 10, 8000)
		tier := pricingBase + "/tiers/" + s30["id"].(string)
		extPath := pricingBase + "/tiers/" + ext["id"].(string)
		tok := s30["updated_at"].(string)
		promo := ts.must(200, "GET", pricingBase+"/promotions/first-session", ts.op, nil)
		ptok := promo["updated_at"].(string)
		label101 := strings.Repeat("é", 101)

		cases := []struct {
			name, method, path string
			body               any
			code, field        string
		}{
			{"create: unknown mode", "POST", pricingBase + "/tiers", `{"mode":"gift","minutes":30,"price":1}`, "VALIDATION_FAILED", "mode"},
			{"create: missing mode", "POST", pricingBase + "/tiers", `{"minutes":30,"price":1}`, "VALIDATION_FAILED", "mode"},
			{"create: missing minutes", "POST", pricingBase + "/tiers", `{"mode":"session","price":1}`, "VALIDATION_FAILED", "minutes"},
			{"create: zero minutes", "POST", pricingBase + "/tiers", `{"mode":"session","minutes":0,"price":1}`, "VALIDATION_FAILED", "minutes"},
			{"create: minutes over a day", "POST", pricingBase + "/tiers", `{"mode":"session","minutes":1441,"price":1}`, "VALIDATION_FAILED", "minutes"},
			{"create: fractional minutes", "POST", pricingBase + "/tiers", `{"mode":"session","minutes":30.5,"price":1}`, "VALIDATION_FAILED", "minutes"},
			{"create: minutes as string", "POST", pricingBase + "/tiers", `{"mode":"session","minutes":"30","price":1}`, "VALIDATION_FAILED", "minutes"},
			{"create: missing price", "POST", pricingBase + "/tiers", `{"mode":"session","minutes":45}`, "VALIDATION_FAILED", "price"},
			{"create: negative price", "POST", pricingBase + "/tiers", `{"mode":"session","minutes":45,"price":-1}`, "VALIDATION_FAILED", "price"},
			{"create: price over the limit", "POST", pricingBase + "/tiers", `{"mode":"session","minutes":45,"price":1000000001}`, "VALIDATION_FAILED", "price"},
			{"create: huge price", "POST", pricingBase + "/tiers", `{"mode":"session","minutes":45,"price":1e40}`, "VALIDATION_FAILED", "price"},
			{"create: free extension", "POST", pricingBase + "/tiers", `{"mode":"extension","minutes":20,"price":0}`, "VALIDATION_FAILED", "price"},
			{"create: long label", "POST", pricingBase + "/tiers", map[string]any{"mode": "session", "minutes": 45, "price": 1, "label": label101}, "VALIDATION_FAILED", "label"},
			{"create: unknown field", "POST", pricingBase + "/tiers", `{"mode":"session","minutes":45,"price":1,"currency":"USD"}`, "VALIDATION_FAILED", "currency"},
			{"create: malformed", "POST", pricingBase + "/tiers", `{"mode":`, "VALIDATION_FAILED", "body"},
			{"list: unknown mode", "GET", pricingBase + "/tiers?mode=gift", nil, "VALIDATION_FAILED", "mode"},
			{"list: bad include_inactive", "GET", pricingBase + "/tiers?include_inactive=maybe", nil, "VALIDATION_FAILED", "include_inactive"},
			{"update: bad id", "PATCH", pricingBase + "/tiers/not-a-uuid", `{"expected_updated_at":"` + tok + `"}`, "INVALID_ID", ""},
			{"update: missing token", "PATCH", tier, `{"price":1}`, "VALIDATION_FAILED", "expected_updated_at"},
			{"update: bad token", "PATCH", tier, `{"expected_updated_at":"yesterday","price":1}`, "VALIDATION_FAILED", "expected_updated_at"},
			{"update: numeric token", "PATCH", tier, `{"expected_updated_at":5,"price":1}`, "VALIDATION_FAILED", "expected_updated_at"},
			{"update: mode is read-only", "PATCH", tier, `{"expected_updated_at":"` + tok + `","mode":"extension"}`, "VALIDATION_FAILED", "mode"},
			{"update: minutes is read-only", "PATCH", tier, `{"expected_updated_at":"` + tok + `","minutes":60}`, "VALIDATION_FAILED", "minutes"},
			{"update: negative price", "PATCH", tier, `{"expected_updated_at":"` + tok + `","price":-5}`, "VALIDATION_FAILED", "price"},
			{"update: free extension", "PATCH", extPath, `{"expected_updated_at":"` + ext["updated_at"].(string) + `","price":0}`, "VALIDATION_FAILED", "price"},
			{"update: long label", "PATCH", tier, map[string]any{"expected_updated_at": tok, "label": label101}, "VALIDATION_FAILED", "label"},
			{"deactivate: missing token", "POST", tier + "/deactivate", `{}`, "VALIDATION_FAILED", "expected_updated_at"},
			{"reactivate: bad token", "POST", tier + "/reactivate", `{"expected_updated_at":"2026-13-01"}`, "VALIDATION_FAILED", "expected_updated_at"},
			{"deactivate: bad id", "POST", pricingBase + "/tiers/123/deactivate", `{"expected_updated_at":"` + tok + `"}`, "INVALID_ID", ""},
			{"history: bad id", "GET", pricingBase + "/tiers/123/history", nil, "INVALID_ID", ""},
			{"reorder: unknown mode", "POST", pricingBase + "/tiers/reorder", `{"mode":"gift","tiers":[{"id":"` + s30["id"].(string) + `","expected_updated_at":"` + tok + `"}]}`, "VALIDATION_FAILED", "mode"},
			{"reorder: no tiers", "POST", pricingBase + "/tiers/reorder", `{"mode":"session","tiers":[]}`, "VALIDATION_FAILED", "tiers"},
			{"reorder: tiers missing", "POST", pricingBase + "/tiers/reorder", `{"mode":"session"}`, "VALIDATION_FAILED", "tiers"},
			{"reorder: incomplete", "POST", pricingBase + "/tiers/reorder", `{"mode":"extension","tiers":[{"id":"` + s30["id"].(string) + `","expected_updated_at":"` + tok + `"}]}`, "VALIDATION_FAILED", "tiers"},
			{"reorder: tiers not an array", "POST", pricingBase + "/tiers/reorder", `{"mode":"session","tiers":{}}`, "VALIDATION_FAILED", "tiers"},
			{"reorder: bad tier id", "POST", pricingBase + "/tiers/reorder", `{"mode":"session","tiers":[{"id":"x","expected_updated_at":"` + tok + `"}]}`, "INVALID_ID", ""},
			{"reorder: missing token", "POST", pricingBase + "/tiers/reorder", `{"mode":"session","tiers":[{"id":"` + s30["id"].(string) + `"}]}`, "VALIDATION_FAILED", "tiers[0].expected_updated_at"},
			{"promotion: missing token", "PUT", pricingBase + "/promotions/first-session", `{"enabled":true,"discount_percent":10}`, "VALIDATION_FAILED", "expected_updated_at"},
			{"promotion: missing enabled", "PUT", pricingBase + "/promotions/first-session", `{"expected_updated_at":"` + ptok + `","discount_percent":10}`, "VALIDATION_FAILED", "enabled"},
			{"promotion: missing percent", "PUT", pricingBase + "/promotions/first-session", `{"expected_updated_at":"` + ptok + `","enabled":true}`, "VALIDATION_FAILED", "discount_percent"},
			{"promotion: percent over 100", "PUT", pricingBase + "/promotions/first-session", `{"expected_updated_at":"` + ptok + `","enabled":true,"discount_percent":101}`, "VALIDATION_FAILED", "discount_percent"},
			{"promotion: negative percent", "PUT", pricingBase + "/promotions/first-session", `{"expected_updated_at":"` + ptok + `","enabled":true,"discount_percent":-1}`, "VALIDATION_FAILED", "discount_percent"},
			{"promotion: negative cap", "PUT", pricingBase + "/promotions/first-session", `{"expected_updated_at":"` + ptok + `","enabled":true,"discount_percent":10,"max_discount_amount":-1}`, "VALIDATION_FAILED", "max_discount_amount"},
			{"promotion: eligible zero", "PUT", pricingBase + "/promotions/first-session", `{"expected_updated_at":"` + ptok + `","enabled":true,"discount_percent":10,"eligible_minutes":[30,0]}`, "VALIDATION_FAILED", "eligible_minutes"},
			{"promotion: eligible too long", "PUT", pricingBase + "/promotions/first-session", `{"expected_updated_at":"` + ptok + `","enabled":true,"discount_percent":10,"eligible_minutes":[2000]}`, "VALIDATION_FAILED", "eligible_minutes"},
			{"promotion: eligible not numbers", "PUT", pricingBase + "/promotions/first-session", `{"expected_updated_at":"` + ptok + `","enabled":true,"discount_percent":10,"eligible_minutes":["30"]}`, "VALIDATION_FAILED", "eligible_minutes"},
			{"promotion: long label", "PUT", pricingBase + "/promotions/first-session", map[string]any{"expected_updated_at": ptok, "enabled": true, "discount_percent": 10, "label": label101}, "VALIDATION_FAILED", "label"},
			{"promotion: enabled not a boolean", "PUT", pricingBase + "/promotions/first-session", `{"expected_updated_at":"` + ptok + `","enabled":"yes","discount_percent":10}`, "VALIDATION_FAILED", "enabled"},
		}
		for _, c := range cases {
			r := ts.do(c.method, c.path, ts.op, c.body)
			require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", c.name, r.Raw)
			require.Equal(t, c.code, r.ErrorCode(), "%s: %s", c.name, r.Raw)
			if c.field != "" {
				require.Equal(t, c.field, r.errorField(), "%s: %s", c.name, r.Raw)
			}
		}

		// Nothing above changed anything.
		list := ts.must(200, "GET", pricingBase+"/tiers?include_inactive=true", ts.op, nil)["tiers"].([]any)
		require.Equal(t, []any{s30, ext}, list)
		require.Empty(t, ts.must(200, "GET", pricingBase+"/promotions/first-session/history", ts.op, nil)["entries"])
	})
}

func TestPricingRoutes_InternalRoutesAreOperatorOnly(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	_, clientTok := ts.newClient("Dewi")
	_, mitraTok := ts.newMitra("Ayu")
	id := uuid.NewString()
	routes := []struct{ method, path string }{
		{"GET", pricingBase + "/tiers"},
		{"POST", pricingBase + "/tiers"},
		{"POST", pricingBase + "/tiers/reorder"},
		{"PATCH", pricingBase + "/tiers/" + id},
		{"POST", pricingBase + "/tiers/" + id + "/deactivate"},
		{"POST", pricingBase + "/tiers/" + id + "/reactivate"},
		{"GET", pricingBase + "/tiers/" + id + "/history"},
		{"GET", pricingBase + "/promotions/first-session"},
		{"PUT", pricingBase + "/promotions/first-session"},
		{"GET", pricingBase + "/promotions/first-session/history"},
	}
	body := map[string]any{"mode": "session", "minutes": 30, "price": 1}
	for _, rt := range routes {
		r := ts.do(rt.method, rt.path, "", body)
		require.Equal(t, http.StatusUnauthorized, r.Status, "%s %s: %s", rt.method, rt.path, r.Raw)
		for _, tok := range []string{clientTok, mitraTok} {
			r := ts.do(rt.method, rt.path, tok, body)
			require.Equal(t, http.StatusForbidden, r.Status, "%s %s: %s", rt.method, rt.path, r.Raw)
			require.Equal(t, "FORBIDDEN", r.ErrorCode())
		}
	}
	// Nothing was created by the refused calls.
	require.Empty(t, ts.must(200, "GET", pricingBase+"/tiers?include_inactive=true", ts.op, nil)["tiers"])

	// The client price list is for clients.
	require.Equal(t, http.StatusForbidden, ts.do("GET", "/api/client/chat/pricing", ts.op, nil).Status)
	require.Equal(t, http.StatusForbidden, ts.do("GET", "/api/client/chat/pricing", mitraTok, nil).Status)
	require.Equal(t, http.StatusUnauthorized, ts.do("GET", "/api/client/chat/pricing", "", nil).Status)
	ts.must(200, "GET", "/api/client/chat/pricing", clientTok, nil)
}

func TestPricingRoutes_NewTierTakesItsPlaceByMinutes(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		for _, m := range []int{15, 30, 60, 45} {
			ts.createTier("session", m, int64(m)*1000)
		}
		_, clientTok := ts.newClient("Dewi")
		var minutes []float64
		for _, tier := range ts.must(200, "GET", "/api/client/chat/pricing", clientTok, nil)["session_tiers"].([]any) {
			minutes = append(minutes, tier.(map[string]any)["minutes"].(float64))
		}
		require.Equal(t, []float64{15, 30, 45, 60}, minutes, "the 45-minute tier between 30 and 60")
	})
}

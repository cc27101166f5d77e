package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
)

func TestAuth_RefusesMissingWrongExpiredAndRevokedTokens(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		mitraID, mitraTok := ts.newMitra("Ayu")
		const path = "/api/mitra/status"

		r := ts.do("GET", path, "", nil)
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.Equal(t, "UNAUTHENTICATED", r.ErrorCode())

		r = ts.do("GET", path, "not-a-token", nil)
		require.Equal(t, http.StatusUnauthorized, r.Status)

		ts.must(http.StatusOK, "GET", path, mitraTok, nil)

		// Expired: a token with a 60 s lifetime, one minute later.
		short := ts.must(201, "POST", "/api/internal/tokens", ts.op,
			map[string]any{"subject_kind": "mitra", "subject_id": mitraID.String(), "ttl_seconds": 60})["token"].(string)
		ts.must(http.StatusOK, "GET", path, short, nil)
		ts.clock.Advance(61 * time.Second)
		require.Equal(t, http.StatusUnauthorized, ts.do("GET", path, short, nil).Status)

		// Revoked: a token signed out no longer passes (cache included); its sibling does.
		other := ts.token("mitra", mitraID)
		ts.must(http.StatusOK, "GET", path, other, nil)
		ts.must(http.StatusNoContent, "POST", "/api/mitra/logout", other, nil)
		r = ts.do("GET", path, other, nil)
		require.Equal(t, http.StatusUnauthorized, r.Status, "revoked token must not pass: %s", r.Raw)
		require.Equal(t, "UNAUTHENTICATED", r.ErrorCode())
		ts.must(http.StatusOK, "GET", path, mitraTok, nil)

		// Deactivation revokes every token of the mitra at once, and says so.
		ts.must(http.StatusOK, "PATCH", "/api/internal/mitras/"+mitraID.String()+"/status", ts.op, map[string]any{"is_active": false})
		r = ts.do("GET", path, mitraTok, nil)
		require.Equal(t, http.StatusForbidden, r.Status, "a deactivated mitra's token must not pass: %s", r.Raw)
		require.Equal(t, "MITRA_DEACTIVATED", r.ErrorCode())
	})
}

func TestAuth_RoleMismatchIsForbidden(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		_, clientTok := ts.newClient("Dewi")
		_, mitraTok := ts.newMitra("Ayu")
		r := ts.do("POST", "/api/internal/clients", clientTok, map[string]any{"display_name": "x"})
		require.Equal(t, http.StatusForbidden, r.Status)
		require.Equal(t, "FORBIDDEN", r.ErrorCode())
		require.Equal(t, http.StatusForbidden, ts.do("GET", "/api/client/mitra-availability", mitraTok, nil).Status)
		require.Equal(t, http.StatusForbidden, ts.do("GET", "/api/mitra/status", clientTok, nil).Status)
	})
}

func TestAuth_SteadyStateHeartbeatSkipsPostgres(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, realBackend)
	_, tok := ts.newMitra("Ayu")
	ts.must(200, "POST", "/api/mitra/status/online", tok, nil)
	ts.must(200, "POST", "/api/mitra/status/heartbeat", tok, nil) // warms the token cache
	before := ts.app.pgQueries()
	for range 50 {
		ts.must(200, "POST", "/api/mitra/status/heartbeat", tok, nil)
	}
	require.Equal(t, before, ts.app.pgQueries(), "heartbeats must not query Postgres")
}

func TestDecode_BadInputGets4xxWithCode(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		cases := []struct {
			name, method, path string
			body               any
			status             int
			code               string
		}{
			{"malformed json", "POST", "/api/internal/clients", `{"display_name":`, 400, "VALIDATION_FAILED"},
			{"not an object", "POST", "/api/internal/clients", `[1,2]`, 400, "VALIDATION_FAILED"},
			{"empty body", "POST", "/api/internal/clients", ``, 400, "VALIDATION_FAILED"},
			{"trailing data", "POST", "/api/internal/clients", `{"display_name":"a"} {}`, 400, "VALIDATION_FAILED"},
			{"unknown field", "POST", "/api/internal/clients", `{"display_name":"a","admin":true}`, 400, "VALIDATION_FAILED"},
			{"wrong type", "POST", "/api/internal/mitras", `{"display_name":5}`, 400, "VALIDATION_FAILED"},
			{"blank name", "POST", "/api/internal/mitras", `{"display_name":"  "}`, 400, "VALIDATION_FAILED"},
			{"negative capacity", "POST", "/api/internal/mitras", `{"display_name":"a","max_concurrent_sessions":-1}`, 400, "VALIDATION_FAILED"},
			{"huge number", "POST", "/api/internal/mitras", `{"display_name":"a","max_concurrent_sessions":1e40}`, 400, "VALIDATION_FAILED"},
			{"bad uuid in path", "GET", "/api/internal/mitras/not-a-uuid", nil, 400, "INVALID_ID"},
			{"bad uuid in body", "POST", "/api/internal/tokens", `{"subject_kind":"client","subject_id":"123"}`, 400, "INVALID_ID"},
			{"unknown subject", "POST", "/api/internal/tokens", `{"subject_kind":"client","subject_id":"` + uuid.NewString() + `"}`, 404, "NOT_FOUND"},
			{"bad subject kind", "POST", "/api/internal/tokens", `{"subject_kind":"root","subject_id":"` + uuid.NewString() + `"}`, 400, "VALIDATION_FAILED"},
			{"negative ttl", "POST", "/api/internal/tokens", `{"subject_kind":"client","subject_id":"` + uuid.NewString() + `","ttl_seconds":-5}`, 400, "VALIDATION_FAILED"},
			{"unknown mitra", "GET", "/api/internal/mitras/" + uuid.NewString(), nil, 404, "NOT_FOUND"},
			{"oversized body", "POST", "/api/internal/clients", `{"display_name":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "PAYLOAD_TOO_LARGE"},
			{"unknown config key", "PUT", "/api/internal/config/no_such_key", `{"value":1}`, 400, "VALIDATION_FAILED"},
			{"ill-typed config", "PUT", "/api/internal/config/pairing_blast_timeout_seconds", `{"value":"soon"}`, 400, "VALIDATION_FAILED"},
			{"missing is_active", "PATCH", "/api/internal/mitras/" + uuid.NewString() + "/status", `{}`, 400, "VALIDATION_FAILED"},
		}
		for _, c := range cases {
			r := ts.do(c.method, c.path, ts.op, c.body)
			require.Equal(t, c.status, r.Status, "%s: %s", c.name, r.Raw)
			require.Equal(t, c.code, r.ErrorCode(), "%s: %s", c.name, r.Raw)
		}
	})
}

func TestInternal_CreateMitraClientAndTokens(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		m := ts.must(201, "POST", "/api/internal/mitras", ts.op, map[string]any{"display_name": "Ayu", "max_concurrent_sessions": 2})
		require.Equal(t, "Ayu", m["display_name"])
		require.Equal(t, true, m["is_active"])
		require.Equal(t, float64(2), m["max_concurrent_sessions"])
		got := ts.must(200, "GET", "/api/internal/mitras/"+m["id"].(string), ts.op, nil)
		require.Equal(t, m["id"], got["id"])

		c := ts.must(201, "POST", "/api/internal/clients", ts.op, map[string]any{"display_name": "Dewi"})
		tok := ts.must(201, "POST", "/api/internal/tokens", ts.op, map[string]any{"subject_kind": "client", "subject_id": c["id"]})
		require.NotEmpty(t, tok["token"])
		require.NotEmpty(t, tok["expires_at"])
		ts.must(200, "GET", "/api/client/mitra-availability", tok["token"].(string), nil)
	})
}

func TestConfig_ListAndPut(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		list := ts.must(200, "GET", "/api/internal/config", ts.op, nil)
		items := list["items"].([]any)
		require.Len(t, items, len(curhat.ConfigKeys()), "every key, each in openapi.json's enum (the contract checks the answer)")
		ts.must(200, "PUT", "/api/internal/config/pairing_blast_timeout_seconds", ts.op, map[string]any{"value": 45})
		require.Equal(t, 45*time.Second, ts.app.runtime.BlastTimeout(context.Background()))
	})
}

func TestHealth(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.must(200, "GET", "/healthz", "", nil)
		r := ts.must(200, "GET", "/readyz", "", nil)
		require.Contains(t, []any{"ok", "memory"}, r["postgres"])
	})
}

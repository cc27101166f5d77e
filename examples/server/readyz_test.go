package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/testenv"
)

func TestReadyz_ValkeyDownIsDegradedNotUnready(t *testing.T) {
	t.Parallel()
	redis := testenv.StartRedis(t)
	ts := newTestServer(t, realBackend, func(c *Config) {
		c.ValkeyURL = redis.URL()
		c.ValkeyKeyPrefix = ""
	})
	r := ts.must(200, "GET", "/readyz", "", nil)
	require.Equal(t, "ok", r["postgres"])
	require.Equal(t, "ok", r["valkey"])

	_, mitraTok := ts.newMitra("Ayu")
	_, clientTok := ts.newClient("Dewi")
	ts.must(200, "POST", "/api/mitra/status/online", mitraTok, nil)

	require.NoError(t, redis.Stop())
	r = ts.must(200, "GET", "/readyz", "", nil)
	require.Equal(t, "degraded", r["valkey"], "every read falls back to Postgres: degraded, still ready")
	// And the API keeps answering from Postgres.
	require.Equal(t, true, ts.must(200, "POST", "/api/mitra/status/heartbeat", mitraTok, nil)["online"])
	b := ts.must(200, "GET", "/api/client/mitra-availability", clientTok, nil)
	require.Equal(t, float64(1), b["available_count"])
}

package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/internal/valkeyutil"
)

// TestHeartbeat_OneValkeyRoundTripAndNoPostgresPerRequest pins the HTTP heartbeat, with and
// without X-Device-Id, to what Valkey itself counts on a private server (nothing else talks
// to it, and the fake clock runs no watchdog): one EVALSHA a request, running the five
// commands of a ping newer than the mitra's last (the seed marker, the heartbeat index, the
// heartbeat string, the available index, the device's heartbeat field), and no Postgres
// statement.
func TestHeartbeat_OneValkeyRoundTripAndNoPostgresPerRequest(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t)
	ts := newTestServer(t, realBackend, func(cfg *Config) { cfg.ValkeyURL, cfg.ValkeyKeyPrefix = srv.URL(), "" })
	_, tok := ts.newMitra("Ayu")
	ts.must(http.StatusOK, "POST", "/api/mitra/status/online", tok, nil)
	heartbeat := func(device string) {
		t.Helper()
		ts.clock.Advance(time.Millisecond) // each ping newer than the last
		var r response
		if device == "" {
			r = ts.do("POST", "/api/mitra/status/heartbeat", tok, nil)
		} else {
			r = ts.doWith("POST", "/api/mitra/status/heartbeat", tok, nil, deviceHeader, device)
		}
		require.Equal(t, http.StatusOK, r.Status, r.Raw)
		require.Equal(t, true, r.Body["online"])
	}
	heartbeat("") // warms the token cache, loads the script
	heartbeat("phone")

	raw, err := valkeyutil.NewClient(valkeyutil.Options{URL: srv.URL()})
	require.NoError(t, err)
	t.Cleanup(raw.Close)
	testenv.ResetCommandStats(t, raw)
	pg := ts.app.pgQueries()
	const requests = 40
	for i := range requests {
		if i%2 == 0 {
			heartbeat("")
		} else {
			heartbeat("phone")
		}
	}
	require.Equal(t, pg, ts.app.pgQueries(), "no Postgres statement")
	got := testenv.CommandCalls(t, raw)
	delete(got, "config|resetstat")
	require.Equal(t, map[string]int64{
		"evalsha": requests,
		"exists":  requests,
		"zadd":    2 * requests,
		"set":     requests,
		"hset":    requests,
	}, got)
}

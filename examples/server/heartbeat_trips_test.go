package main

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/internal/valkeyutil"
)

// commandCalls returns the calls of each command a redis-server ran since its last CONFIG
// RESETSTAT (INFO commandstats: a script's own commands included).
func commandCalls(t *testing.T, c valkey.Client) map[string]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := c.Do(ctx, c.B().Info().Section("commandstats").Build()).ToString()
	require.NoError(t, err)
	out := map[string]int64{}
	for line := range strings.SplitSeq(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		n, err := strconv.ParseInt(calls, 10, 64)
		require.NoError(t, err, line)
		out[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	return out
}

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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, raw.Do(ctx, raw.B().ConfigResetstat().Build()).Error())
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
	got := commandCalls(t, raw)
	delete(got, "config|resetstat")
	require.Equal(t, map[string]int64{
		"evalsha": requests,
		"exists":  requests,
		"zadd":    2 * requests,
		"set":     requests,
		"hset":    requests,
	}, got)
}

package main

import (
	"bytes"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// fastDemo plays the demo mitras at test speed.
var fastDemo = demoPace{Poll: 5 * time.Millisecond, Heartbeat: 20 * time.Millisecond, MinDelay: 10 * time.Millisecond, MaxDelay: 30 * time.Millisecond}

func demoServer(t *testing.T, mitras string) (*testServer, string) {
	t.Helper()
	ts := newTestServer(t, memoryBackend, func(c *Config) { c.DemoData, c.DemoMitras = true, mitras })
	var out bytes.Buffer
	require.NoError(t, ts.app.seedDemo(t.Context(), &out, fastDemo))
	return ts, out.String()
}

// With DEMO_MITRAS=auto a newcomer needs only a client: pay at the checkout page, and a
// demo mitra accepts; the demo mitras keep heartbeating, so they never go stale.
func TestDemo_MitrasHeartbeatAndAcceptOffers(t *testing.T) {
	t.Parallel()
	ts, out := demoServer(t, DemoMitrasAuto)
	require.Contains(t, out, "DEMO_MITRAS=auto")
	clientTok := regexp.MustCompile(`client Client Dewi .* token=(\S+)`).FindStringSubmatch(out)[1]

	start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
	status, _, page := ts.checkout(obj(start, "payment")["checkout_url"].(string), "paid")
	require.Equal(t, 200, status, page)
	pairingPath := "/api/client/pairings/" + obj(start, "pairing")["id"].(string)
	require.Eventually(t, func() bool {
		got := ts.must(200, "GET", pairingPath, clientTok, nil)
		return obj(got, "pairing")["status"] == "matched" && obj(got, "chat_session")["status"] == "active"
	}, 5*time.Second, 10*time.Millisecond, "a demo mitra accepts")

	// Past the stale threshold on the server's clock, the demo mitras are still online.
	mitraID := uuid.MustParse(regexp.MustCompile(`mitra  Bestie Bima +id=(\S+) online=true`).FindStringSubmatch(out)[1])
	ts.clock.Advance(2 * ts.app.cfg.HeartbeatStale)
	require.Eventually(t, func() bool {
		ok, err := ts.app.mirror.IsReachable(t.Context(), mitraID)
		return err == nil && ok
	}, 5*time.Second, 10*time.Millisecond, "the demo mitra heartbeats")

	ts.app.Close(t.Context()) // the player stops with the App (goleak checks in TestMain)
	ts.app.demoMu.Lock()
	defer ts.app.demoMu.Unlock()
	require.NotNil(t, ts.app.demo)
}

func TestDemo_MitrasOffLeavesThemToTheDeveloper(t *testing.T) {
	t.Parallel()
	ts, out := demoServer(t, DemoMitrasOff)
	require.Contains(t, out, "DEMO_MITRAS=off")
	require.Nil(t, ts.app.demo)
	clientTok := regexp.MustCompile(`client Client Dewi .* token=(\S+)`).FindStringSubmatch(out)[1]
	start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
	ts.checkout(obj(start, "payment")["checkout_url"].(string), "paid")
	time.Sleep(100 * time.Millisecond) // what the auto player would need several times over
	got := ts.must(200, "GET", "/api/client/pairings/"+obj(start, "pairing")["id"].(string), clientTok, nil)
	require.Equal(t, "searching", obj(got, "pairing")["status"], "nobody accepts for the developer")
}

func TestConfig_DemoMitrasAndPublicURL(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	c, err := configFromEnv(env())
	require.NoError(t, err)
	require.Equal(t, DemoMitrasAuto, c.DemoMitras)
	require.Equal(t, "http://localhost:8080", c.PublicURL)
	c, err = configFromEnv(env("DEMO_MITRAS", "off", "ADDR", "127.0.0.1:9000"))
	require.NoError(t, err)
	require.Equal(t, DemoMitrasOff, c.DemoMitras)
	require.Equal(t, "http://localhost:9000", c.PublicURL)
	c, err = configFromEnv(env("PUBLIC_URL", "https://api.example.com/"))
	require.NoError(t, err)
	require.Equal(t, "https://api.example.com", c.PublicURL)
	_, err = configFromEnv(env("DEMO_MITRAS", "maybe"))
	require.ErrorContains(t, err, "DEMO_MITRAS")
	_, err = configFromEnv(env("PUBLIC_URL", "api.example.com"))
	require.ErrorContains(t, err, "PUBLIC_URL")
}

// The demo mitras heartbeat at a third of MITRA_HEARTBEAT_STALE_SECONDS: with a threshold
// of 2 s (on the wall clock) they stay reachable, where a fixed 20 s beat let them go
// stale at once.
func TestDemo_MitrasHeartbeatAtAThirdOfTheStaleThreshold(t *testing.T) {
	t.Parallel()
	const stale = 2 * time.Second
	ts := newTestServerWith(t, memoryBackend, func(o *appOptions) { o.Clock = nil }, func(c *Config) {
		c.DemoData, c.DemoMitras, c.HeartbeatStale = true, DemoMitrasAuto, stale
	})
	var out bytes.Buffer
	require.NoError(t, ts.app.seedDemo(t.Context(), &out, defaultDemoPace))
	require.Equal(t, stale/3, defaultDemoPace.withDefaults(ts.app.staleThreshold()).Heartbeat)
	require.Contains(t, out.String(), fmt.Sprintf("heartbeat every %v", stale/3))

	var online []uuid.UUID
	for _, m := range regexp.MustCompile(`mitra  Bestie \w+ +id=(\S+) online=true`).FindAllStringSubmatch(out.String(), -1) {
		online = append(online, uuid.MustParse(m[1]))
	}
	require.Len(t, online, 2)
	require.Never(t, func() bool {
		for _, id := range online {
			if ok, err := ts.app.mirror.IsReachable(t.Context(), id); err != nil || !ok {
				return true
			}
		}
		return false
	}, 2*stale, 20*time.Millisecond, "a demo mitra went stale")
}

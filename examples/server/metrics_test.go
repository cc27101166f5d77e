package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/testenv"
)

// scrape is one parsed text exposition of GET /metrics.
type scrape struct {
	raw    string
	series []scrapedSeries
}

type scrapedSeries struct {
	name   string
	labels map[string]string
	value  float64
}

var labelPair = regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)

func scrapeMetrics(t *testing.T, ts *testServer) scrape {
	t.Helper()
	r := ts.do("GET", "/metrics", "", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
	out := scrape{raw: string(r.Raw)}
	for _, line := range strings.Split(out.raw, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cut := strings.LastIndexByte(line, ' ')
		require.Positive(t, cut, "line %q", line)
		v, err := strconv.ParseFloat(line[cut+1:], 64)
		require.NoError(t, err, "line %q", line)
		s := scrapedSeries{name: line[:cut], labels: map[string]string{}, value: v}
		if i := strings.IndexByte(s.name, '{'); i >= 0 {
			for _, m := range labelPair.FindAllStringSubmatch(s.name[i:], -1) {
				s.labels[m[1]] = m[2]
			}
			s.name = s.name[:i]
		}
		out.series = append(out.series, s)
	}
	return out
}

// value returns the series name{labels} (labels given as "k", "v", …).
func (s scrape) value(name string, labels ...string) (float64, bool) {
next:
	for _, se := range s.series {
		if se.name != name {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if se.labels[labels[i]] != labels[i+1] {
				continue next
			}
		}
		return se.value, true
	}
	return 0, false
}

func (s scrape) must(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	v, ok := s.value(name, labels...)
	require.True(t, ok, "no series %s%v in:\n%s", name, labels, s.raw)
	return v
}

func TestMetrics_ScrapeShowsLatencyPerRoutePatternAndRefunds(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	f := newAuthzFixture(t, ts)
	for range 3 {
		ts.must(200, "GET", "/api/internal/mitras/"+f.mitra.String(), ts.op, nil)
	}
	ts.must(200, "GET", "/healthz", "", nil)

	// A blast paid while nobody is available fails and is refunded; with the gateway
	// refusing, the next one ends refund_failed.
	ts.must(200, "POST", "/api/mitra/status/offline", f.mitraTok, nil)
	paidBlast := func() {
		c := f.freshClient()
		start := ts.must(201, "POST", "/api/client/chat/start", c.tok, map[string]any{"minutes": 30})
		f.pay(start["payment"].(map[string]any)["id"].(string))
	}
	paidBlast()
	ts.app.fakeGateway.FailRefunds(true)
	paidBlast()

	m := scrapeMetrics(t, ts)
	// The route pattern, not the raw path: one series for every mitra id.
	require.Equal(t, float64(3), m.must(t, "curhat_http_request_duration_seconds_count", "route", "GET /api/internal/mitras/{id}", "class", "2xx"))
	require.Equal(t, float64(1), m.must(t, "curhat_http_request_duration_seconds_count", "route", "GET /healthz", "class", "2xx"))
	require.Equal(t, float64(3), m.must(t, "curhat_http_request_duration_seconds_bucket", "route", "GET /api/internal/mitras/{id}", "class", "2xx", "le", "+Inf"))
	require.NotContains(t, m.raw, f.mitra.String(), "no raw path, no id in the metrics")

	require.Equal(t, float64(1), m.must(t, "curhat_payment_refunds_total", "outcome", "issued"))
	require.Equal(t, float64(1), m.must(t, "curhat_payment_refunds_total", "outcome", "failed"))
	require.Equal(t, float64(25000), m.must(t, "curhat_payment_refunded_amount_total"))
	require.Equal(t, float64(1), m.must(t, "curhat_valkey_seeds_total", "outcome", "ok"), "the start-up seed")
	require.Equal(t, float64(0), m.must(t, "curhat_ledger_imbalance"), "paid, refunded: the books balance")
	_, hasDrift := m.value("curhat_mirror_drift_differences")
	require.False(t, hasDrift, "no Valkey, no drift series")
	require.Contains(t, m.raw, "go_goroutines")
	for _, name := range []string{"go_gc_heap_live_bytes", "go_memory_classes_heap_objects_bytes",
		"go_memory_classes_heap_stacks_bytes", "go_sched_goroutines_goroutines", "go_gc_cycles_total_gc_cycles_total"} {
		v, ok := m.value(name)
		require.True(t, ok, "runtime metric %s", name)
		if name != "go_gc_cycles_total_gc_cycles_total" && name != "go_gc_heap_live_bytes" {
			require.Positive(t, v, name)
		}
	}
}

func TestMetrics_SweepRunsDurationsAndCounts(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend, func(c *Config) {
		c.Sweeps = true
		c.TimeoutsSweepInterval = 10 * time.Millisecond
		c.PaymentSweepInterval = 10 * time.Millisecond
	})
	deadline := time.Now().Add(10 * time.Second)
	var m scrape
	for {
		m = scrapeMetrics(t, ts)
		_, a := m.value("curhat_sweep_runs_total", "sweep", "timeouts", "outcome", "ok")
		_, b := m.value("curhat_sweep_runs_total", "sweep", "stale_payments", "outcome", "ok")
		if a && b {
			break
		}
		require.True(t, time.Now().Before(deadline), "sweeps never reported:\n%s", m.raw)
		// The sweeps run on the App's clock: moving it fires those that armed their timer;
		// the loop polls until the runs it started have reported.
		ts.clock.Advance(10 * time.Millisecond)
		time.Sleep(10 * time.Millisecond) // polling a background loop, not waiting for an outcome
	}
	require.Positive(t, m.must(t, "curhat_sweep_duration_seconds_count", "sweep", "timeouts"))
	// Counts exist from the first run, zero or not.
	for _, count := range []string{"pairings_timed_out", "sessions_expired", "extensions_expired"} {
		_, ok := m.value("curhat_sweep_items_total", "sweep", "timeouts", "count", count)
		require.True(t, ok, "count %s missing:\n%s", count, m.raw)
	}
	_, ok := m.value("curhat_sweep_items_total", "sweep", "stale_payments", "count", "expired")
	require.True(t, ok)
}

func TestMetrics_DriftAndValkeyFallbacks(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, realBackend)
	_, tok := ts.newMitra("Ayu")
	ts.must(200, "POST", "/api/mitra/status/online", tok, nil)

	m := scrapeMetrics(t, ts)
	for _, field := range driftFields {
		require.Equal(t, float64(0), m.must(t, "curhat_mirror_drift_differences", "field", field), field)
	}
	require.Equal(t, float64(1), m.must(t, "curhat_mirror_seeded"))
	require.Equal(t, float64(1), m.must(t, "curhat_mirror_drift_check_success"))

	// A ghost in mitras:online: the next check (cache disabled) reports it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	vk := ts.app.valkey
	require.NoError(t, vk.Do(ctx, vk.B().Sadd().Key(ts.app.names.Online()).Member(uuid.NewString()).Build()).Error())
	d := ts.app.hooks.(*promMetrics).drift
	d.mu.Lock()
	d.maxAge = 0
	d.mu.Unlock()
	m = scrapeMetrics(t, ts)
	require.Equal(t, float64(1), m.must(t, "curhat_mirror_drift_differences", "field", "online"))

	dash := ts.must(200, "GET", "/api/internal/dashboard", ts.op, nil)
	drift := dash["drift"].(map[string]any)
	require.Equal(t, float64(1), drift["differences"])
	require.Equal(t, map[string]any{"online": float64(1)}, drift["by_field"])
	require.Equal(t, true, drift["seeded"])
}

func TestMetrics_CountsValkeyFallbacksWhileValkeyIsDown(t *testing.T) {
	t.Parallel()
	redis := testenv.StartRedis(t)
	ts := newTestServer(t, realBackend, func(c *Config) { c.ValkeyURL = redis.URL() })
	_, clientTok := ts.newClient("Dewi")
	ts.must(200, "GET", "/api/client/mitra-availability", clientTok, nil)
	_, mitraTok := ts.newMitra("Ayu")
	ts.must(200, "POST", "/api/mitra/status/online", mitraTok, nil)
	require.NoError(t, redis.Stop())
	ts.must(200, "POST", "/api/mitra/status/heartbeat", mitraTok, nil) // answered from Postgres
	ts.clock.Advance(availability.DefaultSnapshotTTL + time.Second)    // past the beacon's process-local copy
	ts.must(200, "GET", "/api/client/mitra-availability", clientTok, nil)

	m := scrapeMetrics(t, ts)
	require.Positive(t, m.must(t, "curhat_valkey_fallbacks_total", "op", "heartbeat"))
	require.Positive(t, m.must(t, "curhat_valkey_fallbacks_total", "op", "count_available"))
	dash := ts.must(200, "GET", "/api/internal/dashboard", ts.op, nil)
	drift := dash["drift"].(map[string]any)
	require.Nil(t, drift["differences"], "a failed check is not a zero")
	require.NotEmpty(t, drift["error"])
}

func TestDashboard_DriftIsNullWithoutValkeyAndZeroWhenInSync(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		_, tok := ts.newMitra("Ayu")
		ts.must(200, "POST", "/api/mitra/status/online", tok, nil)
		dash := ts.must(200, "GET", "/api/internal/dashboard", ts.op, nil)
		require.Contains(t, dash, "drift")
		if ts.app.valkey == nil {
			require.Nil(t, dash["drift"])
			return
		}
		drift := dash["drift"].(map[string]any)
		require.Equal(t, float64(0), drift["differences"])
		require.Equal(t, float64(1), drift["mitras"])
		require.Equal(t, true, drift["seeded"])
	})
}

func TestMetrics_StatusClassLabel(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend, func(c *Config) { c.SSEMaxStreams = 1 })
	id, _ := ts.newMitra("Ayu")
	const route = "GET /api/internal/mitras/{id}"
	ts.must(200, "GET", "/api/internal/mitras/"+id.String(), ts.op, nil)
	ts.must(200, "GET", "/api/internal/mitras/"+id.String(), ts.op, nil)
	ts.must(404, "GET", "/api/internal/mitras/"+uuid.NewString(), ts.op, nil)
	ts.must(401, "GET", "/api/internal/mitras/"+id.String(), "", nil)
	ts.must(404, "GET", "/no/such/route", "", nil)
	// A 5xx: the instance's one event stream is taken.
	_, clientTok := ts.newClient("Dewi")
	openStream(t, ts.http.Client(), ts.http.URL+"/api/client/events", clientTok)
	_, otherTok := ts.newClient("Eko")
	_, r := tryStream(t, ts.http.Client(), ts.http.URL+"/api/client/events", otherTok)
	require.Equal(t, 503, r.Status)

	m := scrapeMetrics(t, ts)
	count := func(route, class string) float64 {
		return m.must(t, "curhat_http_request_duration_seconds_count", "route", route, "class", class)
	}
	require.Equal(t, float64(2), count(route, "2xx"))
	require.Equal(t, float64(2), count(route, "4xx"))
	require.Equal(t, float64(0), count(route, "5xx"), "the 5xx series exists before the first failure")
	require.Equal(t, float64(1), count("GET /api/client/events", "5xx"))
	require.Equal(t, float64(1), count("unmatched", "4xx"), "what no route matched")
}

func TestMetrics_SeparateAddress(t *testing.T) {
	t.Parallel()
	app, _ := newTestApp(t, memoryBackend, func(c *Config) { c.MetricsAddr = "127.0.0.1:0" })
	s := startServe(t, app)
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := s.client.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(raw)
	}
	status, body := get(s.base + "/healthz")
	require.Equal(t, 200, status, body)

	status, body = get(s.metrics + "/metrics")
	require.Equal(t, 200, status, body)
	require.Contains(t, body, `curhat_http_request_duration_seconds_count{class="2xx",route="GET /healthz"} 1`)

	status, body = get(s.base + "/metrics")
	require.Equal(t, 404, status, "the API no longer serves the metrics")
	require.Contains(t, body, `"NOT_FOUND"`)
	status, _ = get(s.metrics + "/healthz")
	require.Equal(t, 404, status, "the metrics address serves the metrics only")

	srv := NewServer(app)
	for _, r := range srv.routes {
		require.NotEqual(t, "/metrics", r.Path)
	}
	getMetrics := mustContract(t).doc.Paths.Find("/metrics").Get
	require.NotNil(t, getMetrics.Responses.Status(404), "the document says the API port may answer 404 for it")
}

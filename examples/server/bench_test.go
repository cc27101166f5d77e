package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/internal/testenv"
)

// Benchmarks of the two hot requests through the whole handler (routing, token check,
// mirror, metrics) over Postgres + Valkey, without the network: allocations per request
// and Postgres statements per request. The load tool (internal/loadtool) measures them
// over loopback beside a bare handler.
//
//	go test -run '^$' -bench Request -benchmem ./examples/server/

// benchWriter is a reusable ResponseWriter: what it allocates is not the server's.
type benchWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(code int)        { w.code = code }
func (w *benchWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
func (w *benchWriter) reset() {
	clear(w.h)
	w.code, w.n = http.StatusOK, 0
}

type benchServer struct {
	srv     *Server
	queries *pgutil.QueryCounter
	mitra   string // bearer header of an online mitra
	client  string // bearer header of a client
}

func newBenchServer(b *testing.B) *benchServer {
	b.Helper()
	cfg, err := configFromEnv(func(string) string { return "" })
	require.NoError(b, err)
	cfg.DemoData, cfg.Sweeps, cfg.InMemory = false, false, false
	counter := &pgutil.QueryCounter{}
	db := testenv.PostgresWith(b, testenv.PGOptions{Configure: func(c *pgxpool.Config) { c.ConnConfig.Tracer = counter }})
	vk := testenv.NewValkey(b)
	cfg.DatabaseURL, cfg.ValkeyURL, cfg.ValkeyKeyPrefix = db.URL, vk.URL, vk.Prefix
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	app, err := NewApp(ctx, cfg, slog.New(slog.DiscardHandler), appOptions{Pool: db.Pool, PGCounter: counter})
	require.NoError(b, err)
	b.Cleanup(func() { app.Close(context.Background()) })
	require.NoError(b, app.Start(ctx))

	m, err := app.mirror.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "bench mitra"})
	require.NoError(b, err)
	require.NoError(b, app.mirror.SetOnline(ctx, m.ID))
	mtok, _, err := app.auth.issue(ctx, SubjectMitra, m.ID, time.Hour)
	require.NoError(b, err)
	c, err := app.registerClient(ctx, "bench client")
	require.NoError(b, err)
	ctok, _, err := app.auth.issue(ctx, SubjectClient, c.ID, time.Hour)
	require.NoError(b, err)
	return &benchServer{srv: NewServer(app), queries: counter, mitra: "Bearer " + mtok, client: "Bearer " + ctok}
}

// run serves req b.N times and reports Postgres statements per request.
func (s *benchServer) run(b *testing.B, req *http.Request) {
	b.Helper()
	w := &benchWriter{h: http.Header{}}
	w.reset()
	s.srv.ServeHTTP(w, req) // warm: token cached, scripts loaded, beacon computed
	require.Equal(b, http.StatusOK, w.code)
	before := s.queries.Count()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.reset()
		s.srv.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(s.queries.Count()-before)/float64(b.N), "pg-stmt/op")
}

func BenchmarkHeartbeatRequest(b *testing.B) {
	s := newBenchServer(b)
	req := httptest.NewRequest("POST", "/api/mitra/status/heartbeat", nil)
	req.Header.Set("Authorization", s.mitra)
	s.run(b, req)
}

// BenchmarkDeviceHeartbeatRequest is the heartbeat of a named device: the header costs no
// allocation.
func BenchmarkDeviceHeartbeatRequest(b *testing.B) {
	s := newBenchServer(b)
	req := httptest.NewRequest("POST", "/api/mitra/status/heartbeat", nil)
	req.Header.Set("Authorization", s.mitra)
	req.Header.Set(deviceHeader, "pixel-8")
	s.run(b, req)
}

func BenchmarkBeaconRequest(b *testing.B) {
	s := newBenchServer(b)
	req := httptest.NewRequest("GET", "/api/client/mitra-availability", nil)
	req.Header.Set("Authorization", s.client)
	s.run(b, req)
}

// BenchmarkOperatorWriteAudit: what the audit adds to an operator write on Postgres — the
// row's insert alone, and a whole write that carries it (a mitra's status set to what it
// is: a read of the row before, the write, the audit row).
func BenchmarkOperatorWriteAudit(b *testing.B) {
	s := newBenchServer(b)
	ctx := context.Background()
	app := s.srv.app
	b.Run("append_row", func(b *testing.B) {
		before := s.queries.Count()
		b.ReportAllocs()
		for b.Loop() {
			e := auditEntry{ID: uuid.New(), Action: "mitra.status", TargetKind: "mitra", TargetID: uuid.NewString(),
				Before: json.RawMessage(`{"is_active":true}`), After: json.RawMessage(`{"is_active":true}`), At: time.Now()}
			if err := app.accounts.AppendAudit(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(s.queries.Count()-before)/float64(b.N), "pg-stmt/op")
	})
	b.Run("mitra_status_request", func(b *testing.B) {
		m, err := app.mirror.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "audited"})
		require.NoError(b, err)
		w := &benchWriter{h: http.Header{}}
		before := s.queries.Count()
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest("PATCH", "/api/internal/mitras/"+m.ID.String()+"/status", strings.NewReader(`{"is_active":true}`))
			req.Header.Set("Authorization", "Bearer "+app.cfg.OperatorToken)
			w.reset()
			s.srv.ServeHTTP(w, req)
			if w.code != http.StatusOK {
				b.Fatalf("status %d", w.code)
			}
		}
		b.ReportMetric(float64(s.queries.Count()-before)/float64(b.N), "pg-stmt/op")
	})
}

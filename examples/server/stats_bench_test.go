package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/benchdata"
	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/internal/testenv"
)

// Benchmarks of the operators' statistics over Postgres + Valkey, through the whole
// handler, over 100,000 pairings with their offers, chat sessions, payments and refunds,
// written by INSERT … SELECT generate_series (about 10 s each):
//
//	go test -run '^$' -bench StatsRequest -benchtime 20x ./examples/server/
//
// spread=day puts every pairing in the last 24 hours (the 24h window reads them all: the
// worst case); spread=month spreads them over 30 days (a day holds 3,333: what the indexes
// of migration 0011 buy). Each prints, once, the EXPLAIN (ANALYZE, BUFFERS) of the
// statements the 24h and 5m requests ran. No timing is asserted; SPEC §24 asks under 200 ms.

// statementRecorder counts statements (as pgutil.QueryCounter) and keeps the text and
// arguments of those of a request being recorded, to EXPLAIN them.
type statementRecorder struct {
	pgutil.QueryCounter
	mu        sync.Mutex
	recording bool
	queries   []recordedQuery
}

type recordedQuery struct {
	sql  string
	args []any
}

func (r *statementRecorder) TraceQueryStart(ctx context.Context, c *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.mu.Lock()
	if r.recording {
		r.queries = append(r.queries, recordedQuery{d.SQL, d.Args})
	}
	r.mu.Unlock()
	return r.QueryCounter.TraceQueryStart(ctx, c, d)
}

// record returns the statements fn ran.
func (r *statementRecorder) record(fn func()) []recordedQuery {
	r.mu.Lock()
	r.recording, r.queries = true, nil
	r.mu.Unlock()
	fn()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recording = false
	return r.queries
}

// writeStatsBenchData writes the history of benchdata.History.
func writeStatsBenchData(b *testing.B, pool *pgxpool.Pool, end time.Time, n int, span time.Duration) {
	b.Helper()
	began := time.Now()
	require.NoError(b, benchdata.History(context.Background(), pool, end, n, span))
	b.Logf("wrote %d pairings over %v in %v", n, span, time.Since(began).Round(time.Millisecond))
}

func BenchmarkStatsRequest(b *testing.B) {
	const n = 100_000
	for _, spread := range []struct {
		name string
		span time.Duration
	}{{"day", 24 * time.Hour}, {"month", 30 * 24 * time.Hour}} {
		b.Run(fmt.Sprintf("pairings=%d/spread=%s", n, spread.name), func(b *testing.B) {
			if spread.name == "month" && testing.Short() {
				b.Skip("the second data set: not under -short")
			}
			benchStats(b, n, spread.span)
		})
	}
}

func benchStats(b *testing.B, n int, span time.Duration) {
	ctx := context.Background()
	cfg, err := configFromEnv(func(string) string { return "" })
	require.NoError(b, err)
	cfg.DemoData, cfg.Sweeps, cfg.InMemory = false, false, false
	rec := &statementRecorder{}
	db := testenv.PostgresWith(b, testenv.PGOptions{Configure: func(c *pgxpool.Config) { c.ConnConfig.Tracer = rec }})
	vk := testenv.NewValkey(b)
	cfg.DatabaseURL, cfg.ValkeyURL, cfg.ValkeyKeyPrefix = db.URL, vk.URL, vk.Prefix
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	app, err := NewApp(startCtx, cfg, slog.New(slog.DiscardHandler), appOptions{Pool: db.Pool, PGCounter: rec})
	require.NoError(b, err)
	b.Cleanup(func() { app.Close(context.Background()) })
	require.NoError(b, app.Start(startCtx))
	srv := NewServer(app)
	writeStatsBenchData(b, db.Pool, time.Now(), n, span)
	var mitra string
	require.NoError(b, db.Pool.QueryRow(ctx, `SELECT md5('m1')::uuid::text`).Scan(&mitra))

	get := func(path string) *http.Request {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+cfg.OperatorToken)
		return req
	}
	serve := func(b *testing.B, req *http.Request) {
		w := &benchWriter{h: http.Header{}}
		w.reset()
		srv.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatalf("%s: status %d", req.URL, w.code)
		}
	}
	for _, path := range []string{"/api/internal/stats?window=24h", "/api/internal/stats?window=1h",
		"/api/internal/stats?window=5m", "/api/internal/mitras/" + mitra + "/stats?window=24h"} {
		name := strings.TrimPrefix(path, "/api/internal/")
		name = strings.ReplaceAll(strings.ReplaceAll(name, mitra, "{id}"), "?", " ")
		b.Run(name, func(b *testing.B) {
			serve(b, get(path)) // warm: the token cached, the plans' catalogs read
			before := rec.Count()
			for b.Loop() {
				serve(b, get(path))
			}
			b.ReportMetric(float64(rec.Count()-before)/float64(b.N), "pg-stmt/op")
		})
	}
	b.Run("waiting (the gauges' read)", func(b *testing.B) {
		for b.Loop() {
			if _, err := app.waitingNow(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})

	// The plans of what the requests of a day and of 5 minutes ran (their statements, with
	// their arguments).
	for _, path := range []string{"/api/internal/stats?window=24h", "/api/internal/stats?window=5m"} {
		queries := rec.record(func() { serve(b, get(path)) })
		for _, q := range queries {
			if !strings.Contains(q.sql, "pairing") && !strings.Contains(q.sql, "payment_sessions") {
				continue // the token's lookup, if it was not cached
			}
			rows, err := db.Pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+q.sql, q.args...)
			require.NoError(b, err)
			plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(b, err)
			b.Logf("%s: EXPLAIN (ANALYZE, BUFFERS) of %.70s…:\n%s", path, strings.Join(strings.Fields(q.sql), " "),
				strings.Join(plan, "\n"))
		}
	}
}

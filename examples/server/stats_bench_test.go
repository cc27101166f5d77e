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

// statsBenchSQL writes n pairings created over the span seconds before $1 (one every
// span/n s), 10,000 clients and 500 mitras. By the pairing's number g: the last 50 are
// still searching; of the others, by g mod 20, 14 matched after 1..120 s, each with a
// 30-minute chat session (ended expired, or client_ended one in seven, unless still
// running at $1) and three offers (accepted, declined, dismissed); 2 failed after 60 s
// (three lapsed offers, refunded); 1 cancelled by the client after paying (three
// dismissed offers, refunded); 1 whose payment expired; 2 cancelled before paying. Every
// pairing has its chat_start payment of 50,000.
var statsBenchSQL = []string{
	`INSERT INTO pricing_tiers (id, mode, minutes, price) VALUES (md5('bench tier')::uuid, 'session', 30, 50000)
		ON CONFLICT DO NOTHING`,
	`INSERT INTO mitras (id, display_name, is_online) SELECT md5('m'||i)::uuid, 'mitra '||i, true FROM generate_series(0, 499) i`,
	`INSERT INTO clients (id, display_name) SELECT md5('c'||i)::uuid, 'client '||i FROM generate_series(0, 9999) i`,
	`CREATE TEMP TABLE bench_g ON COMMIT DROP AS
	SELECT g, md5('p'||g)::uuid AS pid, md5('s'||g)::uuid AS sid, md5('pay'||g)::uuid AS payid,
		md5('c'||(g % 10000))::uuid AS cid, md5('m'||(g % 500))::uuid AS m0, md5('m'||((g+1) % 500))::uuid AS m1,
		md5('m'||((g+2) % 500))::uuid AS m2,
		CASE WHEN g > $2 - 50 THEN 'waiting' WHEN g % 20 < 14 THEN 'matched' WHEN g % 20 < 16 THEN 'failed'
			WHEN g % 20 = 16 THEN 'abandoned' WHEN g % 20 = 17 THEN 'expired' ELSE 'unpaid_cancel' END AS outcome,
		$1::timestamptz - make_interval(secs => $3) + make_interval(secs => g::double precision * $3 / $2) AS created,
		NULL::timestamptz AS paid, NULL::timestamptz AS closed
	FROM generate_series(1, $2::int) g`,
	`UPDATE bench_g SET paid = CASE WHEN outcome IN ('expired', 'unpaid_cancel') THEN NULL ELSE created + interval '20 seconds' END`,
	`UPDATE bench_g SET closed = CASE outcome WHEN 'matched' THEN paid + make_interval(secs => (g % 120) + 1)
		WHEN 'failed' THEN paid + interval '60 seconds' WHEN 'abandoned' THEN paid + interval '30 seconds'
		WHEN 'expired' THEN created + interval '15 minutes' WHEN 'unpaid_cancel' THEN created + interval '10 seconds' END`,
	`INSERT INTO payment_sessions (id, client_id, purpose, pairing_id, tier_id, minutes, base_amount, amount, currency,
		status, expires_at, paid_at, created_at, updated_at, handled_at, refunded_amount, provider_ref)
	SELECT payid, cid, 'chat_start', pid, md5('bench tier')::uuid, 30, 50000, 50000, 'IDR',
		CASE WHEN outcome IN ('failed', 'abandoned') THEN 'refunded' WHEN outcome IN ('expired', 'unpaid_cancel') THEN 'expired'
			ELSE 'paid' END,
		created + interval '15 minutes', paid, created, coalesce(closed, created), coalesce(closed, created),
		CASE WHEN outcome IN ('failed', 'abandoned') THEN 50000 ELSE 0 END, 'ch_'||g
	FROM bench_g`,
	`INSERT INTO pairings (id, client_id, type, status, minutes, payment_session_id, expires_at, matched_mitra_id,
		chat_session_id, failure_reason, paid_at, closed_at, created_at, updated_at)
	SELECT pid, cid, 'blast',
		CASE outcome WHEN 'matched' THEN 'matched' WHEN 'failed' THEN 'failed' WHEN 'waiting' THEN 'searching' ELSE 'cancelled' END,
		30, payid, CASE WHEN outcome = 'waiting' THEN paid + interval '60 seconds' END,
		CASE WHEN outcome = 'matched' THEN m0 END, CASE WHEN outcome = 'matched' THEN sid END,
		CASE outcome WHEN 'failed' THEN 'timeout' WHEN 'abandoned' THEN 'client_cancelled' WHEN 'expired' THEN 'payment_expired'
			WHEN 'unpaid_cancel' THEN 'client_cancelled' END,
		paid, closed, created, coalesce(closed, created)
	FROM bench_g`,
	`INSERT INTO chat_sessions (id, client_id, mitra_id, status, minutes, started_at, ends_at, ended_at, end_reason,
		pairing_id, created_at, updated_at)
	SELECT sid, cid, m0, CASE WHEN closed + interval '30 minutes' > $1 THEN 'active' ELSE 'ended' END, 30,
		closed, closed + interval '30 minutes',
		CASE WHEN closed + interval '30 minutes' > $1 THEN NULL ELSE closed + interval '30 minutes' END,
		CASE WHEN closed + interval '30 minutes' > $1 THEN NULL WHEN g % 7 = 0 THEN 'client_ended' ELSE 'expired' END,
		pid, closed, closed
	FROM bench_g WHERE outcome = 'matched'`,
	`INSERT INTO pairing_offers (pairing_id, mitra_id, status, created_at, updated_at)
	SELECT pid, m, CASE WHEN outcome = 'waiting' THEN 'offered'
			WHEN outcome = 'matched' THEN (CASE k WHEN 0 THEN 'accepted' WHEN 1 THEN 'declined' ELSE 'dismissed' END)
			WHEN outcome = 'failed' THEN 'expired' ELSE 'dismissed' END,
		paid, CASE WHEN outcome = 'waiting' THEN paid WHEN outcome = 'matched' AND k = 1 THEN paid + interval '1 second'
			ELSE closed END
	FROM bench_g CROSS JOIN LATERAL (VALUES (0, m0), (1, m1), (2, m2)) AS o(k, m)
	WHERE outcome IN ('matched', 'failed', 'abandoned', 'waiting')`,
	`INSERT INTO payment_refunds (id, payment_id, amount, cause, status, attempts, created_at, updated_at)
	SELECT md5('r'||g)::uuid, payid, 50000, 'pairing:'||pid, 'succeeded', 1, closed, closed + interval '5 seconds'
	FROM bench_g WHERE outcome IN ('failed', 'abandoned')`,
}

// writeStatsBenchData runs statsBenchSQL in one transaction and analyzes the tables.
func writeStatsBenchData(b *testing.B, pool *pgxpool.Pool, end time.Time, n int, span time.Duration) {
	b.Helper()
	ctx := context.Background()
	began := time.Now()
	tx, err := pool.Begin(ctx)
	require.NoError(b, err)
	defer func() { _ = tx.Rollback(ctx) }()
	for _, stmt := range statsBenchSQL {
		var args []any
		switch {
		case strings.Contains(stmt, "$3"):
			args = []any{end, n, span.Seconds()}
		case strings.Contains(stmt, "$1"):
			args = []any{end}
		}
		_, err := tx.Exec(ctx, stmt, args...)
		require.NoError(b, err, "%.60s", stmt)
	}
	require.NoError(b, tx.Commit(ctx))
	_, err = pool.Exec(ctx, "VACUUM ANALYZE pairings, pairing_offers, chat_sessions, payment_sessions, payment_refunds")
	require.NoError(b, err)
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

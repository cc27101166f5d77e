package availability_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/internal/testenv"
)

// Benchmarks of the hot paths, the Valkey path and the Postgres-only path side by side.
// They run only with -bench (the 100k case is skipped under -short):
//
//	go test -run '^$' -bench . -benchtime 2s ./availability/
//
// Each reports Valkey round trips (valkey-rt/op) and Postgres statements (pg-stmt/op) per
// call. No timing is asserted.

// benchEnv is n online mitras (heartbeats spread over the last minute, one in ten at
// capacity) in Postgres, seeded into Valkey.
type benchEnv struct {
	valkeyMirror, pgMirror *availability.Mirror
	cache                  *availability.ValkeyCache
	store                  *availability.PostgresStore
	client                 *countingClient
	queries                *pgutil.QueryCounter
	ids                    []uuid.UUID
	freshAfter             time.Time
	// wrapupMirror is valkeyMirror with a wrap-up of a minute (what the wrap-up costs).
	wrapupMirror *availability.Mirror
}

func newBenchEnv(b *testing.B, n int) *benchEnv {
	b.Helper()
	ctx := context.Background()
	e := &benchEnv{queries: &pgutil.QueryCounter{}}
	db := testenv.PostgresWith(b, testenv.PGOptions{MaxConns: 16, Configure: func(c *pgxpool.Config) { c.ConnConfig.Tracer = e.queries }})
	var now time.Time
	require.NoError(b, db.Pool.QueryRow(ctx, `SELECT date_trunc('milliseconds', now())`).Scan(&now))
	// One statement for the mitras, one for their chat sessions.
	_, err := db.Pool.Exec(ctx, `INSERT INTO mitras (display_name, is_online, last_heartbeat_at)
		SELECT 'mitra ' || g, true, $2::timestamptz - (g % 60000) * interval '1 millisecond'
		FROM generate_series(1, $1) AS g`, n, now)
	require.NoError(b, err)
	_, err = db.Pool.Exec(ctx, `WITH c AS (INSERT INTO clients (display_name) VALUES ('bench') RETURNING id),
		m AS (SELECT id FROM mitras ORDER BY id LIMIT $1),
		p AS (INSERT INTO pairings (client_id, type, status, minutes, matched_mitra_id)
			SELECT c.id, 'blast', 'matched', 15, m.id FROM c, m RETURNING id, client_id, matched_mitra_id)
		INSERT INTO chat_sessions (client_id, mitra_id, status, minutes, pairing_id)
		SELECT client_id, matched_mitra_id, 'active', 15, id FROM p`, n/10)
	require.NoError(b, err)
	_, err = db.Pool.Exec(ctx, `ANALYZE mitras; ANALYZE chat_sessions`)
	require.NoError(b, err)
	rows, err := db.Pool.Query(ctx, `SELECT id FROM mitras ORDER BY random() LIMIT 1000`)
	require.NoError(b, err)
	e.ids, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	require.NoError(b, err)

	v := testenv.NewValkey(b)
	e.client = &countingClient{Client: v.Client}
	e.cache = availability.NewValkeyCache(e.client, availability.CacheConfig{Names: v.Names()})
	e.store = availability.NewPostgresStore(db.Pool)
	// The seed runs "earlier" so that the recovery grace of auto-offline (this first seed
	// finds an empty Valkey) is over when the benchmarks run, at now.
	clk := clock.NewFake(now.Add(-2 * availability.DefaultStaleThreshold))
	cfg := &availability.Config{Clock: clk, ValkeyTimeout: 5 * time.Second}
	e.valkeyMirror, err = availability.NewMirror(e.store, e.cache, cfg)
	require.NoError(b, err)
	e.pgMirror, err = availability.NewMirror(e.store, nil, cfg)
	require.NoError(b, err)
	wcfg := *cfg
	wcfg.Wrapup = func(context.Context) time.Duration { return time.Minute }
	e.wrapupMirror, err = availability.NewMirror(e.store, e.cache, &wcfg)
	require.NoError(b, err)
	e.freshAfter = now.Add(-availability.DefaultStaleThreshold)
	seedStart := time.Now()
	rep, err := e.valkeyMirror.SeedFromPostgres(ctx)
	require.NoError(b, err)
	b.Logf("seeded %d mitras (%d at capacity) in %s", rep.Mitras, rep.AtCapacity, time.Since(seedStart))
	clk.Set(now)
	return e
}

// run benchmarks fn and reports round trips per call.
func (e *benchEnv) run(b *testing.B, fn func(i int)) {
	b.Helper()
	fn(0) // warm: scripts loaded, connections open
	trips, queries := e.client.trips.Load(), e.queries.Count()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		fn(i)
		i++
	}
	b.StopTimer()
	b.ReportMetric(float64(e.client.trips.Load()-trips)/float64(i), "valkey-rt/op")
	b.ReportMetric(float64(e.queries.Count()-queries)/float64(i), "pg-stmt/op")
}

func BenchmarkMirror(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("online=%d", n), func(b *testing.B) {
			if n > 10_000 && testing.Short() {
				b.Skip("100k mitras: not under -short")
			}
			e := newBenchEnv(b, n)
			ctx := context.Background()
			paths := []struct {
				name   string
				mirror *availability.Mirror
			}{{"valkey", e.valkeyMirror}, {"postgres", e.pgMirror}}
			for _, p := range paths {
				b.Run("Heartbeat/"+p.name, func(b *testing.B) {
					e.run(b, func(i int) {
						if _, err := p.mirror.Heartbeat(ctx, e.ids[i%len(e.ids)]); err != nil {
							b.Fatal(err)
						}
					})
				})
			}
			// Three devices per mitra taking turns (the devices of a mitra found, the hash
			// small): against the Heartbeat above, what naming the device costs.
			devices := []string{"phone", "tablet", "laptop"}
			for _, p := range paths {
				b.Run("HeartbeatDevice/"+p.name, func(b *testing.B) {
					e.run(b, func(i int) {
						if _, err := p.mirror.HeartbeatDevice(ctx, e.ids[i%len(e.ids)], devices[(i/len(e.ids))%len(devices)]); err != nil {
							b.Fatal(err)
						}
					})
				})
			}
			for _, p := range paths {
				b.Run("IsReachable/"+p.name, func(b *testing.B) {
					e.run(b, func(i int) {
						if _, err := p.mirror.IsReachable(ctx, e.ids[i%len(e.ids)]); err != nil {
							b.Fatal(err)
						}
					})
				})
			}
			for _, limit := range []int{50, 0} {
				for _, p := range paths {
					b.Run(fmt.Sprintf("FindAvailable_limit=%d/%s", limit, p.name), func(b *testing.B) {
						e.run(b, func(int) {
							ids, err := p.mirror.FindAvailable(ctx, availability.FindOptions{Limit: limit})
							if err != nil || len(ids) == 0 {
								b.Fatal(err, len(ids))
							}
						})
					})
				}
			}
			// The beacon as clients see it: served from process memory.
			b.Run("CountAvailable_beacon/valkey", func(b *testing.B) {
				e.run(b, func(int) {
					if _, err := e.valkeyMirror.CountAvailable(ctx); err != nil {
						b.Fatal(err)
					}
				})
			})
			// What a beacon miss costs: the recompute.
			b.Run("CountAvailable_recompute/valkey", func(b *testing.B) {
				e.run(b, func(int) {
					if _, err := e.cache.CountAvailable(ctx, e.freshAfter); err != nil {
						b.Fatal(err)
					}
				})
			})
			b.Run("CountAvailable_recompute/postgres", func(b *testing.B) {
				e.run(b, func(int) {
					if _, err := e.store.CountAvailable(ctx, availability.AvailableQuery{FreshAfter: e.freshAfter, DefaultMax: 1}); err != nil {
						b.Fatal(err)
					}
				})
			})
			b.Run("AutoOffline_nobody_stale/valkey", func(b *testing.B) {
				e.run(b, func(int) {
					if _, err := e.valkeyMirror.AutoOffline(ctx); err != nil {
						b.Fatal(err)
					}
				})
			})
			b.Run("MirrorHeartbeats/valkey", func(b *testing.B) {
				e.run(b, func(int) {
					if _, err := e.valkeyMirror.MirrorHeartbeats(ctx); err != nil {
						b.Fatal(err)
					}
				})
			})
			b.Run("Seed/valkey", func(b *testing.B) {
				e.run(b, func(int) {
					if _, err := e.valkeyMirror.SeedFromPostgres(ctx); err != nil {
						b.Fatal(err)
					}
				})
			})
			// With mitra_wrapup_seconds on, the seed and a sync read the recent ends too.
			b.Run("Seed_wrapup/valkey", func(b *testing.B) {
				e.run(b, func(int) {
					if _, err := e.wrapupMirror.SeedFromPostgres(ctx); err != nil {
						b.Fatal(err)
					}
				})
			})
			b.Run("RecomputeCapacity/valkey", func(b *testing.B) {
				e.run(b, func(i int) {
					if _, err := e.valkeyMirror.RecomputeCapacity(ctx, e.ids[i%len(e.ids)]); err != nil {
						b.Fatal(err)
					}
				})
			})
			b.Run("RecomputeCapacity_wrapup/valkey", func(b *testing.B) {
				e.run(b, func(i int) {
					if _, err := e.wrapupMirror.RecomputeCapacity(ctx, e.ids[i%len(e.ids)]); err != nil {
						b.Fatal(err)
					}
				})
			})
		})
	}
}

package availability_test

import (
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/internal/testenv"
)

func withQueryCounter(qc *pgutil.QueryCounter) setupOptions {
	return setupOptions{pgOptions: testenv.PGOptions{Configure: func(c *pgxpool.Config) { c.ConnConfig.Tracer = qc }}}
}

func TestHeartbeat_ZeroPostgresQueriesAndOneValkeyRoundTripPerPing(t *testing.T) {
	t.Parallel()
	var qc pgutil.QueryCounter
	b := seeded(t, kindValkey, withQueryCounter(&qc))
	ctx := ctxT(t)
	id, deact := b.onlineMitra(t), b.onlineMitra(t)
	_, err := b.mirror.SetActive(ctx, deact, false)
	require.NoError(t, err)
	_, err = b.mirror.Heartbeat(ctx, id) // loads the script into the server
	require.NoError(t, err)

	queries, trips := qc.Count(), b.client.trips.Load()
	const pings = 1000
	for range pings {
		online, err := b.mirror.Heartbeat(ctx, id)
		require.NoError(t, err)
		require.True(t, online)
	}
	_, err = b.mirror.Heartbeat(ctx, deact)
	require.ErrorIs(t, err, availability.ErrDeactivated)
	require.Equal(t, int64(0), qc.Count()-queries, "no postgres round trip on the hot path")
	require.Equal(t, int64(pings+1), b.client.trips.Load()-trips, "one valkey round trip per ping")
	require.Zero(t, b.hooks.Fallbacks())
}

func TestHotReads_RoundTripsDoNotGrowWithOnlineMitras(t *testing.T) {
	t.Parallel()
	var qc pgutil.QueryCounter
	// Chunks of 100 so that 2,500 mitras span many windows.
	o := withQueryCounter(&qc)
	o.cacheCfg = availability.CacheConfig{ChunkSize: 100}
	b := setup(t, kindValkey, o)
	ctx := ctxT(t)
	bulkMitras(t, b.db.Pool, 2500, true, T0)
	_, err := b.mirror.SeedFromPostgres(ctx)
	require.NoError(t, err)
	id := b.onlineMitra(t)

	measure := func(name string, want int64, fn func()) {
		t.Helper()
		fn() // warm: scripts loaded
		queries, trips := qc.Count(), b.client.trips.Load()
		fn()
		require.Equal(t, int64(0), qc.Count()-queries, name)
		require.Equal(t, want, b.client.trips.Load()-trips, name)
	}
	measure("IsReachable", 1, func() {
		ok, err := b.mirror.IsReachable(ctx, id)
		require.NoError(t, err)
		require.True(t, ok)
	})
	measure("FindAvailable limit 50", 1, func() {
		ids, err := b.mirror.FindAvailable(ctx, availability.FindOptions{Limit: 50})
		require.NoError(t, err)
		require.Len(t, ids, 50)
		require.Equal(t, id, ids[0], "freshest first")
	})
	measure("FindAvailable all", 1, func() {
		ids, err := b.mirror.FindAvailable(ctx, availability.FindOptions{})
		require.NoError(t, err)
		require.Len(t, ids, 2501)
	})
	measure("OnlineCount", 1, func() {
		n, err := b.mirror.OnlineCount(ctx)
		require.NoError(t, err)
		require.Equal(t, 2501, n)
	})
	measure("CountAvailable from process memory", 0, func() {
		s, err := b.mirror.CountAvailable(ctx)
		require.NoError(t, err)
		require.Equal(t, 2501, s.AvailableCount)
	})
	require.Zero(t, b.hooks.Fallbacks())
}

func TestConcurrency_WritersPingsCapacityAndSeedsLeaveNoDrift(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := seeded(t, kind, setupOptions{})
		ctx := ctxT(t)
		ids := make([]uuid.UUID, 12)
		for i := range ids {
			ids[i] = b.onlineMitra(t)
		}
		var wg sync.WaitGroup
		worker := func(seed int, rounds int, fn func(i int, id uuid.UUID)) {
			wg.Go(func() {
				for i := range rounds {
					fn(i, ids[(seed*7+i*5)%len(ids)])
				}
			})
		}
		// assert, not require: these run outside the test goroutine.
		ok := func(err error) {
			if err != nil {
				assert.ErrorIs(t, err, availability.ErrDeactivated)
			}
		}
		for w := range 4 { // pings
			worker(w, 150, func(_ int, id uuid.UUID) {
				_, err := b.mirror.Heartbeat(ctx, id)
				ok(err)
			})
		}
		for w := range 3 { // the mitras' apps, several writers on the same mitras
			worker(w, 30, func(i int, id uuid.UUID) {
				if i%2 == 0 {
					ok(b.mirror.SetOnline(ctx, id))
				} else {
					ok(b.mirror.SetOffline(ctx, id))
				}
			})
		}
		worker(0, 12, func(i int, id uuid.UUID) { // an operator
			_, err := b.mirror.SetActive(ctx, id, i%3 != 0)
			assert.NoError(t, err)
		})
		for w := range 3 { // chat-session transitions
			worker(w, 30, func(i int, id uuid.UUID) {
				b.facts.setOpen(t, id, (i+w)%3)
				_, err := b.mirror.RecomputeCapacity(ctx, id)
				assert.NoError(t, err)
			})
		}
		worker(0, 3, func(int, uuid.UUID) { // reseeds racing all of it
			_, err := b.mirror.SeedFromPostgres(ctx)
			assert.NoError(t, err)
		})
		worker(0, 20, func(int, uuid.UUID) { // readers
			_, err := b.mirror.FindAvailable(ctx, availability.FindOptions{Limit: 3})
			assert.NoError(t, err)
			_, err = b.mirror.CountAvailable(ctx)
			assert.NoError(t, err)
		})
		wg.Wait()
		b.requireNoDrift(t)
		require.Zero(t, b.hooks.WriteFailures())
	})
}

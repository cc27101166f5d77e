package availability_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/pgutil"
)

// wrapupOptions sets the wrap-up to whatever w holds.
func wrapupOptions(w *atomic.Int64) setupOptions {
	return setupOptions{cfg: availability.Config{Wrapup: func(context.Context) time.Duration { return time.Duration(w.Load()) }}}
}

// A mitra whose session ended is neither found nor counted available for the wrap-up, in
// Valkey and in Postgres alike; its re-sync at the end of the wrap-up makes it available
// again. The mirror never drifts from what Postgres implies.
func TestWrapup_KeepsAMitraUnavailableUntilItEnds(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		var w atomic.Int64
		w.Store(int64(time.Minute))
		b := seeded(t, kind, wrapupOptions(&w))
		ctx := ctxT(t)
		id, other := b.onlineMitra(t), b.onlineMitra(t)
		reference := b.postgresOnly()
		requireAvailable := func(want ...uuid.UUID) {
			t.Helper()
			for _, m := range []*availability.Mirror{b.mirror, reference} {
				ids, err := m.FindAvailable(ctx, availability.FindOptions{})
				require.NoError(t, err)
				require.ElementsMatch(t, want, ids)
				n, err := m.AvailableCount(ctx)
				require.NoError(t, err)
				require.Equal(t, len(want), n)
				ok, err := m.IsReachable(ctx, id)
				require.NoError(t, err)
				require.True(t, ok, "the wrap-up does not affect reachability")
			}
			b.requireNoDrift(t)
		}
		requireAvailable(id, other)

		b.facts.endSession(t, id, b.clock.Now())
		_, err := b.mirror.RecomputeCapacity(ctx, id)
		require.NoError(t, err)
		requireAvailable(other)
		s, err := b.mirror.Status(ctx, id)
		require.NoError(t, err)
		require.Zero(t, s.ActiveSessions)

		// A reseed during the wrap-up keeps it.
		_, err = b.mirror.SeedFromPostgres(ctx)
		require.NoError(t, err)
		b.clock.Advance(time.Minute - time.Millisecond)
		_, err = b.mirror.RecomputeCapacity(ctx, id)
		require.NoError(t, err)
		requireAvailable(other)

		b.clock.Advance(time.Millisecond)
		_, err = b.mirror.RecomputeCapacity(ctx, id)
		require.NoError(t, err)
		requireAvailable(id, other)

		// Off (0): a session that just ended leaves the mitra available.
		w.Store(0)
		b.facts.endSession(t, other, b.clock.Now())
		_, err = b.mirror.RecomputeCapacity(ctx, other)
		require.NoError(t, err)
		requireAvailable(id, other)
		// Turned on again, the end that just happened counts.
		w.Store(int64(time.Minute))
		_, err = b.mirror.RecomputeCapacity(ctx, other)
		require.NoError(t, err)
		requireAvailable(id)
	})
}

// Until its re-sync, the Valkey mirror keeps a mitra whose wrap-up ended out of the
// available index (the wrap-up ends by time alone, which writes nothing); Postgres answers
// by the clock. The pairing side re-syncs it when the wrap-up ends.
func TestWrapup_ValkeyMirrorWaitsForTheResyncAtTheEnd(t *testing.T) {
	t.Parallel()
	var w atomic.Int64
	w.Store(int64(30 * time.Second))
	b := seeded(t, kindValkey, wrapupOptions(&w))
	ctx := ctxT(t)
	id := b.onlineMitra(t)
	b.facts.endSession(t, id, b.clock.Now())
	_, err := b.mirror.RecomputeCapacity(ctx, id)
	require.NoError(t, err)
	b.clock.Advance(31 * time.Second)
	ids, err := b.mirror.FindAvailable(ctx, availability.FindOptions{})
	require.NoError(t, err)
	require.Empty(t, ids)
	ids, err = b.postgresOnly().FindAvailable(ctx, availability.FindOptions{})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{id}, ids)
	_, err = b.mirror.RecomputeCapacity(ctx, id)
	require.NoError(t, err)
	ids, err = b.mirror.FindAvailable(ctx, availability.FindOptions{})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{id}, ids)
}

// The wrap-up costs the hot paths nothing: a ping and the reads served by Valkey run no
// Postgres statement with the wrap-up on, as without it.
func TestWrapup_HotPathsStayOffPostgres(t *testing.T) {
	t.Parallel()
	var qc pgutil.QueryCounter
	var w atomic.Int64
	w.Store(int64(time.Minute))
	o := withQueryCounter(&qc)
	o.cfg = wrapupOptions(&w).cfg
	b := seeded(t, kindValkey, o)
	ctx := ctxT(t)
	id, other := b.onlineMitra(t), b.onlineMitra(t)
	b.facts.endSession(t, id, b.clock.Now())
	_, err := b.mirror.RecomputeCapacity(ctx, id)
	require.NoError(t, err)
	_, err = b.mirror.Heartbeat(ctx, id) // loads the script
	require.NoError(t, err)
	before := qc.Count()
	for range 100 {
		online, err := b.mirror.Heartbeat(ctx, id)
		require.NoError(t, err)
		require.True(t, online)
	}
	ids, err := b.mirror.FindAvailable(ctx, availability.FindOptions{Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{other}, ids)
	snap, err := b.mirror.CountAvailable(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, snap.AvailableCount)
	require.Equal(t, before, qc.Count(), "no postgres statement")
}

package availabilitytest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/check"
)

// CacheHarness is one availability.Cache under test. RunCacheContract calls the harness
// constructor once per subtest, from parallel subtests.
type CacheHarness struct {
	// Cache is the cache under test, empty and unseeded, as a fresh Valkey: the suite
	// expects ErrNotSeeded before its first Replace.
	Cache availability.Cache
	// Flush loses every key of the cache, as FLUSHALL or a restart without persistence:
	// the seed marker goes too.
	Flush func(t *testing.T)
}

// staleAfter is the heartbeat age after which the suite treats a mitra as stale.
const staleAfter = 90 * time.Second

// st builds a state. hb is relative to t0 (nil: no heartbeat).
func st(id uuid.UUID, active, online bool, hb *time.Duration, open int) availability.MitraState {
	s := availability.MitraState{ID: id, IsActive: active, IsOnline: online, OpenSessions: open}
	if hb != nil {
		t := t0.Add(*hb)
		s.LastHeartbeatAt = &t
	}
	return s
}

func d(x time.Duration) *time.Duration { return &x }

func seed(t *testing.T, c availability.Cache, defaultMax int, states ...availability.MitraState) []uuid.UUID {
	t.Helper()
	changed, err := c.Replace(check.Context(t), availability.SeedData{States: states, DefaultMax: defaultMax, Started: t0.Add(-time.Hour), At: t0})
	check.NoError(t, err)
	return changed
}

func apply(t *testing.T, c availability.Cache, at time.Time, states ...availability.MitraState) {
	t.Helper()
	check.NoError(t, c.Apply(check.Context(t), availability.ApplyParams{States: states, DefaultMax: 1, At: at}))
}

func dump(t *testing.T, c availability.Cache, ids ...uuid.UUID) availability.Dump {
	t.Helper()
	dd, err := c.Dump(check.Context(t), ids)
	check.NoError(t, err)
	return dd
}

func newIDs(n int) []uuid.UUID {
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = uuid.New()
	}
	return ids
}

// RunCacheContract runs the conformance suite of availability.Cache: every
// implementation (availability.NewValkeyCache, NewCache after Flush, a host's own) must
// pass it. Each behaviour is a parallel subtest over its own harness from newHarness.
func RunCacheContract(t *testing.T, newHarness func(t *testing.T) CacheHarness) {
	t.Run("UnseededCacheAnswersNotSeeded", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		p, err := c.Probe(ctx)
		check.NoError(t, err)
		check.False(t, p.Seeded)

		// Writes land (the next seed overwrites them); reads refuse to guess.
		id := uuid.New()
		apply(t, c, t0, st(id, true, true, d(0), 0))
		_, err = c.Heartbeat(ctx, ping(id, t0))
		check.ErrorIs(t, err, availability.ErrNotSeeded)
		_, err = c.IsReachable(ctx, id, t0.Add(-staleAfter))
		check.ErrorIs(t, err, availability.ErrNotSeeded)
		_, err = c.FindAvailable(ctx, availability.AvailableQuery{FreshAfter: t0.Add(-staleAfter)})
		check.ErrorIs(t, err, availability.ErrNotSeeded)
		_, err = c.FindAvailable(ctx, availability.AvailableQuery{FreshAfter: t0.Add(-staleAfter), Limit: 5})
		check.ErrorIs(t, err, availability.ErrNotSeeded)
		_, err = c.CountAvailable(ctx, t0.Add(-staleAfter))
		check.ErrorIs(t, err, availability.ErrNotSeeded)
		_, err = c.OnlineCount(ctx)
		check.ErrorIs(t, err, availability.ErrNotSeeded)
		_, err = c.StaleOnline(ctx, t0)
		check.ErrorIs(t, err, availability.ErrNotSeeded)
		_, err = c.Heartbeats(ctx)
		check.ErrorIs(t, err, availability.ErrNotSeeded)
	})

	t.Run("ReplaceBuildsEveryKey", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		fresh, staleOne, offline, deact, full, ownMax := uuid.New(), uuid.New(), uuid.New(), uuid.New(), uuid.New(), uuid.New()
		own := st(ownMax, true, true, d(-time.Second), 1)
		own.MaxConcurrentSessions = new(2)
		seed(t, c, 1,
			st(fresh, true, true, d(0), 0),
			st(staleOne, true, true, d(-2*time.Minute), 0),
			st(offline, true, false, d(-time.Hour), 0),
			st(deact, false, false, d(-time.Hour), 0),
			st(full, true, true, d(0), 1),
			own,
		)
		p, err := c.Probe(ctx)
		check.NoError(t, err)
		check.True(t, p.Seeded)
		check.Equal(t, 1, p.DefaultMax)

		dd := dump(t, c, fresh, staleOne, offline, deact, full, ownMax)
		check.True(t, dd.Seeded)
		check.Equal(t, map[uuid.UUID]bool{fresh: true, staleOne: true, full: true, ownMax: true}, dd.Online)
		check.Equal(t, map[uuid.UUID]bool{deact: true}, dd.Deactivated)
		check.Equal(t, map[uuid.UUID]bool{full: true}, dd.AtCapacity)
		check.Equal(t, map[uuid.UUID]int{fresh: 0, staleOne: 0, offline: 0, deact: 0, full: 1, ownMax: 1}, dd.Capacity)
		check.Equal(t, map[uuid.UUID]time.Time{
			fresh: t0, staleOne: t0.Add(-2 * time.Minute), full: t0, ownMax: t0.Add(-time.Second),
		}, dd.Heartbeats)
		for id, at := range dd.Heartbeats {
			check.Equal(t, at.UnixMilli(), dd.Index[id])
		}
		check.Len(t, dd.Index, 4)

		fa := t0.Add(-staleAfter)
		n, err := c.OnlineCount(ctx)
		check.NoError(t, err)
		check.Equal(t, 4, n)
		ids, err := c.FindAvailable(ctx, availability.AvailableQuery{FreshAfter: fa})
		check.NoError(t, err)
		check.ElementsMatch(t, []uuid.UUID{fresh, ownMax}, ids)
		n, err = c.CountAvailable(ctx, fa)
		check.NoError(t, err)
		check.Equal(t, 2, n)
		for id, want := range map[uuid.UUID]bool{fresh: true, full: true, staleOne: false, offline: false, deact: false, uuid.New(): false} {
			ok, err := c.IsReachable(ctx, id, fa)
			check.NoError(t, err)
			check.Equal(t, want, ok, id)
		}
	})

	t.Run("ReplaceKeepsTheFresherHeartbeat", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		a, b, e := uuid.New(), uuid.New(), uuid.New()
		seed(t, c, 1, st(a, true, true, d(0), 0), st(b, true, true, d(0), 0), st(e, true, true, d(0), 0))
		for _, id := range []uuid.UUID{a, e} {
			_, err := c.Heartbeat(ctx, ping(id, t0.Add(30*time.Second)))
			check.NoError(t, err)
		}
		// Postgres lags for a (mirror not run yet), leads for b (a ping fell back to it) and
		// holds what Valkey holds for e (the mirror ran).
		seed(t, c, 1, st(a, true, true, d(0), 0), st(b, true, true, d(45*time.Second), 0), st(e, true, true, d(30*time.Second), 0))
		dd := dump(t, c, a, b, e)
		check.Equal(t, t0.Add(30*time.Second), dd.Heartbeats[a])
		check.Equal(t, t0.Add(30*time.Second).UnixMilli(), dd.Index[a])
		check.Equal(t, t0.Add(45*time.Second), dd.Heartbeats[b])
		check.Equal(t, t0.Add(45*time.Second).UnixMilli(), dd.Index[b])
		check.Equal(t, t0.Add(30*time.Second), dd.Heartbeats[e])
		check.Equal(t, t0.Add(30*time.Second).UnixMilli(), dd.Index[e])
	})

	t.Run("ReplaceDropsWhatPostgresNoLongerHas", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		a, b := uuid.New(), uuid.New()
		seed(t, c, 1, st(a, true, true, d(0), 1), st(b, false, false, nil, 0))
		seed(t, c, 1, st(a, true, false, d(0), 0), st(b, true, false, nil, 0))
		dd := dump(t, c, a, b)
		check.Len(t, dd.Online, 0)
		check.Len(t, dd.Deactivated, 0)
		check.Len(t, dd.AtCapacity, 0)
		check.Len(t, dd.Index, 0)
		check.Len(t, dd.Heartbeats, 0)
		check.Equal(t, 0, dd.Capacity[a])
	})

	t.Run("ReplaceReturnsMitrasWrittenSinceItStarted", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		before, during, offlined := uuid.New(), uuid.New(), uuid.New()
		seed(t, c, 1, st(offlined, true, true, d(-5*time.Minute), 0))
		apply(t, c, t0.Add(-time.Minute), st(before, true, false, nil, 0))
		apply(t, c, t0.Add(time.Second), st(during, true, true, d(time.Second), 0))
		_, _, err := c.Offline(ctx, availability.OfflineParams{IDs: []uuid.UUID{offlined}, StaleBefore: t0.Add(-staleAfter), At: t0.Add(2 * time.Second)})
		check.NoError(t, err)
		changed, err := c.Replace(ctx, availability.SeedData{DefaultMax: 1, Started: t0})
		check.NoError(t, err)
		check.ElementsMatch(t, []uuid.UUID{during, offlined}, changed)
	})

	t.Run("HeartbeatRefusesDeactivatedAndWritesOnlyForOnline", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		on, off, deact, unknown := uuid.New(), uuid.New(), uuid.New(), uuid.New()
		seed(t, c, 1, st(on, true, true, d(0), 0), st(off, true, false, nil, 0), st(deact, false, false, nil, 0))

		_, err := c.Heartbeat(ctx, ping(deact, t0))
		check.ErrorIs(t, err, availability.ErrDeactivated)
		for _, id := range []uuid.UUID{off, unknown} {
			online, err := c.Heartbeat(ctx, ping(id, t0))
			check.NoError(t, err)
			check.False(t, online)
		}
		online, err := c.Heartbeat(ctx, ping(on, t0.Add(20*time.Second)))
		check.NoError(t, err)
		check.True(t, online)
		online, err = c.Heartbeat(ctx, ping(on, t0.Add(10*time.Second))) // another instance, clock behind
		check.NoError(t, err)
		check.True(t, online)

		dd := dump(t, c, on, off, deact, unknown)
		check.Equal(t, map[uuid.UUID]time.Time{on: t0.Add(20 * time.Second)}, dd.Heartbeats, "only the online mitra, never moved back")
		check.Equal(t, map[uuid.UUID]int64{on: t0.Add(20 * time.Second).UnixMilli()}, dd.Index)
	})

	t.Run("ApplyMirrorsEachTransition", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		id := uuid.New()
		seed(t, c, 1)
		apply(t, c, t0, st(id, true, true, d(0), 0))
		_, err := c.Heartbeat(ctx, ping(id, t0.Add(time.Minute)))
		check.NoError(t, err)
		// A re-sync with the older Postgres heartbeat keeps the live one.
		apply(t, c, t0, st(id, true, true, d(0), 1))
		dd := dump(t, c, id)
		check.True(t, dd.Online[id])
		check.True(t, dd.AtCapacity[id])
		check.Equal(t, 1, dd.Capacity[id])
		check.Equal(t, t0.Add(time.Minute), dd.Heartbeats[id])
		check.Equal(t, t0.Add(time.Minute).UnixMilli(), dd.Index[id])

		apply(t, c, t0, st(id, true, false, d(0), 0))
		dd = dump(t, c, id)
		check.False(t, dd.Online[id])
		check.False(t, dd.AtCapacity[id])
		check.NoKey(t, dd.Heartbeats, id)
		check.NoKey(t, dd.Index, id)

		apply(t, c, t0, st(id, false, false, d(0), 0))
		dd = dump(t, c, id)
		check.True(t, dd.Deactivated[id])
		_, err = c.Heartbeat(ctx, ping(id, t0))
		check.ErrorIs(t, err, availability.ErrDeactivated)

		apply(t, c, t0, st(id, true, false, d(0), 0))
		dd = dump(t, c, id)
		check.False(t, dd.Deactivated[id])
		online, err := c.Heartbeat(ctx, ping(id, t0))
		check.NoError(t, err)
		check.False(t, online)
	})

	t.Run("FindAvailableFreshestFirstWithBoundedWork", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		ids := newIDs(300)
		var states []availability.MitraState
		want := map[uuid.UUID]bool{}
		var order []uuid.UUID // available, freshest first
		for i, id := range ids {
			full := i%3 == 0
			states = append(states, st(id, true, true, d(-time.Duration(i)*100*time.Millisecond), map[bool]int{true: 1}[full]))
			if !full {
				want[id] = true
				order = append(order, id)
			}
		}
		// Stale ones never come back, whatever the limit.
		for _, id := range newIDs(50) {
			states = append(states, st(id, true, true, d(-10*time.Minute), 0))
		}
		seed(t, c, 1, states...)
		fa := t0.Add(-staleAfter)

		all, err := c.FindAvailable(ctx, availability.AvailableQuery{FreshAfter: fa})
		check.NoError(t, err)
		check.Len(t, all, len(want))
		for _, id := range all {
			check.True(t, want[id])
		}
		n, err := c.CountAvailable(ctx, fa)
		check.NoError(t, err)
		check.Equal(t, len(want), n)

		top, err := c.FindAvailable(ctx, availability.AvailableQuery{FreshAfter: fa, Limit: 10})
		check.NoError(t, err)
		check.Equal(t, order[:10], top)

		excl := order[:5]
		top, err = c.FindAvailable(ctx, availability.AvailableQuery{FreshAfter: fa, Limit: 10, Exclude: excl})
		check.NoError(t, err)
		check.Equal(t, order[5:15], top)
		all, err = c.FindAvailable(ctx, availability.AvailableQuery{FreshAfter: fa, Exclude: excl})
		check.NoError(t, err)
		check.Len(t, all, len(want)-5)
		for _, id := range excl {
			check.NotContains(t, all, id)
		}

		// A limit larger than what exists returns everything available.
		top, err = c.FindAvailable(ctx, availability.AvailableQuery{FreshAfter: fa, Limit: 1000})
		check.NoError(t, err)
		check.Equal(t, order, top)
	})

	t.Run("FindAvailableCopesWithEqualHeartbeats", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		var states []availability.MitraState
		ids := newIDs(260)
		for i, id := range ids {
			hb := d(0) // one long run of equal scores...
			if i >= 200 {
				hb = d(time.Duration(i) * time.Millisecond) // ...then distinct ones
			}
			states = append(states, st(id, true, true, hb, 0))
		}
		seed(t, c, 1, states...)
		all, err := c.FindAvailable(ctx, availability.AvailableQuery{FreshAfter: t0.Add(-staleAfter)})
		check.NoError(t, err)
		check.ElementsMatch(t, ids, all)
		n, err := c.CountAvailable(ctx, t0.Add(-staleAfter))
		check.NoError(t, err)
		check.Equal(t, len(ids), n)
	})

	t.Run("StaleOnlineAndGuardedOffline", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		a, b, fresh := uuid.New(), uuid.New(), uuid.New()
		seed(t, c, 1, st(a, true, true, d(-2*time.Minute), 0), st(b, true, true, d(-100*time.Second), 0), st(fresh, true, true, d(0), 0))
		staleBefore := t0.Add(-staleAfter)
		cands, err := c.StaleOnline(ctx, staleBefore)
		check.NoError(t, err)
		check.ElementsMatch(t, []uuid.UUID{a, b}, cands)

		// b pings between the sweep's read and its write.
		_, err = c.Heartbeat(ctx, ping(b, t0))
		check.NoError(t, err)
		revived, failed, err := c.Offline(ctx, availability.OfflineParams{IDs: cands, StaleBefore: staleBefore, At: t0})
		check.NoError(t, err)
		check.Len(t, failed, 0)
		check.Equal(t, []uuid.UUID{b}, revived)

		dd := dump(t, c, a, b, fresh)
		check.Equal(t, map[uuid.UUID]bool{b: true, fresh: true}, dd.Online)
		check.NoKey(t, dd.Heartbeats, a)
		check.NoKey(t, dd.Index, a)
		cands, err = c.StaleOnline(ctx, staleBefore)
		check.NoError(t, err)
		check.Len(t, cands, 0)
		online, err := c.Heartbeat(ctx, ping(a, t0))
		check.NoError(t, err)
		check.False(t, online, "an auto-offlined mitra learns it from its next ping")
	})

	t.Run("HeartbeatsListsEveryOnlineMitra", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		ids := newIDs(120)
		var states []availability.MitraState
		want := map[uuid.UUID]time.Time{}
		for i, id := range ids {
			states = append(states, st(id, true, true, d(-time.Duration(i)*time.Second), 0))
			want[id] = t0.Add(-time.Duration(i) * time.Second)
		}
		states = append(states, st(uuid.New(), true, false, d(0), 0))
		seed(t, c, 1, states...)
		hbs, err := c.Heartbeats(ctx)
		check.NoError(t, err)
		got := map[uuid.UUID]time.Time{}
		for _, h := range hbs {
			got[h.MitraID] = h.At
		}
		check.Equal(t, want, got)
	})

	t.Run("SnapshotRoundTripsAndExpires", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		_, ok, err := c.Snapshot(ctx)
		check.NoError(t, err)
		check.False(t, ok)
		s := availability.Snapshot{AvailableCount: 7, AsOf: t0}
		check.NoError(t, c.StoreSnapshot(ctx, s, time.Minute))
		// Eventually: with client-side caching a read may be served from process memory
		// until the server's invalidation arrives (milliseconds).
		check.Eventually(t, func() bool {
			got, ok, err := c.Snapshot(ctx)
			return err == nil && ok && got == s
		}, 5*time.Second, 5*time.Millisecond)

		check.NoError(t, c.StoreSnapshot(ctx, availability.Snapshot{AvailableCount: 8, AsOf: t0}, 50*time.Millisecond))
		check.Eventually(t, func() bool {
			_, ok, err := c.Snapshot(ctx)
			return err == nil && !ok
		}, 5*time.Second, 10*time.Millisecond)
	})

	t.Run("SeedDropsTheSnapshot", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		check.NoError(t, c.StoreSnapshot(ctx, availability.Snapshot{AvailableCount: 7, AsOf: t0}, time.Minute))
		seed(t, c, 1)
		_, ok, err := c.Snapshot(ctx)
		check.NoError(t, err)
		check.False(t, ok)
	})

	t.Run("MarkerRecordsTheLastRecoveryFromDataLoss", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		reseed := func(at time.Time) {
			_, err := h.Cache.Replace(ctx, availability.SeedData{DefaultMax: 2, Started: at.Add(-time.Second), At: at})
			check.NoError(t, err)
		}
		reseed(t0)
		p, err := h.Cache.Probe(ctx)
		check.NoError(t, err)
		check.Equal(t, t0, p.SeededAt)
		check.Equal(t, 2, p.DefaultMax)
		check.NotNil(t, p.RecoveredAt, "the first seed rebuilds an empty valkey")
		check.Equal(t, t0, *p.RecoveredAt)

		reseed(t0.Add(time.Minute)) // a periodic reseed: nothing was lost
		p, err = h.Cache.Probe(ctx)
		check.NoError(t, err)
		check.Equal(t, t0.Add(time.Minute), p.SeededAt)
		check.Equal(t, t0, *p.RecoveredAt)

		h.Flush(t)
		reseed(t0.Add(2 * time.Minute))
		p, err = h.Cache.Probe(ctx)
		check.NoError(t, err)
		check.Equal(t, t0.Add(2*time.Minute), *p.RecoveredAt)
	})

	t.Run("FlushLosesTheSeed", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		id := uuid.New()
		seed(t, h.Cache, 1, st(id, true, true, d(0), 0))
		h.Flush(t)
		p, err := h.Cache.Probe(ctx)
		check.NoError(t, err)
		check.False(t, p.Seeded)
		_, err = h.Cache.Heartbeat(ctx, ping(id, t0))
		check.ErrorIs(t, err, availability.ErrNotSeeded)
	})

	t.Run("ManyMitrasInOneApply", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		seed(t, c, 1)
		ids := newIDs(150)
		var states []availability.MitraState
		for _, id := range ids {
			states = append(states, st(id, true, true, d(0), 0))
		}
		apply(t, c, t0, states...)
		n, err := c.OnlineCount(check.Context(t))
		check.NoError(t, err)
		check.Equal(t, len(ids), n)
		got, err := c.FindAvailable(check.Context(t), availability.AvailableQuery{FreshAfter: t0.Add(-staleAfter)})
		check.NoError(t, err)
		slices.SortFunc(got, func(a, b uuid.UUID) int { return compareIDs(a, b) })
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return compareIDs(a, b) })
		check.Equal(t, ids, got)
	})

	runDeviceContract(t, newHarness)

	t.Run("CallsHonourTheirContext", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.Probe(ctx)
		check.Error(t, err)
		_, err = c.Heartbeat(ctx, ping(uuid.New(), t0))
		check.Error(t, err)
		check.False(t, errors.Is(err, availability.ErrDeactivated), err)
	})
}

func compareIDs(a, b uuid.UUID) int {
	return slices.Compare(a[:], b[:])
}

// ping is a heartbeat of the default device.
func ping(id uuid.UUID, at time.Time) availability.HeartbeatParams {
	return availability.HeartbeatParams{MitraID: id, Device: availability.DefaultDevice, At: at}
}

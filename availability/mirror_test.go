package availability_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/internal/testenv"
)

var errInjected = errors.New("injected valkey failure")

func TestSetOnline_WritesPostgresThenValkey(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := seeded(t, kind, setupOptions{})
		ctx := ctxT(t)
		id := b.onlineMitra(t)

		m, err := b.mirror.GetMitra(ctx, id)
		require.NoError(t, err)
		require.True(t, m.IsOnline)
		require.Equal(t, T0, *m.LastHeartbeatAt)
		ok, err := b.mirror.IsReachable(ctx, id)
		require.NoError(t, err)
		require.True(t, ok)
		n, err := b.mirror.OnlineCount(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		ids, err := b.mirror.FindAvailable(ctx, availability.FindOptions{})
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{id}, ids)
		b.requireNoDrift(t)
		require.Zero(t, b.hooks.Fallbacks())
	})
}

func TestSetOnline_DeactivatedOrUnknownMitraChangesNothing(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := seeded(t, kind, setupOptions{})
		ctx := ctxT(t)
		id := b.newMitra(t)
		_, err := b.mirror.SetActive(ctx, id, false)
		require.NoError(t, err)

		require.ErrorIs(t, b.mirror.SetOnline(ctx, id), availability.ErrDeactivated)
		m, err := b.mirror.GetMitra(ctx, id)
		require.NoError(t, err)
		require.False(t, m.IsOnline)
		require.ErrorIs(t, b.mirror.SetOnline(ctx, uuid.New()), availability.ErrNotFound)
		require.ErrorIs(t, b.mirror.SetOffline(ctx, uuid.New()), availability.ErrNotFound)
		b.requireNoDrift(t)
	})
}

func TestSetOffline_RemovesTheMitraFromTheMirror(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := seeded(t, kind, setupOptions{})
		ctx := ctxT(t)
		id := b.onlineMitra(t)
		require.NoError(t, b.mirror.SetOffline(ctx, id))
		ok, err := b.mirror.IsReachable(ctx, id)
		require.NoError(t, err)
		require.False(t, ok)
		online, err := b.mirror.Heartbeat(ctx, id)
		require.NoError(t, err)
		require.False(t, online, "an offline mitra's ping reports offline and writes nothing")
		b.requireNoDrift(t)
	})
}

func TestHeartbeat_KeepsAPingingMitraReachable(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := seeded(t, kind, setupOptions{})
		ctx := ctxT(t)
		id := b.onlineMitra(t)
		for range 5 {
			b.clock.Advance(80 * time.Second)
			online, err := b.mirror.Heartbeat(ctx, id)
			require.NoError(t, err)
			require.True(t, online)
		}
		b.clock.Advance(89 * time.Second)
		ok, err := b.mirror.IsReachable(ctx, id)
		require.NoError(t, err)
		require.True(t, ok)
		b.clock.Advance(2 * time.Second)
		ok, err = b.mirror.IsReachable(ctx, id)
		require.NoError(t, err)
		require.False(t, ok, "stale after the threshold")
		ids, err := b.mirror.FindAvailable(ctx, availability.FindOptions{Limit: 5})
		require.NoError(t, err)
		require.Empty(t, ids)
	})
}

func TestWrites_ValkeyErrorAfterCommitIsCountedNotReturnedAndHealedByReseed(t *testing.T) {
	t.Parallel()
	b := seeded(t, kindMemory, setupOptions{})
	ctx := ctxT(t)
	id := b.newMitra(t)
	b.takeDown(t, true)
	require.NoError(t, b.mirror.SetOnline(ctx, id), "postgres committed: the caller succeeds")
	require.Equal(t, int64(1), b.hooks.WriteFailures())
	m, err := b.mirror.GetMitra(ctx, id)
	require.NoError(t, err)
	require.True(t, m.IsOnline)
	b.takeDown(t, false)

	rep, err := b.mirror.Drift(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, rep.Differences, "the mirror missed the write")

	// The failed write requested a reseed: the watchdog runs it at its first pass.
	require.NoError(t, b.mirror.Start(ctx))
	t.Cleanup(func() { require.NoError(t, b.mirror.Stop(context.Background())) })
	require.Eventually(t, func() bool { return b.hooks.Seeds() >= 2 }, 10*time.Second, 5*time.Millisecond)
	b.requireNoDrift(t)
}

func TestReads_FallBackToPostgresWhenValkeyFails(t *testing.T) {
	t.Parallel()
	b := seeded(t, kindMemory, setupOptions{})
	ctx := ctxT(t)
	avail, full, staleOne := b.onlineMitra(t), b.onlineMitra(t), b.onlineMitra(t)
	b.facts.setOpen(t, full, 1)
	_, err := b.mirror.RecomputeCapacity(ctx, full)
	require.NoError(t, err)
	b.clock.Advance(60 * time.Second)
	for _, id := range []uuid.UUID{avail, full} {
		_, err := b.mirror.Heartbeat(ctx, id)
		require.NoError(t, err)
	}
	b.clock.Advance(40 * time.Second) // staleOne: 100 s
	// Postgres learns the heartbeats from the mirror sweep.
	_, err = b.mirror.MirrorHeartbeats(ctx)
	require.NoError(t, err)

	b.takeDown(t, true)
	ref := b.postgresOnly()
	requireSameAnswers(t, b.mirror, ref, avail, full, staleOne)
	require.Positive(t, b.hooks.Fallbacks())
	ids, err := b.mirror.FindAvailable(ctx, availability.FindOptions{})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{avail}, ids)
}

// requireSameAnswers asserts that every read of m answers what ref answers.
func requireSameAnswers(t *testing.T, m, ref *availability.Mirror, ids ...uuid.UUID) {
	t.Helper()
	ctx := ctxT(t)
	for _, id := range ids {
		got, err := m.IsReachable(ctx, id)
		require.NoError(t, err)
		want, err := ref.IsReachable(ctx, id)
		require.NoError(t, err)
		require.Equal(t, want, got, "IsReachable(%s)", id)
		gs, gerr := m.Status(ctx, id)
		ws, werr := ref.Status(ctx, id)
		require.Equal(t, werr == nil, gerr == nil, "Status(%s): %v / %v", id, werr, gerr)
		require.Equal(t, ws, gs)
	}
	got, err := m.FindAvailable(ctx, availability.FindOptions{})
	require.NoError(t, err)
	want, err := ref.FindAvailable(ctx, availability.FindOptions{})
	require.NoError(t, err)
	require.ElementsMatch(t, want, got)
	got, err = m.FindAvailable(ctx, availability.FindOptions{Limit: 1})
	require.NoError(t, err)
	want, err = ref.FindAvailable(ctx, availability.FindOptions{Limit: 1})
	require.NoError(t, err)
	require.Equal(t, want, got)
	gn, err := m.OnlineCount(ctx)
	require.NoError(t, err)
	wn, err := ref.OnlineCount(ctx)
	require.NoError(t, err)
	require.Equal(t, wn, gn)
	gc, err := m.CountAvailable(ctx)
	require.NoError(t, err)
	wc, err := ref.CountAvailable(ctx)
	require.NoError(t, err)
	require.Equal(t, wc.AvailableCount, gc.AvailableCount)
}

func TestReads_FallBackToPostgresWhenValkeyLostItsData(t *testing.T) {
	t.Parallel()
	b := seeded(t, kindMemory, setupOptions{})
	ctx := ctxT(t)
	id := b.onlineMitra(t)
	b.mem.Flush()
	requireSameAnswers(t, b.mirror, b.postgresOnly(), id)
	require.Positive(t, b.hooks.Fallbacks())
	// A ping into an empty Valkey must not tell the mitra it is offline.
	online, err := b.mirror.Heartbeat(ctx, id)
	require.NoError(t, err)
	require.True(t, online)
}

func TestCapacity_LifecycleFollowsChatSessionRows(t *testing.T) {
	t.Parallel()
	b := seeded(t, kindValkey, setupOptions{})
	ctx := ctxT(t)
	id := b.onlineMitra(t)
	requireAvailable := func(want bool, open int) {
		t.Helper()
		n, err := b.mirror.RecomputeCapacity(ctx, id)
		require.NoError(t, err)
		require.Equal(t, open, n)
		ids, err := b.mirror.FindAvailable(ctx, availability.FindOptions{})
		require.NoError(t, err)
		require.Equal(t, want, len(ids) == 1)
		ok, err := b.mirror.IsReachable(ctx, id)
		require.NoError(t, err)
		require.True(t, ok, "capacity does not affect reachability")
		s, err := b.mirror.Status(ctx, id)
		require.NoError(t, err)
		require.Equal(t, open, s.ActiveSessions)
		b.requireNoDrift(t)
	}
	requireAvailable(true, 0)

	// Targeted accept: the session waits for payment, holding the slot.
	session := b.pg.openSession(t, id, availability.ChatStatusPendingPayment)
	requireAvailable(false, 1)
	b.pg.setSessionStatus(t, session, availability.ChatStatusActive)
	requireAvailable(false, 1)
	b.pg.setSessionStatus(t, session, "ended")
	requireAvailable(true, 0)
	b.pg.setSessionStatus(t, b.pg.openSession(t, id, availability.ChatStatusPendingPayment), "cancelled")
	requireAvailable(true, 0)

	// A mitra with its own maximum.
	two, err := b.mirror.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "two", MaxConcurrentSessions: ptr(2)})
	require.NoError(t, err)
	require.NoError(t, b.mirror.SetOnline(ctx, two.ID))
	b.pg.openSession(t, two.ID, availability.ChatStatusActive)
	n, err := b.mirror.RecomputeCapacity(ctx, two.ID)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	ids, err := b.mirror.FindAvailable(ctx, availability.FindOptions{})
	require.NoError(t, err)
	require.ElementsMatch(t, []uuid.UUID{id, two.ID}, ids)
	b.pg.openSession(t, two.ID, availability.ChatStatusPendingPayment)
	_, err = b.mirror.RecomputeCapacity(ctx, two.ID)
	require.NoError(t, err)
	ids, err = b.mirror.FindAvailable(ctx, availability.FindOptions{})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{id}, ids)
	b.requireNoDrift(t)

	_, err = b.mirror.RecomputeCapacity(ctx, uuid.New())
	require.ErrorIs(t, err, availability.ErrNotFound)
}

func TestCapacity_DefaultMaximumFollowsRuntimeConfig(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		var defaultMax atomic.Int64
		defaultMax.Store(1)
		b := seeded(t, kind, setupOptions{cfg: availability.Config{
			DefaultMaxSessions: func(context.Context) int { return int(defaultMax.Load()) },
			WatchdogInterval:   time.Second,
		}})
		ctx := ctxT(t)
		id := b.onlineMitra(t)
		b.facts.setOpen(t, id, 1)
		_, err := b.mirror.RecomputeCapacity(ctx, id)
		require.NoError(t, err)
		ids, err := b.mirror.FindAvailable(ctx, availability.FindOptions{})
		require.NoError(t, err)
		require.Empty(t, ids)

		require.NoError(t, b.mirror.Start(ctx))
		t.Cleanup(func() { require.NoError(t, b.mirror.Stop(context.Background())) })
		defaultMax.Store(2)
		require.Eventually(t, func() bool {
			b.clock.Advance(100 * time.Millisecond) // drives the watchdog's timer
			ids, err := b.mirror.FindAvailable(ctx, availability.FindOptions{})
			return err == nil && len(ids) == 1
		}, 10*time.Second, 5*time.Millisecond)
		b.requireNoDrift(t)
	})
}

func TestDeactivation_RevokesAuthSessionsAndRefusesHeartbeats(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := seeded(t, kind, setupOptions{})
		ctx := ctxT(t)
		id, other := b.onlineMitra(t), b.onlineMitra(t)
		b.facts.addAuth(t, id)
		b.facts.addAuth(t, id)
		b.facts.addAuth(t, other)

		m, err := b.mirror.SetActive(ctx, id, false)
		require.NoError(t, err)
		require.False(t, m.IsActive)
		require.False(t, m.IsOnline)
		require.Zero(t, b.facts.liveAuth(t, id))
		require.Equal(t, 1, b.facts.liveAuth(t, other))

		_, err = b.mirror.Heartbeat(ctx, id)
		require.ErrorIs(t, err, availability.ErrDeactivated)
		ok, err := b.mirror.IsReachable(ctx, id)
		require.NoError(t, err)
		require.False(t, ok)
		ids, err := b.mirror.FindAvailable(ctx, availability.FindOptions{})
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{other}, ids)
		s, err := b.mirror.Status(ctx, id)
		require.NoError(t, err)
		require.Equal(t, availability.MitraStatus{MaxConcurrentSessions: 1}, s)
		b.requireNoDrift(t)

		_, err = b.mirror.SetActive(ctx, id, true)
		require.NoError(t, err)
		online, err := b.mirror.Heartbeat(ctx, id)
		require.NoError(t, err)
		require.False(t, online, "reactivated, but offline until it goes online")
		require.NoError(t, b.mirror.SetOnline(ctx, id))
		b.requireNoDrift(t)
	})
}

func TestStatus_ReportsTheMitrasOwnView(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := seeded(t, kind, setupOptions{})
		ctx := ctxT(t)
		id := b.onlineMitra(t)
		b.facts.setOpen(t, id, 1)
		s, err := b.mirror.Status(ctx, id)
		require.NoError(t, err)
		require.Equal(t, availability.MitraStatus{Online: true, IsActive: true, Reachable: true, ActiveSessions: 1, MaxConcurrentSessions: 1,
			Devices: []availability.Device{{ID: availability.DefaultDevice, LastSeenAt: T0}}}, s)
		b.clock.Advance(2 * time.Minute)
		s, err = b.mirror.Status(ctx, id)
		require.NoError(t, err)
		require.True(t, s.Online)
		require.False(t, s.Reachable)
		require.Empty(t, s.Devices, "a stale lease is no device of the mitra's")
		_, err = b.mirror.Status(ctx, uuid.New())
		require.ErrorIs(t, err, availability.ErrNotFound)
	})
}

func TestFindAvailable_RejectsANegativeLimit(t *testing.T) {
	t.Parallel()
	b := seeded(t, kindMemory, setupOptions{})
	_, err := b.mirror.FindAvailable(ctxT(t), availability.FindOptions{Limit: -1})
	var ve *core.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "limit", ve.Field)
}

func TestCountAvailable_ServedFromTheSnapshotUntilItsTTL(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		spy := (*spyCache)(nil)
		b := seeded(t, kind, setupOptions{wrapCache: func(c availability.Cache) availability.Cache { spy = newSpy(c); return spy }})
		ctx := ctxT(t)
		b.onlineMitra(t)
		s, err := b.mirror.CountAvailable(ctx)
		require.NoError(t, err)
		require.Equal(t, availability.Snapshot{AvailableCount: 1, AsOf: T0}, s)

		b.onlineMitra(t)
		b.clock.Advance(9 * time.Second)
		for range 100 {
			s, err = b.mirror.CountAvailable(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, s.AvailableCount, "the beacon may be up to SnapshotTTL old")
		}
		require.Equal(t, 1, spy.count("Snapshot"), "served from process memory")
		require.Equal(t, 1, spy.count("CountAvailable"))

		b.clock.Advance(2 * time.Second)
		s, err = b.mirror.CountAvailable(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, s.AvailableCount)
		require.Equal(t, T0.Add(11*time.Second), s.AsOf)
	})
}

func TestCountAvailable_OneRecomputePerInstanceAtATime(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		spy := (*spyCache)(nil)
		b := seeded(t, kind, setupOptions{wrapCache: func(c availability.Cache) availability.Cache { spy = newSpy(c); return spy }})
		ctx := ctxT(t)
		b.onlineMitra(t)
		release := make(chan struct{})
		entered := make(chan struct{}, 1)
		spy.setBefore("CountAvailable", func() {
			entered <- struct{}{}
			<-release
		})
		const callers = 50
		var wg sync.WaitGroup
		results := make(chan availability.Snapshot, callers)
		for range callers {
			wg.Go(func() {
				s, err := b.mirror.CountAvailable(ctx)
				if err == nil {
					results <- s
				}
			})
		}
		<-entered // one caller is recomputing; the others pile up behind it
		close(release)
		wg.Wait()
		close(results)
		n := 0
		for s := range results {
			require.Equal(t, 1, s.AvailableCount)
			n++
		}
		require.Equal(t, callers, n)
		require.Equal(t, 1, spy.count("CountAvailable"), "no stampede")
		require.Equal(t, 1, spy.count("StoreSnapshot"))
	})
}

func TestCountAvailable_SnapshotIsSharedAcrossInstances(t *testing.T) {
	t.Parallel()
	a := seeded(t, kindValkey, setupOptions{})
	ctx := ctxT(t)
	a.onlineMitra(t)
	first, err := a.mirror.CountAvailable(ctx)
	require.NoError(t, err)

	// A second instance on the same Postgres and Valkey.
	spy := newSpy(availability.NewValkeyCache(a.client, availability.CacheConfig{Names: a.names}))
	cfg := availability.Config{Clock: a.clock}
	other, err := availability.NewMirror(a.store, spy, &cfg)
	require.NoError(t, err)
	got, err := other.CountAvailable(ctx)
	require.NoError(t, err)
	require.Equal(t, first, got)
	require.Zero(t, spy.count("CountAvailable"), "served from availability:snapshot")
}

func TestCountAvailable_ClientSideCacheServesTheSnapshotFromProcessMemory(t *testing.T) {
	t.Parallel()
	v := testenv.NewValkey(t)
	counting := &countingClient{Client: v.Client}
	cached := availability.NewValkeyCache(counting, availability.CacheConfig{Names: v.Names(), UseClientCache: true})
	writer := availability.NewValkeyCache(v.Client, availability.CacheConfig{Names: v.Names()})
	ctx := ctxT(t)
	require.NoError(t, writer.StoreSnapshot(ctx, availability.Snapshot{AvailableCount: 3, AsOf: T0}, time.Minute))

	s, ok, err := cached.Snapshot(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, 3, s.AvailableCount)
	trips := counting.trips.Load()
	for range 100 {
		s, _, err = cached.Snapshot(ctx)
		require.NoError(t, err)
		require.Equal(t, 3, s.AvailableCount)
	}
	require.Equal(t, trips, counting.trips.Load(), "served by the client-side cache")

	// Another instance refreshes it: the server invalidates our copy.
	require.NoError(t, writer.StoreSnapshot(ctx, availability.Snapshot{AvailableCount: 4, AsOf: T0.Add(time.Second)}, time.Minute))
	require.Eventually(t, func() bool {
		s, _, err := cached.Snapshot(ctx)
		return err == nil && s.AvailableCount == 4
	}, 5*time.Second, 5*time.Millisecond)
}

func TestAutoOffline_MitraThatPingsBetweenReadAndWriteStaysOnline(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		spy := (*spyCache)(nil)
		b := seeded(t, kind, setupOptions{wrapCache: func(c availability.Cache) availability.Cache { spy = newSpy(c); return spy }})
		ctx := ctxT(t)
		pinger, silent := b.onlineMitra(t), b.onlineMitra(t)
		b.clock.Advance(2 * time.Minute)
		spy.setAfter("StaleOnline", func() {
			_, err := b.mirror.Heartbeat(ctx, pinger)
			require.NoError(t, err)
		})
		rep, err := b.mirror.AutoOffline(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, rep.Candidates)
		require.Equal(t, 1, rep.Offlined)
		require.Equal(t, 1, rep.Revived)

		m, err := b.mirror.GetMitra(ctx, pinger)
		require.NoError(t, err)
		require.True(t, m.IsOnline, "set back online in postgres")
		ok, err := b.mirror.IsReachable(ctx, pinger)
		require.NoError(t, err)
		require.True(t, ok)
		m, err = b.mirror.GetMitra(ctx, silent)
		require.NoError(t, err)
		require.False(t, m.IsOnline)
		_, err = b.mirror.MirrorHeartbeats(ctx)
		require.NoError(t, err)
		b.requireNoDrift(t)
	})
}

func TestAutoOffline_KeepsAMitraWhosePingsFellBackToPostgres(t *testing.T) {
	t.Parallel()
	b := seeded(t, kindMemory, setupOptions{})
	ctx := ctxT(t)
	id := b.onlineMitra(t)
	b.clock.Advance(60 * time.Second)
	b.takeDown(t, true)
	_, err := b.mirror.Heartbeat(ctx, id) // lands in postgres only
	require.NoError(t, err)
	b.takeDown(t, false)
	b.clock.Advance(60 * time.Second) // valkey's heartbeat is 120 s old, postgres's 60 s

	rep, err := b.mirror.AutoOffline(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Candidates)
	require.Zero(t, rep.Offlined)
	require.Equal(t, 1, rep.Repaired)
	ok, err := b.mirror.IsReachable(ctx, id)
	require.NoError(t, err)
	require.True(t, ok, "valkey re-synced with the fresher postgres heartbeat")
	b.requireNoDrift(t)
}

func TestAutoOffline_RepairsAMitraThatPostgresShowsOffline(t *testing.T) {
	t.Parallel()
	b := seeded(t, kindMemory, setupOptions{})
	ctx := ctxT(t)
	id := b.onlineMitra(t)
	b.takeDown(t, true)
	require.NoError(t, b.mirror.SetOffline(ctx, id)) // valkey misses it
	b.takeDown(t, false)
	b.clock.Advance(2 * time.Minute)
	rep, err := b.mirror.AutoOffline(ctx)
	require.NoError(t, err)
	require.Equal(t, availability.AutoOfflineReport{Candidates: 1, Repaired: 1, Duration: rep.Duration}, rep)
	b.requireNoDrift(t)
}

func TestAutoOffline_PostgresOnlyMirrorUsesPostgresHeartbeats(t *testing.T) {
	t.Parallel()
	b := setup(t, kindMemory, setupOptions{})
	ref := b.postgresOnly()
	ctx := ctxT(t)
	a, c := b.newMitra(t), b.newMitra(t)
	require.NoError(t, ref.SetOnline(ctx, a))
	require.NoError(t, ref.SetOnline(ctx, c))
	b.clock.Advance(time.Minute)
	_, err := ref.Heartbeat(ctx, c)
	require.NoError(t, err)
	b.clock.Advance(45 * time.Second)
	rep, err := ref.AutoOffline(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Offlined)
	m, err := ref.GetMitra(ctx, a)
	require.NoError(t, err)
	require.False(t, m.IsOnline)
}

func TestMirrorHeartbeats_OneStatementAndNeverBackwards(t *testing.T) {
	t.Parallel()
	var qc pgutil.QueryCounter
	b := seeded(t, kindValkey, setupOptions{pgOptions: testenv.PGOptions{Configure: func(c *pgxpool.Config) { c.ConnConfig.Tracer = &qc }}})
	ctx := ctxT(t)
	a, c, d := b.onlineMitra(t), b.onlineMitra(t), b.onlineMitra(t)
	b.clock.Advance(30 * time.Second)
	for _, id := range []uuid.UUID{a, c} {
		_, err := b.mirror.Heartbeat(ctx, id)
		require.NoError(t, err)
	}
	// d's postgres row is ahead of valkey (a ping fell back to postgres): never moved back.
	later := T0.Add(time.Minute)
	_, err := b.db.Pool.Exec(ctx, `UPDATE mitras SET last_heartbeat_at = $2 WHERE id = $1`, d, later)
	require.NoError(t, err)

	before := qc.Count()
	rep, err := b.mirror.MirrorHeartbeats(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), qc.Count()-before, "one statement per run")
	require.Equal(t, 3, rep.Read)
	require.Equal(t, 2, rep.Updated)
	for id, want := range map[uuid.UUID]time.Time{a: T0.Add(30 * time.Second), c: T0.Add(30 * time.Second), d: later} {
		m, err := b.mirror.GetMitra(ctx, id)
		require.NoError(t, err)
		require.Equal(t, want, *m.LastHeartbeatAt)
	}
	rep, err = b.mirror.MirrorHeartbeats(ctx)
	require.NoError(t, err)
	require.Zero(t, rep.Updated, "idempotent")
}

// A large mirror is cut into runs written by parallel statements (the split is lowered
// here to two rows): every run lands, none moves a heartbeat back, and a second mirror
// finds nothing to do.
func TestMirrorHeartbeats_LargeMirrorsAreWrittenByParallelStatements(t *testing.T) {
	t.Parallel()
	var qc pgutil.QueryCounter
	b := seeded(t, kindValkey, setupOptions{pgOptions: testenv.PGOptions{Configure: func(c *pgxpool.Config) { c.ConnConfig.Tracer = &qc }}})
	availability.SetMirrorSplit(b.store.(*availability.PostgresStore), 2)
	ctx := ctxT(t)
	var pinged []uuid.UUID
	for range 7 {
		pinged = append(pinged, b.onlineMitra(t))
	}
	ahead := b.onlineMitra(t)
	b.clock.Advance(30 * time.Second)
	for _, id := range pinged {
		_, err := b.mirror.Heartbeat(ctx, id)
		require.NoError(t, err)
	}
	later := T0.Add(time.Minute)
	_, err := b.db.Pool.Exec(ctx, `UPDATE mitras SET last_heartbeat_at = $2 WHERE id = $1`, ahead, later)
	require.NoError(t, err)

	before := qc.Count()
	rep, err := b.mirror.MirrorHeartbeats(ctx)
	require.NoError(t, err)
	require.Greater(t, qc.Count()-before, int64(1), "more than one statement")
	require.LessOrEqual(t, qc.Count()-before, int64(4), "at most four")
	require.Equal(t, 8, rep.Read)
	require.Equal(t, 7, rep.Updated, "every run counted")
	for _, id := range pinged {
		m, err := b.mirror.GetMitra(ctx, id)
		require.NoError(t, err)
		require.Equal(t, T0.Add(30*time.Second), *m.LastHeartbeatAt)
	}
	m, err := b.mirror.GetMitra(ctx, ahead)
	require.NoError(t, err)
	require.Equal(t, later, *m.LastHeartbeatAt, "never moved back")
	rep, err = b.mirror.MirrorHeartbeats(ctx)
	require.NoError(t, err)
	require.Zero(t, rep.Updated, "idempotent")
}

func TestMirrorHeartbeats_ValkeyErrorWritesNothing(t *testing.T) {
	t.Parallel()
	b := seeded(t, kindMemory, setupOptions{})
	b.onlineMitra(t)
	b.takeDown(t, true)
	_, err := b.mirror.MirrorHeartbeats(ctxT(t))
	require.ErrorIs(t, err, errDown(b))
}

func errDown(b *bundle) error {
	_, err := b.mem.Probe(context.Background())
	return err
}

func TestSeed_BuildsTheMirrorFromPostgres(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := setup(t, kind, setupOptions{})
		ctx := ctxT(t)
		pg := b.postgresOnly() // writes that never reached valkey
		var online []uuid.UUID
		for range 5 {
			id := b.newMitra(t)
			require.NoError(t, pg.SetOnline(ctx, id))
			online = append(online, id)
		}
		b.facts.setOpen(t, online[0], 1)
		deact := b.newMitra(t)
		_, err := pg.SetActive(ctx, deact, false)
		require.NoError(t, err)
		b.newMitra(t)

		_, err = b.mirror.IsReachable(ctx, online[1])
		require.NoError(t, err)
		require.Positive(t, b.hooks.Fallbacks(), "unseeded: answered from postgres")

		rep, err := b.mirror.SeedFromPostgres(ctx)
		require.NoError(t, err)
		require.Equal(t, 7, rep.Mitras)
		require.Equal(t, 5, rep.Online)
		require.Equal(t, 1, rep.Deactivated)
		require.Equal(t, 1, rep.AtCapacity)
		require.Equal(t, int64(1), b.hooks.Seeds())
		b.requireNoDrift(t)
		ids, err := b.mirror.FindAvailable(ctx, availability.FindOptions{})
		require.NoError(t, err)
		require.ElementsMatch(t, online[1:], ids)
	})
}

func TestSeed_NeverReplacesAFresherHeartbeat(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := seeded(t, kind, setupOptions{})
		ctx := ctxT(t)
		id := b.onlineMitra(t)
		b.clock.Advance(30 * time.Second)
		_, err := b.mirror.Heartbeat(ctx, id) // valkey only: postgres still says T0
		require.NoError(t, err)
		_, err = b.mirror.SeedFromPostgres(ctx)
		require.NoError(t, err)
		b.clock.Advance(70 * time.Second) // 100 s after postgres's heartbeat, 70 s after the ping
		ok, err := b.mirror.IsReachable(ctx, id)
		require.NoError(t, err)
		require.True(t, ok)
	})
}

func TestSeed_WritesRacingTheSeedAreCaughtUp(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		spy := &spyStore{}
		b := seeded(t, kind, setupOptions{wrapStore: func(s availability.Store) availability.Store { spy.Store = s; return spy }})
		ctx := ctxT(t)
		goesOffline, deact := b.onlineMitra(t), b.onlineMitra(t)
		goesOnline := b.newMitra(t)
		// These writes commit after the seed read its snapshot, and reach valkey before the
		// swap replaces the sets with that (older) snapshot.
		spy.mu.Lock()
		spy.afterAllStates = func() {
			require.NoError(t, b.mirror.SetOffline(ctx, goesOffline))
			require.NoError(t, b.mirror.SetOnline(ctx, goesOnline))
			_, err := b.mirror.SetActive(ctx, deact, false)
			require.NoError(t, err)
		}
		spy.mu.Unlock()
		rep, err := b.mirror.SeedFromPostgres(ctx)
		require.NoError(t, err)
		require.GreaterOrEqual(t, rep.CaughtUp, 3)
		b.requireNoDrift(t)
		_, err = b.mirror.Heartbeat(ctx, deact)
		require.ErrorIs(t, err, availability.ErrDeactivated)
	})
}

func TestSeed_ReadersNeverSeeAHalfBuiltSet(t *testing.T) {
	t.Parallel()
	// Small chunks: the seed of 3,000 mitras is dozens of separate commands.
	b := setup(t, kindValkey, setupOptions{cacheCfg: availability.CacheConfig{ChunkSize: 100}})
	ctx := ctxT(t)
	const n = 3000
	bulkMitras(t, b.db.Pool, n, true, T0)
	_, err := b.mirror.SeedFromPostgres(ctx)
	require.NoError(t, err)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	var bad atomic.Value
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			count, err := b.cache.OnlineCount(ctx)
			if err == nil && count != n {
				bad.Store(count)
			}
			reads.Add(1)
		}
	})
	for range 3 {
		_, err := b.mirror.SeedFromPostgres(ctx)
		require.NoError(t, err)
	}
	close(stop)
	wg.Wait()
	require.Nil(t, bad.Load(), "a reader saw a partial online set")
	require.Positive(t, reads.Load())
	b.requireNoDrift(t)
}

func TestWatchdog_LifecycleIsIdempotent(t *testing.T) {
	t.Parallel()
	b := seeded(t, kindMemory, setupOptions{})
	ctx := ctxT(t)
	require.NoError(t, b.mirror.Stop(ctx), "stop before start")
	<-b.mirror.Stopped()
	require.Error(t, b.mirror.Start(ctx), "a stopped watchdog does not restart")

	other := seeded(t, kindMemory, setupOptions{})
	require.NoError(t, other.mirror.Start(ctx))
	require.Error(t, other.mirror.Start(ctx))
	require.NoError(t, other.mirror.Stop(ctx))
	require.NoError(t, other.mirror.Stop(ctx))
	<-other.mirror.Stopped()

	pgOnly := other.postgresOnly()
	require.NoError(t, pgOnly.Start(ctx))
	require.NoError(t, pgOnly.Stop(ctx))
	<-pgOnly.Stopped()
}

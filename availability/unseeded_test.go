package availability_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/clock"
)

const notSeededWarning = "valkey mirror not seeded: reads fall back to the store until SeedFromPostgres runs"

func TestUnseededCache_ReadsFallBackWithOneWarningPerInterval(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		logs := &logRecorder{}
		b := setup(t, kind, setupOptions{cfg: availability.Config{Logger: slog.New(logs)}})
		ctx := ctxT(t)
		id := b.onlineMitra(t)
		warnings := func() int { return logs.count(slog.LevelWarn, notSeededWarning) }

		for range 3 {
			ok, err := b.mirror.IsReachable(ctx, id)
			require.NoError(t, err)
			require.True(t, ok)
			ids, err := b.mirror.FindAvailable(ctx, availability.FindOptions{})
			require.NoError(t, err)
			require.Equal(t, []uuid.UUID{id}, ids)
			ids, err = b.mirror.FindAvailable(ctx, availability.FindOptions{Limit: 5})
			require.NoError(t, err)
			require.Equal(t, []uuid.UUID{id}, ids)
			n, err := b.mirror.OnlineCount(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			online, err := b.mirror.Heartbeat(ctx, id)
			require.NoError(t, err)
			require.True(t, online)
			_, err = b.mirror.AutoOffline(ctx)
			require.ErrorIs(t, err, availability.ErrNotSeeded)
		}
		require.Positive(t, b.hooks.Fallbacks(), "answered from the store")
		require.Equal(t, 1, warnings(), "one warning, not one per call")

		b.clock.Advance(time.Minute)
		_, err := b.mirror.OnlineCount(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, warnings(), "warned again after a minute")

		_, err = b.mirror.SeedFromPostgres(ctx)
		require.NoError(t, err)
		fallbacks := b.hooks.Fallbacks()
		b.clock.Advance(time.Minute)
		_, err = b.mirror.OnlineCount(ctx)
		require.NoError(t, err)
		_, err = b.mirror.IsReachable(ctx, id)
		require.NoError(t, err)
		require.Equal(t, fallbacks, b.hooks.Fallbacks(), "seeded: answered from the cache")
		require.Equal(t, 2, warnings(), "seeded: no warning")
	})
}

// newMemoryMirror is a Mirror over the in-memory Store and a cache as NewCache returns it.
func newMemoryMirror(store availability.Store, logs *logRecorder, hooks *availability.Counters) (*availability.Mirror, *availability.MemoryCache) {
	cache := availability.NewMemoryCache()
	m, err := availability.NewMirror(store, cache, &availability.Config{Clock: clock.NewFake(T0), Logger: slog.New(logs), Hooks: hooks.Hooks()})
	if err != nil {
		panic(err) // a valid config
	}
	return m, cache
}

func TestNewCache_MirrorsAnEmptyStoreWithoutASeed(t *testing.T) {
	t.Parallel()
	logs, hooks := &logRecorder{}, &availability.Counters{}
	mirror, cache := newMemoryMirror(availability.NewMemoryStore(), logs, hooks)
	ctx := ctxT(t)

	n, err := mirror.OnlineCount(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	m, err := mirror.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "mitra"})
	require.NoError(t, err)
	require.NoError(t, mirror.SetOnline(ctx, m.ID))
	online, err := mirror.Heartbeat(ctx, m.ID)
	require.NoError(t, err)
	require.True(t, online)
	ok, err := mirror.IsReachable(ctx, m.ID)
	require.NoError(t, err)
	require.True(t, ok)
	for _, limit := range []int{0, 1} {
		ids, err := mirror.FindAvailable(ctx, availability.FindOptions{Limit: limit})
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{m.ID}, ids)
	}
	n, err = mirror.OnlineCount(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	beacon, err := mirror.CountAvailable(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, beacon.AvailableCount)
	rep, err := mirror.Drift(ctx)
	require.NoError(t, err)
	require.True(t, rep.Seeded)
	require.Empty(t, rep.Differences)

	require.Zero(t, hooks.Fallbacks(), "every read answered by the cache")
	require.Zero(t, hooks.Seeds())
	require.Zero(t, logs.count(slog.LevelWarn, notSeededWarning))
	p, err := cache.Probe(ctx)
	require.NoError(t, err)
	require.Nil(t, p.RecoveredAt, "nothing was lost: auto-offline needs no grace")
	require.Equal(t, availability.DefaultMaxSessions, p.DefaultMax,
		"the first write fixes the default capacity, so that the watchdog notices a change")
}

func TestNewCache_StoreFilledBeforeTheMirrorNeedsASeed(t *testing.T) {
	t.Parallel()
	store := availability.NewMemoryStore()
	ctx := ctxT(t)
	before, err := availability.NewMirror(store, nil, &availability.Config{Clock: clock.NewFake(T0)})
	require.NoError(t, err)
	m, err := before.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "mitra"})
	require.NoError(t, err)
	require.NoError(t, before.SetOnline(ctx, m.ID))

	mirror, _ := newMemoryMirror(store, &logRecorder{}, &availability.Counters{})
	ids, err := mirror.FindAvailable(ctx, availability.FindOptions{})
	require.NoError(t, err)
	require.Empty(t, ids, "the cache mirrors an empty store until a seed")
	_, err = mirror.SeedFromPostgres(ctx)
	require.NoError(t, err)
	ids, err = mirror.FindAvailable(ctx, availability.FindOptions{})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{m.ID}, ids)
}

package availability_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
)

// FindAvailable without a limit is served from a process-memory copy of the available
// index (ValkeyCache); these tests pin that the copy of one instance follows every change
// made through another — online, offline, capacity, deactivation, staleness, reseeds — with
// a chunk size of 2 so that reloads in windows, change logs longer than a chunk and many
// stale members are all exercised.
func TestFindAvailable_AllFollowsChangesMadeThroughAnotherInstance(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := seeded(t, kind, setupOptions{cacheCfg: availability.CacheConfig{ChunkSize: 2}})
		ctx := ctxT(t)
		// The other instance: its own cache (and copy) over the same Valkey keys.
		otherCache := b.cache
		if b.client != nil {
			otherCache = availability.NewValkeyCache(b.client, availability.CacheConfig{Names: b.names, ChunkSize: 2})
		}
		cfg := b.cfg
		cfg.Hooks = availability.Hooks{}
		other, err := availability.NewMirror(b.store, otherCache, &cfg)
		require.NoError(t, err)
		ref := b.postgresOnly()
		check := func(want ...uuid.UUID) {
			t.Helper()
			got, err := other.FindAvailable(ctx, availability.FindOptions{})
			require.NoError(t, err)
			require.ElementsMatch(t, want, got)
			_, err = b.mirror.MirrorHeartbeats(ctx) // Postgres learns the pings Valkey holds
			require.NoError(t, err)
			fromPG, err := ref.FindAvailable(ctx, availability.FindOptions{})
			require.NoError(t, err)
			require.ElementsMatch(t, want, fromPG, "the expectation agrees with Postgres")
		}

		check()
		m1, m2, m3 := b.onlineMitra(t), b.onlineMitra(t), b.onlineMitra(t)
		check(m1, m2, m3)

		// Fewer changes than a chunk, then more than a chunk (the copy reloads).
		require.NoError(t, b.mirror.SetOffline(ctx, m1))
		check(m2, m3)
		b.facts.setOpen(t, m3, 1)
		_, err = b.mirror.RecomputeCapacity(ctx, m3)
		require.NoError(t, err)
		check(m2)
		m4, m5 := b.onlineMitra(t), b.onlineMitra(t)
		_, err = b.mirror.SetActive(ctx, m2, false)
		require.NoError(t, err)
		require.NoError(t, b.mirror.SetOnline(ctx, m1))
		check(m1, m4, m5)
		b.facts.setOpen(t, m3, 0)
		_, err = b.mirror.RecomputeCapacity(ctx, m3)
		require.NoError(t, err)
		check(m1, m3, m4, m5)

		// Staleness needs no change of membership: one stale member, then more than a chunk.
		b.clock.Advance(availability.DefaultStaleThreshold / 2)
		for _, id := range []uuid.UUID{m1, m3, m4} {
			_, err := b.mirror.Heartbeat(ctx, id)
			require.NoError(t, err)
		}
		b.clock.Advance(availability.DefaultStaleThreshold/2 + time.Second)
		check(m1, m3, m4)
		b.clock.Advance(availability.DefaultStaleThreshold / 2)
		check()
		_, err = b.mirror.Heartbeat(ctx, m5)
		require.NoError(t, err)
		check(m5)

		// A reseed swaps a new index in: the copy reloads.
		_, err = b.mirror.SeedFromPostgres(ctx)
		require.NoError(t, err)
		check(m5)
		got, err := other.FindAvailable(ctx, availability.FindOptions{Exclude: []uuid.UUID{m5}})
		require.NoError(t, err)
		require.Empty(t, got)
		b.requireNoDrift(t)
	})
}

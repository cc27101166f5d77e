// Package contract holds the conformance suites of the availability ports: every Store and
// every Cache implementation (Postgres/Valkey and in-memory) must pass the same tests.
package contract

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
)

// StoreHarness is one Store under test plus the facts owned by other domains.
type StoreHarness struct {
	Store availability.Store
	// SetOpenSessions makes the mitra hold exactly n chat sessions in active or
	// pending_payment.
	SetOpenSessions func(t *testing.T, mitraID uuid.UUID, n int)
	// AddAuthSession gives the mitra one live auth session; LiveAuthSessions counts the
	// mitra's unrevoked ones.
	AddAuthSession   func(t *testing.T, mitraID uuid.UUID)
	LiveAuthSessions func(t *testing.T, mitraID uuid.UUID) int
}

// T0 is the base time of the suites.
var T0 = time.Date(2026, 5, 25, 10, 7, 55, 123_000_000, time.UTC)

func ptr[T any](v T) *T { return &v }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func createMitra(t *testing.T, s availability.Store, name string) availability.Mitra {
	t.Helper()
	m, err := s.CreateMitra(ctxT(t), availability.CreateMitraParams{DisplayName: name})
	require.NoError(t, err)
	return m
}

func stateOf(t *testing.T, s availability.Store, id uuid.UUID) availability.MitraState {
	t.Helper()
	st, err := s.States(ctxT(t), []uuid.UUID{id})
	require.NoError(t, err)
	require.Len(t, st, 1)
	return st[0]
}

// RunStoreContract runs the Store conformance suite.
func RunStoreContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("CreateMitraValidatesAndDefaults", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := ctxT(t)
		for _, tc := range []struct {
			name  string
			p     availability.CreateMitraParams
			field string
		}{
			{"empty name", availability.CreateMitraParams{DisplayName: "  "}, "display_name"},
			{"long name", availability.CreateMitraParams{DisplayName: string(make([]rune, 201))}, "display_name"},
			{"zero max", availability.CreateMitraParams{DisplayName: "a", MaxConcurrentSessions: ptr(0)}, "max_concurrent_sessions"},
			{"huge max", availability.CreateMitraParams{DisplayName: "a", MaxConcurrentSessions: ptr(101)}, "max_concurrent_sessions"},
		} {
			_, err := h.Store.CreateMitra(ctx, tc.p)
			var ve *curhat.ValidationError
			require.ErrorAs(t, err, &ve, tc.name)
			require.Equal(t, tc.field, ve.Field, tc.name)
		}
		m, err := h.Store.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: " Sari ", MaxConcurrentSessions: ptr(3)})
		require.NoError(t, err)
		require.Equal(t, "Sari", m.DisplayName)
		require.True(t, m.IsActive)
		require.False(t, m.IsOnline)
		require.Nil(t, m.LastHeartbeatAt)
		require.Equal(t, 3, *m.MaxConcurrentSessions)
		got, err := h.Store.GetMitra(ctx, m.ID)
		require.NoError(t, err)
		require.Equal(t, m.ID, got.ID)
		_, err = h.Store.GetMitra(ctx, uuid.New())
		require.ErrorIs(t, err, availability.ErrNotFound)
	})

	t.Run("SetOnlineRefusesDeactivatedAndUnknown", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := ctxT(t)
		m := createMitra(t, h.Store, "a")
		on, err := h.Store.SetOnline(ctx, m.ID, T0)
		require.NoError(t, err)
		require.True(t, on.IsOnline)
		require.True(t, on.LastHeartbeatAt.Equal(T0))
		require.True(t, on.UpdatedAt.After(m.UpdatedAt))

		// An older time never moves the heartbeat back.
		on, err = h.Store.SetOnline(ctx, m.ID, T0.Add(-time.Minute))
		require.NoError(t, err)
		require.True(t, on.LastHeartbeatAt.Equal(T0))

		_, err = h.Store.SetActive(ctx, m.ID, false)
		require.NoError(t, err)
		_, err = h.Store.SetOnline(ctx, m.ID, T0.Add(time.Second))
		require.ErrorIs(t, err, availability.ErrDeactivated)
		require.False(t, stateOf(t, h.Store, m.ID).IsOnline)

		_, err = h.Store.SetOnline(ctx, uuid.New(), T0)
		require.ErrorIs(t, err, availability.ErrNotFound)
		_, err = h.Store.SetOffline(ctx, uuid.New())
		require.ErrorIs(t, err, availability.ErrNotFound)
		_, err = h.Store.SetActive(ctx, uuid.New(), false)
		require.ErrorIs(t, err, availability.ErrNotFound)
	})

	t.Run("DeactivationSetsOfflineAndRevokesAuthSessions", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := ctxT(t)
		m := createMitra(t, h.Store, "a")
		other := createMitra(t, h.Store, "b")
		h.AddAuthSession(t, m.ID)
		h.AddAuthSession(t, m.ID)
		h.AddAuthSession(t, other.ID)
		_, err := h.Store.SetOnline(ctx, m.ID, T0)
		require.NoError(t, err)

		off, err := h.Store.SetActive(ctx, m.ID, false)
		require.NoError(t, err)
		require.False(t, off.IsActive)
		require.False(t, off.IsOnline)
		require.Zero(t, h.LiveAuthSessions(t, m.ID))
		require.Equal(t, 1, h.LiveAuthSessions(t, other.ID))

		back, err := h.Store.SetActive(ctx, m.ID, true)
		require.NoError(t, err)
		require.True(t, back.IsActive)
		require.False(t, back.IsOnline, "reactivation does not bring the mitra online")
	})

	t.Run("HeartbeatFallbackLooksTheMitraUp", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := ctxT(t)
		m := createMitra(t, h.Store, "a")

		online, err := h.Store.Heartbeat(ctx, m.ID, T0)
		require.NoError(t, err)
		require.False(t, online, "offline mitra")
		require.Nil(t, stateOf(t, h.Store, m.ID).LastHeartbeatAt, "nothing written for an offline mitra")

		_, err = h.Store.SetOnline(ctx, m.ID, T0)
		require.NoError(t, err)
		online, err = h.Store.Heartbeat(ctx, m.ID, T0.Add(30*time.Second))
		require.NoError(t, err)
		require.True(t, online)
		require.True(t, stateOf(t, h.Store, m.ID).LastHeartbeatAt.Equal(T0.Add(30*time.Second)))
		_, err = h.Store.Heartbeat(ctx, m.ID, T0.Add(10*time.Second))
		require.NoError(t, err)
		require.True(t, stateOf(t, h.Store, m.ID).LastHeartbeatAt.Equal(T0.Add(30*time.Second)), "never moved back")

		_, err = h.Store.SetActive(ctx, m.ID, false)
		require.NoError(t, err)
		_, err = h.Store.Heartbeat(ctx, m.ID, T0.Add(time.Minute))
		require.ErrorIs(t, err, availability.ErrDeactivated)
		_, err = h.Store.Heartbeat(ctx, uuid.New(), T0)
		require.ErrorIs(t, err, availability.ErrNotFound)
	})

	t.Run("StatesCountOpenSessions", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := ctxT(t)
		a := createMitra(t, h.Store, "a")
		b := createMitra(t, h.Store, "b")
		h.SetOpenSessions(t, a.ID, 2)
		st, err := h.Store.States(ctx, []uuid.UUID{a.ID, b.ID, uuid.New()})
		require.NoError(t, err)
		require.Len(t, st, 2)
		open := map[uuid.UUID]int{}
		for _, s := range st {
			open[s.ID] = s.OpenSessions
		}
		require.Equal(t, map[uuid.UUID]int{a.ID: 2, b.ID: 0}, open)

		h.SetOpenSessions(t, a.ID, 0)
		require.Zero(t, stateOf(t, h.Store, a.ID).OpenSessions)

		all, err := h.Store.AllStates(ctx)
		require.NoError(t, err)
		require.Len(t, all, 2)

		var seen []availability.MitraState
		require.NoError(t, h.Store.LockStates(ctx, []uuid.UUID{b.ID}, func(s []availability.MitraState) error {
			seen = s
			return nil
		}))
		require.Len(t, seen, 1)
		require.Equal(t, b.ID, seen[0].ID)
		boom := errors.New("boom")
		require.ErrorIs(t, h.Store.LockStates(ctx, []uuid.UUID{b.ID}, func([]availability.MitraState) error { return boom }), boom)
	})

	t.Run("ReadFallbacksFollowTheDefinitionOfAvailable", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := ctxT(t)
		fresh := T0.Add(-90 * time.Second)
		mk := func(name string) uuid.UUID { return createMitra(t, h.Store, name).ID }
		avail1, avail2, stale, full, offline, deact := mk("avail1"), mk("avail2"), mk("stale"), mk("full"), mk("offline"), mk("deact")
		two := createMitra(t, h.Store, "two")
		_, err := h.Store.SetOnline(ctx, avail1, T0)
		require.NoError(t, err)
		_, err = h.Store.SetOnline(ctx, avail2, T0.Add(-time.Second))
		require.NoError(t, err)
		_, err = h.Store.SetOnline(ctx, stale, T0.Add(-2*time.Minute))
		require.NoError(t, err)
		_, err = h.Store.SetOnline(ctx, full, T0)
		require.NoError(t, err)
		h.SetOpenSessions(t, full, 1)
		_, err = h.Store.SetOnline(ctx, deact, T0)
		require.NoError(t, err)
		_, err = h.Store.SetActive(ctx, deact, false)
		require.NoError(t, err)
		// A mitra with its own maximum of 2 and one session is still available.
		_, err = h.Store.SetOnline(ctx, two.ID, T0.Add(-2*time.Second))
		require.NoError(t, err)
		h.SetOpenSessions(t, two.ID, 1)
		m2, err := h.Store.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "own max", MaxConcurrentSessions: ptr(2)})
		require.NoError(t, err)
		_, err = h.Store.SetOnline(ctx, m2.ID, T0.Add(-3*time.Second))
		require.NoError(t, err)
		h.SetOpenSessions(t, m2.ID, 1)

		q := availability.AvailableQuery{FreshAfter: fresh, DefaultMax: 1}
		ids, err := h.Store.FindAvailable(ctx, q)
		require.NoError(t, err)
		require.ElementsMatch(t, []uuid.UUID{avail1, avail2, m2.ID}, ids)

		q.Limit = 2
		ids, err = h.Store.FindAvailable(ctx, q)
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{avail1, avail2}, ids, "freshest first")

		q.Limit, q.Exclude = 0, []uuid.UUID{avail1}
		ids, err = h.Store.FindAvailable(ctx, q)
		require.NoError(t, err)
		require.ElementsMatch(t, []uuid.UUID{avail2, m2.ID}, ids)

		q.DefaultMax, q.Exclude = 2, nil
		ids, err = h.Store.FindAvailable(ctx, q)
		require.NoError(t, err)
		require.ElementsMatch(t, []uuid.UUID{avail1, avail2, full, two.ID, m2.ID}, ids, "default capacity from the caller")

		n, err := h.Store.CountAvailable(ctx, fresh, 1)
		require.NoError(t, err)
		require.Equal(t, 3, n)

		n, err = h.Store.OnlineCount(ctx)
		require.NoError(t, err)
		require.Equal(t, 6, n, "online and active, freshness and capacity ignored")

		for id, want := range map[uuid.UUID]bool{avail1: true, full: true, stale: false, offline: false, deact: false, uuid.New(): false} {
			ok, err := h.Store.IsReachable(ctx, id, fresh)
			require.NoError(t, err)
			require.Equal(t, want, ok, id)
		}
	})

	t.Run("OfflineStaleClassifiesAndRestoreOnlineIsGuarded", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := ctxT(t)
		staleBefore := T0.Add(-90 * time.Second)
		stale1, stale2, fresh, offline := createMitra(t, h.Store, "s1").ID, createMitra(t, h.Store, "s2").ID, createMitra(t, h.Store, "f").ID, createMitra(t, h.Store, "o").ID
		for _, id := range []uuid.UUID{stale1, stale2} {
			_, err := h.Store.SetOnline(ctx, id, T0.Add(-2*time.Minute))
			require.NoError(t, err)
		}
		_, err := h.Store.SetOnline(ctx, fresh, T0)
		require.NoError(t, err)

		res, err := h.Store.OfflineStale(ctx, []uuid.UUID{stale1, stale2, fresh, offline, uuid.New()}, staleBefore)
		require.NoError(t, err)
		var offlined []uuid.UUID
		for _, o := range res.Offlined {
			offlined = append(offlined, o.ID)
		}
		require.ElementsMatch(t, []uuid.UUID{stale1, stale2}, offlined)
		require.Len(t, res.Offline, 2)
		require.Contains(t, res.Offline, offline)
		require.Equal(t, []uuid.UUID{fresh}, res.Fresh)
		require.False(t, stateOf(t, h.Store, stale1).IsOnline)

		// Someone else writes stale2 after the sweep: restoring it would undo their write.
		_, err = h.Store.SetOffline(ctx, stale2)
		require.NoError(t, err)
		restored, err := h.Store.RestoreOnline(ctx, res.Offlined)
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{stale1}, restored)
		require.True(t, stateOf(t, h.Store, stale1).IsOnline)
		require.False(t, stateOf(t, h.Store, stale2).IsOnline)

		// nil: every online mitra.
		res, err = h.Store.OfflineStale(ctx, nil, staleBefore)
		require.NoError(t, err)
		require.Len(t, res.Offlined, 1)
		require.Equal(t, stale1, res.Offlined[0].ID)
		require.Equal(t, []uuid.UUID{fresh}, res.Fresh)
		require.Empty(t, res.Offline)
	})

	t.Run("MirrorHeartbeatsNeverMovesBack", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := ctxT(t)
		a, b := createMitra(t, h.Store, "a").ID, createMitra(t, h.Store, "b").ID
		_, err := h.Store.SetOnline(ctx, a, T0)
		require.NoError(t, err)
		n, err := h.Store.MirrorHeartbeats(ctx, []availability.HeartbeatAt{
			{MitraID: a, At: T0.Add(-time.Minute)},
			{MitraID: b, At: T0.Add(time.Second)},
			{MitraID: uuid.New(), At: T0},
		})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.True(t, stateOf(t, h.Store, a).LastHeartbeatAt.Equal(T0))
		require.True(t, stateOf(t, h.Store, b).LastHeartbeatAt.Equal(T0.Add(time.Second)))
		n, err = h.Store.MirrorHeartbeats(ctx, nil)
		require.NoError(t, err)
		require.Zero(t, n)
	})

	t.Run("ConcurrentLockStatesSerialisePerMitra", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := ctxT(t)
		id := createMitra(t, h.Store, "a").ID
		var inside, overlaps atomic.Int32
		done := make(chan error, 2)
		for range 2 {
			go func() {
				done <- h.Store.LockStates(ctx, []uuid.UUID{id}, func([]availability.MitraState) error {
					if inside.Add(1) > 1 {
						overlaps.Add(1)
					}
					time.Sleep(20 * time.Millisecond) // hold the lock long enough for an overlap to show
					inside.Add(-1)
					return nil
				})
			}()
		}
		require.NoError(t, <-done)
		require.NoError(t, <-done)
		require.Zero(t, overlaps.Load())
	})
}

package availabilitytest

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/check"
)

// StoreHarness is one availability.Store under test, with the facts it reads but other
// domains write (chat sessions, auth sessions). RunStoreContract calls the harness
// constructor once per subtest, from parallel subtests.
type StoreHarness struct {
	// Store is the store under test. It must hold no mitra: the suite counts them.
	Store availability.Store
	// SetOpenSessions makes the mitra hold exactly n chat sessions in active or
	// pending_payment, which States and the capacity rules of FindAvailable and
	// CountAvailable must then see.
	SetOpenSessions func(t *testing.T, mitraID uuid.UUID, n int)
	// EndSession records a chat session of the mitra that ended (status ended) at at: the
	// wrap-up's rule (LockStates, AllStates, FindAvailable and CountAvailable with a cut).
	// Nil skips that part of the suite.
	EndSession func(t *testing.T, mitraID uuid.UUID, at time.Time)
	// AddAuthSession gives the mitra one more live (unrevoked) auth session. Deactivating
	// the mitra must revoke them all, in the same transaction.
	AddAuthSession func(t *testing.T, mitraID uuid.UUID)
	// LiveAuthSessions counts the mitra's unrevoked auth sessions.
	LiveAuthSessions func(t *testing.T, mitraID uuid.UUID) int
}

// t0 is the base time of the suites.
var t0 = time.Date(2026, 5, 25, 10, 7, 55, 123_000_000, time.UTC)

func createMitra(t *testing.T, s availability.Store, name string) availability.Mitra {
	t.Helper()
	m, err := s.CreateMitra(check.Context(t), availability.CreateMitraParams{DisplayName: name})
	check.NoError(t, err)
	return m
}

func stateOf(t *testing.T, s availability.Store, id uuid.UUID) availability.MitraState {
	t.Helper()
	st, err := s.States(check.Context(t), []uuid.UUID{id})
	check.NoError(t, err)
	check.Len(t, st, 1)
	return st[0]
}

// RunStoreContract runs the conformance suite of availability.Store: every
// implementation (availability.NewPostgresStore, NewStore, a host's own) must pass it.
// Each behaviour is a parallel subtest over its own harness from newHarness.
func RunStoreContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("CreateMitraValidatesAndDefaults", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		for _, tc := range []struct {
			name  string
			p     availability.CreateMitraParams
			field string
		}{
			{"empty name", availability.CreateMitraParams{DisplayName: "  "}, "display_name"},
			{"long name", availability.CreateMitraParams{DisplayName: string(make([]rune, 201))}, "display_name"},
			{"zero max", availability.CreateMitraParams{DisplayName: "a", MaxConcurrentSessions: new(0)}, "max_concurrent_sessions"},
			{"huge max", availability.CreateMitraParams{DisplayName: "a", MaxConcurrentSessions: new(101)}, "max_concurrent_sessions"},
		} {
			_, err := h.Store.CreateMitra(ctx, tc.p)
			check.Invalid(t, err, tc.field, tc.name)
		}
		m, err := h.Store.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: " Sari ", MaxConcurrentSessions: new(3)})
		check.NoError(t, err)
		check.Equal(t, "Sari", m.DisplayName)
		check.True(t, m.IsActive)
		check.False(t, m.IsOnline)
		check.Nil(t, m.LastHeartbeatAt)
		check.Equal(t, 3, *m.MaxConcurrentSessions)
		got, err := h.Store.GetMitra(ctx, m.ID)
		check.NoError(t, err)
		check.Equal(t, m.ID, got.ID)
		_, err = h.Store.GetMitra(ctx, uuid.New())
		check.ErrorIs(t, err, availability.ErrNotFound)
	})

	t.Run("SetOnlineRefusesDeactivatedAndUnknown", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		m := createMitra(t, h.Store, "a")
		on, err := h.Store.SetOnline(ctx, m.ID, t0)
		check.NoError(t, err)
		check.True(t, on.IsOnline)
		check.True(t, on.LastHeartbeatAt.Equal(t0))
		check.True(t, on.UpdatedAt.After(m.UpdatedAt))

		// An older time never moves the heartbeat back.
		on, err = h.Store.SetOnline(ctx, m.ID, t0.Add(-time.Minute))
		check.NoError(t, err)
		check.True(t, on.LastHeartbeatAt.Equal(t0))

		_, err = h.Store.SetActive(ctx, m.ID, false)
		check.NoError(t, err)
		_, err = h.Store.SetOnline(ctx, m.ID, t0.Add(time.Second))
		check.ErrorIs(t, err, availability.ErrDeactivated)
		check.False(t, stateOf(t, h.Store, m.ID).IsOnline)

		_, err = h.Store.SetOnline(ctx, uuid.New(), t0)
		check.ErrorIs(t, err, availability.ErrNotFound)
		_, err = h.Store.SetOffline(ctx, uuid.New())
		check.ErrorIs(t, err, availability.ErrNotFound)
		_, err = h.Store.SetActive(ctx, uuid.New(), false)
		check.ErrorIs(t, err, availability.ErrNotFound)
	})

	t.Run("SetAwayTakesOfflineWithItsReasonUntilOnlineAgain", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		m := createMitra(t, h.Store, "a")
		_, err := h.Store.SetOnline(ctx, m.ID, t0)
		check.NoError(t, err)

		_, _, err = h.Store.SetAway(ctx, m.ID, "sleepy")
		check.Invalid(t, err, "reason")
		check.True(t, stateOf(t, h.Store, m.ID).IsOnline, "an unknown reason changes nothing")

		away, changed, err := h.Store.SetAway(ctx, m.ID, availability.AwayMissedOffers)
		check.NoError(t, err)
		check.True(t, changed)
		check.False(t, away.IsOnline)
		check.Equal(t, availability.AwayMissedOffers, away.AwayReason)
		check.False(t, stateOf(t, h.Store, m.ID).IsOnline)
		got, err := h.Store.GetMitra(ctx, m.ID)
		check.NoError(t, err)
		check.Equal(t, availability.AwayMissedOffers, got.AwayReason)

		again, changed, err := h.Store.SetAway(ctx, m.ID, availability.AwayMissedOffers)
		check.NoError(t, err, "offline already: unchanged")
		check.False(t, changed)
		check.Equal(t, away.UpdatedAt, again.UpdatedAt)

		on, err := h.Store.SetOnline(ctx, m.ID, t0.Add(time.Second))
		check.NoError(t, err)
		check.Equal(t, "", on.AwayReason, "going online clears the reason")
		off, err := h.Store.SetOffline(ctx, m.ID)
		check.NoError(t, err)
		check.Equal(t, "", off.AwayReason, "a mitra that went offline itself has no reason")

		_, _, err = h.Store.SetAway(ctx, uuid.New(), availability.AwayMissedOffers)
		check.ErrorIs(t, err, availability.ErrNotFound)
	})

	t.Run("DeactivationSetsOfflineAndRevokesAuthSessions", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		m := createMitra(t, h.Store, "a")
		other := createMitra(t, h.Store, "b")
		h.AddAuthSession(t, m.ID)
		h.AddAuthSession(t, m.ID)
		h.AddAuthSession(t, other.ID)
		_, err := h.Store.SetOnline(ctx, m.ID, t0)
		check.NoError(t, err)

		off, err := h.Store.SetActive(ctx, m.ID, false)
		check.NoError(t, err)
		check.False(t, off.IsActive)
		check.False(t, off.IsOnline)
		check.Zero(t, h.LiveAuthSessions(t, m.ID))
		check.Equal(t, 1, h.LiveAuthSessions(t, other.ID))

		back, err := h.Store.SetActive(ctx, m.ID, true)
		check.NoError(t, err)
		check.True(t, back.IsActive)
		check.False(t, back.IsOnline, "reactivation does not bring the mitra online")
	})

	t.Run("HeartbeatFallbackLooksTheMitraUp", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		m := createMitra(t, h.Store, "a")

		online, err := h.Store.Heartbeat(ctx, m.ID, t0)
		check.NoError(t, err)
		check.False(t, online, "offline mitra")
		check.Nil(t, stateOf(t, h.Store, m.ID).LastHeartbeatAt, "nothing written for an offline mitra")

		_, err = h.Store.SetOnline(ctx, m.ID, t0)
		check.NoError(t, err)
		online, err = h.Store.Heartbeat(ctx, m.ID, t0.Add(30*time.Second))
		check.NoError(t, err)
		check.True(t, online)
		check.True(t, stateOf(t, h.Store, m.ID).LastHeartbeatAt.Equal(t0.Add(30*time.Second)))
		_, err = h.Store.Heartbeat(ctx, m.ID, t0.Add(10*time.Second))
		check.NoError(t, err)
		check.True(t, stateOf(t, h.Store, m.ID).LastHeartbeatAt.Equal(t0.Add(30*time.Second)), "never moved back")

		_, err = h.Store.SetActive(ctx, m.ID, false)
		check.NoError(t, err)
		_, err = h.Store.Heartbeat(ctx, m.ID, t0.Add(time.Minute))
		check.ErrorIs(t, err, availability.ErrDeactivated)
		_, err = h.Store.Heartbeat(ctx, uuid.New(), t0)
		check.ErrorIs(t, err, availability.ErrNotFound)
	})

	t.Run("StatesCountOpenSessions", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		a := createMitra(t, h.Store, "a")
		b := createMitra(t, h.Store, "b")
		h.SetOpenSessions(t, a.ID, 2)
		st, err := h.Store.States(ctx, []uuid.UUID{a.ID, b.ID, uuid.New()})
		check.NoError(t, err)
		check.Len(t, st, 2)
		open := map[uuid.UUID]int{}
		for _, s := range st {
			open[s.ID] = s.OpenSessions
		}
		check.Equal(t, map[uuid.UUID]int{a.ID: 2, b.ID: 0}, open)

		h.SetOpenSessions(t, a.ID, 0)
		check.Zero(t, stateOf(t, h.Store, a.ID).OpenSessions)

		all, err := h.Store.AllStates(ctx, time.Time{})
		check.NoError(t, err)
		check.Len(t, all, 2)

		var seen []availability.MitraState
		check.NoError(t, h.Store.LockStates(ctx, []uuid.UUID{b.ID}, time.Time{}, func(s []availability.MitraState) error {
			seen = s
			return nil
		}))
		check.Len(t, seen, 1)
		check.Equal(t, b.ID, seen[0].ID)
		boom := errors.New("boom")
		check.ErrorIs(t, h.Store.LockStates(ctx, []uuid.UUID{b.ID}, time.Time{}, func([]availability.MitraState) error { return boom }), boom)
	})

	t.Run("ReadFallbacksFollowTheDefinitionOfAvailable", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		fresh := t0.Add(-90 * time.Second)
		mk := func(name string) uuid.UUID { return createMitra(t, h.Store, name).ID }
		avail1, avail2, stale, full, offline, deact := mk("avail1"), mk("avail2"), mk("stale"), mk("full"), mk("offline"), mk("deact")
		two := createMitra(t, h.Store, "two")
		_, err := h.Store.SetOnline(ctx, avail1, t0)
		check.NoError(t, err)
		_, err = h.Store.SetOnline(ctx, avail2, t0.Add(-time.Second))
		check.NoError(t, err)
		_, err = h.Store.SetOnline(ctx, stale, t0.Add(-2*time.Minute))
		check.NoError(t, err)
		_, err = h.Store.SetOnline(ctx, full, t0)
		check.NoError(t, err)
		h.SetOpenSessions(t, full, 1)
		_, err = h.Store.SetOnline(ctx, deact, t0)
		check.NoError(t, err)
		_, err = h.Store.SetActive(ctx, deact, false)
		check.NoError(t, err)
		// A mitra with its own maximum of 2 and one session is still available.
		_, err = h.Store.SetOnline(ctx, two.ID, t0.Add(-2*time.Second))
		check.NoError(t, err)
		h.SetOpenSessions(t, two.ID, 1)
		m2, err := h.Store.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "own max", MaxConcurrentSessions: new(2)})
		check.NoError(t, err)
		_, err = h.Store.SetOnline(ctx, m2.ID, t0.Add(-3*time.Second))
		check.NoError(t, err)
		h.SetOpenSessions(t, m2.ID, 1)

		q := availability.AvailableQuery{FreshAfter: fresh, DefaultMax: 1}
		ids, err := h.Store.FindAvailable(ctx, q)
		check.NoError(t, err)
		check.ElementsMatch(t, []uuid.UUID{avail1, avail2, m2.ID}, ids)

		q.Limit = 2
		ids, err = h.Store.FindAvailable(ctx, q)
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{avail1, avail2}, ids, "freshest first")

		q.Limit, q.Exclude = 0, []uuid.UUID{avail1}
		ids, err = h.Store.FindAvailable(ctx, q)
		check.NoError(t, err)
		check.ElementsMatch(t, []uuid.UUID{avail2, m2.ID}, ids)

		q.DefaultMax, q.Exclude = 2, nil
		ids, err = h.Store.FindAvailable(ctx, q)
		check.NoError(t, err)
		check.ElementsMatch(t, []uuid.UUID{avail1, avail2, full, two.ID, m2.ID}, ids, "default capacity from the caller")

		n, err := h.Store.CountAvailable(ctx, availability.AvailableQuery{FreshAfter: fresh, DefaultMax: 1})
		check.NoError(t, err)
		check.Equal(t, 3, n)

		n, err = h.Store.OnlineCount(ctx)
		check.NoError(t, err)
		check.Equal(t, 6, n, "online and active, freshness and capacity ignored")

		for id, want := range map[uuid.UUID]bool{avail1: true, full: true, stale: false, offline: false, deact: false, uuid.New(): false} {
			ok, err := h.Store.IsReachable(ctx, id, fresh)
			check.NoError(t, err)
			check.Equal(t, want, ok, id)
		}
	})

	t.Run("OfflineStaleClassifiesAndRestoreOnlineIsGuarded", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		staleBefore := t0.Add(-90 * time.Second)
		stale1, stale2, fresh, offline := createMitra(t, h.Store, "s1").ID, createMitra(t, h.Store, "s2").ID, createMitra(t, h.Store, "f").ID, createMitra(t, h.Store, "o").ID
		for _, id := range []uuid.UUID{stale1, stale2} {
			_, err := h.Store.SetOnline(ctx, id, t0.Add(-2*time.Minute))
			check.NoError(t, err)
		}
		_, err := h.Store.SetOnline(ctx, fresh, t0)
		check.NoError(t, err)

		res, err := h.Store.OfflineStale(ctx, []uuid.UUID{stale1, stale2, fresh, offline, uuid.New()}, staleBefore)
		check.NoError(t, err)
		var offlined []uuid.UUID
		for _, o := range res.Offlined {
			offlined = append(offlined, o.ID)
		}
		check.ElementsMatch(t, []uuid.UUID{stale1, stale2}, offlined)
		check.Len(t, res.Offline, 2)
		check.Contains(t, res.Offline, offline)
		check.Equal(t, []uuid.UUID{fresh}, res.Fresh)
		check.False(t, stateOf(t, h.Store, stale1).IsOnline)

		// Someone else writes stale2 after the sweep: restoring it would undo their write.
		_, err = h.Store.SetOffline(ctx, stale2)
		check.NoError(t, err)
		restored, err := h.Store.RestoreOnline(ctx, res.Offlined)
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{stale1}, restored)
		check.True(t, stateOf(t, h.Store, stale1).IsOnline)
		check.False(t, stateOf(t, h.Store, stale2).IsOnline)

		// nil: every online mitra.
		res, err = h.Store.OfflineStale(ctx, nil, staleBefore)
		check.NoError(t, err)
		check.Len(t, res.Offlined, 1)
		check.Equal(t, stale1, res.Offlined[0].ID)
		check.Equal(t, []uuid.UUID{fresh}, res.Fresh)
		check.Len(t, res.Offline, 0)
	})

	t.Run("MirrorHeartbeatsNeverMovesBack", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		a, b := createMitra(t, h.Store, "a").ID, createMitra(t, h.Store, "b").ID
		_, err := h.Store.SetOnline(ctx, a, t0)
		check.NoError(t, err)
		n, err := h.Store.MirrorHeartbeats(ctx, []availability.HeartbeatAt{
			{MitraID: a, At: t0.Add(-time.Minute)},
			{MitraID: b, At: t0.Add(time.Second)},
			{MitraID: uuid.New(), At: t0},
		})
		check.NoError(t, err)
		check.Equal(t, 1, n)
		check.True(t, stateOf(t, h.Store, a).LastHeartbeatAt.Equal(t0))
		check.True(t, stateOf(t, h.Store, b).LastHeartbeatAt.Equal(t0.Add(time.Second)))
		n, err = h.Store.MirrorHeartbeats(ctx, nil)
		check.NoError(t, err)
		check.Zero(t, n)
	})

	t.Run("LowerHeartbeatOnlyMovesBack", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		a, b := createMitra(t, h.Store, "a").ID, createMitra(t, h.Store, "b").ID
		m, err := h.Store.SetOnline(ctx, a, t0)
		check.NoError(t, err)
		lowered, err := h.Store.LowerHeartbeat(ctx, a, t0.Add(time.Second))
		check.NoError(t, err)
		check.False(t, lowered, "never forward")
		lowered, err = h.Store.LowerHeartbeat(ctx, a, t0.Add(-time.Minute))
		check.NoError(t, err)
		check.True(t, lowered)
		after := stateOf(t, h.Store, a)
		check.True(t, after.LastHeartbeatAt.Equal(t0.Add(-time.Minute)))
		check.True(t, after.IsOnline)
		got, err := h.Store.GetMitra(ctx, a)
		check.NoError(t, err)
		check.True(t, got.UpdatedAt.Equal(m.UpdatedAt), "a heartbeat, not a change of the mitra")
		for _, id := range []uuid.UUID{b, uuid.New()} { // no heartbeat; unknown
			lowered, err = h.Store.LowerHeartbeat(ctx, id, t0)
			check.NoError(t, err)
			check.False(t, lowered)
		}
	})

	t.Run("ConcurrentLockStatesSerialisePerMitra", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		id := createMitra(t, h.Store, "a").ID
		var inside, overlaps atomic.Int32
		done := make(chan error, 2)
		for range 2 {
			go func() {
				done <- h.Store.LockStates(ctx, []uuid.UUID{id}, time.Time{}, func([]availability.MitraState) error {
					if inside.Add(1) > 1 {
						overlaps.Add(1)
					}
					time.Sleep(20 * time.Millisecond) // hold the lock long enough for an overlap to show
					inside.Add(-1)
					return nil
				})
			}()
		}
		check.NoError(t, <-done)
		check.NoError(t, <-done)
		check.Zero(t, overlaps.Load())
	})

	t.Run("ListMitrasFiltersPagesAndCounts", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		sari := createMitra(t, h.Store, "Sari Dewi")
		ayu := createMitra(t, h.Store, "Ayu")
		dewa := createMitra(t, h.Store, "dewa")
		budi := createMitra(t, h.Store, "Budi")
		_, err := h.Store.SetOnline(ctx, sari.ID, t0)
		check.NoError(t, err)
		_, err = h.Store.SetOnline(ctx, ayu.ID, t0)
		check.NoError(t, err)
		h.SetOpenSessions(t, ayu.ID, 1)
		_, err = h.Store.SetActive(ctx, budi.ID, false)
		check.NoError(t, err)

		list := func(q availability.MitraListQuery) ([]uuid.UUID, int) {
			t.Helper()
			if q.Limit == 0 {
				q.Limit = 10
			}
			if q.DefaultMax == 0 {
				q.DefaultMax = 1
			}
			rows, total, err := h.Store.ListMitras(ctx, q)
			check.NoError(t, err)
			ids := []uuid.UUID{}
			for _, r := range rows {
				ids = append(ids, r.ID)
			}
			return ids, total
		}
		yes, no := new(true), new(false)

		// Newest first.
		ids, total := list(availability.MitraListQuery{})
		check.Equal(t, []uuid.UUID{budi.ID, dewa.ID, ayu.ID, sari.ID}, ids)
		check.Equal(t, 4, total)
		// Pages, and the total past the last one.
		ids, total = list(availability.MitraListQuery{Offset: 1, Limit: 2})
		check.Equal(t, []uuid.UUID{dewa.ID, ayu.ID}, ids)
		check.Equal(t, 4, total)
		ids, total = list(availability.MitraListQuery{Offset: 8, Limit: 2})
		check.Len(t, ids, 0)
		check.Equal(t, 4, total)
		// The name, ignoring case; or the id.
		ids, total = list(availability.MitraListQuery{Query: "DEW"})
		check.Equal(t, []uuid.UUID{dewa.ID, sari.ID}, ids)
		check.Equal(t, 2, total)
		ids, _ = list(availability.MitraListQuery{Query: ayu.ID.String()})
		check.Equal(t, []uuid.UUID{ayu.ID}, ids)
		ids, _ = list(availability.MitraListQuery{Query: "%"})
		check.Len(t, ids, 0, "a query is text, not a pattern")
		// Filters.
		ids, _ = list(availability.MitraListQuery{IsActive: no})
		check.Equal(t, []uuid.UUID{budi.ID}, ids)
		ids, _ = list(availability.MitraListQuery{Online: yes})
		check.Equal(t, []uuid.UUID{ayu.ID, sari.ID}, ids)
		ids, _ = list(availability.MitraListQuery{Online: yes, AtCapacity: yes})
		check.Equal(t, []uuid.UUID{ayu.ID}, ids)
		ids, _ = list(availability.MitraListQuery{Online: yes, AtCapacity: yes, DefaultMax: 2})
		check.Len(t, ids, 0, "one open session of two is not at capacity")
		ids, _ = list(availability.MitraListQuery{Online: no, IsActive: yes})
		check.Equal(t, []uuid.UUID{dewa.ID}, ids)

		rows, _, err := h.Store.ListMitras(ctx, availability.MitraListQuery{Query: "ayu", Limit: 1, DefaultMax: 1})
		check.NoError(t, err)
		check.Len(t, rows, 1)
		check.Equal(t, 1, rows[0].OpenSessions)
		check.True(t, rows[0].IsOnline)
		check.Equal(t, "Ayu", rows[0].DisplayName)
		check.Equal(t, "", rows[0].AwayReason)

		// A mitra the system sent away carries its reason in the list.
		_, _, err = h.Store.SetAway(ctx, sari.ID, availability.AwayMissedOffers)
		check.NoError(t, err)
		rows, _, err = h.Store.ListMitras(ctx, availability.MitraListQuery{Query: sari.ID.String(), Limit: 1, DefaultMax: 1})
		check.NoError(t, err)
		check.Len(t, rows, 1)
		check.Equal(t, availability.AwayMissedOffers, rows[0].AwayReason)
		check.False(t, rows[0].IsOnline)
	})

	runProfileContract(t, newHarness)
	runWrapupContract(t, newHarness)
}

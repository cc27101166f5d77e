package availabilitytest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/check"
)

// runWrapupContract is the part of RunStoreContract that pins the wrap-up's rule: a mitra
// with a chat session that ended after the cut is InWrapup in the locked and full reads,
// and neither found nor counted available; without a cut nothing is read for it.
func runWrapupContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("WrapupFollowsTheLastSessionEnd", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		if h.EndSession == nil {
			t.Skip("the harness records no ended chat session")
		}
		ctx := check.Context(t)
		online := func(name string) uuid.UUID {
			m := createMitra(t, h.Store, name)
			_, err := h.Store.SetOnline(ctx, m.ID, t0)
			check.NoError(t, err)
			return m.ID
		}
		recent, earlier, never := online("recent"), online("earlier"), online("never")
		h.EndSession(t, recent, t0.Add(-10*time.Minute))
		h.EndSession(t, recent, t0.Add(-10*time.Second))
		h.EndSession(t, earlier, t0.Add(-10*time.Minute))
		ids := []uuid.UUID{recent, earlier, never}
		cut := t0.Add(-time.Minute)

		inWrapup := func(states []availability.MitraState) map[uuid.UUID]bool {
			t.Helper()
			check.Len(t, states, 3)
			out := map[uuid.UUID]bool{}
			for _, s := range states {
				out[s.ID] = s.InWrapup
				check.Equal(t, s.InWrapup, s.AtCapacity(1), "a mitra in wrap-up is at capacity (no open session here)")
			}
			return out
		}
		want := map[uuid.UUID]bool{recent: true, earlier: false, never: false}
		check.NoError(t, h.Store.LockStates(ctx, ids, cut, func(states []availability.MitraState) error {
			check.Equal(t, want, inWrapup(states))
			return nil
		}))
		all, err := h.Store.AllStates(ctx, cut)
		check.NoError(t, err)
		check.Equal(t, want, inWrapup(all))

		none := map[uuid.UUID]bool{recent: false, earlier: false, never: false}
		check.NoError(t, h.Store.LockStates(ctx, ids, time.Time{}, func(states []availability.MitraState) error {
			check.Equal(t, none, inWrapup(states), "no cut: no wrap-up")
			return nil
		}))
		all, err = h.Store.AllStates(ctx, time.Time{})
		check.NoError(t, err)
		check.Equal(t, none, inWrapup(all))
		states, err := h.Store.States(ctx, ids)
		check.NoError(t, err)
		check.Equal(t, none, inWrapup(states), "States never reads it")
		// The wrap-up ends at the end plus the wrap-up: a cut at the end itself is past it.
		all, err = h.Store.AllStates(ctx, t0.Add(-10*time.Second))
		check.NoError(t, err)
		check.Equal(t, none, inWrapup(all))

		q := availability.AvailableQuery{FreshAfter: cut, DefaultMax: 1, EndedAfter: cut}
		found, err := h.Store.FindAvailable(ctx, q)
		check.NoError(t, err)
		check.ElementsMatch(t, []uuid.UUID{earlier, never}, found)
		n, err := h.Store.CountAvailable(ctx, q)
		check.NoError(t, err)
		check.Equal(t, 2, n)
		q.Limit, q.Exclude = 1, []uuid.UUID{never}
		found, err = h.Store.FindAvailable(ctx, q)
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{earlier}, found)

		q = availability.AvailableQuery{FreshAfter: cut, DefaultMax: 1}
		found, err = h.Store.FindAvailable(ctx, q)
		check.NoError(t, err)
		check.ElementsMatch(t, ids, found, "no cut: everyone")
		n, err = h.Store.CountAvailable(ctx, q)
		check.NoError(t, err)
		check.Equal(t, 3, n)
	})
}

package pricing_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/pricing"
)

func TestCreateTier_AppendsToModeOrderAndListsSessionFirst(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		empty, err := e.svc.ListTiers(ctx, pricing.ListTiersParams{})
		require.NoError(t, err)
		require.NotNil(t, empty, "an empty list, not nil (JSON [] rather than null)")
		require.Empty(t, empty)
		ext := e.mustCreate(t, pricing.ModeExtension, 10, 8000)
		s30 := e.mustCreate(t, pricing.ModeSession, 30, 25000)
		s15 := e.mustCreate(t, pricing.ModeSession, 15, 15000)

		require.Equal(t, 1, s30.SortOrder)
		require.Equal(t, 2, s15.SortOrder, "a new tier goes to the end of its mode")
		require.Equal(t, 1, ext.SortOrder)
		require.Equal(t, pricing.DefaultCurrency, s30.Currency)
		require.True(t, s30.IsActive)
		require.Equal(t, t0, s30.CreatedAt)
		require.Equal(t, t0, s30.UpdatedAt)

		all, err := e.svc.ListTiers(ctx, pricing.ListTiersParams{})
		require.NoError(t, err)
		require.Equal(t, []pricing.Tier{s30, s15, ext}, all)

		got, err := e.svc.GetTier(ctx, s15.ID)
		require.NoError(t, err)
		require.Equal(t, s15, got)

		onlyExt, err := e.svc.ListTiers(ctx, pricing.ListTiersParams{Mode: pricing.ModeExtension})
		require.NoError(t, err)
		require.Equal(t, []pricing.Tier{ext}, onlyExt)
	})
}

func TestCreateTier_DuplicateModeAndMinutesRefusedEvenWhenInactive(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tier := e.mustCreate(t, pricing.ModeSession, 30, 25000)
		_, err := e.svc.DeactivateTier(ctx, tier.ID, tier.UpdatedAt, operator)
		require.NoError(t, err)

		_, err = e.svc.CreateTier(ctx, pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 30, Price: 1, ChangedBy: operator})
		require.ErrorIs(t, err, pricing.ErrDuplicateTier)

		// The same minutes in the other mode is a different tier.
		e.mustCreate(t, pricing.ModeExtension, 30, 20000)
		all, err := e.svc.ListTiers(ctx, pricing.ListTiersParams{IncludeInactive: true})
		require.NoError(t, err)
		require.Len(t, all, 2)
	})
}

func TestCreateTier_ConcurrentTwinsOnlyOneIsCreated(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		const writers = 10
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, writers)
		for i := range writers {
			wg.Go(func() {
				<-start
				_, errs[i] = e.svc.CreateTier(ctx, pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 30, Price: int64(1000 + i), ChangedBy: operator})
			})
		}
		close(start)
		wg.Wait()
		created := 0
		for _, err := range errs {
			if err == nil {
				created++
				continue
			}
			require.ErrorIs(t, err, pricing.ErrDuplicateTier)
		}
		require.Equal(t, 1, created)
		all, err := e.svc.ListTiers(ctx, pricing.ListTiersParams{IncludeInactive: true})
		require.NoError(t, err)
		require.Len(t, all, 1)
		hs, err := e.svc.TierHistory(ctx, all[0].ID)
		require.NoError(t, err)
		require.Len(t, hs, 1)
	})
}

func TestUpdateTier_ChangesPriceAndLabelWithNewTokenAndHistory(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tier := e.mustCreate(t, pricing.ModeSession, 30, 25000)
		e.clock.Advance(time.Minute)

		updated, err := e.svc.UpdateTier(ctx, pricing.UpdateTierParams{
			ID: tier.ID, ExpectedUpdatedAt: tier.UpdatedAt, Price: ptr[int64](27500), Label: ptr("Populer"), ChangedBy: operator,
		})
		require.NoError(t, err)
		require.Equal(t, int64(27500), updated.Price)
		require.Equal(t, "Populer", updated.Label)
		require.Equal(t, t0.Add(time.Minute), updated.UpdatedAt)
		require.Equal(t, tier.CreatedAt, updated.CreatedAt)

		got, err := e.svc.GetTier(ctx, tier.ID)
		require.NoError(t, err)
		require.Equal(t, updated, got)

		hs, err := e.svc.TierHistory(ctx, tier.ID)
		require.NoError(t, err)
		require.Len(t, hs, 2)
		require.Equal(t, pricing.ChangeUpdate, hs[0].ChangeKind)
		require.Equal(t, tierFromJSON(t, hs[0].Before), tier)
		require.Equal(t, tierFromJSON(t, hs[0].After), updated)
	})
}

func TestUpdateTier_StaleTokenWritesNothingAndReturnsCurrentRow(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tier := e.mustCreate(t, pricing.ModeSession, 30, 25000)
		first, err := e.svc.UpdateTier(ctx, pricing.UpdateTierParams{ID: tier.ID, ExpectedUpdatedAt: tier.UpdatedAt, Price: ptr[int64](26000), ChangedBy: operator})
		require.NoError(t, err)

		_, err = e.svc.UpdateTier(ctx, pricing.UpdateTierParams{ID: tier.ID, ExpectedUpdatedAt: tier.UpdatedAt, Price: ptr[int64](1), ChangedBy: "op-other"})
		require.ErrorIs(t, err, pricing.ErrStaleWrite)
		require.ErrorIs(t, err, curhat.ErrStaleWrite)
		var stale *pricing.StaleWriteError
		require.ErrorAs(t, err, &stale)
		require.Equal(t, first, stale.Current)

		got, err := e.svc.GetTier(ctx, tier.ID)
		require.NoError(t, err)
		require.Equal(t, first, got)
		hs, err := e.svc.TierHistory(ctx, tier.ID)
		require.NoError(t, err)
		require.Len(t, hs, 2, "create + one update; the stale write leaves no trace")
	})
}

func TestUpdateTier_TwoWritesInOneMicrosecondGetDistinctTokens(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		// The fake clock never moves during this test.
		tier := e.mustCreate(t, pricing.ModeSession, 30, 25000)
		a, err := e.svc.UpdateTier(ctx, pricing.UpdateTierParams{ID: tier.ID, ExpectedUpdatedAt: tier.UpdatedAt, Price: ptr[int64](26000), ChangedBy: operator})
		require.NoError(t, err)
		b, err := e.svc.UpdateTier(ctx, pricing.UpdateTierParams{ID: tier.ID, ExpectedUpdatedAt: a.UpdatedAt, Price: ptr[int64](27000), ChangedBy: operator})
		require.NoError(t, err)

		require.True(t, a.UpdatedAt.After(tier.UpdatedAt))
		require.True(t, b.UpdatedAt.After(a.UpdatedAt))
		require.Equal(t, time.Microsecond, b.UpdatedAt.Sub(a.UpdatedAt))

		// The first token is spent: a writer holding it is refused.
		_, err = e.svc.UpdateTier(ctx, pricing.UpdateTierParams{ID: tier.ID, ExpectedUpdatedAt: a.UpdatedAt, Price: ptr[int64](1), ChangedBy: operator})
		require.ErrorIs(t, err, pricing.ErrStaleWrite)
	})
}

func TestUpdateTier_TokenComparedAtMicrosecondPrecision(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.clock.Set(t0.Add(123456789 * time.Nanosecond)) // sub-microsecond clock
		tier := e.mustCreate(t, pricing.ModeSession, 30, 25000)
		require.Equal(t, t0.Add(123456*time.Microsecond), tier.UpdatedAt)

		// A token that went through a system with nanoseconds (or another time zone) still matches.
		token := tier.UpdatedAt.Add(999 * time.Nanosecond).In(time.FixedZone("WIB", 7*3600))
		_, err := e.svc.UpdateTier(ctx, pricing.UpdateTierParams{ID: tier.ID, ExpectedUpdatedAt: token, Price: ptr[int64](1000), ChangedBy: operator})
		require.NoError(t, err)
	})
}

func TestUpdateTier_NoChangeWritesNothing(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tier := e.mustCreate(t, pricing.ModeSession, 30, 25000)
		e.clock.Advance(time.Second)
		same, err := e.svc.UpdateTier(ctx, pricing.UpdateTierParams{ID: tier.ID, ExpectedUpdatedAt: tier.UpdatedAt, Price: ptr(tier.Price), ChangedBy: operator})
		require.NoError(t, err)
		require.Equal(t, tier, same)
		hs, err := e.svc.TierHistory(ctx, tier.ID)
		require.NoError(t, err)
		require.Len(t, hs, 1)
	})
}

func TestUpdateTier_FreeExtensionRefused(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ext := e.mustCreate(t, pricing.ModeExtension, 10, 8000)
		_, err := e.svc.UpdateTier(ctx, pricing.UpdateTierParams{ID: ext.ID, ExpectedUpdatedAt: ext.UpdatedAt, Price: ptr[int64](0), ChangedBy: operator})
		requireInvalid(t, err, "price")

		// A free session tier is allowed (a free trial).
		s := e.mustCreate(t, pricing.ModeSession, 5, 1000)
		free, err := e.svc.UpdateTier(ctx, pricing.UpdateTierParams{ID: s.ID, ExpectedUpdatedAt: s.UpdatedAt, Price: ptr[int64](0), ChangedBy: operator})
		require.NoError(t, err)
		require.Zero(t, free.Price)
	})
}

func TestUpdateTier_UnknownTierIsNotFound(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		_, err := e.svc.UpdateTier(context.Background(), pricing.UpdateTierParams{ID: uuid.New(), ExpectedUpdatedAt: t0, Price: ptr[int64](1), ChangedBy: operator})
		require.ErrorIs(t, err, pricing.ErrNotFound)
		_, err = e.svc.TierHistory(context.Background(), uuid.New())
		require.ErrorIs(t, err, pricing.ErrNotFound)
	})
}

func TestConcurrentUpdatesWithOneToken_ExactlyOneWins(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tier := e.mustCreate(t, pricing.ModeSession, 30, 25000)

		const writers = 20
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, writers)
		for i := range writers {
			wg.Go(func() {
				<-start
				_, errs[i] = e.svc.UpdateTier(ctx, pricing.UpdateTierParams{
					ID: tier.ID, ExpectedUpdatedAt: tier.UpdatedAt, Price: ptr(int64(30000 + i)), ChangedBy: operator,
				})
			})
		}
		close(start)
		wg.Wait()

		var ok, stale int
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, pricing.ErrStaleWrite):
				stale++
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		require.Equal(t, 1, ok)
		require.Equal(t, writers-1, stale)

		hs, err := e.svc.TierHistory(ctx, tier.ID)
		require.NoError(t, err)
		updates := 0
		for _, h := range hs {
			if h.ChangeKind == pricing.ChangeUpdate {
				updates++
			}
		}
		require.Equal(t, 1, updates, "exactly one history row for the one winning write")
	})
}

// TestConcurrentStoreWritesWithOneToken_ExactlyOneWins races the store's compare-and-swap
// itself (PricingStore's read-side check would otherwise turn most losers away early).
func TestConcurrentStoreWritesWithOneToken_ExactlyOneWins(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tier := e.mustCreate(t, pricing.ModeSession, 30, 25000)

		const writers = 20
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, writers)
		for i := range writers {
			wg.Go(func() {
				next := tier
				next.Price = int64(30000 + i)
				next.UpdatedAt = tier.UpdatedAt.Add(time.Duration(i+1) * time.Microsecond)
				<-start
				errs[i] = e.store.UpdateTiers(ctx, []pricing.TierWrite{{Tier: next, ExpectedUpdatedAt: tier.UpdatedAt,
					History: pricing.HistoryEntry{ID: uuid.New(), TierID: tier.ID, ChangeKind: pricing.ChangeUpdate,
						ChangedBy: operator, ChangedAt: next.UpdatedAt, After: json.RawMessage(`{}`)}}})
			})
		}
		close(start)
		wg.Wait()

		winner := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(t, -1, winner, "two writers won")
				winner = i
				continue
			}
			var stale *pricing.StaleWriteError
			require.ErrorAs(t, err, &stale)
		}
		require.NotEqual(t, -1, winner)
		got, err := e.store.GetTier(ctx, tier.ID)
		require.NoError(t, err)
		require.Equal(t, int64(30000+winner), got.Price)
		hs, err := e.store.TierHistory(ctx, tier.ID)
		require.NoError(t, err)
		require.Len(t, hs, 2, "create + the one winning write")
	})
}

func TestDeactivateAndReactivate(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		client := uuid.New()
		tier := e.mustCreate(t, pricing.ModeSession, 30, 25000)

		off, err := e.svc.DeactivateTier(ctx, tier.ID, tier.UpdatedAt, operator)
		require.NoError(t, err)
		require.False(t, off.IsActive)
		_, err = e.svc.Quote(ctx, client, pricing.ModeSession, 30)
		require.ErrorIs(t, err, pricing.ErrNoTier, "a deactivated tier cannot be bought")
		active, err := e.svc.ListTiers(ctx, pricing.ListTiersParams{})
		require.NoError(t, err)
		require.Empty(t, active)
		all, err := e.svc.ListTiers(ctx, pricing.ListTiersParams{IncludeInactive: true})
		require.NoError(t, err)
		require.Equal(t, []pricing.Tier{off}, all)

		_, err = e.svc.ReactivateTier(ctx, tier.ID, tier.UpdatedAt, operator)
		require.ErrorIs(t, err, pricing.ErrStaleWrite, "the deactivation spent the token")
		on, err := e.svc.ReactivateTier(ctx, tier.ID, off.UpdatedAt, operator)
		require.NoError(t, err)
		require.True(t, on.IsActive)
		q, err := e.svc.Quote(ctx, client, pricing.ModeSession, 30)
		require.NoError(t, err)
		require.Equal(t, tier.ID, q.TierID)

		hs, err := e.svc.TierHistory(ctx, tier.ID)
		require.NoError(t, err)
		require.Equal(t, []pricing.ChangeKind{pricing.ChangeReactivate, pricing.ChangeDeactivate, pricing.ChangeCreate}, kinds(hs))
	})
}

func TestReorderTiers(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a := e.mustCreate(t, pricing.ModeSession, 15, 15000)
		b := e.mustCreate(t, pricing.ModeSession, 30, 25000)
		c := e.mustCreate(t, pricing.ModeSession, 60, 45000)
		c, err := e.svc.DeactivateTier(ctx, c.ID, c.UpdatedAt, operator)
		require.NoError(t, err)
		ext := e.mustCreate(t, pricing.ModeExtension, 10, 8000)
		before, err := e.svc.ListTiers(ctx, pricing.ListTiersParams{IncludeInactive: true})
		require.NoError(t, err)

		item := func(tr pricing.Tier) pricing.ReorderItem {
			return pricing.ReorderItem{ID: tr.ID, ExpectedUpdatedAt: tr.UpdatedAt}
		}
		reorder := func(items ...pricing.ReorderItem) ([]pricing.Tier, error) {
			return e.svc.ReorderTiers(ctx, pricing.ReorderParams{Mode: pricing.ModeSession, Tiers: items, ChangedBy: operator})
		}
		requireUnchanged := func() {
			t.Helper()
			now, err := e.svc.ListTiers(ctx, pricing.ListTiersParams{IncludeInactive: true})
			require.NoError(t, err)
			require.Equal(t, before, now)
			for _, tr := range before {
				hs, err := e.svc.TierHistory(ctx, tr.ID)
				require.NoError(t, err)
				require.NotContains(t, kinds(hs), pricing.ChangeReorder)
			}
		}

		_, err = reorder(item(c), item(a))
		requireInvalid(t, err, "tiers") // b is missing
		_, err = reorder(item(c), item(b), item(a), item(ext))
		requireInvalid(t, err, "tiers") // ext is not a session tier
		_, err = reorder(item(c), item(b), item(a), item(a))
		requireInvalid(t, err, "tiers") // a twice
		staleA := item(a)
		staleA.ExpectedUpdatedAt = a.UpdatedAt.Add(-time.Second)
		_, err = reorder(item(c), item(b), staleA)
		require.ErrorIs(t, err, pricing.ErrStaleWrite)
		var stale *pricing.StaleWriteError
		require.ErrorAs(t, err, &stale)
		require.Equal(t, before[:3], stale.Current, "a stale reorder reports the mode's tiers as they are")
		requireUnchanged()

		e.clock.Advance(time.Second)
		got, err := reorder(item(c), item(b), item(a))
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{c.ID, b.ID, a.ID}, ids(got))
		listed, err := e.svc.ListTiers(ctx, pricing.ListTiersParams{Mode: pricing.ModeSession, IncludeInactive: true})
		require.NoError(t, err)
		require.Equal(t, got, listed)
		for i, tr := range got {
			require.Equal(t, i+1, tr.SortOrder)
			hs, err := e.svc.TierHistory(ctx, tr.ID)
			require.NoError(t, err)
			require.Equal(t, pricing.ChangeReorder, hs[0].ChangeKind)
			require.Equal(t, operator, hs[0].ChangedBy)
		}
		// The old tokens are spent: the same reorder again is stale.
		_, err = reorder(item(c), item(b), item(a))
		require.ErrorIs(t, err, pricing.ErrStaleWrite)

		extAfter, err := e.svc.GetTier(ctx, ext.ID)
		require.NoError(t, err)
		require.Equal(t, ext, extAfter, "another mode is untouched")
	})
}

// TestUpdateTiers_StoreRejectsWholeBatchOnOneStaleRow pins the store's own
// all-or-nothing guarantee, which protects a reorder that loses a race after
// PricingStore's read.
func TestUpdateTiers_StoreRejectsWholeBatchOnOneStaleRow(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a := e.mustCreate(t, pricing.ModeSession, 15, 15000)
		b := e.mustCreate(t, pricing.ModeSession, 30, 25000)

		write := func(tr pricing.Tier, expected time.Time) pricing.TierWrite {
			next := tr
			next.SortOrder = 9
			next.UpdatedAt = tr.UpdatedAt.Add(time.Second)
			return pricing.TierWrite{Tier: next, ExpectedUpdatedAt: expected, History: pricing.HistoryEntry{
				ID: uuid.New(), TierID: tr.ID, ChangeKind: pricing.ChangeReorder, ChangedBy: operator,
				ChangedAt: next.UpdatedAt, After: json.RawMessage(`{}`),
			}}
		}
		err := e.store.UpdateTiers(ctx, []pricing.TierWrite{write(a, a.UpdatedAt), write(b, b.UpdatedAt.Add(-time.Microsecond))})
		require.ErrorIs(t, err, pricing.ErrStaleWrite)
		var stale *pricing.StaleWriteError
		require.ErrorAs(t, err, &stale)
		require.Equal(t, b, stale.Current)

		got, err := e.store.ListTiers(ctx, pricing.ListTiersParams{})
		require.NoError(t, err)
		require.Equal(t, []pricing.Tier{a, b}, got)
		hs, err := e.store.TierHistory(ctx, a.ID)
		require.NoError(t, err)
		require.Len(t, hs, 1)

		err = e.store.UpdateTiers(ctx, []pricing.TierWrite{write(a, a.UpdatedAt), write(pricing.Tier{ID: uuid.New()}, t0)})
		require.ErrorIs(t, err, pricing.ErrNotFound)
		got, err = e.store.ListTiers(ctx, pricing.ListTiersParams{})
		require.NoError(t, err)
		require.Equal(t, []pricing.Tier{a, b}, got)
	})
}

func TestStore_InsertTierDuplicateNaturalKey(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a := e.mustCreate(t, pricing.ModeSession, 15, 15000)
		twin := a
		twin.ID = uuid.New()
		err := e.store.InsertTier(ctx, pricing.TierWrite{Tier: twin, History: pricing.HistoryEntry{
			ID: uuid.New(), TierID: twin.ID, ChangeKind: pricing.ChangeCreate, ChangedBy: operator, ChangedAt: t0, After: json.RawMessage(`{}`),
		}})
		require.ErrorIs(t, err, pricing.ErrDuplicateTier)
		_, err = e.store.GetTier(ctx, twin.ID)
		require.ErrorIs(t, err, pricing.ErrNotFound)
		_, err = e.store.ActiveTier(ctx, pricing.ModeSession, 16)
		require.ErrorIs(t, err, pricing.ErrNotFound)
	})
}

func TestHistory_CarriesOperatorAndKindNewestFirst(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tier, err := e.svc.CreateTier(ctx, pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 30, Price: 25000, ChangedBy: "op-alice"})
		require.NoError(t, err)
		e.clock.Advance(time.Minute)
		up, err := e.svc.UpdateTier(ctx, pricing.UpdateTierParams{ID: tier.ID, ExpectedUpdatedAt: tier.UpdatedAt, Label: ptr("Hemat"), ChangedBy: "op-bob"})
		require.NoError(t, err)
		// Same instant: the order still holds because each write moves the token.
		off, err := e.svc.DeactivateTier(ctx, tier.ID, up.UpdatedAt, "op-carol")
		require.NoError(t, err)

		hs, err := e.svc.TierHistory(ctx, tier.ID)
		require.NoError(t, err)
		require.Equal(t, []pricing.ChangeKind{pricing.ChangeDeactivate, pricing.ChangeUpdate, pricing.ChangeCreate}, kinds(hs))
		require.Equal(t, []string{"op-carol", "op-bob", "op-alice"}, []string{hs[0].ChangedBy, hs[1].ChangedBy, hs[2].ChangedBy})
		require.Equal(t, []time.Time{off.UpdatedAt, up.UpdatedAt, tier.UpdatedAt}, []time.Time{hs[0].ChangedAt, hs[1].ChangedAt, hs[2].ChangedAt})
		for _, h := range hs {
			require.Equal(t, tier.ID, h.TierID)
			require.NotEqual(t, uuid.Nil, h.ID)
		}
		require.Nil(t, hs[2].Before, "a create has no before image")
		require.Equal(t, tier, tierFromJSON(t, hs[2].After))
		require.Equal(t, up, tierFromJSON(t, hs[1].After))
		require.Equal(t, off, tierFromJSON(t, hs[0].After))
		require.Equal(t, up, tierFromJSON(t, hs[0].Before))
	})
}

func tierFromJSON(t *testing.T, raw json.RawMessage) pricing.Tier {
	t.Helper()
	var tr pricing.Tier
	require.NoError(t, json.Unmarshal(raw, &tr))
	return tr
}

func kinds(hs []pricing.HistoryEntry) []pricing.ChangeKind {
	out := make([]pricing.ChangeKind, len(hs))
	for i, h := range hs {
		out[i] = h.ChangeKind
	}
	return out
}

func ids(ts []pricing.Tier) []uuid.UUID {
	out := make([]uuid.UUID, len(ts))
	for i, tr := range ts {
		out[i] = tr.ID
	}
	return out
}

func requireInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var ve *curhat.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, field, ve.Field, ve.Error())
}

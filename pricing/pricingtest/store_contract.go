package pricingtest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pricing"
)

// StoreHarness is one pricing.Store under test, with the one fact it reads but the payment
// domain writes. RunStoreContract calls the harness constructor once per subtest, from
// parallel subtests.
type StoreHarness struct {
	// Store is the store under test, as freshly migrated: no tier, and the disabled
	// first-session discount row (NewStore and the schema's migration both create it).
	Store pricing.Store
	// AddPayment records a payment of clientID for tierID with purpose ("chat_start" or
	// "extension") and status ("pending", "paid", "failed", "expired", "cancelled",
	// "refunded" or "refund_failed"), as the payment domain would. tierID is a tier of
	// Store. ClientHasPaidChatStart must answer true for a client once it holds a paid
	// chat_start payment, and only then.
	AddPayment func(t *testing.T, clientID, tierID uuid.UUID, purpose, status string)
}

// t0 is where the suite's clock starts.
var t0 = time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC)

const operator = "op-7f3a"

// env is a PricingStore over the store under test, on a fake clock: the contract is
// mostly what the service's compare-and-swap writes and audit rows ask of the store.
type env struct {
	StoreHarness
	svc   *pricing.PricingStore
	clock *clock.Fake
}

func newEnv(t *testing.T, newHarness func(t *testing.T) StoreHarness) *env {
	h := newHarness(t)
	c := clock.NewFake(t0)
	svc, err := pricing.NewPricingStore(h.Store, &pricing.Config{Clock: c})
	check.NoError(t, err)
	return &env{StoreHarness: h, svc: svc, clock: c}
}

// mustCreate creates a tier or fails the test.
func (e *env) mustCreate(t *testing.T, mode pricing.Mode, minutes int, price int64) pricing.Tier {
	t.Helper()
	tier, err := e.svc.CreateTier(check.Context(t), pricing.CreateTierParams{
		Mode: mode, Minutes: minutes, Price: price, Label: "", ChangedBy: operator,
	})
	check.NoError(t, err)
	return tier
}

// RunStoreContract runs the conformance suite of pricing.Store: every implementation
// (pricing.NewPostgresStore, NewStore, a host's own) must pass it. Each behaviour is a
// parallel subtest over its own harness from newHarness; most drive the store through a
// pricing.PricingStore, as production does.
func RunStoreContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("CreateTierTakesItsPlaceByMinutesAndListsSessionFirst", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, newHarness)
		ctx := check.Context(t)
		empty, err := e.svc.ListTiers(ctx, pricing.ListTiersParams{})
		check.NoError(t, err)
		check.NotNil(t, empty, "an empty list, not nil (JSON [] rather than null)")
		check.Len(t, empty, 0)
		ext := e.mustCreate(t, pricing.ModeExtension, 10, 8000)
		s30 := e.mustCreate(t, pricing.ModeSession, 30, 25000)
		s60 := e.mustCreate(t, pricing.ModeSession, 60, 45000)

		check.Equal(t, 1, s30.SortOrder)
		check.Equal(t, 2, s60.SortOrder)
		check.Equal(t, 1, ext.SortOrder)
		check.Equal(t, pricing.DefaultCurrency, s30.Currency)
		check.True(t, s30.IsActive)
		check.Equal(t, t0, s30.CreatedAt)
		check.Equal(t, t0, s30.UpdatedAt)

		// A 15-minute tier goes first, a 45-minute one between 30 and 60: the others move
		// down, each with a new token and a history row.
		s15 := e.mustCreate(t, pricing.ModeSession, 15, 15000)
		s45 := e.mustCreate(t, pricing.ModeSession, 45, 35000)
		check.Equal(t, 1, s15.SortOrder)
		check.Equal(t, 3, s45.SortOrder)
		all, err := e.svc.ListTiers(ctx, pricing.ListTiersParams{})
		check.NoError(t, err)
		check.Len(t, all, 5)
		var minutes, orders []int
		for _, tier := range all {
			minutes, orders = append(minutes, tier.Minutes), append(orders, tier.SortOrder)
		}
		check.Equal(t, []int{15, 30, 45, 60, 10}, minutes, "session tiers by minutes, then the extension tiers")
		check.Equal(t, []int{1, 2, 3, 4, 1}, orders)
		check.Equal(t, s15, all[0])
		check.Equal(t, s45, all[2])
		check.Equal(t, ext, all[4], "the other mode does not move")
		check.True(t, all[3].UpdatedAt.After(s60.UpdatedAt), "a moved tier has a new token")
		history, err := e.svc.TierHistory(ctx, s60.ID)
		check.NoError(t, err)
		check.Len(t, history, 3, "create, and one move per tier placed before it")
		check.Equal(t, pricing.ChangeReorder, history[0].ChangeKind)

		got, err := e.svc.GetTier(ctx, s15.ID)
		check.NoError(t, err)
		check.Equal(t, s15, got)

		onlyExt, err := e.svc.ListTiers(ctx, pricing.ListTiersParams{Mode: pricing.ModeExtension})
		check.NoError(t, err)
		check.Equal(t, []pricing.Tier{ext}, onlyExt)
	})

	t.Run("CreateTierGoesLastOnceAnOperatorReordered", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, newHarness)
		ctx := check.Context(t)
		s30 := e.mustCreate(t, pricing.ModeSession, 30, 25000)
		s60 := e.mustCreate(t, pricing.ModeSession, 60, 45000)
		reordered, err := e.svc.ReorderTiers(ctx, pricing.ReorderParams{Mode: pricing.ModeSession, ChangedBy: operator,
			Tiers: []pricing.ReorderItem{{ID: s60.ID, ExpectedUpdatedAt: s60.UpdatedAt}, {ID: s30.ID, ExpectedUpdatedAt: s30.UpdatedAt}}})
		check.NoError(t, err)
		s45 := e.mustCreate(t, pricing.ModeSession, 45, 35000)
		check.Equal(t, 3, s45.SortOrder, "the operator's order stays; the new tier goes to the end")
		all, err := e.svc.ListTiers(ctx, pricing.ListTiersParams{Mode: pricing.ModeSession})
		check.NoError(t, err)
		check.Equal(t, []pricing.Tier{reordered[0], reordered[1], s45}, all, "nobody moved")
	})

	t.Run("InsertTierWithAStaleMoveWritesNothing", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, newHarness)
		ctx := check.Context(t)
		s30 := e.mustCreate(t, pricing.ModeSession, 30, 25000)
		moved := s30
		moved.SortOrder = 2
		moved.UpdatedAt = t0.Add(time.Second)
		fresh := pricing.Tier{ID: uuid.New(), Mode: pricing.ModeSession, Minutes: 15, Price: 1, Currency: pricing.DefaultCurrency,
			SortOrder: 1, IsActive: true, CreatedAt: t0, UpdatedAt: t0}
		err := e.Store.InsertTier(ctx, pricing.TierWrite{Tier: fresh, History: pricing.HistoryEntry{ID: uuid.New(),
			ChangeKind: pricing.ChangeCreate, ChangedBy: operator, ChangedAt: t0, After: []byte(`{}`)},
			Moved: []pricing.TierWrite{{Tier: moved, ExpectedUpdatedAt: t0.Add(-time.Second), History: pricing.HistoryEntry{ID: uuid.New(),
				ChangeKind: pricing.ChangeReorder, ChangedBy: operator, ChangedAt: t0, Before: []byte(`{}`), After: []byte(`{}`)}}}})
		check.ErrorIs(t, err, pricing.ErrStaleWrite)
		all, err := e.svc.ListTiers(ctx, pricing.ListTiersParams{IncludeInactive: true})
		check.NoError(t, err)
		check.Equal(t, []pricing.Tier{s30}, all, "neither the insert nor the move")
	})

	t.Run("DuplicateModeAndMinutesRefusedEvenWhenInactive", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, newHarness)
		ctx := check.Context(t)
		tier := e.mustCreate(t, pricing.ModeSession, 30, 25000)
		_, err := e.svc.DeactivateTier(ctx, tier.ID, tier.UpdatedAt, operator)
		check.NoError(t, err)

		_, err = e.svc.CreateTier(ctx, pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 30, Price: 1, ChangedBy: operator})
		check.ErrorIs(t, err, pricing.ErrDuplicateTier)

		// The same minutes in the other mode is a different tier.
		e.mustCreate(t, pricing.ModeExtension, 30, 20000)
		all, err := e.svc.ListTiers(ctx, pricing.ListTiersParams{IncludeInactive: true})
		check.NoError(t, err)
		check.Len(t, all, 2)
	})

	t.Run("InsertTierDuplicateNaturalKeyWritesNothing", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, newHarness)
		ctx := check.Context(t)
		a := e.mustCreate(t, pricing.ModeSession, 15, 15000)
		twin := a
		twin.ID = uuid.New()
		err := e.Store.InsertTier(ctx, pricing.TierWrite{Tier: twin, History: pricing.HistoryEntry{
			ID: uuid.New(), TierID: twin.ID, ChangeKind: pricing.ChangeCreate, ChangedBy: operator, ChangedAt: t0, After: json.RawMessage(`{}`),
		}})
		check.ErrorIs(t, err, pricing.ErrDuplicateTier)
		_, err = e.Store.GetTier(ctx, twin.ID)
		check.ErrorIs(t, err, pricing.ErrNotFound)
		_, err = e.Store.ActiveTier(ctx, pricing.ModeSession, 16)
		check.ErrorIs(t, err, pricing.ErrNotFound)
	})

	t.Run("ConcurrentTwinsOnlyOneIsCreated", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, newHarness)
		ctx := check.Context(t)
		errs := check.Concurrently(10, func(i int) error {
			_, err := e.svc.CreateTier(ctx, pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 30, Price: int64(1000 + i), ChangedBy: operator})
			return err
		})
		check.OneSucceeds(t, errs, pricing.ErrDuplicateTier)
		all, err := e.svc.ListTiers(ctx, pricing.ListTiersParams{IncludeInactive: true})
		check.NoError(t, err)
		check.Len(t, all, 1)
		hs, err := e.svc.TierHistory(ctx, all[0].ID)
		check.NoError(t, err)
		check.Len(t, hs, 1)
	})

	t.Run("UpdateChangesPriceAndLabelWithNewTokenAndHistory", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, newHarness)
		ctx := check.Context(t)
		tier := e.mustCreate(t, pricing.ModeSession, 30, 25000)
		e.clock.Advance(time.Minute)

		updated, err := e.svc.UpdateTier(ctx, pricing.UpdateTierParams{
			ID: tier.ID, ExpectedUpdatedAt: tier.UpdatedAt, Price: new(int64(27500)), Label: new("Populer"), ChangedBy: operator,
		})
		check.NoError(t, err)
		check.Equal(t, int64(27500), updated.Price)
		check.Equal(t, "Populer", updated.Label)
		check.Equal(t, t0.Add(time.Minute), updated.UpdatedAt)
		check.Equal(t, tier.CreatedAt, updated.CreatedAt)

		got, err := e.svc.GetTier(ctx, tier.ID)
		check.NoError(t, err)
		check.Equal(t, updated, got)

		hs, err := e.svc.TierHistory(ctx, tier.ID)
		check.NoError(t, err)
		check.Len(t, hs, 2)
		check.Equal(t, pricing.ChangeUpdate, hs[0].ChangeKind)
		check.Equal(t, tierFromJSON(t, hs[0].Before), tier)
		check.Equal(t, tierFromJSON(t, hs[0].After), updated)
	})

	t.Run("StaleTokenWritesNothingAndReturnsCurrentRow", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, newHarness)
		ctx := check.Context(t)
		tier := e.mustCreate(t, pricing.ModeSession, 30, 25000)
		first, err := e.svc.UpdateTier(ctx, pricing.UpdateTierParams{ID: tier.ID, ExpectedUpdatedAt: tier.UpdatedAt, Price: new(int64(26000)), ChangedBy: operator})
		check.NoError(t, err)

		_, err = e.svc.UpdateTier(ctx, pricing.UpdateTierParams{ID: tier.ID, ExpectedUpdatedAt: tier.UpdatedAt, Price: new(int64(1)), ChangedBy: "op-other"})
		check.ErrorIs(t, err, pricing.ErrStaleWrite)
		check.ErrorIs(t, err, core.ErrStaleWrite)
		var stale *pricing.StaleWriteError
		check.ErrorAs(t, err, &stale)
		check.Equal(t, first, stale.Current)

		got, err := e.svc.GetTier(ctx, tier.ID)
		check.NoError(t, err)
		check.Equal(t, first, got)
		hs, err := e.svc.TierHistory(ctx, tier.ID)
		check.NoError(t, err)
		check.Len(t, hs, 2, "create + one update; the stale write leaves no trace")
	})

	t.Run("TwoWritesInOneMicrosecondGetDistinctTokens", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, newHarness)
		ctx := check.Context(t)
		// The fake clock never moves during this test.
		tier := e.mustCreate(t, pricing.ModeSession, 30, 25000)
		a, err := e.svc.UpdateTier(ctx, pricing.UpdateTierParams{ID: tier.ID, ExpectedUpdatedAt: tier.UpdatedAt, Price: new(int64(26000)), ChangedBy: operator})
		check.NoError(t, err)
		b, err := e.svc.UpdateTier(ctx, pricing.UpdateTierParams{ID: tier.ID, ExpectedUpdatedAt: a.UpdatedAt, Price: new(int64(27000)), ChangedBy: operator})
		check.NoError(t, err)

		check.True(t, a.UpdatedAt.After(tier.UpdatedAt))
		check.True(t, b.UpdatedAt.After(a.UpdatedAt))
		check.Equal(t, time.Microsecond, b.UpdatedAt.Sub(a.UpdatedAt))

		// The first token is spent: a writer holding it is refused.
		_, err = e.svc.UpdateTier(ctx, pricing.UpdateTierParams{ID: tier.ID, ExpectedUpdatedAt: a.UpdatedAt, Price: new(int64(1)), ChangedBy: operator})
		check.ErrorIs(t, err, pricing.ErrStaleWrite)
	})

	t.Run("TokenComparedAtMicrosecondPrecision", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, newHarness)
		ctx := check.Context(t)
		e.clock.Set(t0.Add(123456789 * time.Nanosecond)) // sub-microsecond clock
		tier := e.mustCreate(t, pricing.ModeSession, 30, 25000)
		check.Equal(t, t0.Add(123456*time.Microsecond), tier.UpdatedAt)

		// A token that went through a system with nanoseconds (or another time zone) still matches.
		token := tier.UpdatedAt.Add(999 * time.Nanosecond).In(time.FixedZone("WIB", 7*3600))
		_, err := e.svc.UpdateTier(ctx, pricing.UpdateTierParams{ID: tier.ID, ExpectedUpdatedAt: token, Price: new(int64(1000)), ChangedBy: operator})
		check.NoError(t, err)
	})

	t.Run("UnknownTierIsNotFound", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, newHarness)
		_, err := e.svc.UpdateTier(check.Context(t), pricing.UpdateTierParams{ID: uuid.New(), ExpectedUpdatedAt: t0, Price: new(int64(1)), ChangedBy: operator})
		check.ErrorIs(t, err, pricing.ErrNotFound)
		_, err = e.svc.TierHistory(check.Context(t), uuid.New())
		check.ErrorIs(t, err, pricing.ErrNotFound)
	})

	t.Run("ConcurrentUpdatesWithOneTokenExactlyOneWins", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, newHarness)
		ctx := check.Context(t)
		tier := e.mustCreate(t, pricing.ModeSession, 30, 25000)

		errs := check.Concurrently(20, func(i int) error {
			_, err := e.svc.UpdateTier(ctx, pricing.UpdateTierParams{
				ID: tier.ID, ExpectedUpdatedAt: tier.UpdatedAt, Price: new(int64(30000 + i)), ChangedBy: operator,
			})
			return err
		})
		check.OneSucceeds(t, errs, pricing.ErrStaleWrite)

		hs, err := e.svc.TierHistory(ctx, tier.ID)
		check.NoError(t, err)
		updates := 0
		for _, h := range hs {
			if h.ChangeKind == pricing.ChangeUpdate {
				updates++
			}
		}
		check.Equal(t, 1, updates, "exactly one history row for the one winning write")
	})

	// ConcurrentStoreWritesWithOneTokenExactlyOneWins races the store's compare-and-swap
	// itself (PricingStore's read-side check would otherwise turn most losers away early).
	t.Run("ConcurrentStoreWritesWithOneTokenExactlyOneWins", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, newHarness)
		ctx := check.Context(t)
		tier := e.mustCreate(t, pricing.ModeSession, 30, 25000)

		writes := make([]pricing.TierWrite, 20)
		for i := range writes {
			next := tier
			next.Price = int64(30000 + i)
			next.UpdatedAt = tier.UpdatedAt.Add(time.Duration(i+1) * time.Microsecond)
			writes[i] = pricing.TierWrite{Tier: next, ExpectedUpdatedAt: tier.UpdatedAt,
				History: pricing.HistoryEntry{ID: uuid.New(), TierID: tier.ID, ChangeKind: pricing.ChangeUpdate,
					ChangedBy: operator, ChangedAt: next.UpdatedAt, After: json.RawMessage(`{}`)}}
		}
		errs := check.Concurrently(len(writes), func(i int) error {
			return e.Store.UpdateTiers(ctx, writes[i:i+1])
		})
		winner := check.OneSucceeds(t, errs, pricing.ErrStaleWrite)
		for i, err := range errs {
			if i != winner {
				var stale *pricing.StaleWriteError
				check.ErrorAs(t, err, &stale, "a refused write carries the current row")
			}
		}
		got, err := e.Store.GetTier(ctx, tier.ID)
		check.NoError(t, err)
		check.Equal(t, int64(30000+winner), got.Price)
		hs, err := e.Store.TierHistory(ctx, tier.ID)
		check.NoError(t, err)
		check.Len(t, hs, 2, "create + the one winning write")
	})

	t.Run("DeactivatedTierIsHiddenAndUnquotableUntilReactivated", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, newHarness)
		ctx := check.Context(t)
		client := uuid.New()
		tier := e.mustCreate(t, pricing.ModeSession, 30, 25000)

		off, err := e.svc.DeactivateTier(ctx, tier.ID, tier.UpdatedAt, operator)
		check.NoError(t, err)
		check.False(t, off.IsActive)
		_, err = e.svc.Quote(ctx, client, pricing.ModeSession, 30)
		check.ErrorIs(t, err, pricing.ErrNoTier, "a deactivated tier cannot be bought")
		active, err := e.svc.ListTiers(ctx, pricing.ListTiersParams{})
		check.NoError(t, err)
		check.Len(t, active, 0)
		all, err := e.svc.ListTiers(ctx, pricing.ListTiersParams{IncludeInactive: true})
		check.NoError(t, err)
		check.Equal(t, []pricing.Tier{off}, all)

		_, err = e.svc.ReactivateTier(ctx, tier.ID, tier.UpdatedAt, operator)
		check.ErrorIs(t, err, pricing.ErrStaleWrite, "the deactivation spent the token")
		on, err := e.svc.ReactivateTier(ctx, tier.ID, off.UpdatedAt, operator)
		check.NoError(t, err)
		check.True(t, on.IsActive)
		q, err := e.svc.Quote(ctx, client, pricing.ModeSession, 30)
		check.NoError(t, err)
		check.Equal(t, tier.ID, q.TierID)

		hs, err := e.svc.TierHistory(ctx, tier.ID)
		check.NoError(t, err)
		check.Equal(t, []pricing.ChangeKind{pricing.ChangeReactivate, pricing.ChangeDeactivate, pricing.ChangeCreate}, kinds(hs))
	})

	t.Run("ReorderIsAllOrNothing", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, newHarness)
		ctx := check.Context(t)
		a := e.mustCreate(t, pricing.ModeSession, 15, 15000)
		b := e.mustCreate(t, pricing.ModeSession, 30, 25000)
		c := e.mustCreate(t, pricing.ModeSession, 60, 45000)
		c, err := e.svc.DeactivateTier(ctx, c.ID, c.UpdatedAt, operator)
		check.NoError(t, err)
		ext := e.mustCreate(t, pricing.ModeExtension, 10, 8000)
		before, err := e.svc.ListTiers(ctx, pricing.ListTiersParams{IncludeInactive: true})
		check.NoError(t, err)

		item := func(tr pricing.Tier) pricing.ReorderItem {
			return pricing.ReorderItem{ID: tr.ID, ExpectedUpdatedAt: tr.UpdatedAt}
		}
		reorder := func(items ...pricing.ReorderItem) ([]pricing.Tier, error) {
			return e.svc.ReorderTiers(ctx, pricing.ReorderParams{Mode: pricing.ModeSession, Tiers: items, ChangedBy: operator})
		}
		requireUnchanged := func() {
			t.Helper()
			now, err := e.svc.ListTiers(ctx, pricing.ListTiersParams{IncludeInactive: true})
			check.NoError(t, err)
			check.Equal(t, before, now)
			for _, tr := range before {
				hs, err := e.svc.TierHistory(ctx, tr.ID)
				check.NoError(t, err)
				check.NotContains(t, kinds(hs), pricing.ChangeReorder)
			}
		}

		_, err = reorder(item(c), item(a))
		check.Invalid(t, err, "tiers") // b is missing
		_, err = reorder(item(c), item(b), item(a), item(ext))
		check.Invalid(t, err, "tiers") // ext is not a session tier
		_, err = reorder(item(c), item(b), item(a), item(a))
		check.Invalid(t, err, "tiers") // a twice
		staleA := item(a)
		staleA.ExpectedUpdatedAt = a.UpdatedAt.Add(-time.Second)
		_, err = reorder(item(c), item(b), staleA)
		check.ErrorIs(t, err, pricing.ErrStaleWrite)
		var stale *pricing.StaleWriteError
		check.ErrorAs(t, err, &stale)
		check.Equal(t, before[:3], stale.Current, "a stale reorder reports the mode's tiers as they are")
		requireUnchanged()

		e.clock.Advance(time.Second)
		got, err := reorder(item(c), item(b), item(a))
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{c.ID, b.ID, a.ID}, ids(got))
		listed, err := e.svc.ListTiers(ctx, pricing.ListTiersParams{Mode: pricing.ModeSession, IncludeInactive: true})
		check.NoError(t, err)
		check.Equal(t, got, listed)
		for i, tr := range got {
			check.Equal(t, i+1, tr.SortOrder)
			hs, err := e.svc.TierHistory(ctx, tr.ID)
			check.NoError(t, err)
			check.Equal(t, pricing.ChangeReorder, hs[0].ChangeKind)
			check.Equal(t, operator, hs[0].ChangedBy)
		}
		// The old tokens are spent: the same reorder again is stale.
		_, err = reorder(item(c), item(b), item(a))
		check.ErrorIs(t, err, pricing.ErrStaleWrite)

		extAfter, err := e.svc.GetTier(ctx, ext.ID)
		check.NoError(t, err)
		check.Equal(t, ext, extAfter, "another mode is untouched")
	})

	// UpdateTiersRejectsWholeBatchOnOneStaleRow pins the store's own
	// all-or-nothing guarantee, which protects a reorder that loses a race after
	// PricingStore's read.
	t.Run("UpdateTiersRejectsWholeBatchOnOneStaleRow", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, newHarness)
		ctx := check.Context(t)
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
		err := e.Store.UpdateTiers(ctx, []pricing.TierWrite{write(a, a.UpdatedAt), write(b, b.UpdatedAt.Add(-time.Microsecond))})
		check.ErrorIs(t, err, pricing.ErrStaleWrite)
		var stale *pricing.StaleWriteError
		check.ErrorAs(t, err, &stale)
		check.Equal(t, b, stale.Current)

		got, err := e.Store.ListTiers(ctx, pricing.ListTiersParams{})
		check.NoError(t, err)
		check.Equal(t, []pricing.Tier{a, b}, got)
		hs, err := e.Store.TierHistory(ctx, a.ID)
		check.NoError(t, err)
		check.Len(t, hs, 1)

		err = e.Store.UpdateTiers(ctx, []pricing.TierWrite{write(a, a.UpdatedAt), write(pricing.Tier{ID: uuid.New()}, t0)})
		check.ErrorIs(t, err, pricing.ErrNotFound)
		got, err = e.Store.ListTiers(ctx, pricing.ListTiersParams{})
		check.NoError(t, err)
		check.Equal(t, []pricing.Tier{a, b}, got)
	})

	t.Run("HistoryCarriesOperatorAndKindNewestFirst", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, newHarness)
		ctx := check.Context(t)
		tier, err := e.svc.CreateTier(ctx, pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 30, Price: 25000, ChangedBy: "op-alice"})
		check.NoError(t, err)
		e.clock.Advance(time.Minute)
		up, err := e.svc.UpdateTier(ctx, pricing.UpdateTierParams{ID: tier.ID, ExpectedUpdatedAt: tier.UpdatedAt, Label: new("Hemat"), ChangedBy: "op-bob"})
		check.NoError(t, err)
		// Same instant: the order still holds because each write moves the token.
		off, err := e.svc.DeactivateTier(ctx, tier.ID, up.UpdatedAt, "op-carol")
		check.NoError(t, err)

		hs, err := e.svc.TierHistory(ctx, tier.ID)
		check.NoError(t, err)
		check.Equal(t, []pricing.ChangeKind{pricing.ChangeDeactivate, pricing.ChangeUpdate, pricing.ChangeCreate}, kinds(hs))
		check.Equal(t, []string{"op-carol", "op-bob", "op-alice"}, []string{hs[0].ChangedBy, hs[1].ChangedBy, hs[2].ChangedBy})
		check.Equal(t, []time.Time{off.UpdatedAt, up.UpdatedAt, tier.UpdatedAt}, []time.Time{hs[0].ChangedAt, hs[1].ChangedAt, hs[2].ChangedAt})
		for _, h := range hs {
			check.Equal(t, tier.ID, h.TierID)
			check.NotEqual(t, uuid.Nil, h.ID)
		}
		check.Nil(t, hs[2].Before, "a create has no before image")
		check.Equal(t, tier, tierFromJSON(t, hs[2].After))
		check.Equal(t, up, tierFromJSON(t, hs[1].After))
		check.Equal(t, off, tierFromJSON(t, hs[0].After))
		check.Equal(t, up, tierFromJSON(t, hs[0].Before))
	})

	t.Run("PromotionOptimisticLockAndHistory", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, newHarness)
		ctx := check.Context(t)
		initial, err := e.svc.GetFirstSessionDiscount(ctx)
		check.NoError(t, err)
		check.Equal(t, pricing.KindFirstSessionDiscount, initial.Kind)
		check.False(t, initial.Enabled)
		check.Equal(t, []int{}, initial.EligibleMinutes)
		check.NotEqual(t, uuid.Nil, initial.ID)

		// The migration stamped the row with the wall clock; move the fake clock past it.
		e.clock.Set(initial.UpdatedAt.Add(time.Hour))
		on, err := e.svc.UpdateFirstSessionDiscount(ctx, pricing.UpdatePromotionParams{
			ExpectedUpdatedAt: initial.UpdatedAt, Enabled: true, DiscountPercent: 50, MaxDiscountAmount: new(int64(15000)),
			EligibleMinutes: []int{60, 30, 30}, Label: "Diskon 50%", ChangedBy: "op-alice",
		})
		check.NoError(t, err)
		check.Equal(t, []int{30, 60}, on.EligibleMinutes, "sorted and deduplicated")
		check.Equal(t, initial.UpdatedAt.Add(time.Hour), on.UpdatedAt)
		got, err := e.svc.GetFirstSessionDiscount(ctx)
		check.NoError(t, err)
		check.Equal(t, on, got)

		_, err = e.svc.UpdateFirstSessionDiscount(ctx, pricing.UpdatePromotionParams{
			ExpectedUpdatedAt: initial.UpdatedAt, Enabled: false, ChangedBy: "op-bob",
		})
		check.ErrorIs(t, err, pricing.ErrStaleWrite)
		var stale *pricing.StaleWriteError
		check.ErrorAs(t, err, &stale)
		check.Equal(t, on, stale.Current)

		// Same instant, new token.
		off, err := e.svc.UpdateFirstSessionDiscount(ctx, pricing.UpdatePromotionParams{
			ExpectedUpdatedAt: on.UpdatedAt, Enabled: false, DiscountPercent: 50, MaxDiscountAmount: nil,
			EligibleMinutes: nil, Label: "", ChangedBy: "op-bob",
		})
		check.NoError(t, err)
		check.True(t, off.UpdatedAt.After(on.UpdatedAt))
		check.Nil(t, off.MaxDiscountAmount)

		hs, err := e.svc.PromotionHistory(ctx)
		check.NoError(t, err)
		check.Len(t, hs, 2, "the stale write left no trace")
		check.Equal(t, []pricing.ChangeKind{pricing.ChangeUpdate, pricing.ChangeUpdate}, kinds(hs))
		check.Equal(t, "op-bob", hs[0].ChangedBy)
		check.Equal(t, "op-alice", hs[1].ChangedBy)
		check.Equal(t, initial.ID, hs[0].PromotionID)
		check.Equal(t, on, promotionFromJSON(t, hs[0].Before))
		check.Equal(t, off, promotionFromJSON(t, hs[0].After))
		check.Equal(t, initial, promotionFromJSON(t, hs[1].Before))
	})

	t.Run("SavePromotionWritesOnlyOverTheExpectedRow", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, newHarness)
		ctx := check.Context(t)
		cur, err := e.Store.Promotion(ctx, pricing.KindFirstSessionDiscount)
		check.NoError(t, err)
		write := func(id uuid.UUID, expected time.Time) error {
			next := cur
			next.ID, next.Enabled, next.UpdatedAt = id, true, cur.UpdatedAt.Add(time.Second)
			return e.Store.SavePromotion(ctx, pricing.PromotionWrite{Promotion: next, ExpectedUpdatedAt: expected,
				History: pricing.HistoryEntry{ID: uuid.New(), PromotionID: id, ChangeKind: pricing.ChangeUpdate,
					ChangedBy: operator, ChangedAt: next.UpdatedAt, After: json.RawMessage(`{}`)}})
		}
		for name, err := range map[string]error{
			"an insert (zero token) over an existing row": write(uuid.New(), time.Time{}),
			"an older token": write(cur.ID, cur.UpdatedAt.Add(-time.Microsecond)),
		} {
			var stale *pricing.StaleWriteError
			check.ErrorAs(t, err, &stale, name)
			check.Equal(t, cur, stale.Current, name)
		}
		got, err := e.Store.Promotion(ctx, pricing.KindFirstSessionDiscount)
		check.NoError(t, err)
		check.Equal(t, cur, got)
		hs, err := e.Store.PromotionHistory(ctx, pricing.KindFirstSessionDiscount)
		check.NoError(t, err)
		check.Len(t, hs, 0, "a refused write leaves no history")
	})

	t.Run("ClientHasPaidChatStartOnlyForAPaidChatStart", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, newHarness)
		ctx := check.Context(t)
		tier := e.mustCreate(t, pricing.ModeSession, 30, 25000)
		newcomer, regular, refunded := uuid.New(), uuid.New(), uuid.New()
		e.AddPayment(t, regular, tier.ID, "chat_start", "paid")
		e.AddPayment(t, refunded, tier.ID, "chat_start", "refunded")
		e.AddPayment(t, refunded, tier.ID, "chat_start", "pending")
		e.AddPayment(t, refunded, tier.ID, "extension", "paid")
		for client, want := range map[uuid.UUID]bool{newcomer: false, regular: true, refunded: false} {
			paid, err := e.Store.ClientHasPaidChatStart(ctx, client)
			check.NoError(t, err)
			check.Equal(t, want, paid, "ClientHasPaidChatStart(%s)", client)
		}
	})

	runConstraintContract(t, newHarness)
}

func tierFromJSON(t *testing.T, raw json.RawMessage) pricing.Tier {
	t.Helper()
	tr, err := pricing.TierSnapshot(raw)
	check.NoError(t, err)
	return tr
}

func promotionFromJSON(t *testing.T, raw json.RawMessage) pricing.Promotion {
	t.Helper()
	pr, err := pricing.PromotionSnapshot(raw)
	check.NoError(t, err)
	return pr
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

package pairingtest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/pairing"
)

// runRoutingContract is the part of RunStoreContract that pins pairing.RoutingStore and
// the routing fields of a pairing.
func runRoutingContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	steps := []pairing.RoutingStep{{Match: pairing.MatchAll, Seconds: 20}, {Match: pairing.MatchLanguage, Seconds: 20}, {Match: pairing.MatchAny}}

	t.Run("PreferencesAndRoutingStepsRoundTrip", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		prefs := pairing.Preferences{Language: "id", Topics: []string{"work", "keluarga"}, Gender: "female"}
		p, err := c.Store.CreatePairing(ctx, pairing.Pairing{
			ID: uuid.New(), ClientID: c.Client(t), Type: pairing.TypeBlast, Status: pairing.StatusAwaitingPayment,
			Minutes: 10, Preferences: &prefs, CreatedAt: t0, UpdatedAt: t0,
		})
		check.NoError(t, err)
		check.Equal(t, &prefs, p.Preferences)
		check.Equal(t, 0, p.RoutingStep)

		widen := t0.Add(20 * time.Second)
		res, err := c.Store.Transition(ctx, pairing.PairingTransition{
			ID: p.ID, From: []pairing.Status{pairing.StatusAwaitingPayment}, To: pairing.StatusSearching,
			ExpiresAt: ptr(t0.Add(time.Minute)), Routing: &pairing.RoutingState{Steps: steps, Step: 0, NextStepAt: &widen}, Now: t0,
		})
		check.NoError(t, err)
		got, err := c.Store.GetPairing(ctx, p.ID)
		check.NoError(t, err)
		check.Equal(t, res.Pairing, got)
		check.Equal(t, steps, got.RoutingSteps)
		check.Equal(t, &widen, got.NextStepAt)
		check.Equal(t, &prefs, got.Preferences)

		due, err := c.Store.ListPairings(ctx, pairing.PairingQuery{Statuses: []pairing.Status{pairing.StatusSearching}, StepDueBy: &widen})
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{p.ID}, idsOf(due, func(p pairing.Pairing) uuid.UUID { return p.ID }))
		early, err := c.Store.ListPairings(ctx, pairing.PairingQuery{StepDueBy: ptr(widen.Add(-time.Millisecond))})
		check.NoError(t, err)
		check.Len(t, early, 0, "not due before its widening")

		res, err = c.Store.Transition(ctx, pairing.PairingTransition{
			ID: p.ID, From: []pairing.Status{pairing.StatusSearching}, To: pairing.StatusCancelled,
			FailureReason: pairing.ReasonClientCancelled, Now: t0.Add(time.Second),
		})
		check.NoError(t, err)
		check.Nil(t, res.Pairing.NextStepAt, "a pairing that stops searching widens no more")
		check.Equal(t, steps, res.Pairing.RoutingSteps, "what it routed by stays readable")
	})

	t.Run("AdvanceStepIsClaimedOnceOnTheStepItLeaves", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		p := c.searching(t)
		at := t0.Add(40 * time.Second)

		advanced := make([]pairing.Pairing, 8)
		errs := check.Concurrently(8, func(i int) error {
			var err error
			advanced[i], err = c.Store.AdvanceStep(ctx, pairing.StepParams{ID: p.ID, From: 0, To: 1, NextStepAt: &at, Now: t0.Add(20 * time.Second)})
			return err
		})
		adv := advanced[check.OneSucceeds(t, errs, pairing.ErrInvalidState, "one of eight concurrent widenings")]
		check.Equal(t, 1, adv.RoutingStep)
		check.Equal(t, &at, adv.NextStepAt)

		_, err := c.Store.AdvanceStep(ctx, pairing.StepParams{ID: p.ID, From: 1, To: 2, Now: t0.Add(40 * time.Second)})
		check.NoError(t, err, "a skip of several steps, to the last")
		cur, err := c.Store.GetPairing(ctx, p.ID)
		check.NoError(t, err)
		check.Equal(t, 2, cur.RoutingStep)
		check.Nil(t, cur.NextStepAt)

		_, err = c.Store.AdvanceStep(ctx, pairing.StepParams{ID: uuid.New(), From: 0, To: 1, Now: t0})
		check.ErrorIs(t, err, pairing.ErrNotFound)
		_, err = c.Store.Transition(ctx, pairing.PairingTransition{
			ID: p.ID, From: []pairing.Status{pairing.StatusSearching}, To: pairing.StatusCancelled, Now: t0.Add(time.Minute),
		})
		check.NoError(t, err)
		_, err = c.Store.AdvanceStep(ctx, pairing.StepParams{ID: p.ID, From: 2, To: 3, Now: t0.Add(time.Minute)})
		check.ErrorIs(t, err, pairing.ErrInvalidState, "not searching")
	})

	t.Run("OfferAnswersCountWhatEachMitraDecided", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		acc, dec, lap, dis := c.Mitra(t, 0), c.Mitra(t, 0), c.Mitra(t, 0), c.Mitra(t, 0)

		declined := c.searching(t)
		c.offer(t, declined, dec)
		_, err := c.Store.DeclineOffer(ctx, dec, declined.ID, t0)
		check.NoError(t, err)

		won := c.searching(t)
		c.offer(t, won, acc, dis)
		_, err = c.accept(t, acc, won, t0.Add(time.Second)) // dis: dismissed, nobody's decision
		check.NoError(t, err)

		lapsed := c.searching(t)
		c.offer(t, lapsed, lap)
		_, err = c.Store.Transition(ctx, pairing.PairingTransition{
			ID: lapsed.ID, From: []pairing.Status{pairing.StatusSearching}, To: pairing.StatusFailed,
			FailureReason: pairing.ReasonTimeout, OfferStatus: pairing.OfferExpired, Now: t0.Add(time.Minute),
		})
		check.NoError(t, err)

		got, err := c.Store.OfferAnswers(ctx, []uuid.UUID{acc, dec, lap, dis, uuid.New()})
		check.NoError(t, err)
		check.Equal(t, map[uuid.UUID]pairing.OfferAnswers{acc: {Accepted: 1}, dec: {Declined: 1}, lap: {Lapsed: 1}}, got)
		none, err := c.Store.OfferAnswers(ctx, nil)
		check.NoError(t, err)
		check.Len(t, none, 0)
	})
}

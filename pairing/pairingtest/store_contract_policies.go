package pairingtest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/pairing"
)

// queued inserts a blast of a new client paid at paidAt and moves it into the queue, with
// its queue deadline five minutes after t0.
func (c contract) queued(t *testing.T, paidAt time.Time) pairing.Pairing {
	t.Helper()
	p := c.searching(t)
	res, err := c.Store.Transition(check.Context(t), pairing.PairingTransition{
		ID: p.ID, From: []pairing.Status{pairing.StatusSearching}, To: pairing.StatusQueued,
		ExpiresAt: ptr(t0.Add(5 * time.Minute)), PaidAt: &paidAt, OfferStatus: pairing.OfferExpired, Now: t0,
	})
	check.NoError(t, err)
	return res.Pairing
}

func (c contract) offerQueued(t *testing.T, m uuid.UUID, maxSessions int, at time.Time) pairing.OfferQueuedResult {
	t.Helper()
	res, err := c.Store.OfferQueued(check.Context(t), pairing.OfferQueuedParams{
		MitraID: m, DefaultMaxSessions: maxSessions, OfferTTL: 20 * time.Second, Now: at,
	})
	check.NoError(t, err)
	return res
}

func offeredIDs(res pairing.OfferQueuedResult) []uuid.UUID {
	return idsOf(res.Offered, func(o pairing.QueuedOffer) uuid.UUID { return o.Pairing.ID })
}

// runPolicyContract is the part of RunStoreContract that pins pairing.PolicyStore.
func runPolicyContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("QueueIsOrderedByPaymentThenIDWithExactPositions", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		late := c.queued(t, t0.Add(2*time.Second))
		a, b := c.queued(t, t0.Add(time.Second)), c.queued(t, t0.Add(time.Second))
		if slices.Compare(a.ID[:], b.ID[:]) > 0 {
			a, b = b, a // same payment time: the smaller id first
		}
		c.searching(t) // not queued

		n, err := c.Store.QueueLength(ctx)
		check.NoError(t, err)
		check.Equal(t, 3, n)
		for i, p := range []pairing.Pairing{a, b, late} {
			pos, err := c.Store.QueuePosition(ctx, p.ID)
			check.NoError(t, err)
			check.Equal(t, i+1, pos, "position of pairing %d", i)
		}
		list, err := c.Store.ListQueue(ctx, 0)
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{a.ID, b.ID, late.ID}, idsOf(list, pairingID))
		list, err = c.Store.ListQueue(ctx, 2)
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{a.ID, b.ID}, idsOf(list, pairingID))

		_, err = c.Store.Transition(ctx, pairing.PairingTransition{
			ID: a.ID, From: []pairing.Status{pairing.StatusQueued}, To: pairing.StatusCancelled, Now: t0,
		})
		check.NoError(t, err)
		pos, err := c.Store.QueuePosition(ctx, late.ID)
		check.NoError(t, err)
		check.Equal(t, 2, pos, "the pairings behind move up")
		_, err = c.Store.QueuePosition(ctx, a.ID)
		check.ErrorIs(t, err, pairing.ErrInvalidState, "no longer queued")
		_, err = c.Store.QueuePosition(ctx, uuid.New())
		check.ErrorIs(t, err, pairing.ErrNotFound)
	})

	t.Run("EnteringTheQueueStampsQueuedAtOnceAndClearsTheNextRing", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		p := c.searching(t)
		_, err := c.Store.AdvanceRing(ctx, pairing.RingParams{ID: p.ID, NextRingAt: ptr(t0.Add(10 * time.Second)), Now: t0})
		check.NoError(t, err)
		res, err := c.Store.Transition(ctx, pairing.PairingTransition{
			ID: p.ID, From: []pairing.Status{pairing.StatusSearching}, To: pairing.StatusQueued,
			ExpiresAt: ptr(t0.Add(5 * time.Minute)), Now: t0.Add(time.Second),
		})
		check.NoError(t, err)
		q := res.Pairing
		check.Equal(t, pairing.StatusQueued, q.Status)
		check.Equal(t, ptr(t0.Add(time.Second)), q.QueuedAt)
		check.Equal(t, ptr(t0.Add(time.Second)), q.PaidAt, "a pairing without a payment time is queued as paid now")
		check.Nil(t, q.NextRingAt)
		check.Equal(t, 1, q.Rings)
		read, err := c.Store.GetPairing(ctx, p.ID)
		check.NoError(t, err)
		check.Equal(t, q, read)

		paid := c.searching(t)
		res, err = c.Store.Transition(ctx, pairing.PairingTransition{
			ID: paid.ID, From: []pairing.Status{pairing.StatusSearching}, To: pairing.StatusQueued,
			ExpiresAt: ptr(t0.Add(5 * time.Minute)), PaidAt: ptr(t0.Add(-time.Minute)), Now: t0,
		})
		check.NoError(t, err)
		check.Equal(t, ptr(t0.Add(-time.Minute)), res.Pairing.PaidAt)
		check.Equal(t, ptr(t0), res.Pairing.QueuedAt)
	})

	t.Run("OfferQueuedFillsFreeSlotsWithTheHeadOneOfferPerPairing", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		q1, q2, q3 := c.queued(t, t0), c.queued(t, t0.Add(time.Second)), c.queued(t, t0.Add(2*time.Second))
		two, one, busy := c.Mitra(t, 2), c.Mitra(t, 0), c.Mitra(t, 0)
		blast := c.searching(t)
		c.offer(t, blast, busy)
		_, err := c.accept(t, busy, blast, t0)
		check.NoError(t, err)

		at := t0.Add(10 * time.Second)
		res := c.offerQueued(t, busy, 1, at)
		check.Len(t, res.Offered, 0, "a mitra at capacity has no free slot")
		check.Equal(t, 0, res.FreeSlots)
		check.True(t, res.Waiting)

		res = c.offerQueued(t, two, 1, at)
		check.Equal(t, []uuid.UUID{q1.ID, q2.ID}, offeredIDs(res), "two free slots: the two at the head")
		check.Equal(t, at.Add(20*time.Second), res.Offered[0].ExpiresAt)
		check.Equal(t, 0, res.FreeSlots)
		check.True(t, res.Waiting, "the third is held by nobody")
		again := c.offerQueued(t, two, 1, at)
		check.Len(t, again.Offered, 0, "both slots hold an offer")

		res = c.offerQueued(t, one, 1, at)
		check.Equal(t, []uuid.UUID{q3.ID}, offeredIDs(res), "the head is held: the next one")
		check.Equal(t, 0, res.FreeSlots)
		check.False(t, res.Waiting, "every queued pairing is held")

		offers, err := c.Store.ListOffers(ctx, two, at)
		check.NoError(t, err)
		check.ElementsMatch(t, []uuid.UUID{q1.ID, q2.ID}, idsOf(offers, func(o pairing.Offer) uuid.UUID { return o.PairingID }))
		check.True(t, offers[0].Queued)
		check.Equal(t, at.Add(20*time.Second), offers[0].ExpiresAt, "the offer's own deadline")
		offers, err = c.Store.ListOffers(ctx, two, at.Add(20*time.Second))
		check.NoError(t, err)
		check.Len(t, offers, 0, "lapsed at its own deadline")

		// The pairing's deadline bounds the offer's.
		late := c.Mitra(t, 0)
		_, err = c.Store.Transition(ctx, pairing.PairingTransition{
			ID: q1.ID, From: []pairing.Status{pairing.StatusQueued}, To: pairing.StatusCancelled, OfferStatus: pairing.OfferDismissed, Now: at,
		})
		check.NoError(t, err)
		res = c.offerQueued(t, late, 1, t0.Add(5*time.Minute-5*time.Second))
		check.Len(t, res.Offered, 1)
		check.Equal(t, q2.ID, res.Offered[0].Pairing.ID, "the head's offer lapsed: it holds nothing")
		check.Equal(t, t0.Add(5*time.Minute), res.Offered[0].ExpiresAt)

		_, err = c.Store.OfferQueued(ctx, pairing.OfferQueuedParams{MitraID: uuid.New(), DefaultMaxSessions: 1, OfferTTL: time.Second, Now: at})
		check.ErrorIs(t, err, pairing.ErrNotFound)
		off := c.Mitra(t, 0)
		c.SetActive(t, off, false)
		res = c.offerQueued(t, off, 1, at)
		check.Len(t, res.Offered, 0, "a deactivated mitra is offered nothing")
	})

	t.Run("OfferQueuedNeverRepeatsADeclineButOffersAgainAfterALapse", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		q1, q2 := c.queued(t, t0), c.queued(t, t0.Add(time.Second))
		m := c.Mitra(t, 0)
		res := c.offerQueued(t, m, 1, t0)
		check.Equal(t, []uuid.UUID{q1.ID}, offeredIDs(res))
		_, err := c.Store.DeclineOffer(ctx, m, q1.ID, t0.Add(time.Second))
		check.NoError(t, err)
		res = c.offerQueued(t, m, 1, t0.Add(time.Second))
		check.Equal(t, []uuid.UUID{q2.ID}, offeredIDs(res), "declined: never again")

		lapsed, err := c.Store.ExpireLapsedOffers(ctx, pairing.LapsedOffersParams{Now: t0.Add(21 * time.Second)})
		check.NoError(t, err)
		check.Equal(t, []pairing.OfferRef{{PairingID: q2.ID, MitraID: m}}, lapsed)
		res = c.offerQueued(t, m, 1, t0.Add(22*time.Second))
		check.Equal(t, []uuid.UUID{q2.ID}, offeredIDs(res), "a lapsed offer may be made again")
		check.Equal(t, t0.Add(42*time.Second), res.Offered[0].ExpiresAt)
	})

	t.Run("OfferQueuedWaitsForALapseToBeProcessed", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		q := c.queued(t, t0)
		m1, m2 := c.Mitra(t, 0), c.Mitra(t, 0)
		c.offerQueued(t, m1, 1, t0)
		res := c.offerQueued(t, m2, 1, t0.Add(20*time.Second))
		check.Equal(t, []uuid.UUID{q.ID}, offeredIDs(res), "an offer past its own deadline holds nothing")
		res = c.offerQueued(t, m1, 1, t0.Add(40*time.Second))
		check.Len(t, res.Offered, 0, "its own lapse, not yet expired, is not made again")
	})

	t.Run("ExpireLapsedOffersExpiresEachOnce", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		q1, q2 := c.queued(t, t0), c.queued(t, t0.Add(time.Second))
		m1, m2 := c.Mitra(t, 0), c.Mitra(t, 0)
		c.offerQueued(t, m1, 1, t0)
		c.offerQueued(t, m2, 1, t0.Add(time.Second))
		blast := c.searching(t)
		c.offer(t, blast, m1) // an offer without a deadline of its own never lapses here

		got, err := c.Store.ExpireLapsedOffers(ctx, pairing.LapsedOffersParams{Now: t0.Add(19 * time.Second)})
		check.NoError(t, err)
		check.Len(t, got, 0)
		got, err = c.Store.ExpireLapsedOffers(ctx, pairing.LapsedOffersParams{PairingID: &q2.ID, Now: t0.Add(time.Hour)})
		check.NoError(t, err)
		check.Equal(t, []pairing.OfferRef{{PairingID: q2.ID, MitraID: m2}}, got, "one pairing's")
		got, err = c.Store.ExpireLapsedOffers(ctx, pairing.LapsedOffersParams{Now: t0.Add(time.Hour), Limit: 5})
		check.NoError(t, err)
		check.Equal(t, []pairing.OfferRef{{PairingID: q1.ID, MitraID: m1}}, got)
		got, err = c.Store.ExpireLapsedOffers(ctx, pairing.LapsedOffersParams{Now: t0.Add(time.Hour)})
		check.NoError(t, err)
		check.Len(t, got, 0, "each lapse once")
		_, err = c.Store.DeclineOffer(ctx, m1, q1.ID, t0)
		check.ErrorIs(t, err, pairing.ErrNotFound, "no longer live")
	})

	t.Run("AcceptOfAQueuedOfferChecksItsOwnDeadline", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		q1, q2 := c.queued(t, t0), c.queued(t, t0.Add(time.Second))
		m1, m2 := c.Mitra(t, 0), c.Mitra(t, 0)
		c.offerQueued(t, m1, 1, t0)
		c.offerQueued(t, m2, 1, t0)

		_, err := c.accept(t, m1, q1, t0.Add(20*time.Second))
		check.ErrorIs(t, err, pairing.ErrExpired, "at the offer's own deadline")
		res, err := c.accept(t, m2, q2, t0.Add(19*time.Second))
		check.NoError(t, err)
		check.Equal(t, pairing.StatusMatched, res.Pairing.Status)
		check.Equal(t, pairing.SessionActive, res.Session.Status)
		check.Len(t, res.Released, 0)
		n, err := c.Store.QueueLength(ctx)
		check.NoError(t, err)
		check.Equal(t, 1, n)
		_, err = c.accept(t, c.Mitra(t, 0), q1, t0)
		check.ErrorIs(t, err, pairing.ErrNotFound, "no offer")
	})

	t.Run("AcceptingAnotherPairingReleasesQueuedOffersBeyondTheFreeSlots", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		q1, q2 := c.queued(t, t0), c.queued(t, t0.Add(time.Second))
		m := c.Mitra(t, 2)
		res := c.offerQueued(t, m, 1, t0)
		check.Equal(t, []uuid.UUID{q1.ID, q2.ID}, offeredIDs(res))
		blast := c.searching(t)
		c.offer(t, blast, m)
		acc, err := c.accept(t, m, blast, t0.Add(time.Second))
		check.NoError(t, err)
		check.Equal(t, []pairing.OfferRef{{PairingID: q2.ID, MitraID: m}}, acc.Released, "one slot left: the later offer goes")
		offers, err := c.Store.ListOffers(ctx, m, t0.Add(time.Second))
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{q1.ID}, idsOf(offers, func(o pairing.Offer) uuid.UUID { return o.PairingID }))
		other := c.Mitra(t, 0)
		res = c.offerQueued(t, other, 1, t0.Add(2*time.Second))
		check.Equal(t, []uuid.UUID{q2.ID}, offeredIDs(res), "the released pairing goes to another slot")
	})

	t.Run("AdvanceRingIsGuardedAndListedWhenDue", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		p := c.searching(t)
		got, err := c.Store.AdvanceRing(ctx, pairing.RingParams{ID: p.ID, From: 0, NextRingAt: ptr(t0.Add(10 * time.Second)), Now: t0})
		check.NoError(t, err)
		check.Equal(t, 1, got.Rings)
		check.Equal(t, ptr(t0.Add(10*time.Second)), got.NextRingAt)
		_, err = c.Store.AdvanceRing(ctx, pairing.RingParams{ID: p.ID, From: 0, Now: t0})
		check.ErrorIs(t, err, pairing.ErrInvalidState, "another caller advanced it")

		due, err := c.Store.ListPairings(ctx, pairing.PairingQuery{Statuses: []pairing.Status{pairing.StatusSearching}, RingDueBy: ptr(t0.Add(9 * time.Second))})
		check.NoError(t, err)
		check.Len(t, due, 0)
		due, err = c.Store.ListPairings(ctx, pairing.PairingQuery{Statuses: []pairing.Status{pairing.StatusSearching}, RingDueBy: ptr(t0.Add(10 * time.Second))})
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{p.ID}, idsOf(due, pairingID))

		got, err = c.Store.AdvanceRing(ctx, pairing.RingParams{ID: p.ID, From: 1, Now: t0.Add(10 * time.Second)})
		check.NoError(t, err)
		check.Equal(t, 2, got.Rings)
		check.Nil(t, got.NextRingAt, "the last ring")

		late := c.Mitra(t, 0)
		pending, err := c.Store.PairingsToOffer(ctx, late, t0, 10)
		check.NoError(t, err)
		check.Len(t, pending, 0, "a blast offered ring by ring is not offered to late joiners")

		_, err = c.Store.Transition(ctx, pairing.PairingTransition{ID: p.ID, From: []pairing.Status{pairing.StatusSearching}, To: pairing.StatusCancelled, Now: t0})
		check.NoError(t, err)
		_, err = c.Store.AdvanceRing(ctx, pairing.RingParams{ID: p.ID, From: 2, Now: t0})
		check.ErrorIs(t, err, pairing.ErrInvalidState, "no longer searching")
	})

	t.Run("MissedOffersCountInARowUntilReset", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		a, b := c.Mitra(t, 0), c.Mitra(t, 0)
		got, err := c.Store.RecordMissedOffers(ctx, []uuid.UUID{a, b, a}, t0)
		check.NoError(t, err)
		check.ElementsMatch(t, []pairing.MissedOffers{{MitraID: a, Missed: 2}, {MitraID: b, Missed: 1}}, got)
		check.NoError(t, c.Store.ResetMissedOffers(ctx, a, t0))
		check.NoError(t, c.Store.ResetMissedOffers(ctx, c.Mitra(t, 0), t0), "a mitra that never missed")
		got, err = c.Store.RecordMissedOffers(ctx, []uuid.UUID{a, b}, t0)
		check.NoError(t, err)
		check.ElementsMatch(t, []pairing.MissedOffers{{MitraID: a, Missed: 1}, {MitraID: b, Missed: 2}}, got)
		got, err = c.Store.RecordMissedOffers(ctx, nil, t0)
		check.NoError(t, err)
		check.Len(t, got, 0)
	})

	t.Run("IdleOrderPutsTheLongestIdleFirst", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		never, early, late := c.Mitra(t, 0), c.Mitra(t, 0), c.Mitra(t, 0)
		check.NoError(t, c.Store.MarkIdle(ctx, late, t0.Add(2*time.Second)))
		check.NoError(t, c.Store.MarkIdle(ctx, early, t0.Add(time.Second)))
		check.NoError(t, c.Store.MarkIdle(ctx, late, t0), "an earlier time never replaces a later one")
		got, err := c.Store.IdleOrder(ctx, []uuid.UUID{late, early, never}, 0)
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{never, early, late}, got)
		got, err = c.Store.IdleOrder(ctx, []uuid.UUID{late, early, never}, 2)
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{never, early}, got)
		check.NoError(t, c.Store.MarkIdle(ctx, early, t0.Add(3*time.Second)))
		got, err = c.Store.IdleOrder(ctx, []uuid.UUID{late, early}, 0)
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{late, early}, got)

		x, y := c.Mitra(t, 0), c.Mitra(t, 0)
		check.NoError(t, c.Store.MarkIdle(ctx, x, t0))
		check.NoError(t, c.Store.MarkIdle(ctx, y, t0))
		got, err = c.Store.IdleOrder(ctx, []uuid.UUID{y, x}, 0)
		check.NoError(t, err)
		want := []uuid.UUID{x, y}
		if slices.Compare(x[:], y[:]) > 0 {
			want = []uuid.UUID{y, x}
		}
		check.Equal(t, want, got, "ties by id")
	})

	t.Run("QueueWaitEstimateIsAnExponentiallyWeightedAverage", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		_, ok, err := c.Store.QueueWaitEstimate(ctx)
		check.NoError(t, err)
		check.False(t, ok, "unknown until a wait is recorded")
		e, err := c.Store.RecordQueueWait(ctx, 100*time.Second, t0)
		check.NoError(t, err)
		check.Equal(t, 100*time.Second, e, "the first wait is the estimate")
		e, err = c.Store.RecordQueueWait(ctx, 200*time.Second, t0)
		check.NoError(t, err)
		check.Equal(t, 110*time.Second, e, "0.9·100 + 0.1·200")
		got, ok, err := c.Store.QueueWaitEstimate(ctx)
		check.NoError(t, err)
		check.True(t, ok)
		check.Equal(t, 110*time.Second, got)
	})

	t.Run("LockQueueEntriesAndSnapshotQueueReadTheQueue", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		q1, q2 := c.queued(t, t0.Add(time.Second)), c.queued(t, t0)
		s := c.searching(t)
		var entries []pairing.QueueEntry
		check.NoError(t, c.Store.LockQueueEntries(ctx, []uuid.UUID{q1.ID, s.ID, uuid.New()}, func(es []pairing.QueueEntry) error {
			entries = es
			return nil
		}))
		check.ElementsMatch(t, []pairing.QueueEntry{{ID: q1.ID, Queued: true, PaidAt: t0.Add(time.Second)}, {ID: s.ID, PaidAt: t0}}, entries,
			"unknown ids left out; a pairing never paid is placed at its creation")
		check.NoError(t, c.Store.SnapshotQueue(ctx, func(es []pairing.QueueEntry) error {
			entries = es
			return nil
		}))
		check.Equal(t, []pairing.QueueEntry{{ID: q2.ID, Queued: true, PaidAt: t0}, {ID: q1.ID, Queued: true, PaidAt: t0.Add(time.Second)}}, entries)
	})
}

package pairingtest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/pairing"
)

// runPairingPathContract is the part of RunStoreContract that pins what the writes of a
// pairing's path (start, offers, accept) guarantee however few statements they take: one
// open pairing per client under concurrent starts, offers in the order given and refused
// for what does not exist, one winner among concurrent accepts with the capacity kept, and
// what an accept and a decline count.
func runPairingPathContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("ConcurrentCreatePairingsOfOneClientOpenOne", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		client := c.Client(t)
		const n = 8
		errs := check.Concurrently(n, func(int) error {
			_, err := c.Store.CreatePairing(check.Context(t), pairing.Pairing{
				ID: uuid.New(), ClientID: client, Type: pairing.TypeBlast, Status: pairing.StatusAwaitingPayment,
				Minutes: 10, CreatedAt: t0, UpdatedAt: t0,
			})
			return err
		})
		check.OneSucceeds(t, errs, pairing.ErrInvalidState, "%d concurrent starts of one client", n)
		open, err := c.Store.ListPairings(check.Context(t), pairing.PairingQuery{Statuses: pairing.OpenStatuses})
		check.NoError(t, err)
		check.Len(t, open, 1, "one open pairing")
	})

	t.Run("AnOpenPrepaidBlastRefusesANewPairingOfItsClient", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		p := c.searching(t)
		m := c.Mitra(t, 0)
		c.offer(t, p, m)
		res, err := c.accept(t, m, p, t0)
		check.NoError(t, err)
		at := t0.Add(time.Minute)
		_, _, err = c.Store.Reroute(check.Context(t), pairing.RerouteParams{
			SessionID: res.Session.ID, Reason: pairing.EndRerouted, Now: at, EndsAt: *res.Session.EndsAt,
			Minutes: res.Session.Minutes, Pairing: pairing.Pairing{
				ID: uuid.New(), ClientID: p.ClientID, Type: pairing.TypeBlast, Status: pairing.StatusSearching, Minutes: 9,
				Prepaid: true, ExpiresAt: ptr(at.Add(time.Minute)), CreatedAt: at, UpdatedAt: at,
			},
		})
		check.NoError(t, err)
		_, err = c.Store.CreatePairing(check.Context(t), pairing.Pairing{
			ID: uuid.New(), ClientID: p.ClientID, Type: pairing.TypeBlast, Status: pairing.StatusAwaitingPayment,
			Minutes: 10, CreatedAt: at, UpdatedAt: at,
		})
		check.ErrorIs(t, err, pairing.ErrInvalidState, "the continuation of its session is open")
	})

	t.Run("InsertOffersKeepsTheOrderGivenAndRefusesAnUnknownPairing", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		p := c.searching(t)
		mitras := make([]uuid.UUID, 6)
		for i := range mitras {
			mitras[i] = c.Mitra(t, 0)
		}
		got, err := c.Store.InsertOffers(check.Context(t), p.ID, append(mitras, mitras[2]), t0)
		check.NoError(t, err)
		check.Equal(t, mitras, got, "in the order given, a mitra given twice offered once")
		_, err = c.Store.InsertOffers(check.Context(t), uuid.New(), mitras, t0)
		check.ErrorIs(t, err, pairing.ErrNotFound)
	})

	t.Run("ConcurrentOffersOfOnePairingOfferEachMitraOnce", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		p := c.searching(t)
		mitras := make([]uuid.UUID, 5)
		for i := range mitras {
			mitras[i] = c.Mitra(t, 0)
		}
		const n = 6
		offered := make([][]uuid.UUID, n)
		errs := check.Concurrently(n, func(i int) error {
			var err error
			// Overlapping lists: each call offers all but one of the mitras.
			some := append(append([]uuid.UUID{}, mitras[:i%len(mitras)]...), mitras[i%len(mitras)+1:]...)
			offered[i], err = c.Store.InsertOffers(check.Context(t), p.ID, some, t0)
			return err
		})
		var all []uuid.UUID
		for i, err := range errs {
			check.NoError(t, err)
			all = append(all, offered[i]...)
		}
		check.ElementsMatch(t, mitras, all, "each mitra offered by one call only")
		ids, err := c.Store.OfferedMitras(check.Context(t), p.ID)
		check.NoError(t, err)
		check.ElementsMatch(t, mitras, ids)
	})

	t.Run("ConcurrentAcceptsOfOnePairingMatchOne", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		p := c.searching(t)
		const n = 8
		mitras := make([]uuid.UUID, n)
		for i := range mitras {
			mitras[i] = c.Mitra(t, 0)
		}
		c.offer(t, p, mitras...)
		results := make([]pairing.AcceptResult, n)
		errs := check.Concurrently(n, func(i int) error {
			var err error
			results[i], err = c.accept(t, mitras[i], p, t0)
			return err
		})
		won := check.OneSucceeds(t, errs, pairing.ErrAlreadyMatched, "%d concurrent accepts of one pairing", n)
		check.Len(t, results[won].Dismissed, n-1, "the others' offers dismissed")
		client, err := c.Store.GetClient(check.Context(t), p.ClientID)
		check.NoError(t, err)
		check.Equal(t, client.DisplayName, results[won].ClientDisplayName, "the client's name comes back with the accept")
		again, err := c.accept(t, mitras[won], p, t0)
		check.NoError(t, err)
		check.True(t, again.Replayed)
		check.Equal(t, results[won].Session, again.Session)
		check.Equal(t, client.DisplayName, again.ClientDisplayName, "and with a replay")
		read, err := c.Store.GetPairing(check.Context(t), p.ID)
		check.NoError(t, err)
		check.Equal(t, results[won].Pairing, read, "the pairing as the accept returned it")
	})

	t.Run("ConcurrentAcceptsOfOneMitraKeepItsCapacity", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		m := c.Mitra(t, 2)
		const n = 6
		pairings := make([]pairing.Pairing, n)
		for i := range pairings {
			pairings[i] = c.searching(t)
			c.offer(t, pairings[i], m)
		}
		errs := check.Concurrently(n, func(i int) error {
			_, err := c.accept(t, m, pairings[i], t0)
			return err
		})
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
				continue
			}
			check.ErrorIs(t, err, pairing.ErrAtCapacity)
		}
		check.Equal(t, 2, won, "as many as its sessions")
		info, err := c.Store.MitraInfo(check.Context(t), m)
		check.NoError(t, err)
		check.Equal(t, 2, info.OpenSessions)
	})

	t.Run("AnAcceptOrADeclineStartsTheMissedOffersAgain", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		accepting, declining := c.Mitra(t, 0), c.Mitra(t, 0)
		_, err := c.Store.RecordMissedOffers(ctx, []uuid.UUID{accepting, accepting, declining, declining}, t0)
		check.NoError(t, err)
		p, q := c.searching(t), c.searching(t)
		c.offer(t, p, accepting)
		c.offer(t, q, declining)
		_, err = c.accept(t, accepting, p, t0)
		check.NoError(t, err)
		_, err = c.Store.DeclineOffer(ctx, declining, q.ID, t0)
		check.NoError(t, err)
		got, err := c.Store.RecordMissedOffers(ctx, []uuid.UUID{accepting, declining}, t0)
		check.NoError(t, err)
		check.ElementsMatch(t, []pairing.MissedOffers{{MitraID: accepting, Missed: 1}, {MitraID: declining, Missed: 1}}, got,
			"counted from 0 again")
	})
}

package pairingtest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/pairing"
)

func (c contract) block(t *testing.T, by pairing.Party, client, mitra uuid.UUID, at time.Time) pairing.BlockResult {
	t.Helper()
	res, err := c.Store.PutBlock(check.Context(t), pairing.Block{ClientID: client, MitraID: mitra, BlockedBy: by, CreatedAt: at})
	check.NoError(t, err)
	return res
}

func (c contract) liveOffers(t *testing.T, m uuid.UUID, at time.Time) []uuid.UUID {
	t.Helper()
	offers, err := c.Store.ListOffers(check.Context(t), m, at)
	check.NoError(t, err)
	return idsOf(offers, func(o pairing.Offer) uuid.UUID { return o.PairingID })
}

// runBlockContract is the part of RunStoreContract that pins pairing.BlockStore and the
// blocks every offer and accept honours.
func runBlockContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("BlocksArePerSideIdempotentAndListedNewestFirstToTheirOwnSideOnly", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		client, m1, m2 := c.Client(t), c.Mitra(t, 0), c.Mitra(t, 0)

		first := c.block(t, pairing.PartyClient, client, m1, t0)
		check.True(t, first.Created)
		check.Equal(t, pairing.Block{ClientID: client, MitraID: m1, BlockedBy: pairing.PartyClient, CreatedAt: t0}, first.Block)
		again := c.block(t, pairing.PartyClient, client, m1, t0.Add(time.Minute))
		check.False(t, again.Created, "blocking again changes nothing")
		check.Equal(t, first.Block, again.Block, "and answers the first block")
		c.block(t, pairing.PartyClient, client, m2, t0.Add(time.Second))
		byMitra := c.block(t, pairing.PartyMitra, client, m1, t0.Add(2*time.Second))
		check.True(t, byMitra.Created, "both sides may block one pair")

		mine, err := c.Store.ListBlocks(ctx, pairing.PartyClient, client, 0)
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{m2, m1}, idsOf(mine, func(b pairing.Block) uuid.UUID { return b.MitraID }), "newest first")
		one, err := c.Store.ListBlocks(ctx, pairing.PartyClient, client, 1)
		check.NoError(t, err)
		check.Len(t, one, 1)
		theirs, err := c.Store.ListBlocks(ctx, pairing.PartyMitra, m1, 0)
		check.NoError(t, err)
		check.Equal(t, []pairing.Block{byMitra.Block}, theirs, "a mitra lists its own blocks only")
		none, err := c.Store.ListBlocks(ctx, pairing.PartyMitra, m2, 0)
		check.NoError(t, err)
		check.Len(t, none, 0, "a mitra a client blocked does not see it")

		removed, err := c.Store.DeleteBlock(ctx, pairing.PartyClient, client, m1)
		check.NoError(t, err)
		check.True(t, removed)
		blocked, err := c.Store.Blocked(ctx, client, m1)
		check.NoError(t, err)
		check.True(t, blocked, "the mitra's block stays")
		removed, err = c.Store.DeleteBlock(ctx, pairing.PartyClient, client, m1)
		check.NoError(t, err)
		check.False(t, removed, "nothing left to remove")
		removed, err = c.Store.DeleteBlock(ctx, pairing.PartyMitra, client, m1)
		check.NoError(t, err)
		check.True(t, removed)
		blocked, err = c.Store.Blocked(ctx, client, m1)
		check.NoError(t, err)
		check.False(t, blocked)

		_, err = c.Store.PutBlock(ctx, pairing.Block{ClientID: client, MitraID: uuid.New(), BlockedBy: pairing.PartyClient, CreatedAt: t0})
		check.ErrorIs(t, err, pairing.ErrNotFound, "an unknown mitra")
		_, err = c.Store.PutBlock(ctx, pairing.Block{ClientID: uuid.New(), MitraID: m1, BlockedBy: pairing.PartyMitra, CreatedAt: t0})
		check.ErrorIs(t, err, pairing.ErrNotFound, "an unknown client")
		_, err = c.Store.PutBlock(ctx, pairing.Block{ClientID: client, MitraID: m1, BlockedBy: "operator", CreatedAt: t0})
		check.Invalid(t, err, "blocked_by", "a side that is neither")
	})

	t.Run("ABlockDismissesThePairsLiveOffersAndTheAcceptIsRefused", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		p, other := c.searching(t), c.searching(t)
		m1, m2 := c.Mitra(t, 0), c.Mitra(t, 0)
		c.offer(t, p, m1, m2)
		c.offer(t, other, m1)

		res := c.block(t, pairing.PartyMitra, p.ClientID, m1, t0.Add(time.Second))
		check.Equal(t, []uuid.UUID{p.ID}, idsOf(res.Dismissed, pairingID), "the pair's offer, not another client's")
		check.Equal(t, pairing.StatusSearching, res.Dismissed[0].Status)
		check.Equal(t, []uuid.UUID{other.ID}, c.liveOffers(t, m1, t0.Add(2*time.Second)))
		check.Equal(t, []uuid.UUID{p.ID}, c.liveOffers(t, m2, t0.Add(2*time.Second)), "the blast goes on with its others")
		_, err := c.accept(t, m1, p, t0.Add(2*time.Second))
		check.ErrorIs(t, err, pairing.ErrBlocked)

		_, err = c.Store.DeleteBlock(ctx, pairing.PartyMitra, p.ClientID, m1)
		check.NoError(t, err)
		_, err = c.accept(t, m1, p, t0.Add(2*time.Second))
		check.ErrorIs(t, err, pairing.ErrExpired, "unblocked: its offer stays dismissed")
		_, err = c.accept(t, m2, p, t0.Add(2*time.Second))
		check.NoError(t, err)
	})

	t.Run("NoOfferIsMadeToABlockedPair", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		p := c.searching(t)
		byClient, byMitra, free := c.Mitra(t, 0), c.Mitra(t, 0), c.Mitra(t, 0)
		c.block(t, pairing.PartyClient, p.ClientID, byClient, t0)
		c.block(t, pairing.PartyMitra, p.ClientID, byMitra, t0)

		excluded, err := c.Store.ExcludedMitras(ctx, p.ID, p.ClientID)
		check.NoError(t, err)
		check.ElementsMatch(t, []uuid.UUID{byClient, byMitra}, excluded, "the blocked mitras, before any offer")

		got, err := c.Store.InsertOffers(ctx, p.ID, []uuid.UUID{byClient, free, byMitra}, t0)
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{free}, got, "an offer to a blocked pair is left out")
		excluded, err = c.Store.ExcludedMitras(ctx, p.ID, p.ClientID)
		check.NoError(t, err)
		check.ElementsMatch(t, []uuid.UUID{byClient, byMitra, free}, excluded, "the offered and the blocked, once each")

		later := c.searching(t)
		for _, m := range []uuid.UUID{byClient, byMitra} {
			pending, err := c.Store.PairingsToOffer(ctx, m, t0, 10)
			check.NoError(t, err)
			check.Equal(t, []uuid.UUID{later.ID}, idsOf(pending, pairingID), "a late joiner is not offered a blocked client's blast")
		}
	})

	t.Run("OfferQueuedPassesOverABlockedClientAndKeepsTheOrderForOthers", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		q1, q2, q3 := c.queued(t, t0), c.queued(t, t0.Add(time.Second)), c.queued(t, t0.Add(2*time.Second))
		m, other := c.Mitra(t, 0), c.Mitra(t, 2)
		c.block(t, pairing.PartyClient, q1.ClientID, m, t0)

		res := c.offerQueued(t, m, 1, t0.Add(3*time.Second))
		check.Equal(t, []uuid.UUID{q2.ID}, offeredIDs(res), "the head is blocked with this mitra: the next one")
		check.True(t, res.Waiting, "the head waits for another slot")
		res = c.offerQueued(t, other, 1, t0.Add(3*time.Second))
		check.Equal(t, []uuid.UUID{q1.ID, q3.ID}, offeredIDs(res), "another mitra takes the head first")
		pos, err := c.Store.QueuePosition(check.Context(t), q1.ID)
		check.NoError(t, err)
		check.Equal(t, 1, pos, "passed over, not moved")

		// A block dismisses the queued offer the mitra holds.
		blocked := c.block(t, pairing.PartyMitra, q2.ClientID, m, t0.Add(4*time.Second))
		check.Equal(t, []uuid.UUID{q2.ID}, idsOf(blocked.Dismissed, pairingID))
		check.Equal(t, pairing.StatusQueued, blocked.Dismissed[0].Status)
		check.Len(t, c.liveOffers(t, m, t0.Add(4*time.Second)), 0)
	})

	t.Run("ABlockRacingAnOfferLeavesNoLiveOffer", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		for i := range 10 {
			p, m := c.searching(t), c.Mitra(t, 0)
			errs := check.Concurrently(2, func(j int) error {
				if j == 0 {
					_, err := c.Store.PutBlock(check.Context(t), pairing.Block{ClientID: p.ClientID, MitraID: m, BlockedBy: pairing.PartyClient, CreatedAt: t0})
					return err
				}
				_, err := c.Store.InsertOffers(check.Context(t), p.ID, []uuid.UUID{m}, t0)
				return err
			})
			for _, err := range errs {
				check.NoError(t, err)
			}
			check.Len(t, c.liveOffers(t, m, t0), 0, "round %d: the offer was refused or dismissed", i)
			_, err := c.accept(t, m, p, t0)
			check.Error(t, err, "round %d", i)
		}
	})

	t.Run("HadSessionIsAnySessionOfThePair", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		p := c.searching(t)
		m, stranger := c.Mitra(t, 0), c.Mitra(t, 0)
		had, err := c.Store.HadSession(ctx, p.ClientID, m)
		check.NoError(t, err)
		check.False(t, had)
		c.offer(t, p, m)
		_, err = c.accept(t, m, p, t0)
		check.NoError(t, err)
		had, err = c.Store.HadSession(ctx, p.ClientID, m)
		check.NoError(t, err)
		check.True(t, had, "an active session counts")
		had, err = c.Store.HadSession(ctx, p.ClientID, stranger)
		check.NoError(t, err)
		check.False(t, had)
	})
}

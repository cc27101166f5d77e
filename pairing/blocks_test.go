package pairing_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pairing/pairingtest"
)

// paidBlastOf starts a blast of client and pays it.
func (e *env) paidBlastOf(t *testing.T, client uuid.UUID, minutes int) pairing.Pairing {
	t.Helper()
	ctx := context.Background()
	pr, pay, err := e.p.StartBlast(ctx, pairing.StartParams{ClientID: client, Minutes: minutes})
	require.NoError(t, err)
	require.NoError(t, e.payments.Pay(ctx, pay.ID))
	return e.pairing(t, pr.ID)
}

// block makes by block the pair (a mitra's block needs a session of the pair first).
func (e *env) block(t *testing.T, by pairing.Party, client, mitra uuid.UUID) {
	t.Helper()
	_, created, err := e.p.Block(context.Background(), by, client, mitra)
	require.NoError(t, err)
	require.True(t, created)
}

// blockedByMitra makes mitra block client, after an ended session of theirs.
func (e *env) blockedByMitra(t *testing.T, client, mitra uuid.UUID) {
	t.Helper()
	e.fx.endedSession(t, client, mitra)
	e.block(t, pairing.PartyMitra, client, mitra)
}

func TestBlock_ABlastIsOfferedToEveryoneButTheBlockedMitrasOfEitherSide(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client := e.fx.client(t)
		byClient, byMitra, free := e.onlineMitra(t), e.onlineMitra(t), e.onlineMitra(t)
		e.block(t, pairing.PartyClient, client, byClient)
		e.blockedByMitra(t, client, byMitra)

		pr := e.paidBlastOf(t, client, 10)
		all := []uuid.UUID{byClient, byMitra, free}
		require.Equal(t, []uuid.UUID{free}, e.offeredTo(t, pr.ID, all))
		require.Empty(t, e.notifier.Find(pairing.EventPairingOffer, byClient))
		require.Empty(t, e.notifier.Find(pairing.EventPairingOffer, byMitra))

		// A block after the offer dismisses it, and the accept is refused.
		e.block(t, pairing.PartyClient, client, free)
		require.Empty(t, e.offers(t, free))
		d := pairingtest.Payloads[pairing.OfferDismissedEvent](e.notifier, free)
		require.Len(t, d, 1)
		require.Equal(t, pairing.DismissCancelled, d[0].Reason, "the mitra does not learn that it was blocked")
		_, err := e.p.Accept(ctx, free, pr.ID)
		require.ErrorIs(t, err, pairing.ErrBlocked)
		require.Equal(t, pairing.StatusSearching, e.pairing(t, pr.ID).Status, "the blast goes on: its deadline decides")
	})
}

func TestBlock_AMitraComingOnlineIsNotOfferedABlockedClientsBlast(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		client := e.fx.client(t)
		first := e.onlineMitra(t)
		blocked, late := e.newMitra(t), e.newMitra(t)
		e.blockedByMitra(t, client, blocked)
		pr := e.paidBlastOf(t, client, 10)
		require.Equal(t, []uuid.UUID{first}, e.offeredTo(t, pr.ID, []uuid.UUID{first, blocked, late}))

		e.comeOnline(t, blocked)
		e.comeOnline(t, late)
		require.Equal(t, []uuid.UUID{first, late}, e.offeredTo(t, pr.ID, []uuid.UUID{first, blocked, late}))
	})
}

func TestBlock_CurhatLagiWithABlockedMitraIsRefusedWhicheverSideBlocked(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, mitra := e.returning(t)
		for _, by := range []pairing.Party{pairing.PartyClient, pairing.PartyMitra} {
			e.block(t, by, client, mitra)
			_, err := e.p.StartTargeted(ctx, client, mitra, 10)
			require.ErrorIs(t, err, pairing.ErrBlocked, "blocked by the %s", by)
			require.Empty(t, e.offers(t, mitra))
			require.NoError(t, e.p.Unblock(ctx, by, client, mitra))
		}
		pr, err := e.p.StartTargeted(ctx, client, mitra, 10)
		require.NoError(t, err, "unblocked")
		require.Equal(t, pairing.StatusTargetedWaiting, pr.Status)
		require.Len(t, e.offers(t, mitra), 1)
	})
}

func TestBlock_AnOvertakenCurhatLagiIsCancelledByTheClientOrDeclinedByTheMitra(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()

		client, mitra := e.returning(t)
		pr, err := e.p.StartTargeted(ctx, client, mitra, 10)
		require.NoError(t, err)
		e.block(t, pairing.PartyClient, client, mitra)
		got := e.pairing(t, pr.ID)
		require.Equal(t, pairing.StatusCancelled, got.Status, "the client gave up on that mitra")
		require.Equal(t, pairing.ReasonClientCancelled, got.FailureReason)
		require.Empty(t, e.offers(t, mitra))

		client, mitra = e.returning(t)
		pr, err = e.p.StartTargeted(ctx, client, mitra, 10)
		require.NoError(t, err)
		e.block(t, pairing.PartyMitra, client, mitra)
		got = e.pairing(t, pr.ID)
		require.Equal(t, pairing.StatusTargetedUnavailable, got.Status, "to the client, as if the mitra declined")
		require.Equal(t, pairing.ReasonTargetedDeclined, got.FailureReason)
		require.Len(t, e.notifier.Find(pairing.EventTargetedUnavailable, client), 1)

		// The fallback blast is not offered to that mitra either.
		other := e.onlineMitra(t)
		_, pay, err := e.p.FallbackToBlast(ctx, client, pr.ID)
		require.NoError(t, err)
		require.NoError(t, e.payments.Pay(ctx, pay.ID))
		require.Equal(t, []uuid.UUID{other}, e.offeredTo(t, pr.ID, []uuid.UUID{mitra, other}))
	})
}

func TestBlock_WhoMayBlockWhom(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, mitra := e.fx.client(t), e.newMitra(t)

		_, _, err := e.p.Block(ctx, pairing.PartyMitra, client, mitra)
		require.ErrorIs(t, err, pairing.ErrNotFound, "a mitra blocks only a client it had a session with")
		require.ErrorIs(t, e.p.Unblock(ctx, pairing.PartyMitra, client, mitra), pairing.ErrNotFound)
		_, _, err = e.p.Block(ctx, pairing.PartyClient, client, uuid.New())
		require.ErrorIs(t, err, pairing.ErrNotFound, "an unknown mitra")
		require.ErrorIs(t, e.p.Unblock(ctx, pairing.PartyClient, client, uuid.New()), pairing.ErrNotFound)
		_, _, err = e.p.Block(ctx, "operator", client, mitra)
		check.Invalid(t, err, "by")
		_, _, err = e.p.Block(ctx, pairing.PartyClient, client, uuid.Nil)
		check.Invalid(t, err, "mitra_id")

		require.NoError(t, e.p.Unblock(ctx, pairing.PartyClient, client, mitra), "nothing to unblock: done")
		blk, created, err := e.p.Block(ctx, pairing.PartyClient, client, mitra)
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, pairing.Block{ClientID: client, MitraID: mitra, BlockedBy: pairing.PartyClient, CreatedAt: t0}, blk)
		e.clock.Advance(time.Minute)
		again, created, err := e.p.Block(ctx, pairing.PartyClient, client, mitra)
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, blk, again, "blocking again answers the first block")

		e.fx.endedSession(t, client, mitra)
		_, created, err = e.p.Block(ctx, pairing.PartyMitra, client, mitra)
		require.NoError(t, err)
		require.True(t, created, "both sides may block")
		require.NoError(t, e.p.Unblock(ctx, pairing.PartyClient, client, mitra))
		blocked, err := e.p.Blocked(ctx, client, mitra)
		require.NoError(t, err)
		require.True(t, blocked, "the client's unblock leaves the mitra's block")
		mine, err := e.p.ListBlocks(ctx, pairing.PartyClient, client)
		require.NoError(t, err)
		require.Empty(t, mine)
		theirs, err := e.p.ListBlocks(ctx, pairing.PartyMitra, mitra)
		require.NoError(t, err)
		require.Len(t, theirs, 1)
	})
}

func TestBlock_TheQueuePassesOverABlockedPairAndKeepsItsOrder(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{Queue: true}))
		c1, c2 := e.fx.client(t), e.fx.client(t)
		p1 := e.paidBlastOf(t, c1, 10)
		e.clock.Advance(time.Second)
		p2 := e.paidBlastOf(t, c2, 10)
		require.Equal(t, pairing.StatusQueued, p1.Status)
		require.Equal(t, pairing.StatusQueued, p2.Status)

		m := e.newMitra(t)
		e.block(t, pairing.PartyClient, c1, m)
		e.comeOnline(t, m)
		require.Equal(t, []uuid.UUID{p2.ID}, offerIDs(e.offers(t, m)), "the head is blocked with it: the next one")
		require.Equal(t, 1, e.queueStatus(t, p1.ID).Position, "the head keeps its place")

		n := e.newMitra(t)
		e.comeOnline(t, n)
		require.Equal(t, []uuid.UUID{p1.ID}, offerIDs(e.offers(t, n)), "another mitra takes the head")

		// A block dismisses the queued offer a mitra holds: its pairing goes to another slot.
		e.block(t, pairing.PartyClient, c2, m)
		require.Empty(t, e.offers(t, m))
		o := e.newMitra(t)
		e.comeOnline(t, o)
		require.Equal(t, []uuid.UUID{p2.ID}, offerIDs(e.offers(t, o)))
		_, err := e.p.Accept(context.Background(), o, p2.ID)
		require.NoError(t, err)
	})
}

func TestBlock_RingsPassOverABlockedMitra(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{Ring: true, Size: 2, Interval: 10 * time.Second}))
		client := e.fx.client(t)
		mitras := e.onlineOneSecondApart(t, 4)
		e.block(t, pairing.PartyClient, client, mitras[0]) // idle longest
		pr := e.paidBlastOf(t, client, 10)
		require.Equal(t, mitras[1:3], e.offeredTo(t, pr.ID, mitras), "the two idle longest that are not blocked")
		e.clock.Advance(10 * time.Second)
		require.Equal(t, mitras[1:], e.offeredTo(t, pr.ID, mitras), "the next ring, still without the blocked one")
		e.clock.Advance(10 * time.Second)
		require.Empty(t, e.notifier.Find(pairing.EventPairingOffer, mitras[0]))
	})
}

func TestBlock_TheRerouteOfASessionSkipsTheBlockedMitras(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		s := e.matched(t, 10)
		blocked, free := e.onlineMitra(t), e.onlineMitra(t)
		e.blockedByMitra(t, s.ClientID, blocked)
		e.avail.SetOnline(s.MitraID, false)
		e.clock.Advance(time.Minute)

		pr, err := e.p.Reroute(context.Background(), s.ClientID, s.ID)
		require.NoError(t, err)
		require.True(t, pr.Prepaid)
		require.Equal(t, []uuid.UUID{free}, e.offeredTo(t, pr.ID, []uuid.UUID{blocked, free}))
	})
}

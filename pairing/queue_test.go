package pairing_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pairing/pairingtest"
	"github.com/curhat/curhat/payment"
)

// policies returns the env's default settings with the pairing policies of p.
func policies(p pairingtest.Settings) envOption {
	p.Blast, p.Targeted, p.MaxSessions = cmpOr(p.Blast, 60*time.Second), cmpOr(p.Targeted, 20*time.Second), cmpOr(p.MaxSessions, 1)
	return withSettings(p)
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// comeOnline puts a mitra online as the client's SetMitraOnline does: the mirror, then
// the Pairer (idle from now, misses forgiven, offered what waits).
func (e *env) comeOnline(t *testing.T, id uuid.UUID) {
	t.Helper()
	e.avail.SetOnline(id, true)
	require.NoError(t, e.p.MitraOnline(context.Background(), id, true))
}

// newMitra creates an active mitra that is not online yet.
func (e *env) newMitra(t *testing.T) uuid.UUID { return e.fx.mitra(t, 0) }

func (e *env) queueStatus(t *testing.T, id uuid.UUID) pairing.QueueStatus {
	t.Helper()
	st, err := e.p.QueueStatus(context.Background(), id)
	require.NoError(t, err)
	return st
}

// lastPosition returns the latest queue_position event of a client.
func (e *env) lastPosition(t *testing.T, client uuid.UUID) pairing.QueuePositionEvent {
	t.Helper()
	evs := pairingtest.Payloads[pairing.QueuePositionEvent](e.notifier, client)
	require.NotEmpty(t, evs, "a queue_position event")
	return evs[len(evs)-1]
}

func offerIDs(offers []pairing.Offer) []uuid.UUID {
	out := make([]uuid.UUID, len(offers))
	for i, o := range offers {
		out[i] = o.PairingID
	}
	return out
}

func TestQueue_TwoPaidClientsWithNobodyOnlineGetPositionsOneAndTwo(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{Queue: true}))
		first, pay1 := e.paidBlast(t, 10)
		e.clock.Advance(time.Second)
		second, _ := e.paidBlast(t, 10)

		require.Equal(t, pairing.StatusQueued, first.Status, "nobody available: queued, not failed")
		require.Equal(t, payment.StatusPaid, e.payment(t, pay1.ID).Status, "nothing refunded")
		require.Equal(t, t0.Add(5*time.Minute), *first.ExpiresAt, "max wait from the payment")
		require.Equal(t, pairing.QueueStatus{Position: 1}, e.queueStatus(t, first.ID), "no estimate before a queued match")
		require.Equal(t, pairing.QueueStatus{Position: 2}, e.queueStatus(t, second.ID))
		require.Equal(t, pairing.QueuePositionEvent{PairingID: first.ID, QueuePosition: 1, EstimatedWaitSeconds: nil},
			e.lastPosition(t, first.ClientID))
		require.Equal(t, 2, e.lastPosition(t, second.ClientID).QueuePosition)
		require.Empty(t, e.failures(t, pairing.FailureFilter{}))
		n, err := e.p.QueueLength(context.Background())
		require.NoError(t, err)
		require.Equal(t, 2, n)
	})
}

func TestQueue_AMitraComingOnlineIsOfferedTheHeadOnlyAndTheNextMovesUp(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{Queue: true}))
		first, _ := e.paidBlast(t, 10)
		e.clock.Advance(time.Second)
		second, _ := e.paidBlast(t, 10)
		e.clock.Advance(29 * time.Second)

		m := e.newMitra(t)
		e.comeOnline(t, m)
		offers := e.offers(t, m)
		require.Equal(t, []pairing.Offer{{PairingID: first.ID, Type: pairing.TypeBlast, Minutes: 10,
			ExpiresAt: t0.Add(50 * time.Second), OfferedAt: t0.Add(30 * time.Second), Queued: true,
			ClientID: first.ClientID, ClientDisplayName: "client"}}, offers,
			"client 1 only, for the one-to-one countdown")
		offerEvents := e.notifier.Find(pairing.EventPairingOffer, m)
		require.Len(t, offerEvents, 1)
		require.Equal(t, t0.Add(50*time.Second), *offerEvents[0].Payload.(pairing.PairingOfferEvent).ExpiresAt)
		require.Equal(t, 1, e.queueStatus(t, first.ID).Position, "offered, it keeps its place")

		s, err := e.p.Accept(context.Background(), m, first.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.SessionActive, s.Status)
		require.Equal(t, pairing.StatusMatched, e.pairing(t, first.ID).Status)
		st := e.queueStatus(t, second.ID)
		require.Equal(t, 1, st.Position, "after the match client 2 is first")
		require.NotNil(t, st.EstimatedWait)
		require.Equal(t, 30*time.Second, *st.EstimatedWait, "the first queued wait, from payment to match")
		wait := int64(30)
		require.Equal(t, pairing.QueuePositionEvent{PairingID: second.ID, QueuePosition: 1, EstimatedWaitSeconds: &wait},
			e.lastPosition(t, second.ClientID))
		require.Empty(t, e.offers(t, m), "a mitra at capacity holds no queued offer")
	})
}

func TestQueue_StartBeyondTheMaxLengthIsRefusedBeforeAnyPayment(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{Queue: true, MaxLength: 1}))
		e.paidBlast(t, 10)
		client := e.fx.client(t)
		_, _, err := e.p.StartBlast(context.Background(), pairing.StartParams{ClientID: client, Minutes: 10})
		require.ErrorIs(t, err, pairing.ErrQueueFull)
		require.Equal(t, 1, e.payments.Created(), "no payment session for the refused start")
		_, _, err = e.p.StartBlast(context.Background(), pairing.StartParams{ClientID: client, Minutes: 10, IdempotencyKey: "k"})
		require.ErrorIs(t, err, pairing.ErrQueueFull, "and no pairing held the client's slot")
	})
}

func TestQueue_MaxWaitFailsWithQueueTimeoutAndRefundsExactlyOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{Queue: true, MaxWait: 30 * time.Second}))
		pr, pay := e.paidBlast(t, 10)
		other, _ := e.paidBlast(t, 10)
		e.clock.Advance(30 * time.Second) // the deadline timers fire

		got := e.pairing(t, pr.ID)
		require.Equal(t, pairing.StatusFailed, got.Status)
		require.Equal(t, pairing.ReasonQueueTimeout, got.FailureReason)
		require.Equal(t, payment.StatusRefunded, e.payment(t, pay.ID).Status)
		require.Equal(t, 1, e.payments.Refunds(pay.ID))
		fails := e.failures(t, pairing.FailureFilter{PairingID: &pr.ID})
		require.Len(t, fails, 1)
		require.Equal(t, pairing.ReasonQueueTimeout, fails[0].Reason)
		require.Equal(t, pairing.RefundRefunded, fails[0].RefundStatus)
		require.Equal(t, int64(10000), fails[0].Amount)
		failed := e.notifier.Find(pairing.EventPairingFailed, pr.ClientID)
		require.Len(t, failed, 1)
		require.Equal(t, pairing.ReasonQueueTimeout, failed[0].Payload.(pairing.PairingFailedEvent).Reason)
		require.Equal(t, pairing.StatusFailed, e.pairing(t, other.ID).Status)

		// Other instances' sweeps and a restarted instance find nothing left to do.
		for range 3 {
			_, err := e.newPairer(t).SweepTimeouts(context.Background())
			require.NoError(t, err)
		}
		require.Equal(t, 1, e.payments.Refunds(pay.ID), "refunded exactly once")
		require.Len(t, e.failures(t, pairing.FailureFilter{PairingID: &pr.ID}), 1)
	})
}

func TestQueue_MaxWaitIsCountedByTheSweepWithoutTimers(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{Queue: true, MaxWait: 30 * time.Second}))
		pr, pay := e.paidBlast(t, 10)
		require.NoError(t, e.p.Stop(context.Background())) // its timers are gone
		e.clock.Advance(30 * time.Second)
		others := []*pairing.Pairer{e.newPairer(t), e.newPairer(t), e.newPairer(t)}
		var wg sync.WaitGroup
		for _, p := range others {
			wg.Go(func() {
				_, err := p.SweepTimeouts(context.Background())
				require.NoError(t, err)
			})
		}
		wg.Wait()
		require.Equal(t, pairing.ReasonQueueTimeout, e.pairing(t, pr.ID).FailureReason)
		require.Equal(t, 1, e.payments.Refunds(pay.ID), "racing sweeps refund exactly once")
		require.Len(t, e.failures(t, pairing.FailureFilter{PairingID: &pr.ID}), 1)
	})
}

func TestQueue_CancelWhileQueuedRefunds(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{Queue: true}))
		first, pay1 := e.paidBlast(t, 10)
		e.clock.Advance(time.Second)
		second, _ := e.paidBlast(t, 10)
		m := e.newMitra(t)
		e.comeOnline(t, m)
		require.Equal(t, []uuid.UUID{first.ID}, offerIDs(e.offers(t, m)))

		got, err := e.p.Cancel(context.Background(), first.ClientID, first.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.StatusCancelled, got.Status)
		require.Equal(t, payment.StatusRefunded, e.payment(t, pay1.ID).Status)
		require.Equal(t, 1, e.payments.Refunds(pay1.ID))
		require.Empty(t, e.failures(t, pairing.FailureFilter{PairingID: &first.ID}), "a cancellation is not a failure")
		dismissed := e.notifier.Find(pairing.EventOfferDismissed, m)
		require.Len(t, dismissed, 1)
		require.Equal(t, pairing.DismissCancelled, dismissed[0].Payload.(pairing.OfferDismissedEvent).Reason)
		require.Equal(t, []uuid.UUID{second.ID}, offerIDs(e.offers(t, m)), "the freed slot takes the next")
		require.Equal(t, 1, e.queueStatus(t, second.ID).Position)
		_, err = e.p.QueueStatus(context.Background(), first.ID)
		require.ErrorIs(t, err, pairing.ErrInvalidState)
	})
}

func TestQueue_ADeclinedOfferKeepsThePlaceAndTheSlotTakesTheNext(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{Queue: true}))
		first, _ := e.paidBlast(t, 10)
		e.clock.Advance(time.Second)
		second, _ := e.paidBlast(t, 10)
		m1 := e.newMitra(t)
		e.comeOnline(t, m1)
		require.NoError(t, e.p.Decline(context.Background(), m1, first.ID))

		require.Equal(t, pairing.StatusQueued, e.pairing(t, first.ID).Status)
		require.Equal(t, 1, e.queueStatus(t, first.ID).Position, "it keeps its place")
		require.Equal(t, []uuid.UUID{second.ID}, offerIDs(e.offers(t, m1)), "the slot takes the next")

		m2 := e.newMitra(t)
		e.comeOnline(t, m2)
		require.Equal(t, []uuid.UUID{first.ID}, offerIDs(e.offers(t, m2)), "the declined head goes to the next free slot")
	})
}

func TestQueue_ALapsedOfferKeepsThePlaceAndGoesToAnotherSlotFirst(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{Queue: true}))
		first, _ := e.paidBlast(t, 10)
		e.clock.Advance(time.Second)
		second, _ := e.paidBlast(t, 10)
		m1, m2 := e.newMitra(t), e.newMitra(t)
		e.comeOnline(t, m1)
		e.clock.Advance(time.Second)
		e.comeOnline(t, m2)
		require.Equal(t, []uuid.UUID{first.ID}, offerIDs(e.offers(t, m1)))
		require.Equal(t, []uuid.UUID{second.ID}, offerIDs(e.offers(t, m2)))

		e.clock.Advance(19 * time.Second) // m1's countdown runs out; m2's is a second behind
		require.Equal(t, pairing.StatusQueued, e.pairing(t, first.ID).Status)
		require.Equal(t, 1, e.queueStatus(t, first.ID).Position)
		lapsed := e.notifier.Find(pairing.EventOfferDismissed, m1)
		require.Len(t, lapsed, 1)
		require.Equal(t, pairing.DismissExpired, lapsed[0].Payload.(pairing.OfferDismissedEvent).Reason)
		require.Empty(t, e.offers(t, m2)[1:], "m2's slot is taken by its own offer")
		require.Equal(t, []uuid.UUID{first.ID}, offerIDs(e.offers(t, m1)),
			"no other slot is free: the lapsed pairing may come back to the same mitra")

		_, err := e.p.Accept(context.Background(), m2, second.ID)
		require.NoError(t, err)
		require.Equal(t, 1, e.queueStatus(t, first.ID).Position)
	})
}

func TestQueue_ANewBlastWaitsBehindTheQueue(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{Queue: true}))
		first, _ := e.paidBlast(t, 10)
		m1 := e.newMitra(t)
		e.comeOnline(t, m1) // holds the head
		m2 := e.newMitra(t)
		e.comeOnline(t, m2) // nothing left for it: available
		require.Empty(t, e.offers(t, m2))

		e.clock.Advance(time.Second)
		later, _ := e.paidBlast(t, 10)
		require.Equal(t, pairing.StatusQueued, later.Status, "others wait: it is queued, not blasted")
		require.Equal(t, 2, e.queueStatus(t, later.ID).Position)
		require.Equal(t, []uuid.UUID{first.ID}, offerIDs(e.offers(t, m1)), "the mitra holding the head gets nothing newer")
		offers := e.offers(t, m2)
		require.Equal(t, []uuid.UUID{later.ID}, offerIDs(offers), "the free slot takes it as a queued offer")
		require.True(t, offers[0].Queued)
	})
}

func TestQueue_ABlastWhoseOffersAllLapseIsQueuedFromItsPayment(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{Queue: true}))
		m := e.onlineMitra(t)
		pr, pay := e.paidBlast(t, 10)
		require.Equal(t, pairing.StatusSearching, pr.Status)
		e.clock.Advance(60 * time.Second)

		got := e.pairing(t, pr.ID)
		require.Equal(t, pairing.StatusQueued, got.Status, "not failed")
		require.Equal(t, t0.Add(5*time.Minute), *got.ExpiresAt, "the max wait runs from the payment")
		require.Equal(t, t0.Add(60*time.Second), *got.QueuedAt)
		require.Equal(t, payment.StatusPaid, e.payment(t, pay.ID).Status)
		dismissed := e.notifier.Find(pairing.EventOfferDismissed, m)
		require.Len(t, dismissed, 1)
		require.Equal(t, pairing.DismissExpired, dismissed[0].Payload.(pairing.OfferDismissedEvent).Reason)
		offers := e.offers(t, m)
		require.Len(t, offers, 1, "its slot is free: the queued pairing is offered to it again, one to one")
		require.True(t, offers[0].Queued)
	})
}

func TestQueue_APrepaidRerouteQueuesAndRefundsTheUnusedPartAtTheMaxWait(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{Queue: true, MaxWait: 60 * time.Second}))
		m := e.onlineMitra(t)
		pr, pay := e.paidBlast(t, 30)
		s, err := e.p.Accept(context.Background(), m, pr.ID)
		require.NoError(t, err)
		e.clock.Advance(10 * time.Minute)
		e.avail.SetOnline(m, false)

		blast, err := e.p.Reroute(context.Background(), pr.ClientID, s.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.StatusQueued, blast.Status)
		require.True(t, blast.Prepaid)
		require.Equal(t, 1, e.queueStatus(t, blast.ID).Position)

		e.clock.Advance(60 * time.Second)
		got := e.pairing(t, blast.ID)
		require.Equal(t, pairing.StatusFailed, got.Status)
		require.Equal(t, pairing.ReasonQueueTimeout, got.FailureReason)
		// 25000 paid for 30 minutes; 20 were left when it was rerouted.
		require.Equal(t, int64(25000*20/30), e.payments.RefundedAmount(pay.ID))
	})
}

func TestQueue_OneQueuedPairingIsOfferedToOneSlotAtATime(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{Queue: true}))
		pr, _ := e.paidBlast(t, 10)
		const n = 12
		mitras := make([]uuid.UUID, n)
		for i := range mitras {
			mitras[i] = e.newMitra(t)
			e.avail.SetOnline(mitras[i], true)
		}
		pairers := []*pairing.Pairer{e.p, e.newPairer(t), e.newPairer(t)}
		var wg sync.WaitGroup
		for i, m := range mitras {
			wg.Go(func() { require.NoError(t, pairers[i%len(pairers)].MitraAvailable(context.Background(), m)) })
		}
		wg.Wait()
		holders := 0
		for _, m := range mitras {
			for _, o := range e.offers(t, m) {
				require.Equal(t, pr.ID, o.PairingID)
				holders++
			}
		}
		require.Equal(t, 1, holders, "one live offer, whatever the instances")
	})
}

func TestQueue_StaysOffByDefault(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		pr, pay := e.paidBlast(t, 10)
		require.Equal(t, pairing.StatusFailed, pr.Status)
		require.Equal(t, pairing.ReasonNoMitraAvailable, pr.FailureReason)
		require.Equal(t, payment.StatusRefunded, pay.Status)
		require.Nil(t, pr.QueuedAt)
		require.Empty(t, e.notifier.Find(pairing.EventQueuePosition, pr.ClientID))
	})
}

func TestQueue_AFallbackBeyondTheMaxLengthIsRefusedBeforeAnyPayment(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{Queue: true, MaxLength: 1}))
		ctx := context.Background()
		m := e.newMitra(t)
		client := e.fx.client(t)
		e.fx.endedSession(t, client, m)
		targeted, err := e.p.StartTargeted(ctx, client, m, 10) // m is offline
		require.NoError(t, err)
		e.paidBlast(t, 10) // another client waits
		created := e.payments.Created()

		_, _, err = e.p.FallbackToBlast(ctx, client, targeted.ID)
		require.ErrorIs(t, err, pairing.ErrQueueFull)
		require.Equal(t, created, e.payments.Created(), "no payment session")
		require.Equal(t, pairing.StatusTargetedUnavailable, e.pairing(t, targeted.ID).Status, "the client may try again later")
	})
}

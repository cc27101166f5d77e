package pairing_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
)

// returning sets up a client with an ended session with an online mitra.
func (e *env) returning(t *testing.T) (client, mitra uuid.UUID) {
	t.Helper()
	client, mitra = e.fx.client(t), e.onlineMitra(t)
	e.fx.endedSession(t, client, mitra)
	return client, mitra
}

// requireCapacityMirrored checks that the mirrored capacity equals the store's count.
func (e *env) requireCapacityMirrored(t *testing.T, mitra uuid.UUID, want int) {
	t.Helper()
	info, err := e.store.MitraInfo(context.Background(), mitra)
	require.NoError(t, err)
	require.Equal(t, want, info.OpenSessions)
	require.Equal(t, want, e.avail.Capacity(mitra))
}

func TestStartTargeted_NeedsAnEndedSessionWithThatMitra(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, m := e.fx.client(t), e.onlineMitra(t)
		_, err := e.p.StartTargeted(ctx, client, m, 10)
		require.ErrorIs(t, err, pairing.ErrNoPreviousSession)

		// An active session is not "previous".
		s := e.matched(t, 10)
		_, err = e.p.StartTargeted(ctx, s.ClientID, s.MitraID, 10)
		require.ErrorIs(t, err, pairing.ErrNoPreviousSession)
		require.Zero(t, e.payments.Created()-1, "only the blast was charged")
	})
}

func TestStartTargeted_RefusesDeactivatedMitraAndUnpricedMinutes(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, m := e.returning(t)
		_, err := e.p.StartTargeted(ctx, client, m, 7)
		require.ErrorIs(t, err, pairing.ErrNoTier)
		e.fx.setActive(t, m, false)
		_, err = e.p.StartTargeted(ctx, client, m, 10)
		require.ErrorIs(t, err, pairing.ErrMitraUnavailable)
		_, err = e.p.StartTargeted(ctx, client, m, 0)
		var verr *core.ValidationError
		require.ErrorAs(t, err, &verr)
	})
}

func TestStartTargeted_UnreachableOrBusyMitraStartsTargetedUnavailable(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, m := e.returning(t)
		e.avail.SetOnline(m, false)
		pr, err := e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		require.Equal(t, pairing.StatusTargetedUnavailable, pr.Status)
		require.Equal(t, pairing.ReasonMitraUnreachable, pr.FailureReason)
		require.Equal(t, &m, pr.TargetMitraID)
		require.Nil(t, pr.ExpiresAt, "no countdown")
		require.Empty(t, e.offers(t, m))
		require.Empty(t, e.failures(t, pairing.FailureFilter{}), "nobody was offered anything")
		require.Zero(t, e.payments.Created())
		require.Len(t, e.notifier.Find(pairing.EventTargetedUnavailable, client), 1)

		// Busy: reachable but at capacity.
		busy := e.matched(t, 10)
		other := e.fx.client(t)
		e.fx.endedSession(t, other, busy.MitraID)
		pr, err = e.p.StartTargeted(ctx, other, busy.MitraID, 10)
		require.NoError(t, err)
		require.Equal(t, pairing.StatusTargetedUnavailable, pr.Status)
	})
}

func TestTargeted_AcceptHoldsCapacityInPendingPaymentAndPaymentActivates(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, m := e.returning(t)
		pr, err := e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		require.Equal(t, pairing.StatusTargetedWaiting, pr.Status)
		require.Equal(t, t0.Add(20*time.Second), *pr.ExpiresAt)
		offers := e.offers(t, m)
		require.Len(t, offers, 1)
		require.Equal(t, pairing.TypeTargeted, offers[0].Type)
		require.Len(t, e.notifier.Find(pairing.EventPairingOffer, m), 1)
		require.Zero(t, e.payments.Created(), "nothing charged before the mitra accepts")

		e.clock.Advance(5 * time.Second)
		s, err := e.p.Accept(ctx, m, pr.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.SessionPendingPayment, s.Status)
		require.Nil(t, s.EndsAt)
		e.requireCapacityMirrored(t, m, 1)

		got := e.pairing(t, pr.ID)
		require.Equal(t, pairing.StatusMatched, got.Status)
		require.NotNil(t, got.PaymentSessionID)
		pay := e.payment(t, *got.PaymentSessionID)
		require.Equal(t, &pr.ID, pay.PairingID)
		require.Equal(t, &s.ID, pay.ChatSessionID)
		require.Equal(t, int64(10000), pay.Amount)
		require.Equal(t, 1, e.payments.Created())
		matched := e.notifier.Find(pairing.EventPairingMatched, client)
		require.Len(t, matched, 1)
		require.Equal(t, &pairing.PaymentToPay{
			ID: pay.ID, Status: pay.Status, Amount: 10000, Currency: pay.Currency,
			CheckoutURL: pay.CheckoutURL, ExpiresAt: pay.ExpiresAt,
		}, matched[0].Payload.(pairing.PairingMatchedEvent).Payment, "the client pays without polling for the payment")
		mitraMatched := e.notifier.Find(pairing.EventPairingMatched, m)
		require.Len(t, mitraMatched, 1)
		require.Nil(t, mitraMatched[0].Payload.(pairing.PairingMatchedEvent).Payment, "the mitra does not pay")
		require.Empty(t, e.notifier.Find(pairing.EventSessionStarted, client), "not before payment")
		require.Zero(t, e.p.Timers(), "the targeted deadline is off")

		e.clock.Advance(30 * time.Second)
		paidAt := e.clock.Now()
		require.NoError(t, e.payments.Pay(ctx, pay.ID))
		active := e.session(t, s.ID)
		require.Equal(t, pairing.SessionActive, active.Status)
		require.Equal(t, paidAt, *active.StartedAt)
		require.Equal(t, paidAt.Add(10*time.Minute), *active.EndsAt, "ends_at = paid_at + minutes")
		e.requireCapacityMirrored(t, m, 1)
		require.Len(t, e.notifier.Find(pairing.EventSessionStarted, m), 1)
		require.Len(t, e.notifier.Find(pairing.EventPaymentPaid, client), 1)

		require.NoError(t, e.payments.Pay(ctx, pay.ID), "duplicate webhook")
		require.Len(t, e.notifier.Find(pairing.EventSessionStarted, m), 1)

		e.clock.Advance(10 * time.Minute)
		require.Equal(t, pairing.EndExpired, e.session(t, s.ID).EndReason)
		e.requireCapacityMirrored(t, m, 0)
	})
}

func TestTargeted_PaymentExpiryCancelsThePendingSessionAndReleasesCapacity(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, m := e.returning(t)
		pr, err := e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		s, err := e.p.Accept(ctx, m, pr.ID)
		require.NoError(t, err)
		e.requireCapacityMirrored(t, m, 1)
		calls := len(e.avail.Recomputed())

		payID := *e.pairing(t, pr.ID).PaymentSessionID
		require.NoError(t, e.payments.Expire(ctx, payID))
		got := e.session(t, s.ID)
		require.Equal(t, pairing.SessionCancelled, got.Status)
		require.Equal(t, pairing.EndPaymentExpired, got.EndReason)
		e.requireCapacityMirrored(t, m, 0)
		require.Greater(t, len(e.avail.Recomputed()), calls)
		require.Len(t, e.notifier.Find(pairing.EventSessionEnded, m), 1)

		require.NoError(t, e.payments.Pay(ctx, payID), "paid too late")
		require.Equal(t, payment.StatusRefunded, e.payment(t, payID).Status)
		require.Equal(t, pairing.SessionCancelled, e.session(t, s.ID).Status)
	})
}

func TestTargeted_PaymentArrivingForACancelledSessionIsRefunded(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, m := e.returning(t)
		pr, err := e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		s, err := e.p.Accept(ctx, m, pr.ID)
		require.NoError(t, err)
		payID := *e.pairing(t, pr.ID).PaymentSessionID
		// The mitra is deactivated before the client pays; the payment's withdrawal has
		// not reached the provider yet when the paid webhook comes.
		_, err = e.store.EndChatSession(ctx, pairing.SessionTransition{
			ID: s.ID, From: []pairing.SessionStatus{pairing.SessionPendingPayment}, To: pairing.SessionCancelled,
			Reason: pairing.EndMitraDeactivated, Now: e.clock.Now(),
		})
		require.NoError(t, err)
		require.NoError(t, e.payments.Pay(ctx, payID))
		require.Equal(t, payment.StatusRefunded, e.payment(t, payID).Status)
		require.Equal(t, pairing.SessionCancelled, e.session(t, s.ID).Status)
	})
}

func TestTargeted_ClientEndingAPendingSessionCancelsItAndItsPayment(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, m := e.returning(t)
		pr, err := e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		s, err := e.p.Accept(ctx, m, pr.ID)
		require.NoError(t, err)
		got, err := e.p.EndSession(ctx, pairing.EndParams{SessionID: s.ID, By: pairing.PartyClient, CallerID: client})
		require.NoError(t, err)
		require.Equal(t, pairing.SessionCancelled, got.Status)
		require.Equal(t, pairing.EndClientEnded, got.EndReason)
		require.Equal(t, payment.StatusCancelled, e.payment(t, *e.pairing(t, pr.ID).PaymentSessionID).Status)
		e.requireCapacityMirrored(t, m, 0)
	})
}

func TestTargeted_FreeSessionIsActiveAsSoonAsTheMitraAccepts(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		e.quoter.SetDiscount(1_000_000)
		client, m := e.returning(t)
		pr, err := e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		s, err := e.p.Accept(ctx, m, pr.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.SessionActive, s.Status)
		require.Equal(t, t0.Add(10*time.Minute), *s.EndsAt)
	})
}

func TestTargeted_PaymentCreationFailureReleasesTheMitra(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, m := e.returning(t)
		pr, err := e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		e.payments.FailCreate(core.ErrUnavailable)
		_, err = e.p.Accept(ctx, m, pr.ID)
		require.ErrorIs(t, err, core.ErrUnavailable)
		sessions := e.sessionsOf(t, pr.ID)
		require.Len(t, sessions, 1)
		require.Equal(t, pairing.SessionCancelled, sessions[0].Status)
		require.Equal(t, pairing.EndPaymentFailed, sessions[0].EndReason)
		e.requireCapacityMirrored(t, m, 0)
	})
}

func TestTargeted_DeclineMakesItUnavailableWithAFailureRowAndNoCharge(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, m := e.returning(t)
		pr, err := e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		require.NoError(t, e.p.Decline(ctx, m, pr.ID))

		got := e.pairing(t, pr.ID)
		require.Equal(t, pairing.StatusTargetedUnavailable, got.Status)
		require.Equal(t, pairing.ReasonTargetedDeclined, got.FailureReason)
		fs := e.failures(t, pairing.FailureFilter{})
		require.Len(t, fs, 1)
		require.Equal(t, pairing.ReasonTargetedDeclined, fs[0].Reason)
		require.Equal(t, pairing.TypeTargeted, fs[0].Type)
		require.Equal(t, &m, fs[0].TargetMitraID)
		require.Equal(t, pairing.RefundNotCharged, fs[0].RefundStatus)
		require.Zero(t, fs[0].Amount)
		require.Equal(t, 1, fs[0].OfferedCount)
		require.Zero(t, e.payments.Created())
		ev := e.notifier.Find(pairing.EventTargetedUnavailable, client)
		require.Len(t, ev, 1)
		require.Equal(t, pairing.ReasonTargetedDeclined, ev[0].Payload.(pairing.TargetedUnavailableEvent).Reason)
		require.Zero(t, e.p.Timers())

		_, err = e.p.Accept(ctx, m, pr.ID)
		require.ErrorIs(t, err, pairing.ErrNotFound, "declined")
		e.clock.Advance(time.Minute)
		require.Len(t, e.failures(t, pairing.FailureFilter{}), 1, "the deadline does not fail it twice")
	})
}

func TestTargeted_CountdownRunningOutMakesItUnavailable(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, m := e.returning(t)
		pr, err := e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		e.clock.Advance(19 * time.Second)
		require.Equal(t, pairing.StatusTargetedWaiting, e.pairing(t, pr.ID).Status)
		e.clock.Advance(time.Second)

		got := e.pairing(t, pr.ID)
		require.Equal(t, pairing.StatusTargetedUnavailable, got.Status)
		require.Equal(t, pairing.ReasonTargetedTimeout, got.FailureReason)
		fs := e.failures(t, pairing.FailureFilter{Reason: "targeted_timeout"})
		require.Len(t, fs, 1)
		require.Equal(t, pairing.RefundNotCharged, fs[0].RefundStatus)
		require.Empty(t, e.offers(t, m))
		require.Len(t, e.notifier.Find(pairing.EventOfferDismissed, m), 1)
		_, err = e.p.Accept(ctx, m, pr.ID)
		require.ErrorIs(t, err, pairing.ErrExpired)
	})
}

func TestFallbackToBlast_ReusesThePairingWithANewPayment(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, declined := e.returning(t)
		other := e.onlineMitra(t)
		pr, err := e.p.StartTargeted(ctx, client, declined, 10)
		require.NoError(t, err)
		_, _, err = e.p.FallbackToBlast(ctx, client, pr.ID)
		require.ErrorIs(t, err, pairing.ErrInvalidState, "still waiting for the mitra")
		require.NoError(t, e.p.Decline(ctx, declined, pr.ID))

		_, _, err = e.p.FallbackToBlast(ctx, e.fx.client(t), pr.ID)
		require.ErrorIs(t, err, pairing.ErrNotFound)
		blast, pay, err := e.p.FallbackToBlast(ctx, client, pr.ID)
		require.NoError(t, err)
		require.Equal(t, pr.ID, blast.ID, "the same pairing")
		require.Equal(t, pairing.TypeBlast, blast.Type)
		require.Equal(t, pairing.StatusAwaitingPayment, blast.Status)
		require.Equal(t, &pay.ID, blast.PaymentSessionID)
		require.Equal(t, &pr.ID, pay.PairingID)
		require.Equal(t, payment.StatusPending, pay.Status)
		require.Empty(t, blast.FailureReason)
		require.Nil(t, blast.ExpiresAt)

		again, pay2, err := e.p.FallbackToBlast(ctx, client, pr.ID)
		require.NoError(t, err, "a retry")
		require.Equal(t, blast.ID, again.ID)
		require.Equal(t, pay.ID, pay2.ID)
		require.Equal(t, 1, e.payments.Created())

		require.NoError(t, e.payments.Pay(ctx, pay.ID))
		require.Equal(t, pairing.StatusSearching, e.pairing(t, pr.ID).Status)
		require.Len(t, e.offers(t, other), 1)
		require.Empty(t, e.offers(t, declined), "the mitra that declined is not asked again")
		s, err := e.p.Accept(ctx, other, pr.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.SessionActive, s.Status)
	})
}

func TestFallbackToBlast_PaymentCreationFailureCanBeRetried(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, m := e.returning(t)
		e.avail.SetOnline(m, false)
		pr, err := e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		e.payments.FailCreate(core.ErrUnavailable)
		_, _, err = e.p.FallbackToBlast(ctx, client, pr.ID)
		require.ErrorIs(t, err, core.ErrUnavailable)
		e.payments.FailCreate(nil)
		blast, pay, err := e.p.FallbackToBlast(ctx, client, pr.ID)
		require.NoError(t, err)
		require.Equal(t, pr.ID, blast.ID)
		require.Equal(t, &pay.ID, blast.PaymentSessionID)
	})
}

func TestCancel_TargetedPairingsChargeNothing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, m := e.returning(t)
		pr, err := e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		got, err := e.p.Cancel(ctx, client, pr.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.StatusCancelled, got.Status)
		require.Empty(t, e.offers(t, m))
		require.Len(t, e.notifier.Find(pairing.EventOfferDismissed, m), 1)
		require.Zero(t, e.payments.Created())
		require.Zero(t, e.p.Timers())

		pr, err = e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		require.NoError(t, e.p.Decline(ctx, m, pr.ID))
		got, err = e.p.Cancel(ctx, client, pr.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.StatusCancelled, got.Status)
	})
}

func TestCancel_TargetedUnavailableTellsTheClient(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, m := e.returning(t)
		e.avail.SetOnline(m, false)
		pr, err := e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		require.Equal(t, pairing.StatusTargetedUnavailable, pr.Status)

		got, err := e.p.Cancel(ctx, client, pr.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.StatusCancelled, got.Status)
		cancelled := e.notifier.Find(pairing.EventPairingCancelled, client)
		require.Len(t, cancelled, 1)
		require.Equal(t, pairing.PairingCancelledEvent{PairingID: pr.ID, Reason: pairing.ReasonClientCancelled}, cancelled[0].Payload)

		_, err = e.p.Cancel(ctx, client, pr.ID)
		require.NoError(t, err)
		require.Len(t, e.notifier.Find(pairing.EventPairingCancelled, client), 1, "told once")
	})
}

func TestCancel_FallbackBlastRefundsExactlyOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, m := e.returning(t)
		e.onlineMitra(t)
		pr, err := e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		require.NoError(t, e.p.Decline(ctx, m, pr.ID))
		_, pay, err := e.p.FallbackToBlast(ctx, client, pr.ID)
		require.NoError(t, err)
		require.NoError(t, e.payments.Pay(ctx, pay.ID))
		for range 2 {
			_, err = e.p.Cancel(ctx, client, pr.ID)
			require.NoError(t, err)
		}
		e.clock.Advance(time.Hour)
		_, err = e.p.SweepTimeouts(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, e.payments.Refunds(pay.ID))
		require.Equal(t, payment.StatusRefunded, e.payment(t, pay.ID).Status)
	})
}

func TestSweepTimeouts_CancelsTargetedUnavailableLeftAlone(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, m := e.returning(t)
		e.avail.SetOnline(m, false)
		pr, err := e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		e.clock.Advance(pairing.DefaultUnavailableTTL - time.Second)
		rep, err := e.p.SweepTimeouts(ctx)
		require.NoError(t, err)
		require.Zero(t, rep.Abandoned)
		e.clock.Advance(2 * time.Second)
		rep, err = e.p.SweepTimeouts(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Abandoned)
		got := e.pairing(t, pr.ID)
		require.Equal(t, pairing.StatusCancelled, got.Status)
		require.Equal(t, pairing.ReasonAbandoned, got.FailureReason)
		require.Len(t, e.notifier.Find(pairing.EventPairingCancelled, client), 1)
		_, _, err = e.p.FallbackToBlast(ctx, client, pr.ID)
		require.ErrorIs(t, err, pairing.ErrInvalidState)
	})
}

func TestSweepTimeouts_BacksUpTheTargetedCountdown(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, m := e.returning(t)
		pr, err := e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		require.NoError(t, e.p.Stop(ctx))
		e.clock.Advance(20 * time.Second)
		rep, err := e.newPairer(t).SweepTimeouts(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.PairingsTimedOut)
		require.Equal(t, pairing.StatusTargetedUnavailable, e.pairing(t, pr.ID).Status)
	})
}

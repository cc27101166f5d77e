package pairing_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
)

func TestStartBlast_CreatesAwaitingPaymentPairingAndPaymentLinkedBothWays(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		client := e.fx.client(t)
		pr, pay, err := e.p.StartBlast(context.Background(), pairing.StartParams{ClientID: client, Minutes: 10})
		require.NoError(t, err)
		require.Equal(t, pairing.StatusAwaitingPayment, pr.Status)
		require.Equal(t, pairing.TypeBlast, pr.Type)
		require.Equal(t, client, pr.ClientID)
		require.Equal(t, &pay.ID, pr.PaymentSessionID)
		require.Equal(t, &pr.ID, pay.PairingID)
		require.Equal(t, payment.PurposeChatStart, pay.Purpose)
		require.Equal(t, int64(10000), pay.Amount)
		require.Equal(t, payment.StatusPending, pay.Status)
		require.Nil(t, pr.ExpiresAt, "the search deadline starts when paid")
		require.Empty(t, e.notifier.Events())
	})
}

func TestStartBlast_RejectsMinutesOutsideOneToADay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends[0])
	for _, minutes := range []int{-1, 0, 1441} {
		_, _, err := e.p.StartBlast(context.Background(), pairing.StartParams{ClientID: uuid.New(), Minutes: minutes})
		var verr *core.ValidationError
		require.ErrorAs(t, err, &verr, "minutes %d", minutes)
		require.Equal(t, "minutes", verr.Field)
	}
}

func TestStartBlast_FailsWithErrNoTierWithoutCreatingAnything(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		client := e.fx.client(t)
		_, _, err := e.p.StartBlast(context.Background(), pairing.StartParams{ClientID: client, Minutes: 7})
		require.ErrorIs(t, err, pairing.ErrNoTier)
		require.Zero(t, e.payments.Created())
		// Nothing open was left behind: a priced request goes through.
		_, _, err = e.p.StartBlast(context.Background(), pairing.StartParams{ClientID: client, Minutes: 5})
		require.NoError(t, err)
	})
}

func TestStartBlast_RefusesWhileTheClientHasAnOpenPairing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client := e.fx.client(t)
		first, _, err := e.p.StartBlast(ctx, pairing.StartParams{ClientID: client, Minutes: 10})
		require.NoError(t, err)
		_, _, err = e.p.StartBlast(ctx, pairing.StartParams{ClientID: client, Minutes: 10})
		require.ErrorIs(t, err, pairing.ErrInvalidState)
		require.Equal(t, 1, e.payments.Created())

		_, err = e.p.Cancel(ctx, client, first.ID)
		require.NoError(t, err)
		_, _, err = e.p.StartBlast(ctx, pairing.StartParams{ClientID: client, Minutes: 10})
		require.NoError(t, err, "a cancelled pairing no longer blocks")
	})
}

func TestStartBlast_ConcurrentRequestsWithDifferentKeysOpenOnePairing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		client := e.fx.client(t)
		const n = 10
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				_, _, errs[i] = e.p.StartBlast(context.Background(), pairing.StartParams{
					ClientID: client, Minutes: 10, IdempotencyKey: fmt.Sprint("key-", i),
				})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			require.ErrorIs(t, err, pairing.ErrInvalidState)
		}
		require.Equal(t, 1, ok)
		require.Equal(t, 1, e.payments.Created())
	})
}

func TestStartBlast_SameIdempotencyKeyReplaysWithoutSecondCharge(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		e.onlineMitra(t)
		client := e.fx.client(t)
		params := pairing.StartParams{ClientID: client, Minutes: 10, IdempotencyKey: "tap-1"}
		pr1, pay1, err := e.p.StartBlast(ctx, params)
		require.NoError(t, err)
		pr2, pay2, err := e.p.StartBlast(ctx, params)
		require.NoError(t, err)
		require.Equal(t, pr1.ID, pr2.ID)
		require.Equal(t, pay1.ID, pay2.ID)
		require.Equal(t, 1, e.payments.Created())

		// A replay after payment shows the pairing as it is now.
		require.NoError(t, e.payments.Pay(ctx, pay1.ID))
		pr3, pay3, err := e.p.StartBlast(ctx, params)
		require.NoError(t, err)
		require.Equal(t, pr1.ID, pr3.ID)
		require.Equal(t, payment.StatusPaid, pay3.Status)
		require.NotEqual(t, pairing.StatusAwaitingPayment, pr3.Status)
		require.Equal(t, 1, e.payments.Created())
	})
}

func TestStartBlast_ConcurrentIdenticalRequestsGetOnePairingAndOnePayment(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		client := e.fx.client(t)
		const n = 20
		var wg sync.WaitGroup
		pairings := make([]uuid.UUID, n)
		payments := make([]uuid.UUID, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				pr, pay, err := e.p.StartBlast(context.Background(), pairing.StartParams{ClientID: client, Minutes: 10, IdempotencyKey: "double-tap"})
				pairings[i], payments[i], errs[i] = pr.ID, pay.ID, err
			})
		}
		wg.Wait()
		for i := range n {
			require.NoError(t, errs[i])
			require.Equal(t, pairings[0], pairings[i])
			require.Equal(t, payments[0], payments[i])
		}
		require.Equal(t, 1, e.payments.Created())
	})
}

func TestStartBlast_KeyOfAFailedFirstAttemptIsSpent(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client := e.fx.client(t)
		e.payments.FailCreate(fmt.Errorf("gateway down: %w", core.ErrUnavailable))
		_, _, err := e.p.StartBlast(ctx, pairing.StartParams{ClientID: client, Minutes: 10, IdempotencyKey: "k"})
		require.ErrorIs(t, err, core.ErrUnavailable)
		e.payments.FailCreate(nil)

		_, _, err = e.p.StartBlast(ctx, pairing.StartParams{ClientID: client, Minutes: 10, IdempotencyKey: "k"})
		require.ErrorIs(t, err, pairing.ErrInvalidState)
		_, _, err = e.p.StartBlast(ctx, pairing.StartParams{ClientID: client, Minutes: 10, IdempotencyKey: "k2"})
		require.NoError(t, err, "the failed attempt holds no open pairing")
	})
}

func TestStartBlast_DeclinedPaymentCancelsThePairingAndTheSameKeyReplaysTheDecline(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client := e.fx.client(t)
		params := pairing.StartParams{ClientID: client, Minutes: 10, IdempotencyKey: "card-1"}
		e.payments.Gateway().FailCharges(true)
		_, _, err := e.p.StartBlast(ctx, params)
		require.ErrorIs(t, err, pairing.ErrPaymentDeclined)
		require.NotErrorIs(t, err, pairing.ErrUnavailable)

		pay, err := e.payments.FindByIdempotencyKey(ctx, client, "card-1")
		require.NoError(t, err, "the key stays mapped")
		require.Equal(t, payment.StatusFailed, pay.Status)
		pr := e.pairing(t, *pay.PairingID)
		require.Equal(t, pairing.StatusCancelled, pr.Status)
		require.Equal(t, pairing.ReasonPaymentDeclined, pr.FailureReason)
		require.Equal(t, &pay.ID, pr.PaymentSessionID)
		cancelled := e.notifier.Find(pairing.EventPairingCancelled, client)
		require.Len(t, cancelled, 1)
		require.Equal(t, pairing.ReasonPaymentDeclined, cancelled[0].Payload.(pairing.PairingCancelledEvent).Reason)

		e.payments.Gateway().FailCharges(false)
		_, _, err = e.p.StartBlast(ctx, params)
		require.ErrorIs(t, err, pairing.ErrPaymentDeclined, "the same key replays the decline")
		require.Empty(t, e.payments.Gateway().Charges(), "without asking the provider again")

		params.IdempotencyKey = "card-2"
		fresh, freshPay, err := e.p.StartBlast(ctx, params)
		require.NoError(t, err, "a new key is a new attempt; the declined pairing holds no open slot")
		require.NotEqual(t, pr.ID, fresh.ID)
		require.Equal(t, pairing.StatusAwaitingPayment, fresh.Status)
		require.Equal(t, payment.StatusPending, freshPay.Status)
	})
}

func TestFallbackToBlast_DeclinedPaymentCancelsThePairingAndARetryAnswersTheDecline(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, m := e.returning(t)
		e.avail.SetOnline(m, false)
		pr, err := e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		e.payments.Gateway().FailCharges(true)
		_, _, err = e.p.FallbackToBlast(ctx, client, pr.ID)
		require.ErrorIs(t, err, pairing.ErrPaymentDeclined)

		got := e.pairing(t, pr.ID)
		require.Equal(t, pairing.StatusCancelled, got.Status)
		require.Equal(t, pairing.ReasonPaymentDeclined, got.FailureReason)
		require.NotNil(t, got.PaymentSessionID)
		require.Equal(t, payment.StatusFailed, e.payment(t, *got.PaymentSessionID).Status)

		e.payments.Gateway().FailCharges(false)
		_, _, err = e.p.FallbackToBlast(ctx, client, pr.ID)
		require.ErrorIs(t, err, pairing.ErrPaymentDeclined, "a retry answers the same decline")
		require.Empty(t, e.payments.Gateway().Charges())
	})
}

func TestStartBlast_FreeSessionStartsSearchingAtOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		m := e.onlineMitra(t)
		e.quoter.SetDiscount(1_000_000)
		pr, pay, err := e.p.StartBlast(context.Background(), pairing.StartParams{ClientID: e.fx.client(t), Minutes: 10})
		require.NoError(t, err)
		require.Equal(t, payment.StatusPaid, pay.Status)
		require.Zero(t, pay.Amount)
		require.Equal(t, pairing.StatusSearching, pr.Status)
		require.Len(t, e.offers(t, m), 1)
	})
}

func TestPaymentPaid_StartsSearchingAndOffersEveryAvailableMitra(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		m1, m2 := e.onlineMitra(t), e.onlineMitra(t)
		offline := e.fx.mitra(t, 0)
		pr, pay := e.paidBlast(t, 10)

		require.Equal(t, pairing.StatusSearching, pr.Status)
		require.Equal(t, t0.Add(60*time.Second), *pr.ExpiresAt)
		for _, m := range []uuid.UUID{m1, m2} {
			offers := e.offers(t, m)
			require.Len(t, offers, 1)
			require.Equal(t, pairing.Offer{PairingID: pr.ID, Type: pairing.TypeBlast, Minutes: 10, ExpiresAt: t0.Add(time.Minute), OfferedAt: t0,
				ClientID: pr.ClientID, ClientDisplayName: "client"}, offers[0])
			require.Len(t, e.notifier.Find(pairing.EventPairingOffer, m), 1)
		}
		require.Empty(t, e.offers(t, offline))
		paid := e.notifier.Find(pairing.EventPaymentPaid, pr.ClientID)
		require.Len(t, paid, 1)
		require.Equal(t, pay.ID, paid[0].Payload.(pairing.PaymentPaidEvent).PaymentID)
	})
}

func TestPaymentPaid_FanoutCapBoundsTheOffers(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withFanoutCap(2))
		mitras := []uuid.UUID{e.onlineMitra(t), e.onlineMitra(t), e.onlineMitra(t)}
		e.paidBlast(t, 10)
		offered := 0
		for _, m := range mitras {
			offered += len(e.offers(t, m))
		}
		require.Equal(t, 2, offered)
	})
}

func TestPaymentPaid_DuplicateEventChangesNothing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		m := e.onlineMitra(t)
		pr, pay := e.paidBlast(t, 10)
		before := len(e.notifier.Events())
		require.NoError(t, e.payments.Pay(context.Background(), pay.ID))
		require.Equal(t, before, len(e.notifier.Events()))
		require.Equal(t, pr, e.pairing(t, pr.ID))
		require.Len(t, e.offers(t, m), 1)
		require.Equal(t, payment.StatusPaid, e.payment(t, pay.ID).Status)
	})
}

func TestPaymentPaid_WithNoAvailableMitraFailsRefundsAndRecordsTheFailure(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		pr, pay := e.paidBlast(t, 10)

		require.Equal(t, pairing.StatusFailed, pr.Status)
		require.Equal(t, pairing.ReasonNoMitraAvailable, pr.FailureReason)
		require.Equal(t, payment.StatusRefunded, pay.Status)
		require.Equal(t, 1, e.payments.Refunds(pay.ID))

		fs := e.failures(t, pairing.FailureFilter{})
		require.Len(t, fs, 1)
		f := fs[0]
		require.Equal(t, pr.ID, f.PairingID)
		require.Equal(t, pr.ClientID, f.ClientID)
		require.Equal(t, pairing.TypeBlast, f.Type)
		require.Equal(t, pairing.ReasonNoMitraAvailable, f.Reason)
		require.Equal(t, int64(10000), f.Amount)
		require.Equal(t, pairing.RefundRefunded, f.RefundStatus)
		require.Equal(t, pairing.FailureOpen, f.Status)
		require.Zero(t, f.OfferedCount)

		failed := e.notifier.Find(pairing.EventPairingFailed, pr.ClientID)
		require.Len(t, failed, 1)
		require.Equal(t, pairing.ReasonNoMitraAvailable, failed[0].Payload.(pairing.PairingFailedEvent).Reason)
		require.Equal(t, pairing.RefundRefunded, failed[0].Payload.(pairing.PairingFailedEvent).RefundStatus)
	})
}

func TestPaymentPaid_RefundRefusedByProviderLeavesFailureRefundFailed(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		e.payments.FailRefunds(true)
		_, pay := e.paidBlast(t, 10)
		require.Equal(t, payment.StatusRefundFailed, pay.Status)
		fs := e.failures(t, pairing.FailureFilter{})
		require.Len(t, fs, 1)
		require.Equal(t, pairing.RefundFailed, fs[0].RefundStatus)
		require.Equal(t, int64(10000), fs[0].Amount)
	})
}

func TestPaymentPaid_AfterThePairingWasCancelledRefundsAndStartsNothing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		m := e.onlineMitra(t)
		pr, pay, err := e.p.StartBlast(ctx, pairing.StartParams{ClientID: e.fx.client(t), Minutes: 10})
		require.NoError(t, err)
		// The pairing is cancelled while the payment stays payable (its cancellation has
		// not reached the provider): the paid webhook arrives afterwards.
		_, err = e.store.Transition(ctx, pairing.PairingTransition{
			ID: pr.ID, From: []pairing.Status{pairing.StatusAwaitingPayment}, To: pairing.StatusCancelled, Now: t0,
		})
		require.NoError(t, err)
		require.NoError(t, e.payments.Pay(ctx, pay.ID))

		require.Equal(t, pairing.StatusCancelled, e.pairing(t, pr.ID).Status)
		require.Equal(t, payment.StatusRefunded, e.payment(t, pay.ID).Status)
		require.Empty(t, e.offers(t, m))
		require.Empty(t, e.failures(t, pairing.FailureFilter{}), "a cancellation is not a failure")
	})
}

func TestCancel_PaymentPaidAfterClientCancelIsRefunded(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		m := e.onlineMitra(t)
		client := e.fx.client(t)
		pr, pay, err := e.p.StartBlast(ctx, pairing.StartParams{ClientID: client, Minutes: 10})
		require.NoError(t, err)
		cancelled, err := e.p.Cancel(ctx, client, pr.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.StatusCancelled, cancelled.Status)
		require.Equal(t, payment.StatusCancelled, e.payment(t, pay.ID).Status)

		require.NoError(t, e.payments.Pay(ctx, pay.ID)) // the money arrives anyway
		require.Equal(t, payment.StatusRefunded, e.payment(t, pay.ID).Status)
		require.Equal(t, pairing.StatusCancelled, e.pairing(t, pr.ID).Status)
		require.Empty(t, e.offers(t, m))
	})
}

func TestPaymentClosed_CancelsTheAwaitingBlastWithNothingCharged(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client := e.fx.client(t)
		pr, pay, err := e.p.StartBlast(ctx, pairing.StartParams{ClientID: client, Minutes: 10})
		require.NoError(t, err)
		require.NoError(t, e.payments.Expire(ctx, pay.ID))
		got := e.pairing(t, pr.ID)
		require.Equal(t, pairing.StatusCancelled, got.Status)
		require.Equal(t, pairing.ReasonPaymentExpired, got.FailureReason)
		require.Zero(t, e.payments.Refunds(pay.ID))
		require.Empty(t, e.failures(t, pairing.FailureFilter{}))
		require.Len(t, e.notifier.Find(pairing.EventPairingCancelled, client), 1)

		// A failed payment does the same.
		pr, pay, err = e.p.StartBlast(ctx, pairing.StartParams{ClientID: client, Minutes: 10})
		require.NoError(t, err)
		require.NoError(t, e.payments.Fail(ctx, pay.ID))
		require.Equal(t, pairing.ReasonPaymentFailed, e.pairing(t, pr.ID).FailureReason)
	})
}

func TestBlastTimeout_FailsRefundsAndExpiresOffersAtTheDeadline(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		m1, m2 := e.onlineMitra(t), e.onlineMitra(t)
		pr, pay := e.paidBlast(t, 10)

		e.clock.Advance(59 * time.Second)
		require.Equal(t, pairing.StatusSearching, e.pairing(t, pr.ID).Status)
		e.clock.Advance(time.Second)

		got := e.pairing(t, pr.ID)
		require.Equal(t, pairing.StatusFailed, got.Status)
		require.Equal(t, pairing.ReasonTimeout, got.FailureReason)
		require.Equal(t, payment.StatusRefunded, e.payment(t, pay.ID).Status)
		for _, m := range []uuid.UUID{m1, m2} {
			require.Empty(t, e.offers(t, m))
			dismissed := e.notifier.Find(pairing.EventOfferDismissed, m)
			require.Len(t, dismissed, 1)
			require.Equal(t, pairing.DismissExpired, dismissed[0].Payload.(pairing.OfferDismissedEvent).Reason)
		}
		fs := e.failures(t, pairing.FailureFilter{Reason: "timeout"})
		require.Len(t, fs, 1)
		require.Equal(t, 2, fs[0].OfferedCount)
		require.Equal(t, pairing.RefundRefunded, fs[0].RefundStatus)
		require.Len(t, e.notifier.Find(pairing.EventPairingFailed, pr.ClientID), 1)
		require.Zero(t, e.p.Timers())
	})
}

func TestSweepTimeouts_FailsSearchingBlastsPastTheirDeadlineWithoutTimers(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		e.onlineMitra(t)
		pr, pay := e.paidBlast(t, 10)
		require.NoError(t, e.p.Stop(ctx)) // this instance died: its timers are gone
		e.clock.Advance(2 * time.Minute)
		require.Equal(t, pairing.StatusSearching, e.pairing(t, pr.ID).Status)

		other := e.newPairer(t)
		rep, err := other.SweepTimeouts(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.PairingsTimedOut)
		require.Equal(t, pairing.StatusFailed, e.pairing(t, pr.ID).Status)
		require.Equal(t, payment.StatusRefunded, e.payment(t, pay.ID).Status)

		rep, err = other.SweepTimeouts(ctx)
		require.NoError(t, err)
		require.Equal(t, pairing.TimeoutReport{}, rep, "idempotent")
		require.Len(t, e.failures(t, pairing.FailureFilter{}), 1)
		require.Equal(t, 1, e.payments.Refunds(pay.ID))
	})
}

func TestOffers_NeverOutliveThePairingDeadline(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		m := e.onlineMitra(t)
		pr, _ := e.paidBlast(t, 10)
		require.NoError(t, e.p.Stop(ctx)) // no timer: only the deadline itself protects
		e.clock.Advance(60 * time.Second)

		require.Empty(t, e.offers(t, m), "listing hides an offer at its deadline")
		_, err := e.p.Accept(ctx, m, pr.ID)
		require.ErrorIs(t, err, pairing.ErrExpired)
		require.Empty(t, e.sessionsOf(t, pr.ID))

		late := e.onlineMitra(t)
		require.NoError(t, e.p.MitraAvailable(ctx, late))
		require.Empty(t, e.offers(t, late), "no new offers past the deadline")
		require.Empty(t, e.notifier.Find(pairing.EventPairingOffer, late))
	})
}

func TestMitraAvailable_LateJoiningMitraGetsStillSearchingBlasts(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		early := e.onlineMitra(t)
		pr1, _ := e.paidBlast(t, 10)
		e.clock.Advance(time.Second)
		pr2, _ := e.paidBlast(t, 15)
		require.Len(t, e.offers(t, early), 2)

		late := e.fx.mitra(t, 0)
		e.avail.SetOnline(late, true)
		e.clock.Advance(10 * time.Second)
		require.NoError(t, e.p.MitraAvailable(ctx, late))
		offers := e.offers(t, late)
		require.Len(t, offers, 2)
		require.Equal(t, pr1.ID, offers[0].PairingID, "oldest first")
		require.Equal(t, pr2.ID, offers[1].PairingID)
		require.Equal(t, *pr1.ExpiresAt, offers[0].ExpiresAt, "the late offer keeps the pairing's deadline")
		require.Len(t, e.notifier.Find(pairing.EventPairingOffer, late), 2)

		require.NoError(t, e.p.MitraAvailable(ctx, late))
		require.Len(t, e.notifier.Find(pairing.EventPairingOffer, late), 2, "never offered twice")

		// The late mitra can win.
		s, err := e.p.Accept(ctx, late, pr1.ID)
		require.NoError(t, err)
		require.Equal(t, late, s.MitraID)
	})
}

func TestMitraAvailable_OffersNothingToUnreachableOrFullMitras(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		busy := e.onlineMitra(t)
		first, _ := e.paidBlast(t, 10)
		_, err := e.p.Accept(ctx, busy, first.ID)
		require.NoError(t, err)
		e.onlineMitra(t) // keeps the next blast from failing at once
		e.paidBlast(t, 10)

		require.NoError(t, e.p.MitraAvailable(ctx, busy))
		require.Empty(t, e.offers(t, busy), "at capacity")

		offline := e.fx.mitra(t, 0)
		require.NoError(t, e.p.MitraAvailable(ctx, offline))
		require.Empty(t, e.offers(t, offline), "not reachable")

		deactivated := e.onlineMitra(t)
		e.fx.setActive(t, deactivated, false)
		require.NoError(t, e.p.MitraAvailable(ctx, deactivated))
		require.Empty(t, e.offers(t, deactivated), "deactivated")
	})
}

func TestMitraAvailable_LateJoinBatchBoundsTheOffers(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		e.cfg.LateJoinBatch = 2
		p := e.newPairer(t)
		e.onlineMitra(t)
		for range 3 {
			e.paidBlast(t, 10)
		}
		late := e.onlineMitra(t)
		require.NoError(t, p.MitraAvailable(context.Background(), late))
		require.Len(t, e.offers(t, late), 2)
	})
}

func TestAccept_MatchesStartsTheSessionAndDismissesTheOthers(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		winner, other := e.onlineMitra(t), e.onlineMitra(t)
		pr, _ := e.paidBlast(t, 10)
		e.clock.Advance(5 * time.Second)
		now := e.clock.Now()

		s, err := e.p.Accept(ctx, winner, pr.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.SessionActive, s.Status)
		require.Equal(t, winner, s.MitraID)
		require.Equal(t, pr.ClientID, s.ClientID)
		require.Equal(t, pr.ID, s.PairingID)
		require.Equal(t, 10, s.Minutes)
		require.Equal(t, now, *s.StartedAt)
		require.Equal(t, now.Add(10*time.Minute), *s.EndsAt)
		require.Equal(t, s, e.session(t, s.ID))

		got := e.pairing(t, pr.ID)
		require.Equal(t, pairing.StatusMatched, got.Status)
		require.Equal(t, &winner, got.MatchedMitraID)
		require.Equal(t, &s.ID, got.ChatSessionID)

		require.Empty(t, e.offers(t, other))
		dismissed := e.notifier.Find(pairing.EventOfferDismissed, other)
		require.Len(t, dismissed, 1)
		require.Equal(t, pairing.DismissMatched, dismissed[0].Payload.(pairing.OfferDismissedEvent).Reason)
		for _, who := range []uuid.UUID{winner, pr.ClientID} {
			require.Len(t, e.notifier.Find(pairing.EventPairingMatched, who), 1)
			require.Len(t, e.notifier.Find(pairing.EventSessionStarted, who), 1)
		}
		require.Equal(t, []uuid.UUID{winner}, e.avail.Recomputed())
		require.Equal(t, 1, e.avail.Capacity(winner))

		again, err := e.p.Accept(ctx, winner, pr.ID)
		require.NoError(t, err, "a retried accept replays")
		require.Equal(t, s.ID, again.ID)
		_, err = e.p.Accept(ctx, other, pr.ID)
		require.ErrorIs(t, err, pairing.ErrAlreadyMatched)
	})
}

func TestAccept_RefusesWithoutALiveOffer(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		offered := e.onlineMitra(t)
		pr, _ := e.paidBlast(t, 10)
		stranger := e.fx.mitra(t, 0)

		_, err := e.p.Accept(ctx, stranger, pr.ID)
		require.ErrorIs(t, err, pairing.ErrNotFound)
		_, err = e.p.Accept(ctx, offered, uuid.New())
		require.ErrorIs(t, err, pairing.ErrNotFound)

		require.NoError(t, e.p.Decline(ctx, offered, pr.ID))
		_, err = e.p.Accept(ctx, offered, pr.ID)
		require.ErrorIs(t, err, pairing.ErrNotFound, "declined")
		require.ErrorIs(t, e.p.Decline(ctx, offered, pr.ID), pairing.ErrNotFound)
		require.Equal(t, pairing.StatusSearching, e.pairing(t, pr.ID).Status, "a blast decline leaves the blast to others")
	})
}

func TestAccept_RefusesADeactivatedMitra(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		m := e.onlineMitra(t)
		pr, _ := e.paidBlast(t, 10)
		e.fx.setActive(t, m, false)
		_, err := e.p.Accept(context.Background(), m, pr.ID)
		require.ErrorIs(t, err, pairing.ErrDeactivated)
		require.ErrorIs(t, err, core.ErrDeactivated)
		require.Equal(t, pairing.StatusSearching, e.pairing(t, pr.ID).Status)
	})
}

func TestAccept_HundredConcurrentAcceptsMakeExactlyOneSession(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		const n = 100
		mitras := make([]uuid.UUID, n)
		for i := range mitras {
			mitras[i] = e.onlineMitra(t)
		}
		pr, _ := e.paidBlast(t, 10)

		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i, m := range mitras {
			wg.Go(func() {
				<-start
				_, errs[i] = e.p.Accept(context.Background(), m, pr.ID)
			})
		}
		close(start)
		wg.Wait()

		won := 0
		for _, err := range errs {
			if err == nil {
				won++
				continue
			}
			require.ErrorIs(t, err, pairing.ErrAlreadyMatched)
		}
		require.Equal(t, 1, won)
		require.Len(t, e.sessionsOf(t, pr.ID), 1)
		require.Len(t, e.notifier.Find(pairing.EventSessionStarted, pr.ClientID), 1)
		dismissed := 0
		for _, m := range mitras {
			dismissed += len(e.notifier.Find(pairing.EventOfferDismissed, m))
		}
		require.Equal(t, n-1, dismissed)
	})
}

// blockingAccepts is a Store whose AcceptOffer waits until released.
type blockingAccepts struct {
	pairing.Store
	entered, release chan struct{}
}

func (b blockingAccepts) AcceptOffer(ctx context.Context, p pairing.AcceptParams) (pairing.AcceptResult, error) {
	b.entered <- struct{}{}
	<-b.release
	return b.Store.AcceptOffer(ctx, p)
}

// Accepts of one pairing take turns on an instance; one waiting for its turn gives up
// when its context ends, and the accept ahead of it is not disturbed.
func TestAccept_WaitingForTheAcceptAheadRespectsTheContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends[0])
	first, second := e.onlineMitra(t), e.onlineMitra(t)
	pr, _ := e.paidBlast(t, 10)
	slow := blockingAccepts{Store: e.store, entered: make(chan struct{}, 2), release: make(chan struct{})}
	e.store = slow
	p := e.newPairer(t)

	won := make(chan error, 1)
	go func() {
		_, err := p.Accept(context.Background(), first, pr.ID)
		won <- err
	}()
	<-slow.entered // the first accept is at the store, holding the pairing's turn

	ctx, cancel := context.WithCancel(context.Background())
	waited := make(chan error, 1)
	go func() {
		_, err := p.Accept(ctx, second, pr.ID)
		waited <- err
	}()
	cancel()
	select {
	case err := <-waited:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("an accept waiting for its turn ignored its context")
	}
	require.Empty(t, slow.entered, "the cancelled accept never reached the store")

	close(slow.release)
	require.NoError(t, <-won)
	require.Len(t, e.sessionsOf(t, pr.ID), 1)
}

func TestAccept_MitraWithCapacityOneCannotAcceptTwoBlastsAtOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		for range 10 {
			m := e.onlineMitra(t)
			pr1, _ := e.paidBlast(t, 10)
			pr2, _ := e.paidBlast(t, 10)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, id := range []uuid.UUID{pr1.ID, pr2.ID} {
				wg.Go(func() { _, errs[i] = e.p.Accept(context.Background(), m, id) })
			}
			wg.Wait()
			require.True(t, (errs[0] == nil) != (errs[1] == nil), "exactly one accept wins: %v", errs)
			lost := errors.Join(errs...)
			require.ErrorIs(t, lost, pairing.ErrAtCapacity)
			info, err := e.store.MitraInfo(context.Background(), m)
			require.NoError(t, err)
			require.Equal(t, 1, info.OpenSessions)
			e.avail.SetOnline(m, false)
		}
	})
}

func TestAccept_RacingCancelEndsInExactlyOneOutcome(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		matched, cancelled := 0, 0
		for range 50 {
			m := e.onlineMitra(t)
			pr, pay := e.paidBlast(t, 10)
			var wg sync.WaitGroup
			var acceptErr, cancelErr error
			start := make(chan struct{})
			wg.Go(func() { <-start; _, acceptErr = e.p.Accept(ctx, m, pr.ID) })
			wg.Go(func() { <-start; _, cancelErr = e.p.Cancel(ctx, pr.ClientID, pr.ID) })
			close(start)
			wg.Wait()

			sessions := e.sessionsOf(t, pr.ID)
			got := e.pairing(t, pr.ID)
			refunded := e.payment(t, pay.ID).Status == payment.StatusRefunded
			if acceptErr == nil {
				matched++
				require.ErrorIs(t, cancelErr, pairing.ErrAlreadyMatched)
				require.Equal(t, pairing.StatusMatched, got.Status)
				require.Len(t, sessions, 1)
				require.False(t, refunded)
			} else {
				cancelled++
				require.NoError(t, cancelErr)
				require.ErrorIs(t, acceptErr, pairing.ErrExpired)
				require.Equal(t, pairing.StatusCancelled, got.Status)
				require.Empty(t, sessions)
				require.True(t, refunded)
				require.Equal(t, 1, e.payments.Refunds(pay.ID))
			}
			e.avail.SetOnline(m, false)
		}
		t.Logf("accept won %d, cancel won %d", matched, cancelled)
		require.Empty(t, e.failures(t, pairing.FailureFilter{}), "cancellations are not failures")
	})
}

func TestCancel_SearchingBlastIsRefundedAndItsOffersDismissed(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		m := e.onlineMitra(t)
		pr, pay := e.paidBlast(t, 10)
		got, err := e.p.Cancel(ctx, pr.ClientID, pr.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.StatusCancelled, got.Status)
		require.Equal(t, pairing.ReasonClientCancelled, got.FailureReason)
		require.Equal(t, payment.StatusRefunded, e.payment(t, pay.ID).Status)
		require.Empty(t, e.offers(t, m))
		dismissed := e.notifier.Find(pairing.EventOfferDismissed, m)
		require.Len(t, dismissed, 1)
		require.Equal(t, pairing.DismissCancelled, dismissed[0].Payload.(pairing.OfferDismissedEvent).Reason)
		require.Empty(t, e.failures(t, pairing.FailureFilter{}))
		require.Zero(t, e.p.Timers())

		again, err := e.p.Cancel(ctx, pr.ClientID, pr.ID)
		require.NoError(t, err, "cancelling twice is harmless")
		require.Equal(t, pairing.StatusCancelled, again.Status)
		require.Equal(t, 1, e.payments.Refunds(pay.ID), "refunded exactly once")
		e.clock.Advance(time.Hour)
		require.Equal(t, 1, e.payments.Refunds(pay.ID))
	})
}

func TestCancel_RefusesOtherClientsMatchedAndFailedPairings(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		failed, _ := e.paidBlast(t, 10) // nobody online
		_, err := e.p.Cancel(ctx, failed.ClientID, failed.ID)
		require.ErrorIs(t, err, pairing.ErrInvalidState)

		m := e.onlineMitra(t)
		pr, _ := e.paidBlast(t, 10)
		_, err = e.p.Cancel(ctx, e.fx.client(t), pr.ID)
		require.ErrorIs(t, err, pairing.ErrNotFound)
		_, err = e.p.Accept(ctx, m, pr.ID)
		require.NoError(t, err)
		_, err = e.p.Cancel(ctx, pr.ClientID, pr.ID)
		require.ErrorIs(t, err, pairing.ErrAlreadyMatched)
		_, err = e.p.Cancel(ctx, pr.ClientID, uuid.New())
		require.ErrorIs(t, err, pairing.ErrNotFound)
	})
}

func TestSweepTimeouts_CancelsAwaitingPaymentPairingsLeftWithoutPayment(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client := e.fx.client(t)
		// A pairing whose process died before it could create the payment.
		pr, err := e.store.CreatePairing(ctx, pairing.Pairing{
			ID: uuid.New(), ClientID: client, Type: pairing.TypeBlast, Status: pairing.StatusAwaitingPayment,
			Minutes: 10, CreatedAt: t0, UpdatedAt: t0,
		})
		require.NoError(t, err)
		rep, err := e.p.SweepTimeouts(ctx)
		require.NoError(t, err)
		require.Zero(t, rep.Orphans, "not yet")
		e.clock.Advance(pairing.DefaultOrphanTTL + time.Second)
		rep, err = e.p.SweepTimeouts(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Orphans)
		got := e.pairing(t, pr.ID)
		require.Equal(t, pairing.StatusCancelled, got.Status)
		require.Equal(t, pairing.ReasonPaymentNotCreated, got.FailureReason)
	})
}

// transitionRefused refuses, while on, the transitions refuses picks: the process died (or
// Postgres failed) just before them.
type transitionRefused struct {
	pairing.Store
	on      atomic.Bool
	refuses func(pairing.PairingTransition) bool
}

func (r *transitionRefused) Transition(ctx context.Context, t pairing.PairingTransition) (pairing.TransitionResult, error) {
	if r.on.Load() && r.refuses(t) {
		return pairing.TransitionResult{}, errors.New("connection lost")
	}
	return r.Store.Transition(ctx, t)
}

func TestStartBlast_DeclineLeftHalfDoneIsFinishedByTheRedeliveryOfItsPayment(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		// The cancel of the declined blast is lost: between attaching the declined payment
		// and cancelling the pairing.
		refused := &transitionRefused{refuses: func(t pairing.PairingTransition) bool {
			return t.FailureReason == pairing.ReasonPaymentDeclined
		}}
		refused.on.Store(true)
		e := newEnv(t, b, withStore(func(s pairing.Store) pairing.Store { refused.Store = s; return refused }))
		ctx := context.Background()
		client := e.fx.client(t)
		params := pairing.StartParams{ClientID: client, Minutes: 10, IdempotencyKey: "card-1"}
		e.payments.Gateway().FailCharges(true)
		_, _, err := e.p.StartBlast(ctx, params)
		require.ErrorIs(t, err, pairing.ErrPaymentDeclined)
		pay, err := e.payments.FindByIdempotencyKey(ctx, client, "card-1")
		require.NoError(t, err)
		require.Equal(t, pairing.StatusAwaitingPayment, e.pairing(t, *pay.PairingID).Status, "the cancel was lost")

		refused.on.Store(false)
		e.clock.Advance(payment.DefaultRedeliverAfter + time.Second)
		rep, err := e.payments.Service().ExpireStale(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Redelivered, "the failed payment's outcome was never delivered")
		pr := e.pairing(t, *pay.PairingID)
		require.Equal(t, pairing.StatusCancelled, pr.Status, "the client's open-pairing slot is free again")
		require.Equal(t, pairing.ReasonPaymentDeclined, pr.FailureReason)

		e.payments.Gateway().FailCharges(false)
		_, _, err = e.p.StartBlast(ctx, params)
		require.ErrorIs(t, err, pairing.ErrPaymentDeclined, "the same key still replays the decline")
		params.IdempotencyKey = "card-2"
		_, _, err = e.p.StartBlast(ctx, params)
		require.NoError(t, err, "a new key is a new attempt")
	})
}

func TestPaymentPaid_ASearchThatDidNotStartIsStartedByTheRedeliveryOfItsPayment(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		// The move to searching is lost: between the payment's paid and the search.
		refused := &transitionRefused{refuses: func(t pairing.PairingTransition) bool { return t.To == pairing.StatusSearching }}
		refused.on.Store(true)
		e := newEnv(t, b, withStore(func(s pairing.Store) pairing.Store { refused.Store = s; return refused }))
		ctx := context.Background()
		m := e.onlineMitra(t)
		pr, pay, err := e.p.StartBlast(ctx, pairing.StartParams{ClientID: e.fx.client(t), Minutes: 10})
		require.NoError(t, err)
		require.Error(t, e.payments.Pay(ctx, pay.ID), "paid, but the search did not start")
		require.Equal(t, payment.StatusPaid, e.payment(t, pay.ID).Status)
		require.Equal(t, pairing.StatusAwaitingPayment, e.pairing(t, pr.ID).Status)
		require.Empty(t, e.offers(t, m))

		refused.on.Store(false)
		e.clock.Advance(payment.DefaultRedeliverAfter + time.Second)
		rep, err := e.payments.Service().ExpireStale(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Redelivered, "the paid payment was never delivered")
		require.Equal(t, pairing.StatusSearching, e.pairing(t, pr.ID).Status)
		require.Len(t, e.offers(t, m), 1, "offered once")

		e.clock.Advance(payment.DefaultRedeliverAfter + time.Second)
		rep, err = e.payments.Service().ExpireStale(ctx)
		require.NoError(t, err)
		require.Zero(t, rep.Redelivered, "delivered now")
		require.Len(t, e.notifier.Find(pairing.EventPairingOffer, m), 1, "one offer event")
	})
}

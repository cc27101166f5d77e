package payment_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/payment"
)

// A provider that settles refunds later answers processing; its callback decides.
func TestRefundOutcome_AProcessingRefundIsDecidedByTheProvidersWordOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		sess := r.paidSession(t)
		r.gw.ProcessRefunds(true)
		out, err := r.svc.RefundPart(ctx, payment.RefundOrder{Cause: "c", From: []uuid.UUID{sess.ID}, Amount: 10000})
		require.NoError(t, err)
		require.Equal(t, payment.RefundProcessing, out[0].Status)
		rep, err := r.svc.RetryRefunds(ctx)
		require.NoError(t, err)
		require.Zero(t, rep.Attempted, "a processing refund is not retried")

		done, err := r.svc.RefundOutcome(ctx, payment.RefundOutcome{RefundID: out[0].ID, Succeeded: true, ProviderRef: "rf-1"})
		require.NoError(t, err)
		require.Equal(t, payment.RefundSucceeded, done.Status)
		require.Equal(t, "rf-1", done.ProviderRef)
		again, err := r.svc.RefundOutcome(ctx, payment.RefundOutcome{RefundID: out[0].ID, Succeeded: false, Reason: "late"})
		require.NoError(t, err, "a word on a decided refund changes nothing")
		require.Equal(t, payment.RefundSucceeded, again.Status)
		got, err := r.svc.Get(ctx, sess.ID)
		require.NoError(t, err)
		require.Equal(t, int64(10000), got.RefundedAmount)
	})
}

// A refusal is final for its key: the next attempt asks with a new one. An outage leaves
// the outcome unknown: the same key again.
func TestRefund_AKeyIsReusedOnlyWhileTheOutcomeIsUnknown(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		sess := r.paidSession(t)
		r.gw.FailRefundsWith(fmt.Errorf("provider timed out: %w", payment.ErrUnavailable))
		out, err := r.svc.RefundPart(ctx, payment.RefundOrder{Cause: "c", From: []uuid.UUID{sess.ID}, Amount: 10000})
		require.NoError(t, err)
		id := out[0].ID
		require.Equal(t, payment.RefundFailed, out[0].Status)
		r.gw.FailRefundsWith(nil)
		r.gw.FailNextRefunds(1) // a refusal
		_, err = r.svc.RetryRefund(ctx, id)
		require.NoError(t, err)
		done, err := r.svc.RetryRefund(ctx, id)
		require.NoError(t, err)
		require.Equal(t, payment.RefundSucceeded, done.Status)
		require.Equal(t, []string{id.String(), id.String(), id.String() + ":3"}, r.gw.RefundKeys(),
			"attempt 2 after an outage: the same key; attempt 3 after a refusal: a new one")
	})
}

// A refund the provider can never make is manual: never retried, paid by hand.
func TestRefund_ARefundTheProviderCannotMakeIsSettledByHandOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		sess := r.paidSession(t)
		r.gw.FailRefundsWith(fmt.Errorf("channel has no refunds: %w", payment.ErrRefundNotPossible))
		out, err := r.svc.RefundPart(ctx, payment.RefundOrder{Cause: "c", From: []uuid.UUID{sess.ID}, Amount: 10000})
		require.NoError(t, err)
		id := out[0].ID
		require.Equal(t, payment.RefundManual, out[0].Status)
		got, err := r.svc.Get(ctx, sess.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefundFailed, got.Status, "it needs an operator")
		r.clock.Advance(2 * time.Hour)
		rep, err := r.svc.RetryRefunds(ctx)
		require.NoError(t, err)
		require.Zero(t, rep.Attempted, "never retried")
		_, err = r.svc.RetryRefund(ctx, id)
		require.ErrorIs(t, err, payment.ErrInvalidState)
		unsettled, err := r.svc.Reconcile(ctx, 0)
		require.NoError(t, err)
		require.Len(t, unsettled, 1)
		require.Equal(t, 1, unsettled[0].FailedRefunds)

		_, err = r.svc.SettleManually(ctx, id, string([]byte{0xff}))
		require.Error(t, err)
		done, err := r.svc.SettleManually(ctx, id, "transferred by BCA, ref 8812")
		require.NoError(t, err)
		require.Equal(t, payment.RefundSucceeded, done.Status)
		require.Equal(t, "transferred by BCA, ref 8812", done.Note)
		_, err = r.svc.SettleManually(ctx, id, "again")
		require.ErrorIs(t, err, payment.ErrInvalidState)
		got, err = r.svc.Get(ctx, sess.ID)
		require.NoError(t, err)
		require.Equal(t, int64(10000), got.RefundedAmount)
		require.Equal(t, payment.StatusPartiallyRefunded, got.Status)
		unsettled, err = r.svc.Reconcile(ctx, 0)
		require.NoError(t, err)
		require.Len(t, unsettled, 1, "still undelivered in this test: nothing started from it")
		require.Zero(t, unsettled[0].FailedRefunds, "the refund is settled")
	})
}

// The provider's failure of a refund it had accepted makes it failed, retried with a new
// key; "not possible" makes it manual.
func TestRefundOutcome_AFailureRetriesWithANewKey(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		sess := r.paidSession(t)
		r.gw.ProcessRefunds(true)
		out, err := r.svc.RefundPart(ctx, payment.RefundOrder{Cause: "c", From: []uuid.UUID{sess.ID}, Amount: 10000})
		require.NoError(t, err)
		failed, err := r.svc.RefundOutcome(ctx, payment.RefundOutcome{RefundID: out[0].ID, Reason: "REFUND_FAILED"})
		require.NoError(t, err)
		require.Equal(t, payment.RefundFailed, failed.Status)
		require.Equal(t, out[0].ID.String()+":2", failed.IdempotencyKey())
		require.NotNil(t, failed.NextAttemptAt, "retried")

		second, err := r.svc.RefundPart(ctx, payment.RefundOrder{Cause: "d", From: []uuid.UUID{sess.ID}, Amount: 5000})
		require.NoError(t, err)
		manual, err := r.svc.RefundOutcome(ctx, payment.RefundOutcome{RefundID: second[0].ID, NotPossible: true, Reason: "REFUND_WINDOW_PASSED"})
		require.NoError(t, err)
		require.Equal(t, payment.RefundManual, manual.Status)
	})
}

// expiringGateway is the fake gateway with ChargeExpirer: the charges it was told were
// paid at the provider answer ErrChargePaid.
type expiringGateway struct {
	*payment.FakeGateway
	paid    map[string]bool
	expired []string
}

func (g *expiringGateway) ExpireCharge(_ context.Context, ref string) error {
	g.expired = append(g.expired, ref)
	if g.paid[ref] {
		return payment.ErrChargePaid
	}
	return nil
}

// A session the SDK expires has its charge expired at the provider; one the provider says
// was paid (its confirmation lost) is refunded at once, never left at the provider.
func TestExpireStale_AChargePaidAtTheProviderIsRefundedWhenItsSessionExpires(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		gw := &expiringGateway{FakeGateway: r.gw, paid: map[string]bool{}}
		svc, err := payment.NewService(e.store, gw, &payment.Config{Clock: r.clock})
		require.NoError(t, err)
		svc.SetHandler(payment.PurposeChatStart, r.handler)
		unpaid, _, err := svc.Create(ctx, r.params(payment.PurposeChatStart))
		require.NoError(t, err)
		lost, _, err := svc.Create(ctx, r.params(payment.PurposeChatStart))
		require.NoError(t, err)
		gw.paid[lost.ProviderRef] = true

		r.clock.Advance(payment.DefaultTTL + time.Second)
		rep, err := svc.ExpireStale(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, rep.Expired)
		require.ElementsMatch(t, []string{unpaid.ProviderRef, lost.ProviderRef}, gw.expired)
		got, err := svc.Get(ctx, unpaid.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusExpired, got.Status)
		got, err = svc.Get(ctx, lost.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefunded, got.Status, "paid at the provider: refunded in full")
		require.Equal(t, got.Amount, got.RefundedAmount)
		require.Equal(t, 1, r.gw.RefundsFor(lost.ID))
		require.Zero(t, r.handler.paidCalls(lost.ID), "nothing starts from it")

		again, err := svc.MarkPaid(ctx, lost.ID, lost.ProviderRef)
		require.NoError(t, err, "its confirmation, arriving at last, is a duplicate")
		require.Equal(t, payment.StatusRefunded, again.Status)
		require.Equal(t, 1, r.gw.RefundsFor(lost.ID))
	})
}

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

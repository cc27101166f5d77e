package payment_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/payment"
)

func TestRefund_RacingItselfRefundsOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		sess := r.create(t)
		_, err := r.svc.MarkPaid(context.Background(), sess.ID, "")
		require.NoError(t, err)

		parallel(10, func(i int) {
			svc := r.svc
			if i%2 == 1 {
				svc = r.service(e.sameData()) // another instance
			}
			got, err := svc.Refund(context.Background(), sess.ID, "pairing_failed")
			require.NoError(t, err)
			// Paid with the refund in flight (another caller is sending it), or refunded.
			require.Contains(t, []payment.Status{payment.StatusPaid, payment.StatusRefunded}, got.Status)
		})
		got, err := r.svc.Get(context.Background(), sess.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefunded, got.Status)
		require.Equal(t, 1, r.gw.RefundsFor(sess.ID))
		issued, failed := r.refunds.counts()
		require.Equal(t, 1, issued)
		require.Zero(t, failed)

		has, err := r.svc.HasPaidChatStart(context.Background(), sess.ClientID)
		require.NoError(t, err)
		require.False(t, has, "a refunded chat does not use up the first-session discount")
	})
}

func TestRefund_GatewayRefusalIsRecordedThenARetrySucceeds(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		sess := r.create(t)
		_, err := r.svc.MarkPaid(ctx, sess.ID, "")
		require.NoError(t, err)

		r.gw.FailRefunds(true)
		got, err := r.svc.Refund(ctx, sess.ID, "timeout")
		require.NoError(t, err, "a refusal is an outcome, not an error")
		require.Equal(t, payment.StatusRefundFailed, got.Status)
		require.Zero(t, r.gw.RefundsFor(sess.ID))
		require.Equal(t, 1, r.gw.RefusedRefunds())
		_, failed := r.refunds.counts()
		require.Equal(t, 1, failed)

		r.gw.FailRefunds(false)
		got, err = r.svc.Refund(ctx, sess.ID, "operator retry")
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefunded, got.Status)
		require.Equal(t, 1, r.gw.RefundsFor(sess.ID))

		got, err = r.svc.Refund(ctx, sess.ID, "again")
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefunded, got.Status, "refunded is final")
		require.Equal(t, 1, r.gw.RefundsFor(sess.ID))
		issued, failed := r.refunds.counts()
		require.Equal(t, 1, issued)
		require.Equal(t, 1, failed)
	})
}

func TestRefund_LatePaymentRefusedByTheGatewayCanBeRetried(t *testing.T) {
	t.Parallel()
	r := newRig(t, openMemory(t))
	ctx := context.Background()
	sess := r.create(t)
	_, err := r.svc.Cancel(ctx, sess.ID)
	require.NoError(t, err)
	r.gw.FailRefunds(true)
	got, err := r.svc.MarkPaid(ctx, sess.ID, "")
	require.NoError(t, err)
	require.Equal(t, payment.StatusRefundFailed, got.Status)

	r.gw.FailRefunds(false)
	got, err = r.svc.Refund(ctx, sess.ID, "retry")
	require.NoError(t, err)
	require.Equal(t, payment.StatusRefunded, got.Status)
	require.Equal(t, 1, r.gw.RefundsFor(sess.ID))
}

func TestRefund_NothingPaidIsInvalidState(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		pending := r.create(t)
		_, err := r.svc.Refund(ctx, pending.ID, "")
		require.ErrorIs(t, err, payment.ErrInvalidState)

		cancelled := r.create(t)
		_, err = r.svc.Cancel(ctx, cancelled.ID)
		require.NoError(t, err)
		_, err = r.svc.Refund(ctx, cancelled.ID, "")
		require.ErrorIs(t, err, payment.ErrInvalidState)
		require.Empty(t, r.gw.Refunds())
	})
}

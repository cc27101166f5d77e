package payment_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/payment"
)

func TestMarkPaid_DuplicateWebhooksStartTheNextStepOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		sess := r.create(t)
		r.clock.Advance(time.Minute)

		paid, err := r.svc.MarkPaid(ctx, sess.ID, sess.ProviderRef)
		require.NoError(t, err)
		require.Equal(t, payment.StatusPaid, paid.Status)
		require.Equal(t, t0.Add(time.Minute), *paid.PaidAt)
		require.Equal(t, 1, r.handler.paidCalls(sess.ID))
		require.Equal(t, payment.StatusPaid, r.handler.lastPaid.Status, "the handler sees the paid row")

		r.clock.Advance(time.Second)
		again, err := r.svc.MarkPaid(ctx, sess.ID, sess.ProviderRef)
		require.NoError(t, err)
		require.Equal(t, paid, again, "a duplicate changes nothing")
		require.Equal(t, 1, r.handler.paidCalls(sess.ID))

		// Concurrent duplicates on a fresh session: still one handler call.
		racy := r.create(t)
		parallel(10, func(int) {
			got, err := r.svc.MarkPaid(ctx, racy.ID, racy.ProviderRef)
			require.NoError(t, err)
			require.Equal(t, payment.StatusPaid, got.Status)
		})
		require.Equal(t, 1, r.handler.paidCalls(racy.ID))
		require.Empty(t, r.gw.Refunds())

		has, err := r.svc.HasPaidChatStart(ctx, sess.ClientID)
		require.NoError(t, err)
		require.True(t, has)
	})
}

func TestMarkPaid_RecordsTheWebhookReferenceOnlyWhenNoneIsKnown(t *testing.T) {
	t.Parallel()
	r := newRig(t, openMemory(t))
	sess := r.create(t)
	paid, err := r.svc.MarkPaid(context.Background(), sess.ID, "other-ref")
	require.NoError(t, err)
	require.Equal(t, sess.ProviderRef, paid.ProviderRef, "the charge's reference is what a refund needs")
}

func TestMarkPaidMatching_RefusesAnotherChargeWhateverTheStatusAndChangesNothing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		sess := r.create(t)
		got, err := r.svc.MarkPaidMatching(ctx, sess.ID, "other-ref")
		require.ErrorIs(t, err, payment.ErrProviderRefMismatch)
		require.Equal(t, sess, got, "the session comes back as it is")
		require.Zero(t, r.handler.paidCalls(sess.ID))

		paid, err := r.svc.MarkPaidMatching(ctx, sess.ID, sess.ProviderRef)
		require.NoError(t, err)
		require.Equal(t, payment.StatusPaid, paid.Status)
		require.Equal(t, 1, r.handler.paidCalls(sess.ID))

		_, err = r.svc.MarkPaidMatching(ctx, sess.ID, "other-ref")
		require.ErrorIs(t, err, payment.ErrProviderRefMismatch, "a paid session too")
		again, err := r.svc.MarkPaidMatching(ctx, sess.ID, sess.ProviderRef)
		require.NoError(t, err)
		require.Equal(t, paid, again, "a duplicate of its own charge changes nothing")
		require.Equal(t, 1, r.handler.paidCalls(sess.ID))
	})
}

func TestMarkFailed_AfterPaidChangesNothing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		sess := r.create(t)
		paid, err := r.svc.MarkPaid(ctx, sess.ID, "")
		require.NoError(t, err)
		r.clock.Advance(time.Second)

		got, err := r.svc.MarkFailed(ctx, sess.ID, "")
		require.NoError(t, err)
		require.Equal(t, paid, got)
		require.Zero(t, r.handler.closedCalls(sess.ID))
		require.Equal(t, 1, r.handler.paidCalls(sess.ID))
	})
}

func TestMarkPaid_AfterFailedRefundsAndStartsNothing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		sess := r.create(t)
		failed, err := r.svc.MarkFailed(ctx, sess.ID, "")
		require.NoError(t, err)
		require.Equal(t, payment.StatusFailed, failed.Status)
		require.Equal(t, 1, r.handler.closedCalls(sess.ID), "what waited is released")

		again, err := r.svc.MarkFailed(ctx, sess.ID, "")
		require.NoError(t, err)
		require.Equal(t, failed, again)
		require.Equal(t, 1, r.handler.closedCalls(sess.ID), "MarkFailed is idempotent")

		r.clock.Advance(time.Second)
		late, err := r.svc.MarkPaid(ctx, sess.ID, sess.ProviderRef)
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefunded, late.Status)
		require.Equal(t, t0.Add(time.Second), *late.PaidAt, "when the money arrived")
		require.Zero(t, r.handler.paidCalls(sess.ID))
		require.Equal(t, 1, r.gw.RefundsFor(sess.ID))
		refund := r.gw.Refunds()[0]
		rid := payment.RefundID(sess.ID, payment.CauseLatePayment)
		require.Equal(t, payment.RefundRequest{RefundID: rid, PaymentID: sess.ID,
			ProviderRef: sess.ProviderRef, Amount: sess.Amount, Currency: "IDR", Reason: "late_payment",
			IdempotencyKey: rid.String()}, refund, "the first key is the refund's id")

		_, err = r.svc.MarkPaid(ctx, sess.ID, sess.ProviderRef)
		require.NoError(t, err)
		require.Equal(t, 1, r.gw.RefundsFor(sess.ID), "a duplicate late confirmation refunds nothing more")
		issued, _ := r.refunds.counts()
		require.Equal(t, 1, issued)
	})
}

func TestMarkPaid_AfterExpiryRefundsAndStartsNothing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()

		t.Run("expired by the sweep", func(t *testing.T) {
			r := newRig(t, e)
			sess := r.create(t)
			r.clock.Advance(payment.DefaultTTL)
			_, err := r.svc.ExpireStale(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, r.handler.closedCalls(sess.ID))

			late, err := r.svc.MarkPaid(ctx, sess.ID, sess.ProviderRef)
			require.NoError(t, err)
			require.Equal(t, payment.StatusRefunded, late.Status)
			require.Zero(t, r.handler.paidCalls(sess.ID))
			require.Equal(t, 1, r.gw.RefundsFor(sess.ID))
			require.Equal(t, 1, r.handler.closedCalls(sess.ID))
		})

		t.Run("past expires_at before the sweep ran", func(t *testing.T) {
			r := newRig(t, e)
			sess := r.create(t)
			r.clock.Advance(payment.DefaultTTL) // expires_at itself is no longer payable

			late, err := r.svc.MarkPaid(ctx, sess.ID, sess.ProviderRef)
			require.NoError(t, err)
			require.Equal(t, payment.StatusRefunded, late.Status)
			require.Zero(t, r.handler.paidCalls(sess.ID))
			require.Equal(t, 1, r.handler.closedCalls(sess.ID), "expired on the spot, released as the sweep would")
			require.Equal(t, 1, r.gw.RefundsFor(sess.ID))

			rep, err := r.svc.ExpireStale(ctx)
			require.NoError(t, err)
			require.Zero(t, rep.Expired)
			require.Equal(t, 1, r.handler.closedCalls(sess.ID))
		})

		t.Run("just before expires_at is in time", func(t *testing.T) {
			r := newRig(t, e)
			sess := r.create(t)
			r.clock.Advance(payment.DefaultTTL - time.Microsecond)
			paid, err := r.svc.MarkPaid(ctx, sess.ID, sess.ProviderRef)
			require.NoError(t, err)
			require.Equal(t, payment.StatusPaid, paid.Status)
			require.Equal(t, 1, r.handler.paidCalls(sess.ID))
		})
	})
}

func TestMarkPaid_AfterCancelRefundsAndStartsNothing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		sess := r.create(t)
		cancelled, err := r.svc.Cancel(ctx, sess.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusCancelled, cancelled.Status)
		require.Zero(t, r.handler.closedCalls(sess.ID), "whoever cancels releases what waited")

		late, err := r.svc.MarkPaid(ctx, sess.ID, sess.ProviderRef)
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefunded, late.Status)
		require.Zero(t, r.handler.paidCalls(sess.ID))
		require.Equal(t, 1, r.gw.RefundsFor(sess.ID))
	})
}

func TestMarkPaid_ConcurrentLateConfirmationsRefundOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		sess := r.create(t)
		r.clock.Advance(time.Hour)
		parallel(10, func(int) {
			got, err := r.svc.MarkPaid(context.Background(), sess.ID, sess.ProviderRef)
			require.NoError(t, err)
			// Paid with its refund in flight (another confirmation is sending it), or refunded.
			require.Contains(t, []payment.Status{payment.StatusPaid, payment.StatusRefunded}, got.Status)
		})
		got, err := r.svc.Get(context.Background(), sess.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefunded, got.Status)
		require.Equal(t, sess.Amount, got.RefundedAmount)
		require.Equal(t, 1, r.gw.RefundsFor(sess.ID))
		require.Equal(t, 1, r.handler.closedCalls(sess.ID))
		require.Zero(t, r.handler.paidCalls(sess.ID))
	})
}

func TestMarkPaid_HandlerWithNothingWaitingGetsThePaymentRefunded(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		sess := r.create(t)
		r.handler.failPaid(fmt.Errorf("pairing already cancelled: %w", payment.ErrInvalidState))
		got, err := r.svc.MarkPaid(context.Background(), sess.ID, "")
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefunded, got.Status)
		require.Equal(t, 1, r.gw.RefundsFor(sess.ID))
		require.Equal(t, 1, r.handler.paidCalls(sess.ID))
	})
}

func TestMarkPaid_HandlerFailureIsRetriedByDuplicateWebhooksUntilItSucceeds(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		sess := r.create(t)
		boom := errors.New("database unavailable")
		r.handler.failPaid(boom)
		got, err := r.svc.MarkPaid(ctx, sess.ID, "")
		require.ErrorIs(t, err, boom)
		require.Equal(t, payment.StatusPaid, got.Status, "the payment is recorded all the same")
		require.Nil(t, got.HandledAt)

		// A duplicate while the first delivery could still be running changes nothing.
		_, err = r.svc.MarkPaid(ctx, sess.ID, "")
		require.NoError(t, err)
		require.Equal(t, 1, r.handler.paidCalls(sess.ID))

		// The provider retries later while the handler keeps failing: each retry delivers again.
		r.clock.Advance(payment.DefaultDetachedTimeout)
		_, err = r.svc.MarkPaid(ctx, sess.ID, "")
		require.ErrorIs(t, err, boom)
		require.Equal(t, 2, r.handler.paidCalls(sess.ID))

		r.handler.failPaid(nil)
		r.clock.Advance(time.Second)
		got, err = r.svc.MarkPaid(ctx, sess.ID, "")
		require.NoError(t, err)
		require.NotNil(t, got.HandledAt, "the successful delivery is recorded")
		require.Equal(t, 3, r.handler.paidCalls(sess.ID))

		_, err = r.svc.MarkPaid(ctx, sess.ID, "")
		require.NoError(t, err)
		require.Equal(t, 3, r.handler.paidCalls(sess.ID), "once delivered, duplicates change nothing")
		require.Empty(t, r.gw.Refunds())
	})
}

func TestExpireStale_RedeliversOutcomesWhoseHandlerFailed(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		sess := r.create(t)
		r.handler.failPaid(errors.New("database unavailable"))
		_, err := r.svc.MarkPaid(ctx, sess.ID, "")
		require.Error(t, err)

		// Before RedeliverAfter nothing happens; after it, the sweep delivers once more.
		r.handler.failPaid(nil)
		rep, err := r.svc.ExpireStale(ctx)
		require.NoError(t, err)
		require.Zero(t, rep.Redelivered)
		r.clock.Advance(payment.DefaultRedeliverAfter + time.Second)
		rep, err = r.svc.ExpireStale(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Redelivered)
		require.Equal(t, 2, r.handler.paidCalls(sess.ID))

		rep, err = r.svc.ExpireStale(ctx)
		require.NoError(t, err)
		require.Zero(t, rep.Redelivered, "a delivered outcome is not delivered again")
		require.Equal(t, 2, r.handler.paidCalls(sess.ID))
	})
}

func TestMarkPaid_HandlerRunsEvenIfTheWebhookCallerHangsUp(t *testing.T) {
	t.Parallel()
	r := newRig(t, openMemory(t))
	sess := r.create(t)
	ctx, cancel := context.WithCancel(context.Background())
	// The in-memory store ignores ctx, like a statement that committed just before the
	// caller went away; the handler must still get a live context.
	cancel()
	_, err := r.svc.MarkPaid(ctx, sess.ID, "")
	require.NoError(t, err)
	require.Equal(t, 1, r.handler.paidCalls(sess.ID))
}

func TestMarkPaidAndMarkFailed_UnknownSessionIsNotFound(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		id := uuid.New()
		_, err := r.svc.MarkPaid(ctx, id, "")
		require.ErrorIs(t, err, payment.ErrNotFound)
		_, err = r.svc.MarkFailed(ctx, id, "")
		require.ErrorIs(t, err, payment.ErrNotFound)
		_, err = r.svc.Cancel(ctx, id)
		require.ErrorIs(t, err, payment.ErrNotFound)
		_, err = r.svc.Refund(ctx, id, "")
		require.ErrorIs(t, err, payment.ErrNotFound)
		_, err = r.svc.Get(ctx, id)
		require.ErrorIs(t, err, payment.ErrNotFound)
	})
}

func TestCancel_PendingPaidAndFinalSessions(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()

		paid := r.create(t)
		_, err := r.svc.MarkPaid(ctx, paid.ID, "")
		require.NoError(t, err)
		got, err := r.svc.Cancel(ctx, paid.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefunded, got.Status, "cancelling a paid session gives the money back")
		require.Equal(t, 1, r.gw.RefundsFor(paid.ID))

		again, err := r.svc.Cancel(ctx, paid.ID)
		require.NoError(t, err)
		require.Equal(t, got, again)
		require.Equal(t, 1, r.gw.RefundsFor(paid.ID))

		failed := r.create(t)
		_, err = r.svc.MarkFailed(ctx, failed.ID, "")
		require.NoError(t, err)
		got, err = r.svc.Cancel(ctx, failed.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusFailed, got.Status, "a final status stays")
	})
}

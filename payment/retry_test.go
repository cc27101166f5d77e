package payment_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/payment"
)

// paidSession creates a session and confirms it.
func (r *rig) paidSession(t *testing.T) payment.Session {
	t.Helper()
	sess := r.create(t)
	paid, err := r.svc.MarkPaid(context.Background(), sess.ID, "")
	require.NoError(t, err)
	require.Equal(t, payment.StatusPaid, paid.Status)
	return paid
}

func (r *rig) retry(t *testing.T) payment.RetryReport {
	t.Helper()
	rep, err := r.svc.RetryRefunds(context.Background())
	require.NoError(t, err)
	return rep
}

func (r *rig) onlyRefund(t *testing.T, paymentID uuid.UUID) payment.Refund {
	t.Helper()
	rs, n, err := r.svc.ListRefunds(context.Background(), payment.RefundFilter{PaymentID: &paymentID})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	return rs[0]
}

func TestRefundPart_GivesBackPartOfAPayment(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		sess := r.paidSession(t)
		out, err := r.svc.RefundPart(ctx, payment.RefundOrder{Cause: "reroute:x", Reason: "unused minutes", From: []uuid.UUID{sess.ID}, Amount: 20000})
		require.NoError(t, err)
		require.Len(t, out, 1)
		require.Equal(t, payment.RefundSucceeded, out[0].Status)
		rid := payment.RefundID(sess.ID, "reroute:x")
		require.Equal(t, []payment.RefundRequest{{RefundID: rid, PaymentID: sess.ID,
			ProviderRef: sess.ProviderRef, Amount: 20000, Currency: "IDR", Reason: "unused minutes", IdempotencyKey: rid.String()}}, r.gw.Refunds())
		got, err := r.svc.Get(ctx, sess.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusPartiallyRefunded, got.Status)
		require.Equal(t, int64(20000), got.RefundedAmount)

		// The rest, in full: the payment ends refunded with two refunds at the gateway.
		got, err = r.svc.Refund(ctx, sess.ID, "cancelled")
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefunded, got.Status)
		require.Equal(t, sess.Amount, got.RefundedAmount)
		require.Equal(t, sess.Amount, r.gw.RefundedAmount(sess.ID))
	})
}

func TestRefundPart_ConcurrentPartsNeverExceedThePayment(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		sess := r.paidSession(t) // 50000
		parallel(20, func(i int) {
			svc := r.svc
			if i%2 == 1 {
				svc = r.service(e.sameData())
			}
			_, err := svc.RefundPart(context.Background(), payment.RefundOrder{Cause: fmt.Sprint("part-", i), From: []uuid.UUID{sess.ID}, Amount: 7000})
			require.NoError(t, err)
		})
		require.Equal(t, sess.Amount, r.gw.RefundedAmount(sess.ID), "seven parts of 7000 and one of 1000")
		got, err := r.svc.Get(context.Background(), sess.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefunded, got.Status)
		require.Equal(t, sess.Amount, got.RefundedAmount)
	})
}

func TestRetryRefunds_RefusedRefundIsRetriedWithBackoffUntilItSucceeds(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		sess := r.paidSession(t)
		r.gw.FailNextRefunds(3)

		got, err := r.svc.Refund(ctx, sess.ID, "pairing timeout")
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefundFailed, got.Status)
		ref := r.onlyRefund(t, sess.ID)
		require.Equal(t, payment.RefundFailed, ref.Status)
		require.Equal(t, 1, ref.Attempts)
		require.Contains(t, ref.LastError, "declined")
		require.Equal(t, r.clock.Now().Add(payment.DefaultRefundRetryBase), *ref.NextAttemptAt, "the first backoff is the base")

		require.Zero(t, r.retry(t).Attempted, "not due before its backoff")
		for attempt, wait := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute} {
			r.clock.Advance(wait - time.Second)
			require.Zero(t, r.retry(t).Attempted, "attempt %d: a second early", attempt+2)
			r.clock.Advance(time.Second)
			rep := r.retry(t)
			require.Equal(t, 1, rep.Attempted, "attempt %d", attempt+2)
			if attempt < 2 {
				require.Equal(t, 1, rep.Failed)
				require.Equal(t, r.clock.Now().Add(2*wait), *r.onlyRefund(t, sess.ID).NextAttemptAt, "the backoff doubles")
			} else {
				require.Equal(t, 1, rep.Succeeded)
			}
		}
		ref = r.onlyRefund(t, sess.ID)
		require.Equal(t, payment.RefundSucceeded, ref.Status)
		require.Equal(t, 4, ref.Attempts)
		got, err = r.svc.Get(ctx, sess.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefunded, got.Status)
		require.Equal(t, 1, r.gw.RefundsFor(sess.ID))
		require.Equal(t, 3, r.gw.RefusedRefunds())
		issued, failed := r.refunds.counts()
		require.Equal(t, 1, issued)
		require.Equal(t, 3, failed)

		r.clock.Advance(24 * time.Hour)
		require.Zero(t, r.retry(t).Attempted, "a succeeded refund is never sent again")
	})
}

func TestRetryRefunds_StopsAfterTenAttemptsAndAnOperatorRetryStillWorks(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		sess := r.paidSession(t)
		r.gw.FailRefunds(true)
		_, err := r.svc.Refund(ctx, sess.ID, "cancelled")
		require.NoError(t, err)

		var waits []time.Duration
		for attempts := 1; attempts < payment.DefaultRefundMaxAttempts; attempts++ {
			ref := r.onlyRefund(t, sess.ID)
			require.Equal(t, attempts, ref.Attempts)
			wait := ref.NextAttemptAt.Sub(r.clock.Now())
			waits = append(waits, wait)
			r.clock.Advance(wait)
			require.Equal(t, 1, r.retry(t).Attempted)
		}
		require.Equal(t, []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute,
			32 * time.Minute, time.Hour, time.Hour, time.Hour}, waits, "exponential, at most an hour apart")

		ref := r.onlyRefund(t, sess.ID)
		require.Equal(t, payment.DefaultRefundMaxAttempts, ref.Attempts)
		require.Equal(t, payment.RefundFailed, ref.Status)
		require.Nil(t, ref.NextAttemptAt, "it used up its attempts")
		r.clock.Advance(30 * 24 * time.Hour)
		require.Zero(t, r.retry(t).Attempted, "it stays failed")
		failed, n, err := r.svc.ListRefunds(ctx, payment.RefundFilter{Status: payment.RefundFailed})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, ref.ID, failed[0].ID)
		unsettled, err := r.svc.Reconcile(ctx, time.Hour)
		require.NoError(t, err)
		require.Len(t, unsettled, 1)
		require.Equal(t, 1, unsettled[0].FailedRefunds)

		r.gw.FailRefunds(false)
		done, err := r.svc.RetryRefund(ctx, ref.ID)
		require.NoError(t, err)
		require.Equal(t, payment.RefundSucceeded, done.Status)
		require.Equal(t, payment.DefaultRefundMaxAttempts+1, done.Attempts)
		got, err := r.svc.Get(ctx, sess.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefunded, got.Status)
		require.Equal(t, 1, r.gw.RefundsFor(sess.ID))

		_, err = r.svc.RetryRefund(ctx, ref.ID)
		require.ErrorIs(t, err, payment.ErrInvalidState, "a succeeded refund is not retried")
		_, err = r.svc.RetryRefund(ctx, uuid.New())
		require.ErrorIs(t, err, payment.ErrNotFound)
		unsettled, err = r.svc.Reconcile(ctx, 0)
		require.NoError(t, err)
		require.Empty(t, unsettled)
	})
}

// heldGateway holds the first refund sent through it until release is closed (or the
// call's context ends), so that an attempt stays in flight while others try; the calls
// after it go straight to the fake.
type heldGateway struct {
	*payment.FakeGateway
	once    sync.Once
	entered chan struct{} // closed when the held call arrived
	release chan struct{}
}

func newHeldGateway(fake *payment.FakeGateway) *heldGateway {
	return &heldGateway{FakeGateway: fake, entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *heldGateway) Refund(ctx context.Context, req payment.RefundRequest) (payment.RefundReceipt, error) {
	held := false
	g.once.Do(func() { held = true; close(g.entered) })
	if held {
		select {
		case <-g.release:
		case <-ctx.Done():
			return payment.RefundReceipt{}, ctx.Err()
		}
	}
	return g.FakeGateway.Refund(ctx, req)
}

func TestRetryRefund_ConcurrentRetriesOfOneRefundCallTheGatewayOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		sess := r.paidSession(t)
		r.gw.FailNextRefunds(1)
		got, err := r.svc.Refund(ctx, sess.ID, "pairing timeout")
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefundFailed, got.Status)
		ref := r.onlyRefund(t, sess.ID)
		require.Equal(t, 1, r.gw.RefundCalls(ref.ID))

		// Two instances over the same data and one provider; the lease outlasts the backoff,
		// so that the sweep finds the refund due but in flight.
		gw := newHeldGateway(r.gw)
		var releaseOnce sync.Once
		release := func() { releaseOnce.Do(func() { close(gw.release) }) }
		t.Cleanup(release)
		instances := make([]*payment.Service, 2)
		for i, store := range []payment.Store{e.store, e.sameData()} {
			svc, err := payment.NewService(store, gw, &payment.Config{Clock: r.clock, RefundLease: 2 * time.Hour})
			require.NoError(t, err)
			instances[i] = svc
		}

		type result struct {
			ref payment.Refund
			err error
		}
		const n = 8
		results := make(chan result, n)
		start := make(chan struct{})
		for i := range n {
			go func() {
				<-start
				done, err := instances[i%2].RetryRefund(ctx, ref.ID)
				results <- result{done, err}
			}()
		}
		close(start)
		deadline := time.After(10 * time.Second)
		select {
		case <-gw.entered:
		case <-deadline:
			t.Fatal("no retry reached the gateway")
		}
		var inFlight int
		for range n - 1 {
			select {
			case res := <-results:
				if errors.Is(res.err, payment.ErrRefundInFlight) {
					inFlight++
				}
			case <-deadline:
				t.Fatal("the retries that lost the claim did not return while the attempt was in flight")
			}
		}
		require.Equal(t, 1, r.gw.RefundCalls(ref.ID), "no retry reached the provider beside the held one")
		require.Equal(t, n-1, inFlight, "every other retry was told an attempt is in flight")
		// While the attempt is held: another instance's Refund and a sweep pass after the
		// backoff leave it to its claimer.
		got, err = instances[1].Refund(ctx, sess.ID, "again")
		require.NoError(t, err, "Refund leaves an attempt in flight to its sender")
		require.Equal(t, payment.StatusRefundFailed, got.Status, "its outcome is not known yet")
		r.clock.Advance(payment.DefaultRefundRetryBase)
		rep, err := instances[0].RetryRefunds(ctx)
		require.NoError(t, err)
		require.Zero(t, rep.Attempted, "the sweep leaves an attempt in flight alone")
		require.Equal(t, 1, r.gw.RefundCalls(ref.ID), "the held attempt has not reached the provider yet")

		release()
		var winner result
		select {
		case winner = <-results:
		case <-deadline:
			t.Fatal("the held retry did not return")
		}
		require.NoError(t, winner.err)
		require.Equal(t, payment.RefundSucceeded, winner.ref.Status)
		require.Equal(t, 2, winner.ref.Attempts, "the refused attempt and this one")
		require.Equal(t, 2, r.gw.RefundCalls(ref.ID), "one provider call per attempt")
		require.Equal(t, 1, r.gw.RefundsFor(sess.ID))
		got, err = r.svc.Get(ctx, sess.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefunded, got.Status)
	})
}

func TestRetryRefunds_RefundRecordedThenNotSentIsSentByTheSweep(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		sess := r.paidSession(t)
		// The process records the refund and dies before sending it.
		recorded, err := r.svc.RecordRefunds(ctx, payment.RefundOrder{Cause: "pairing:x", From: []uuid.UUID{sess.ID}})
		require.NoError(t, err)
		require.Len(t, recorded, 1)
		require.Empty(t, r.gw.Refunds())

		lease := 2 * payment.DefaultDetachedTimeout
		r.clock.Advance(lease - time.Second)
		require.Zero(t, r.retry(t).Attempted, "its recorder may still be sending it")
		r.clock.Advance(time.Second)
		require.Equal(t, 1, r.retry(t).Succeeded)
		got, err := r.svc.Get(ctx, sess.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefunded, got.Status)

		// A process that claimed an attempt and died during the gateway call: the attempt
		// is made again when its lease ends, under the same refund id.
		other := r.paidSession(t)
		recorded, err = r.svc.RecordRefunds(ctx, payment.RefundOrder{Cause: "pairing:y", From: []uuid.UUID{other.ID}})
		require.NoError(t, err)
		_, claimed, err := e.store.ClaimRefund(ctx, payment.RefundClaim{ID: recorded[0].ID, Mode: payment.ClaimFirst, At: r.clock.Now(), Lease: lease})
		require.NoError(t, err)
		require.True(t, claimed)
		require.Zero(t, r.retry(t).Attempted, "in flight")
		r.clock.Advance(lease)
		require.Equal(t, 1, r.retry(t).Succeeded)
		require.Equal(t, 1, r.gw.RefundCalls(recorded[0].ID))
		require.Equal(t, other.Amount, r.gw.RefundedAmount(other.ID))
	})
}

func TestRetryRefunds_SeveralInstancesSendEachRefundOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		var ids []uuid.UUID
		for i := range 12 {
			sess := r.paidSession(t)
			recorded, err := r.svc.RecordRefunds(ctx, payment.RefundOrder{Cause: fmt.Sprint("c", i), From: []uuid.UUID{sess.ID}, Amount: 1000})
			require.NoError(t, err)
			ids = append(ids, recorded[0].ID)
		}
		r.clock.Advance(time.Hour)
		var mu sync.Mutex
		attempted := 0
		parallel(4, func(int) {
			rep, err := r.service(e.sameData()).RetryRefunds(ctx)
			require.NoError(t, err)
			mu.Lock()
			attempted += rep.Attempted
			mu.Unlock()
		})
		require.Equal(t, len(ids), attempted)
		for _, id := range ids {
			require.Equal(t, 1, r.gw.RefundCalls(id), "refund %s sent once", id)
		}
	})
}

func TestRetryRefunds_LatePaymentRefusedByTheGatewayIsRetried(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		sess := r.create(t)
		_, err := r.svc.Cancel(ctx, sess.ID)
		require.NoError(t, err)
		r.gw.FailNextRefunds(1)
		got, err := r.svc.MarkPaid(ctx, sess.ID, "")
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefundFailed, got.Status)
		require.Zero(t, r.handler.paidCalls(sess.ID), "a late payment starts nothing")

		r.clock.Advance(payment.DefaultRefundRetryBase)
		require.Equal(t, 1, r.retry(t).Succeeded)
		got, err = r.svc.Get(ctx, sess.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefunded, got.Status)
		require.Equal(t, 1, r.gw.RefundsFor(sess.ID))
	})
}

func TestReconcile_RefusesANegativeGrace(t *testing.T) {
	t.Parallel()
	r := newRig(t, openMemory(t))
	_, err := r.svc.Reconcile(context.Background(), -time.Second)
	require.Error(t, err)
	var ve *core.ValidationError
	require.ErrorAs(t, err, &ve)
}

// cancelAfterClaim is a Store whose claims end the caller's context right after they
// committed, as a sweep's per-run timeout can: the claimed refunds must still be sent.
type cancelAfterClaim struct {
	payment.Store
	cancel context.CancelFunc
}

func (s cancelAfterClaim) ClaimDueRefunds(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]payment.Refund, error) {
	rs, err := s.Store.ClaimDueRefunds(ctx, now, lease, limit)
	s.cancel()
	if err == nil {
		err = ctx.Err() // what a driver reports when the deadline fires as the reply arrives
	}
	return rs, err
}

func TestRetryRefunds_AClaimIsSentEvenWhenThePassIsCutShortRightAfterIt(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		sess := r.paidSession(t)
		r.gw.FailNextRefunds(1)
		refund, err := r.svc.RefundPart(ctx, payment.RefundOrder{Cause: "pairing:z", From: []uuid.UUID{sess.ID}})
		require.NoError(t, err)
		require.Len(t, refund, 1)
		require.Equal(t, payment.RefundFailed, refund[0].Status)
		r.clock.Advance(payment.DefaultRefundRetryBase)

		passCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		svc := r.service(cancelAfterClaim{Store: e.store, cancel: cancel})
		rep, err := svc.RetryRefunds(passCtx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Succeeded, "the claimed refund went out in the same pass")
		require.Equal(t, sess.Amount, r.gw.RefundedAmount(sess.ID))
	})
}

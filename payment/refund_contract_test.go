package payment_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/payment"
)

// The Store contract of refunds: every test runs against Postgres and the in-memory store.

const lease = time.Minute

// paid inserts a charged session of purpose, paid at t0 (amount 45000).
func (e *env) paid(t *testing.T, purpose payment.Purpose) payment.Session {
	t.Helper()
	s := e.row(purpose)
	s.Status, s.PaidAt, s.ProviderRef = payment.StatusPaid, ptr(t0), "ch-"+s.ID.String()[:8]
	return e.insert(t, s)
}

func (e *env) record(t *testing.T, o payment.RefundOrder, at time.Time) []payment.Refund {
	t.Helper()
	out, err := e.store.RecordRefund(context.Background(), payment.RefundRecord{RefundOrder: o, At: at})
	require.NoError(t, err)
	return out
}

// settleRefund claims r and records the gateway's answer (ok: succeeded; else failed,
// due again at next).
func (e *env) settleRefund(t *testing.T, r payment.Refund, at time.Time, ok bool, next *time.Time) payment.Refund {
	t.Helper()
	ctx := context.Background()
	claimed, got, err := e.store.ClaimRefund(ctx, payment.RefundClaim{ID: r.ID, Mode: payment.ClaimNow, At: at, Lease: lease})
	require.NoError(t, err)
	require.True(t, got, "refund %s could be claimed", r.ID)
	done, changed, err := e.store.FinishRefund(ctx, payment.RefundAttempt{
		ID: r.ID, Attempt: claimed.Attempts, Succeeded: ok, ProviderRef: "rf", Error: "declined", At: at, NextAttemptAt: next,
	})
	require.NoError(t, err)
	require.True(t, changed)
	return done
}

func (e *env) get(t *testing.T, id uuid.UUID) payment.Session {
	t.Helper()
	s, err := e.store.Get(context.Background(), id)
	require.NoError(t, err)
	return s
}

func TestStoreContract_RecordRefundIsIdempotentPerCauseAndCappedByTheAmount(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		p := e.paid(t, payment.PurposeChatStart)
		first := e.record(t, payment.RefundOrder{Cause: "a", Reason: "part", From: []uuid.UUID{p.ID}, Amount: 10000}, t0)
		require.Len(t, first, 1)
		r := first[0]
		require.Equal(t, payment.RefundID(p.ID, "a"), r.ID)
		require.Equal(t, payment.Refund{ID: r.ID, PaymentID: p.ID, Amount: 10000, Currency: "IDR", Cause: "a", Reason: "part",
			Status: payment.RefundPending, CreatedAt: t0, UpdatedAt: t0, ChargeRef: p.ProviderRef}, r)

		again := e.record(t, payment.RefundOrder{Cause: "a", From: []uuid.UUID{p.ID}, Amount: 30000}, t0.Add(time.Second))
		require.Equal(t, first, again, "the same cause is the same refund, whatever is asked now")

		rest := e.record(t, payment.RefundOrder{Cause: "b", From: []uuid.UUID{p.ID}}, t0)
		require.Len(t, rest, 1)
		require.Equal(t, int64(35000), rest[0].Amount, "amount 0: all that remains")
		require.Empty(t, e.record(t, payment.RefundOrder{Cause: "c", From: []uuid.UUID{p.ID}, Amount: 1}, t0), "nothing remains")

		got := e.get(t, p.ID)
		require.Equal(t, payment.StatusPaid, got.Status, "pending refunds do not change the payment's status")
		require.Zero(t, got.RefundedAmount)

		_, err := e.store.RecordRefund(context.Background(), payment.RefundRecord{
			RefundOrder: payment.RefundOrder{Cause: "x", From: []uuid.UUID{uuid.New()}}, At: t0})
		require.ErrorIs(t, err, payment.ErrNotFound)
		_, err = e.store.RecordRefund(context.Background(), payment.RefundRecord{RefundOrder: payment.RefundOrder{From: []uuid.UUID{p.ID}}, At: t0})
		require.Error(t, err, "a cause is required")
	})
}

func TestStoreContract_ConcurrentRefundsOfOnePaymentNeverExceedItsAmount(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		p := e.paid(t, payment.PurposeChatStart) // 45000
		var mu sync.Mutex
		var total int64
		recorded := 0
		parallel(20, func(i int) {
			out, err := e.sameData().RecordRefund(context.Background(), payment.RefundRecord{
				RefundOrder: payment.RefundOrder{Cause: fmt.Sprint("cause-", i), From: []uuid.UUID{p.ID}, Amount: 9000}, At: t0})
			require.NoError(t, err)
			mu.Lock()
			defer mu.Unlock()
			for _, r := range out {
				total += r.Amount
				recorded++
			}
		})
		require.Equal(t, int64(45000), total)
		require.Equal(t, 5, recorded, "five refunds of 9000 fit in 45000, the other fifteen found nothing left")
		all, n, err := e.store.ListRefunds(context.Background(), payment.RefundFilter{PaymentID: &p.ID, PageSize: 100})
		require.NoError(t, err)
		require.Equal(t, 5, n)
		var sum int64
		for _, r := range all {
			sum += r.Amount
		}
		require.Equal(t, int64(45000), sum)
	})
}

func TestStoreContract_RecordRefundTakesFromThePaymentsInOrder(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		unpaid := e.insert(t, e.row(payment.PurposeChatStart))
		p1, p2 := e.paid(t, payment.PurposeChatStart), e.paid(t, payment.PurposeChatStart)
		e.record(t, payment.RefundOrder{Cause: "earlier", From: []uuid.UUID{p1.ID}, Amount: 40000}, t0)

		out := e.record(t, payment.RefundOrder{Cause: "reroute", From: []uuid.UUID{unpaid.ID, p1.ID, p2.ID}, Amount: 20000}, t0)
		require.Len(t, out, 2, "the unpaid payment gives nothing")
		require.Equal(t, p1.ID, out[0].PaymentID)
		require.Equal(t, int64(5000), out[0].Amount, "what remains of the first")
		require.Equal(t, p2.ID, out[1].PaymentID)
		require.Equal(t, int64(15000), out[1].Amount, "the rest from the second")

		require.Equal(t, out, e.record(t, payment.RefundOrder{Cause: "reroute", From: []uuid.UUID{unpaid.ID, p1.ID, p2.ID}, Amount: 20000}, t0),
			"a replay finds the same refunds")
	})
}

func TestStoreContract_LateRefundPaysTheClosedSessionAndRefundsAllOfIt(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s := e.row(payment.PurposeChatStart)
		s.Status = payment.StatusExpired
		s = e.insert(t, s)
		at := t0.Add(time.Hour)
		late := payment.RefundRecord{RefundOrder: payment.RefundOrder{Cause: payment.CauseLatePayment, From: []uuid.UUID{s.ID}},
			At: at, Late: true, ProviderRef: "ref-late"}
		out, err := e.store.RecordRefund(ctx, late)
		require.NoError(t, err)
		require.Len(t, out, 1)
		require.Equal(t, s.Amount, out[0].Amount)
		require.Equal(t, "ref-late", out[0].ChargeRef)
		got := e.get(t, s.ID)
		require.Equal(t, payment.StatusPaid, got.Status)
		require.Equal(t, at, *got.PaidAt)
		require.Equal(t, at, *got.HandledAt, "handled: nothing may start from a late payment")
		require.Equal(t, "ref-late", got.ProviderRef)

		again, err := e.store.RecordRefund(ctx, late)
		require.NoError(t, err, "a duplicate confirmation finds the refund")
		require.Equal(t, out, again)

		paid := e.paid(t, payment.PurposeChatStart)
		late.From = []uuid.UUID{paid.ID}
		_, err = e.store.RecordRefund(ctx, late)
		require.ErrorIs(t, err, payment.ErrInvalidState, "a payment that did not close is not late")
	})
}

func TestStoreContract_ClaimsAndOutcomesOfRefundAttempts(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		p := e.paid(t, payment.PurposeChatStart)
		r := e.record(t, payment.RefundOrder{Cause: "a", From: []uuid.UUID{p.ID}, Amount: 10000}, t0)[0]
		claim := func(mode payment.ClaimMode, at time.Time) (payment.Refund, bool) {
			t.Helper()
			got, ok, err := e.store.ClaimRefund(ctx, payment.RefundClaim{ID: r.ID, Mode: mode, At: at, Lease: lease})
			require.NoError(t, err)
			return got, ok
		}
		first, ok := claim(payment.ClaimFirst, t0)
		require.True(t, ok)
		require.Equal(t, 1, first.Attempts)
		require.Equal(t, t0.Add(lease), *first.NextAttemptAt, "the attempt's lease")
		_, ok = claim(payment.ClaimFirst, t0)
		require.False(t, ok, "attempted already")
		_, ok = claim(payment.ClaimNow, t0.Add(lease-time.Second))
		require.False(t, ok, "in flight until its lease ends")

		second, ok := claim(payment.ClaimNow, t0.Add(lease))
		require.True(t, ok, "the first attempt showed no outcome within its lease")
		require.Equal(t, 2, second.Attempts)

		_, changed, err := e.store.FinishRefund(ctx, payment.RefundAttempt{ID: r.ID, Attempt: 1, Error: "late answer", At: t0.Add(lease)})
		require.NoError(t, err)
		require.False(t, changed, "a refusal of an attempt that is not the last one changes nothing")

		next := t0.Add(2 * lease)
		failed, changed, err := e.store.FinishRefund(ctx, payment.RefundAttempt{ID: r.ID, Attempt: 2, Error: "declined", At: t0.Add(lease), NextAttemptAt: &next})
		require.NoError(t, err)
		require.True(t, changed)
		require.Equal(t, payment.RefundFailed, failed.Status)
		require.Equal(t, "declined", failed.LastError)
		require.Equal(t, next, *failed.NextAttemptAt)
		require.Equal(t, payment.StatusRefundFailed, e.get(t, p.ID).Status)

		third, ok := claim(payment.ClaimNow, t0.Add(lease))
		require.True(t, ok, "a failed refund may be retried now, whatever its backoff")
		done, changed, err := e.store.FinishRefund(ctx, payment.RefundAttempt{ID: r.ID, Attempt: third.Attempts, Succeeded: true, ProviderRef: "rf-1", At: t0.Add(lease)})
		require.NoError(t, err)
		require.True(t, changed)
		require.Equal(t, payment.RefundSucceeded, done.Status)
		require.Equal(t, "rf-1", done.ProviderRef)
		require.Nil(t, done.NextAttemptAt)
		require.Empty(t, done.LastError)
		got := e.get(t, p.ID)
		require.Equal(t, payment.StatusPartiallyRefunded, got.Status)
		require.Equal(t, int64(10000), got.RefundedAmount)

		_, ok = claim(payment.ClaimNow, t0.Add(time.Hour))
		require.False(t, ok, "a succeeded refund is never attempted again")
		_, changed, err = e.store.FinishRefund(ctx, payment.RefundAttempt{ID: r.ID, Attempt: 1, Succeeded: true, At: t0.Add(time.Hour)})
		require.NoError(t, err)
		require.False(t, changed)
		require.Equal(t, int64(10000), e.get(t, p.ID).RefundedAmount, "counted once")

		_, _, err = e.store.ClaimRefund(ctx, payment.RefundClaim{ID: uuid.New(), Mode: payment.ClaimNow, At: t0})
		require.ErrorIs(t, err, payment.ErrNotFound)
		_, err = e.store.GetRefund(ctx, uuid.New())
		require.ErrorIs(t, err, payment.ErrNotFound)
	})
}

func TestStoreContract_RefundOutcomesSettleThePaymentStatus(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		p := e.paid(t, payment.PurposeChatStart)
		rs := e.record(t, payment.RefundOrder{Cause: "a", From: []uuid.UUID{p.ID}, Amount: 10000}, t0)
		rs = append(rs, e.record(t, payment.RefundOrder{Cause: "b", From: []uuid.UUID{p.ID}}, t0)...)
		e.settleRefund(t, rs[0], t0, true, nil)
		got := e.get(t, p.ID)
		require.Equal(t, payment.StatusPartiallyRefunded, got.Status)
		require.Equal(t, int64(10000), got.RefundedAmount)

		e.settleRefund(t, rs[1], t0, false, ptr(t0.Add(time.Minute)))
		require.Equal(t, payment.StatusRefundFailed, e.get(t, p.ID).Status, "refund_failed while a refund is failed")

		e.settleRefund(t, rs[1], t0.Add(time.Minute), true, nil)
		got = e.get(t, p.ID)
		require.Equal(t, payment.StatusRefunded, got.Status, "refunded once the refunds add up to the amount")
		require.Equal(t, p.Amount, got.RefundedAmount)
	})
}

func TestStoreContract_ClaimDueRefundsTakesWhatIsDueOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		p := e.paid(t, payment.PurposeChatStart)
		never := e.record(t, payment.RefundOrder{Cause: "never-attempted", From: []uuid.UUID{p.ID}, Amount: 1000}, t0)[0]
		backoff := e.record(t, payment.RefundOrder{Cause: "refused", From: []uuid.UUID{p.ID}, Amount: 1000}, t0)[0]
		e.settleRefund(t, backoff, t0, false, ptr(t0.Add(2*lease)))
		gaveUp := e.record(t, payment.RefundOrder{Cause: "gave-up", From: []uuid.UUID{p.ID}, Amount: 1000}, t0)[0]
		e.settleRefund(t, gaveUp, t0, false, nil)
		done := e.record(t, payment.RefundOrder{Cause: "done", From: []uuid.UUID{p.ID}, Amount: 1000}, t0)[0]
		e.settleRefund(t, done, t0, true, nil)

		ids := func(rs []payment.Refund) []uuid.UUID {
			out := []uuid.UUID{}
			for _, r := range rs {
				out = append(out, r.ID)
			}
			return out
		}
		due, err := e.store.ClaimDueRefunds(ctx, t0.Add(lease-time.Second), lease, 10)
		require.NoError(t, err)
		require.Empty(t, due, "a refund never attempted is left to its recorder for a lease")

		due, err = e.store.ClaimDueRefunds(ctx, t0.Add(lease), lease, 10)
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{never.ID}, ids(due))
		require.Equal(t, t0.Add(2*lease), *due[0].NextAttemptAt, "claimed for a lease")

		due, err = e.store.ClaimDueRefunds(ctx, t0.Add(2*lease), lease, 10)
		require.NoError(t, err)
		require.ElementsMatch(t, []uuid.UUID{never.ID, backoff.ID}, ids(due),
			"the refused one after its backoff, the claimed one once its lease ended")

		// Concurrent sweeps claim each due refund once.
		var more []payment.Refund
		for i := range 30 {
			more = append(more, e.record(t, payment.RefundOrder{Cause: fmt.Sprint("bulk-", i), From: []uuid.UUID{p.ID}, Amount: 100}, t0)...)
		}
		var mu sync.Mutex
		seen := map[uuid.UUID]int{}
		parallel(4, func(int) {
			store := e.sameData()
			for {
				rs, err := store.ClaimDueRefunds(ctx, t0.Add(3*lease), lease, 4)
				require.NoError(t, err)
				mu.Lock()
				for _, r := range rs {
					seen[r.ID]++
				}
				mu.Unlock()
				if len(rs) == 0 {
					return
				}
			}
		})
		require.Len(t, seen, len(more)+2)
		for id, n := range seen {
			require.Equal(t, 1, n, "refund %s claimed by more than one sweep", id)
		}
	})
}

func TestStoreContract_ListRefundsFiltersAndPages(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		p, q := e.paid(t, payment.PurposeChatStart), e.paid(t, payment.PurposeExtension)
		var rs []payment.Refund
		for i := range 5 {
			rs = append(rs, e.record(t, payment.RefundOrder{Cause: fmt.Sprint("c", i), From: []uuid.UUID{p.ID}, Amount: 100},
				t0.Add(time.Duration(i)*time.Second))...)
		}
		other := e.record(t, payment.RefundOrder{Cause: "c0", From: []uuid.UUID{q.ID}, Amount: 100}, t0.Add(time.Minute))[0]
		e.settleRefund(t, rs[0], t0, false, nil)

		page, total, err := e.store.ListRefunds(ctx, payment.RefundFilter{Page: 1, PageSize: 2})
		require.NoError(t, err)
		require.Equal(t, 6, total)
		require.Equal(t, []uuid.UUID{other.ID, rs[4].ID}, []uuid.UUID{page[0].ID, page[1].ID}, "newest first")
		page, _, err = e.store.ListRefunds(ctx, payment.RefundFilter{Page: 3, PageSize: 2})
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{rs[1].ID, rs[0].ID}, []uuid.UUID{page[0].ID, page[1].ID})

		failed, total, err := e.store.ListRefunds(ctx, payment.RefundFilter{Status: payment.RefundFailed})
		require.NoError(t, err)
		require.Equal(t, 1, total)
		require.Equal(t, rs[0].ID, failed[0].ID)
		require.Equal(t, "declined", failed[0].LastError)

		_, total, err = e.store.ListRefunds(ctx, payment.RefundFilter{PaymentID: &q.ID})
		require.NoError(t, err)
		require.Equal(t, 1, total)
		byCause, total, err := e.store.ListRefunds(ctx, payment.RefundFilter{Cause: "c0"})
		require.NoError(t, err)
		require.Equal(t, 2, total)
		require.ElementsMatch(t, []uuid.UUID{rs[0].ID, other.ID}, []uuid.UUID{byCause[0].ID, byCause[1].ID})
	})
}

func TestStoreContract_HasPaidChatStartCountsAChatRefundedInPart(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		has := func(client uuid.UUID) bool {
			t.Helper()
			ok, err := e.store.HasPaidChatStart(ctx, client)
			require.NoError(t, err)
			return ok
		}
		part := e.paid(t, payment.PurposeChatStart)
		r := e.record(t, payment.RefundOrder{Cause: "reroute", From: []uuid.UUID{part.ID}, Amount: 10000}, t0)[0]
		e.settleRefund(t, r, t0, true, nil)
		require.Equal(t, payment.StatusPartiallyRefunded, e.get(t, part.ID).Status)
		require.True(t, has(part.ClientID), "a chat delivered then refunded in part was paid")

		refused := e.paid(t, payment.PurposeChatStart)
		r = e.record(t, payment.RefundOrder{Cause: "reroute", From: []uuid.UUID{refused.ID}, Amount: 10000}, t0)[0]
		e.settleRefund(t, r, t0, false, nil)
		require.Equal(t, payment.StatusRefundFailed, e.get(t, refused.ID).Status)
		require.True(t, has(refused.ClientID), "a part refund failing does not give the first session back")

		whole := e.paid(t, payment.PurposeChatStart)
		e.record(t, payment.RefundOrder{Cause: "cancelled", From: []uuid.UUID{whole.ID}}, t0)
		require.False(t, has(whole.ClientID), "a chat being given back in full was not paid")

		wholeRefused := e.paid(t, payment.PurposeChatStart)
		r = e.record(t, payment.RefundOrder{Cause: "cancelled", From: []uuid.UUID{wholeRefused.ID}}, t0)[0]
		e.settleRefund(t, r, t0, false, nil)
		require.False(t, has(wholeRefused.ClientID), "nor one whose full refund the gateway refused")

		free := e.row(payment.PurposeChatStart)
		free.BaseAmount, free.DiscountAmount, free.Amount, free.Status, free.PaidAt = 50000, 50000, 0, payment.StatusPaid, ptr(t0)
		e.insert(t, free)
		require.True(t, has(free.ClientID), "a free first session uses up the discount")
	})
}

func TestStoreContract_ReconcileFindsPaidMoneyWithoutAnOutcome(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		unsettled := func(cutoff time.Time) map[uuid.UUID]payment.Unsettled {
			t.Helper()
			out, err := e.store.Reconcile(ctx, cutoff)
			require.NoError(t, err)
			m := map[uuid.UUID]payment.Unsettled{}
			for _, u := range out {
				m[u.Payment.ID] = u
			}
			require.Len(t, m, len(out))
			return m
		}
		require.Empty(t, unsettled(t0.Add(time.Hour)), "nothing paid, nothing unsettled")

		delivered := e.paid(t, payment.PurposeChatStart)
		e.deliver(t, delivered)
		extDelivered := e.paid(t, payment.PurposeExtension)
		e.deliver(t, extDelivered)
		refunded := e.paid(t, payment.PurposeChatStart)
		e.settleRefund(t, e.record(t, payment.RefundOrder{Cause: "failed", From: []uuid.UUID{refunded.ID}}, t0)[0], t0, true, nil)
		pending := e.insert(t, e.row(payment.PurposeChatStart))
		require.Empty(t, unsettled(t0.Add(time.Hour)), "delivered, refunded in full, or never paid")

		lost := e.paid(t, payment.PurposeChatStart)
		extLost := e.paid(t, payment.PurposeExtension)
		partly := e.paid(t, payment.PurposeChatStart)
		e.settleRefund(t, e.record(t, payment.RefundOrder{Cause: "part", From: []uuid.UUID{partly.ID}, Amount: 100}, t0)[0], t0, true, nil)
		refusedRefund := e.paid(t, payment.PurposeChatStart)
		e.deliver(t, refusedRefund)
		e.settleRefund(t, e.record(t, payment.RefundOrder{Cause: "reroute", From: []uuid.UUID{refusedRefund.ID}, Amount: 100}, t0)[0],
			t0, false, nil)
		stuck := e.paid(t, payment.PurposeChatStart)
		e.deliver(t, stuck)
		e.record(t, payment.RefundOrder{Cause: "reroute", From: []uuid.UUID{stuck.ID}, Amount: 100}, t0.Add(time.Minute))

		require.Empty(t, unsettled(t0.Add(-time.Second)), "within the grace nothing is unsettled")
		got := unsettled(t0.Add(time.Hour))
		require.Len(t, got, 5, "%v", got)
		for _, id := range []uuid.UUID{lost.ID, extLost.ID, partly.ID} {
			require.Contains(t, got, id)
			require.False(t, got[id].Delivered)
		}
		require.Equal(t, int64(100), got[partly.ID].Payment.RefundedAmount, "refunds that do not add up to the amount")
		require.True(t, got[refusedRefund.ID].Delivered)
		require.Equal(t, 1, got[refusedRefund.ID].FailedRefunds)
		require.Equal(t, 1, got[stuck.ID].StuckRefunds)
		require.NotContains(t, got, pending.ID)
		require.NotContains(t, got, delivered.ID)

		got = unsettled(t0.Add(30 * time.Second))
		require.NotContains(t, got, stuck.ID, "a pending refund is stuck only past the grace")
		require.Contains(t, got, refusedRefund.ID)
	})
}

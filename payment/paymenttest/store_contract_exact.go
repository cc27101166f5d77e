package paymenttest

import (
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/payment"
)

// runExactRefundContract is the part of RunStoreContract that pins the exact refunds
// (RefundOrder.Exact, KeepEarnings): an operator's refund is all of its amount or
// nothing, never beyond what is left, and never of earned money unless allowed.
func runExactRefundContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	exact := func(p payment.Session, cause string, amount int64, keep bool) payment.RefundOrder {
		return payment.RefundOrder{Cause: cause, Reason: "operator", From: []uuid.UUID{p.ID}, Amount: amount,
			Exact: true, KeepEarnings: keep}
	}
	refused := func(t *testing.T, e env, o payment.RefundOrder, want error, remaining, unearned int64) {
		t.Helper()
		_, err := e.Store.RecordRefund(check.Context(t), payment.RefundRecord{RefundOrder: o, At: t0})
		check.ErrorIs(t, err, want)
		var le *payment.RefundLimitError
		check.ErrorAs(t, err, &le)
		check.Equal(t, o.Amount, le.Asked)
		check.Equal(t, remaining, le.Remaining, "remaining")
		check.Equal(t, unearned, le.Unearned, "unearned")
		_, err = e.Store.GetRefund(check.Context(t), payment.RefundID(o.From[0], o.Cause))
		check.ErrorIs(t, err, payment.ErrNotFound, "a refused exact refund records nothing")
	}

	t.Run("ExactRefundsTakeAllOfTheirAmountUpToWhatIsLeftThenAreRefused", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		p := e.paid(t, payment.PurposeChatStart) // 45000
		first := e.record(t, exact(p, "op:1", 20000, false), t0)
		check.Len(t, first, 1)
		check.Equal(t, int64(20000), first[0].Amount)
		refused(t, e, exact(p, "op:2", 25001, false), payment.ErrRefundExceedsRemainder, 25000, 25000)
		check.Equal(t, int64(25000), e.record(t, exact(p, "op:3", 25000, false), t0)[0].Amount)
		refused(t, e, exact(p, "op:4", 1, false), payment.ErrRefundExceedsRemainder, 0, 0)

		replay := e.record(t, exact(p, "op:1", 999, false), t0)
		check.Equal(t, first[0].ID, replay[0].ID, "the cause recorded earlier comes back as it is")
		check.Equal(t, int64(20000), replay[0].Amount)
	})

	t.Run("AFailedRefundKeepsItsShareOfWhatIsLeft", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		p := e.paid(t, payment.PurposeChatStart)
		r := e.record(t, exact(p, "op:all", 45000, false), t0)[0]
		e.settleRefund(t, r, t0, false, nil)
		refused(t, e, exact(p, "op:more", 1, false), payment.ErrRefundExceedsRemainder, 0, 0)
	})

	t.Run("AnExactRefundOfAPaymentNeverPaidIsInvalidState", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		p := e.insert(t, e.row(t, payment.PurposeChatStart))
		_, err := e.Store.RecordRefund(check.Context(t), payment.RefundRecord{RefundOrder: exact(p, "op", 1, false), At: t0})
		check.ErrorIs(t, err, payment.ErrInvalidState)
	})

	t.Run("AnExactRefundNamesOnePaymentAndAnAmount", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		a, b := e.paid(t, payment.PurposeChatStart), e.paid(t, payment.PurposeChatStart)
		for _, o := range []payment.RefundOrder{
			{Cause: "op", From: []uuid.UUID{a.ID, b.ID}, Amount: 1, Exact: true},
			{Cause: "op", From: []uuid.UUID{a.ID}, Exact: true},
			{Cause: "op", From: []uuid.UUID{a.ID}, Amount: 1, Exact: true, Caps: map[uuid.UUID]int64{a.ID: 1}},
			{Cause: "op", From: []uuid.UUID{a.ID}, Amount: 1, KeepEarnings: true},
		} {
			_, err := e.Store.RecordRefund(check.Context(t), payment.RefundRecord{RefundOrder: o, At: t0})
			check.Error(t, err)
			var ve *core.ValidationError
			check.ErrorAs(t, err, &ve)
		}
	})

	t.Run("ConcurrentExactRefundsNeverGiveBackMoreThanWasPaid", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		p := e.paid(t, payment.PurposeChatStart) // 45000: four refunds of 10000 fit, a fifth does not
		const callers = 8
		errs := check.Concurrently(callers, func(i int) error {
			_, err := e.sameData().RecordRefund(check.Context(t), payment.RefundRecord{
				RefundOrder: exact(p, fmt.Sprintf("op:%d", i), 10000, false), At: t0,
			})
			return err
		})
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			check.ErrorIs(t, err, payment.ErrRefundExceedsRemainder)
		}
		check.Equal(t, 4, ok)
		all, total, err := e.Store.ListRefunds(check.Context(t), payment.RefundFilter{PaymentID: &p.ID, PageSize: 100})
		check.NoError(t, err)
		check.Equal(t, 4, total)
		var sum int64
		for _, r := range all {
			sum += r.Amount
		}
		check.Equal(t, int64(40000), sum)
	})

	t.Run("KeepEarningsRefusesMoneyAChatSessionTookAndAllowsTheRest", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		if e.Consume == nil {
			t.Skip("the store keeps no ledger")
		}
		p := e.paid(t, payment.PurposeChatStart) // 45000
		e.Consume(t, p, 30000)
		refused(t, e, exact(p, "op:1", 15001, true), payment.ErrEarningsNotReversed, 45000, 15000)
		check.Equal(t, int64(15000), e.record(t, exact(p, "op:2", 15000, true), t0)[0].Amount)
		refused(t, e, exact(p, "op:3", 1, true), payment.ErrEarningsNotReversed, 30000, 0)
		refused(t, e, exact(p, "op:4", 30001, false), payment.ErrRefundExceedsRemainder, 30000, 0)
		check.Equal(t, int64(30000), e.record(t, exact(p, "op:5", 30000, false), t0)[0].Amount,
			"without KeepEarnings the earned money may go back")
	})
}

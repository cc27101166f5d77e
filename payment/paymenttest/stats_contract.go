package paymenttest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/payment"
)

// RunStatsContract runs the conformance suite of payment.StatsStore over the Store of
// each harness, which must implement it: payments paid and refunds settled at given
// times, and the exact money of windows over them.
func RunStatsContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("MoneyIsCountedWhenItMoved", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		ctx := check.Context(t)
		stats, ok := e.Store.(payment.StatsStore)
		check.True(t, ok, "%T implements payment.StatsStore", e.Store)
		minute := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
		paidAt := func(purpose payment.Purpose, at time.Time) payment.Session {
			s := e.row(t, purpose)
			s.Status, s.PaidAt, s.ProviderRef = payment.StatusPaid, &at, "ch-"+s.ID.String()[:8]
			return e.insert(t, s)
		}

		// The window (t0, t0+60m]: paid at +10 (chat) and +20 (extension) count; paid at t0
		// exactly, after the window, or never do not.
		chat := paidAt(payment.PurposeChatStart, minute(10))
		ext := paidAt(payment.PurposeExtension, minute(20))
		early := paidAt(payment.PurposeChatStart, t0)
		paidAt(payment.PurposeChatStart, minute(70))
		e.insert(t, e.row(t, payment.PurposeChatStart))

		// Refunds count when they go through: the early payment's 10 000 at +30 does; the
		// chat's 20 000 refused at +16 and through at +65 does not, nor the extension's
		// 5 000 never sent.
		r1 := e.record(t, payment.RefundOrder{Cause: "a", From: []uuid.UUID{early.ID}, Amount: 10000}, minute(5))
		e.settleRefund(t, r1[0], minute(30), true, nil)
		r2 := e.record(t, payment.RefundOrder{Cause: "b", From: []uuid.UUID{chat.ID}, Amount: 20000}, minute(15))
		e.settleRefund(t, r2[0], minute(16), false, new(minute(17)))
		e.settleRefund(t, r2[0], minute(65), true, nil)
		e.record(t, payment.RefundOrder{Cause: "c", From: []uuid.UUID{ext.ID}, Amount: 5000}, minute(40))

		got, err := stats.MoneyStats(ctx, t0, minute(60))
		check.NoError(t, err)
		check.Equal(t, payment.Stats{GrossPaid: 2 * 45000, Refunded: 10000}, got)

		got, err = stats.MoneyStats(ctx, minute(60), minute(120))
		check.NoError(t, err)
		check.Equal(t, payment.Stats{GrossPaid: 45000, Refunded: 20000}, got)

		got, err = stats.MoneyStats(ctx, minute(-60), t0)
		check.NoError(t, err)
		check.Equal(t, payment.Stats{GrossPaid: 45000}, got)
	})
}

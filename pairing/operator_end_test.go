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

// endByOperator ends s as an operator choosing refund, and requires it went through.
func (e *env) endByOperator(t *testing.T, s pairing.ChatSession, refund pairing.EndRefund) (pairing.ChatSession, []payment.Refund) {
	t.Helper()
	ended, refunds, err := e.p.EndByOperator(context.Background(), pairing.OperatorEndParams{
		SessionID: s.ID, Refund: refund, Reason: "the client reported abuse",
	})
	require.NoError(t, err)
	require.Equal(t, pairing.SessionEnded, ended.Status)
	require.Equal(t, pairing.EndOperatorEnded, ended.EndReason)
	require.Equal(t, ended, e.session(t, s.ID))
	return ended, refunds
}

func TestEndByOperator_UnusedRefundsThePartTheTimeLeftStandsForNewestPaymentFirst(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		s := e.matched(t, 10) // 10000 for 10 minutes
		orig := *e.pairing(t, s.PairingID).PaymentSessionID
		ext := e.extend(t, s, 5, 5000) // 15000 for 15 minutes
		e.clock.Advance(7*time.Minute + 30*time.Second + 400*time.Millisecond)

		ended, refunds := e.endByOperator(t, s, pairing.EndRefundUnused)
		// 7 min 29.6 s left of 15 min: floor(15000 × 449 / 900) = 7483, the extension's
		// 5000 first, then 2483 of the chat.
		require.Len(t, refunds, 2)
		require.Equal(t, ext.ID, refunds[0].PaymentID)
		require.Equal(t, int64(5000), refunds[0].Amount)
		require.Equal(t, orig, refunds[1].PaymentID)
		require.Equal(t, int64(2483), refunds[1].Amount)
		require.Equal(t, pairing.OperatorEndCause(s.ID), refunds[0].Cause)
		require.Equal(t, int64(5000), e.payments.RefundedAmount(ext.ID), "sent right after the end")
		require.Equal(t, int64(2483), e.payments.RefundedAmount(orig))
		require.Equal(t, payment.StatusPartiallyRefunded, e.payment(t, orig).Status)

		for _, who := range []uuid.UUID{s.ClientID, s.MitraID} {
			ev := e.notifier.Find(pairing.EventSessionEnded, who)
			require.Len(t, ev, 1)
			require.Equal(t, pairing.EndOperatorEnded, ev[0].Payload.(pairing.SessionEndedEvent).Reason)
		}
		e.requireCapacityMirrored(t, s.MitraID, 0)

		_, _, err := e.p.EndByOperator(context.Background(), pairing.OperatorEndParams{
			SessionID: ended.ID, Refund: pairing.EndRefundFull, Reason: "again",
		})
		require.ErrorIs(t, err, pairing.ErrInvalidState, "an ended session is not ended again")
		require.Equal(t, int64(2483), e.payments.RefundedAmount(orig), "nor refunded again")
	})
}

func TestEndByOperator_FullRefundsEverythingPaidForTheSessionAndNoneNothing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		s := e.matched(t, 10)
		orig := *e.pairing(t, s.PairingID).PaymentSessionID
		ext := e.extend(t, s, 5, 5000)
		e.clock.Advance(time.Minute)
		_, refunds := e.endByOperator(t, s, pairing.EndRefundFull)
		require.Len(t, refunds, 2)
		require.Equal(t, payment.StatusRefunded, e.payment(t, orig).Status)
		require.Equal(t, payment.StatusRefunded, e.payment(t, ext.ID).Status)

		kept := e.matched(t, 10)
		e.clock.Advance(time.Minute)
		_, refunds = e.endByOperator(t, kept, pairing.EndRefundNone)
		require.Empty(t, refunds)
		require.Equal(t, payment.StatusPaid, e.payment(t, *e.pairing(t, kept.PairingID).PaymentSessionID).Status)
	})
}

func TestEndByOperator_AContinuationRefundsTheCarryOverItWasHanded(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		s := e.matched(t, 30) // 25000 for 30 minutes
		orig := *e.pairing(t, s.PairingID).PaymentSessionID
		next := e.onlineMitra(t)
		e.clock.Advance(18 * time.Minute) // 12 minutes left: 10000 carried over
		e.deactivate(t, s.MitraID)
		cont, err := e.p.Accept(context.Background(), next, pairing.ContinuationID(s.ID))
		require.NoError(t, err)
		require.Equal(t, 12, cont.Minutes)

		e.clock.Advance(3 * time.Minute) // 9 of its 12 minutes left
		_, refunds := e.endByOperator(t, cont, pairing.EndRefundUnused)
		require.Len(t, refunds, 1)
		require.Equal(t, orig, refunds[0].PaymentID)
		// With the ledger's carry-over (10000) or without it, the same rule along the
		// chain: floor(25000 × 12 / 30) = 10000, then floor(10000 × 9 / 12) = 7500.
		require.Equal(t, int64(7500), refunds[0].Amount)
	})
}

func TestEndByOperator_RefusesASessionNotActiveAndBadInput(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, m := e.returning(t)
		targeted, err := e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		pending, err := e.p.Accept(ctx, m, targeted.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.SessionPendingPayment, pending.Status)
		_, _, err = e.p.EndByOperator(ctx, pairing.OperatorEndParams{SessionID: pending.ID, Refund: pairing.EndRefundNone, Reason: "x"})
		require.ErrorIs(t, err, pairing.ErrInvalidState, "a session waiting for its payment is not running")
		_, _, err = e.p.EndByOperator(ctx, pairing.OperatorEndParams{SessionID: uuid.New(), Refund: pairing.EndRefundNone, Reason: "x"})
		require.ErrorIs(t, err, pairing.ErrNotFound)

		for _, p := range []pairing.OperatorEndParams{
			{SessionID: pending.ID, Refund: "half", Reason: "x"},
			{SessionID: pending.ID, Refund: pairing.EndRefundNone},
			{SessionID: pending.ID, Refund: pairing.EndRefundNone, Reason: string(make([]byte, 501))},
			{Refund: pairing.EndRefundNone, Reason: "x"},
		} {
			_, _, err := e.p.EndByOperator(ctx, p)
			var ve *core.ValidationError
			require.ErrorAs(t, err, &ve, "%+v", p)
		}
	})
}

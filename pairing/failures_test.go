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

func TestListFailures_FiltersPagesAndValidates(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		for range 3 {
			e.paidBlast(t, 10) // nobody online: no_mitra_available
			e.clock.Advance(time.Minute)
		}
		client, m := e.returning(t)
		pr, err := e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		require.NoError(t, e.p.Decline(ctx, m, pr.ID))

		items, total, err := e.p.ListFailures(ctx, pairing.FailureFilter{PageSize: 2})
		require.NoError(t, err)
		require.Equal(t, 4, total)
		require.Len(t, items, 2)
		require.Equal(t, pairing.ReasonTargetedDeclined, items[0].Reason, "newest first")
		items, total, err = e.p.ListFailures(ctx, pairing.FailureFilter{Page: 2, PageSize: 2})
		require.NoError(t, err)
		require.Equal(t, 4, total)
		require.Len(t, items, 2)

		items, total, err = e.p.ListFailures(ctx, pairing.FailureFilter{Reason: "no_mitra_available", Type: "blast", Status: "open"})
		require.NoError(t, err)
		require.Equal(t, 3, total)
		require.Len(t, items, 3)
		items, _, err = e.p.ListFailures(ctx, pairing.FailureFilter{From: ptr(t0.Add(time.Minute)), To: ptr(t0.Add(2 * time.Minute))})
		require.NoError(t, err)
		require.Len(t, items, 1)

		for _, f := range []pairing.FailureFilter{
			{Reason: "bored"}, {Status: "closed"}, {Type: "broadcast"}, {PageSize: 101}, {Page: -1},
			{From: ptr(t0), To: ptr(t0.Add(-time.Second))},
		} {
			_, _, err := e.p.ListFailures(ctx, f)
			var verr *core.ValidationError
			require.ErrorAs(t, err, &verr, "%+v", f)
		}
	})
}

func TestFailureAction_RefundRetriesARefusedRefund(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		e.payments.FailRefunds(true)
		_, pay := e.paidBlast(t, 10)
		f := e.failures(t, pairing.FailureFilter{})[0]
		require.Equal(t, pairing.RefundFailed, f.RefundStatus)

		_, err := e.p.FailureAction(ctx, pairing.FailureActionParams{ID: f.ID, Action: pairing.ActionRefund, Note: "", Operator: "op-1"})
		require.ErrorIs(t, err, core.ErrUnavailable, "the provider still refuses")
		require.Equal(t, pairing.RefundFailed, e.failures(t, pairing.FailureFilter{})[0].RefundStatus)

		e.payments.FailRefunds(false)
		got, err := e.p.FailureAction(ctx, pairing.FailureActionParams{ID: f.ID, Action: pairing.ActionRefund, Note: "", Operator: "op-1"})
		require.NoError(t, err)
		require.Equal(t, pairing.RefundRefunded, got.RefundStatus)
		require.Equal(t, pairing.FailureOpen, got.Status)
		require.Equal(t, payment.StatusRefunded, e.payment(t, pay.ID).Status)
		require.Equal(t, 1, e.payments.Refunds(pay.ID))

		_, err = e.p.FailureAction(ctx, pairing.FailureActionParams{ID: f.ID, Action: pairing.ActionRefund, Note: "", Operator: "op-1"})
		require.ErrorIs(t, err, pairing.ErrInvalidState, "nothing left to refund")
		require.Equal(t, 1, e.payments.Refunds(pay.ID))
	})
}

func TestFailureAction_ResolveOnceThenEveryActionIsInvalidState(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		e.payments.FailRefunds(true)
		e.paidBlast(t, 10)
		f := e.failures(t, pairing.FailureFilter{})[0]

		_, err := e.p.FailureAction(ctx, pairing.FailureActionParams{ID: f.ID, Action: pairing.ActionResolve, Note: "note", Operator: ""})
		var verr *core.ValidationError
		require.ErrorAs(t, err, &verr, "an operator is required")
		_, err = e.p.FailureAction(ctx, pairing.FailureActionParams{ID: f.ID, Action: "delete", Note: "", Operator: "op-1"})
		require.ErrorAs(t, err, &verr)
		_, err = e.p.FailureAction(ctx, pairing.FailureActionParams{ID: uuid.New(), Action: pairing.ActionResolve, Note: "", Operator: "op-1"})
		require.ErrorIs(t, err, pairing.ErrNotFound)

		e.clock.Advance(time.Hour)
		got, err := e.p.FailureAction(ctx, pairing.FailureActionParams{ID: f.ID, Action: pairing.ActionResolve, Note: "refunded by bank transfer", Operator: "op-7"})
		require.NoError(t, err)
		require.Equal(t, pairing.FailureResolved, got.Status)
		require.Equal(t, "op-7", got.ResolvedBy)
		require.Equal(t, "refunded by bank transfer", got.Note)
		require.Equal(t, e.clock.Now(), *got.ResolvedAt)

		for _, action := range []string{pairing.ActionResolve, pairing.ActionRefund} {
			_, err = e.p.FailureAction(ctx, pairing.FailureActionParams{ID: f.ID, Action: action, Note: "again", Operator: "op-8"})
			require.ErrorIs(t, err, pairing.ErrInvalidState, action)
		}
	})
}

func TestFailureAction_RefundOfANotChargedFailureIsInvalidState(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, m := e.returning(t)
		pr, err := e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		require.NoError(t, e.p.Decline(ctx, m, pr.ID))
		f := e.failures(t, pairing.FailureFilter{})[0]
		_, err = e.p.FailureAction(ctx, pairing.FailureActionParams{ID: f.ID, Action: pairing.ActionRefund, Note: "", Operator: "op-1"})
		require.ErrorIs(t, err, pairing.ErrInvalidState)
	})
}

package pairing_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/ledger"
)

// extend applies a paid extension to an active session, as the extension service would:
// an extension payment is paid, the session's minutes and ends_at grow, and the Pairer's
// Extensions dependency reports it.
func (e *env) extend(t *testing.T, s pairing.ChatSession, minutes int, amount int64) payment.Session {
	t.Helper()
	ctx := context.Background()
	tierID, extensionID := uuid.New(), uuid.New()
	pg, isPG := e.fx.(pgFixtures)
	if isPG {
		_, err := pg.db.Pool.Exec(ctx, `INSERT INTO pricing_tiers (id, mode, minutes, price) VALUES ($1, 'extension', $2, $3)`,
			tierID, minutes, amount)
		require.NoError(t, err)
		_, err = pg.db.Pool.Exec(ctx, `INSERT INTO extensions (id, chat_session_id, tier_id, minutes, amount, status)
			VALUES ($1, $2, $3, $4, $5, 'approved')`, extensionID, s.ID, tierID, minutes, amount)
		require.NoError(t, err)
	}
	svc := e.payments.Service()
	pay, _, err := svc.Create(ctx, payment.CreateParams{
		ClientID: s.ClientID, Purpose: payment.PurposeExtension, ChatSessionID: &s.ID, ExtensionID: &extensionID,
		TierID: tierID, Minutes: minutes, BaseAmount: amount, Amount: amount, Currency: "IDR",
	})
	require.NoError(t, err)
	pay, err = svc.MarkPaid(ctx, pay.ID, "")
	require.NoError(t, err)
	require.Equal(t, payment.StatusPaid, pay.Status)

	cur := e.session(t, s.ID)
	ends := cur.EndsAt.Add(time.Duration(minutes) * time.Minute)
	if isPG {
		_, err = pg.db.Pool.Exec(ctx, `UPDATE extensions SET status = 'paid', payment_session_id = $2 WHERE id = $1`, extensionID, pay.ID)
		require.NoError(t, err)
		_, err = pg.db.Pool.Exec(ctx, `UPDATE chat_sessions SET minutes = minutes + $2, ends_at = $3 WHERE id = $1`, s.ID, minutes, ends)
		require.NoError(t, err)
	} else {
		cur.Minutes, cur.EndsAt = cur.Minutes+minutes, &ends
		e.fx.(memFixtures).s.PutChatSession(cur)
	}
	e.extensions.Applied(s.ID, pairing.PaidExtension{PaymentID: pay.ID, Amount: amount, Minutes: minutes})
	return e.payment(t, pay.ID)
}

// deactivate takes a mitra off duty as an operator does: offline, deactivated, its
// sessions ended (mitra_deactivated) and continued as prepaid blasts.
func (e *env) deactivate(t *testing.T, m uuid.UUID) []pairing.ChatSession {
	t.Helper()
	e.avail.SetOnline(m, false)
	e.fx.setActive(t, m, false)
	ended, err := e.p.EndMitraSessions(context.Background(), m, pairing.EndMitraDeactivated)
	require.NoError(t, err)
	return ended
}

// prepaidOf is the prepaid blast continuing session s.
func (e *env) prepaidOf(t *testing.T, s pairing.ChatSession) pairing.Pairing {
	t.Helper()
	all, err := e.store.ListPairings(context.Background(), pairing.PairingQuery{})
	require.NoError(t, err)
	for _, pr := range all {
		if pr.Prepaid && pr.ClientID == s.ClientID && pr.CreatedAt.Equal(*e.session(t, s.ID).EndedAt) {
			return pr
		}
	}
	t.Fatalf("no prepaid blast continues session %s", s.ID)
	return pairing.Pairing{}
}

func TestReroute_FailedPrepaidBlastRefundsUnusedMinutes(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		s := e.matched(t, 30) // 25000 for 30 minutes
		orig := *e.pairing(t, s.PairingID).PaymentSessionID
		e.clock.Advance(22*time.Minute + 30*time.Second) // 7.5 minutes left

		// The only busy mitra is deactivated and nobody else is free.
		ended := e.deactivate(t, s.MitraID)
		require.Len(t, ended, 1)
		require.Equal(t, pairing.EndMitraDeactivated, ended[0].EndReason)
		pr := e.prepaidOf(t, s)
		require.Equal(t, 7, pr.Minutes)
		require.Equal(t, pairing.StatusFailed, pr.Status)
		require.Equal(t, pairing.ReasonNoMitraAvailable, pr.FailureReason)

		const want = 25000 * 7 / 30 // floor(5833.33)
		fs := e.failures(t, pairing.FailureFilter{})
		require.Len(t, fs, 1)
		require.Equal(t, int64(want), fs[0].Amount)
		require.Equal(t, pairing.RefundRefunded, fs[0].RefundStatus)
		pay := e.payment(t, orig)
		require.Equal(t, payment.StatusPartiallyRefunded, pay.Status, "the delivered minutes stay paid")
		require.Equal(t, int64(want), pay.RefundedAmount)
		require.Equal(t, int64(want), e.payments.RefundedAmount(orig))
		ev := e.notifier.Find(pairing.EventPairingFailed, s.ClientID)
		require.Len(t, ev, 1)
		require.Equal(t, int64(want), ev[0].Payload.(pairing.PairingFailedEvent).Amount)
	})
}

func TestReroute_FailedPrepaidBlastRefundsUnusedMinutesWithExtensions(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		s := e.matched(t, 10) // 10000 for 10 minutes
		orig := *e.pairing(t, s.PairingID).PaymentSessionID
		ext := e.extend(t, s, 5, 5000) // 15000 for 15 minutes
		e.clock.Advance(3*time.Minute + 30*time.Second)

		e.deactivate(t, s.MitraID)
		pr := e.prepaidOf(t, s)
		require.Equal(t, 11, pr.Minutes)
		require.Equal(t, pairing.StatusFailed, pr.Status)

		// floor(15000 × 11 / 15) = 11000: the extension's 5000 first, then 6000 of the chat.
		fs := e.failures(t, pairing.FailureFilter{})
		require.Len(t, fs, 1)
		require.Equal(t, int64(11000), fs[0].Amount)
		require.Equal(t, pairing.RefundRefunded, fs[0].RefundStatus)
		require.Equal(t, payment.StatusRefunded, e.payment(t, ext.ID).Status)
		require.Equal(t, int64(5000), e.payments.RefundedAmount(ext.ID))
		require.Equal(t, payment.StatusPartiallyRefunded, e.payment(t, orig).Status)
		require.Equal(t, int64(6000), e.payments.RefundedAmount(orig))
	})
}

func TestReroute_CancelledPrepaidBlastRefundsUnusedMinutes(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		s := e.matched(t, 10)
		orig := *e.pairing(t, s.PairingID).PaymentSessionID
		e.onlineMitra(t) // someone is offered the prepaid blast: it searches
		e.avail.SetOnline(s.MitraID, false)
		e.clock.Advance(4 * time.Minute)
		pr, err := e.p.Reroute(ctx, s.ClientID, s.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.StatusSearching, pr.Status)

		got, err := e.p.Cancel(ctx, s.ClientID, pr.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.StatusCancelled, got.Status)
		require.Equal(t, int64(6000), e.payments.RefundedAmount(orig), "floor(10000 × 6 / 10)")
		require.Equal(t, payment.StatusPartiallyRefunded, e.payment(t, orig).Status)
		require.Empty(t, e.failures(t, pairing.FailureFilter{}), "a cancellation writes no failure row")

		again, err := e.p.Cancel(ctx, s.ClientID, pr.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.StatusCancelled, again.Status)
		require.Equal(t, int64(6000), e.payments.RefundedAmount(orig), "refunded once")
	})
}

func TestReroute_ChainCarriesTheValueOverProportionally(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		s0 := e.matched(t, 10) // 10000 for 10 minutes
		orig := *e.pairing(t, s0.PairingID).PaymentSessionID
		next := e.onlineMitra(t)
		e.avail.SetOnline(s0.MitraID, false)
		e.clock.Advance(2 * time.Minute)
		p1, err := e.p.Reroute(ctx, s0.ClientID, s0.ID)
		require.NoError(t, err)
		s1, err := e.p.Accept(ctx, next, p1.ID)
		require.NoError(t, err)
		require.Equal(t, 8, s1.Minutes) // carries 10000 × 8 / 10 = 8000
		ext := e.extend(t, s1, 5, 5000) // 13000 for 13 minutes

		e.clock.Advance(7 * time.Minute) // 6 minutes left
		e.deactivate(t, next)
		p2 := e.prepaidOf(t, s1)
		require.Equal(t, 6, p2.Minutes)
		require.Equal(t, pairing.StatusFailed, p2.Status)
		// floor(13000 × 6 / 13) = 6000: the extension's 5000, then 1000 of the first chat.
		require.Equal(t, int64(5000), e.payments.RefundedAmount(ext.ID))
		require.Equal(t, int64(1000), e.payments.RefundedAmount(orig))
		require.Equal(t, int64(6000), e.failures(t, pairing.FailureFilter{})[0].Amount)
	})
}

func TestReroute_RefusedRefundOfAFailedPrepaidBlastIsRetriedUntilTheRowSaysRefunded(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		s := e.matched(t, 10)
		orig := *e.pairing(t, s.PairingID).PaymentSessionID
		e.clock.Advance(5 * time.Minute)
		e.payments.Gateway().FailNextRefunds(1)
		e.deactivate(t, s.MitraID)

		fs := e.failures(t, pairing.FailureFilter{})
		require.Len(t, fs, 1)
		require.Equal(t, int64(5000), fs[0].Amount)
		require.Equal(t, pairing.RefundFailed, fs[0].RefundStatus)
		require.Equal(t, payment.StatusRefundFailed, e.payment(t, orig).Status)

		e.clock.Advance(payment.DefaultRefundRetryBase)
		rep, err := e.payments.Service().RetryRefunds(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Succeeded)
		require.Equal(t, pairing.RefundRefunded, e.failures(t, pairing.FailureFilter{})[0].RefundStatus,
			"the retry sweep's success reaches the failure row")
		require.Equal(t, payment.StatusPartiallyRefunded, e.payment(t, orig).Status)
		require.Equal(t, int64(5000), e.payments.RefundedAmount(orig))
	})
}

func TestFailureAction_RefundRetriesAPrepaidFailureNow(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		s := e.matched(t, 10)
		orig := *e.pairing(t, s.PairingID).PaymentSessionID
		e.clock.Advance(5 * time.Minute)
		e.payments.FailRefunds(true)
		e.deactivate(t, s.MitraID)
		f := e.failures(t, pairing.FailureFilter{})[0]
		require.Equal(t, pairing.RefundFailed, f.RefundStatus)

		_, err := e.p.FailureAction(ctx, pairing.FailureActionParams{ID: f.ID, Action: pairing.ActionRefund, Note: "", Operator: "op"})
		require.ErrorIs(t, err, pairing.ErrUnavailable, "the provider still refuses")
		e.payments.FailRefunds(false)
		got, err := e.p.FailureAction(ctx, pairing.FailureActionParams{ID: f.ID, Action: pairing.ActionRefund, Note: "", Operator: "op"})
		require.NoError(t, err)
		require.Equal(t, pairing.RefundRefunded, got.RefundStatus)
		require.Equal(t, int64(5000), e.payments.RefundedAmount(orig))
	})
}

// forgetfulPayments records refunds with transitions but never sends them: the process
// stopped right after the commit.
type forgetfulPayments struct{ recordingPayments }

func (forgetfulPayments) SettleRefunds(context.Context, string, bool) (payment.RefundSummary, error) {
	return payment.RefundSummary{}, errors.New("the process stopped")
}

func TestFailBlast_RefundDecidedBeforeACrashIsSentByTheRetrySweep(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		crashing, err := pairing.NewPairer(e.store, pairing.Deps{
			Availability: e.avail, Payments: forgetfulPayments{recordingPayments{e.payments, e.fx}}, Quoter: e.quoter,
			Settings: e.settings, Notifier: e.notifier,
		}, &e.cfg)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, crashing.Stop(ctx)) })
		e.payments.SetHandler(crashing)

		pr, pay, err := crashing.StartBlast(ctx, pairing.StartParams{ClientID: e.fx.client(t), Minutes: 10})
		require.NoError(t, err)
		require.NoError(t, e.payments.Pay(ctx, pay.ID)) // nobody online: the blast fails at once
		require.Equal(t, pairing.StatusFailed, e.pairing(t, pr.ID).Status)
		require.Zero(t, e.payments.Refunds(pay.ID), "the process stopped before sending the refund")
		f := e.failures(t, pairing.FailureFilter{})[0]
		require.Equal(t, pairing.RefundFailed, f.RefundStatus)
		require.Equal(t, pay.Amount, f.Amount)

		e.payments.SetHandler(e.p) // another instance takes over
		e.clock.Advance(2 * payment.DefaultDetachedTimeout)
		rep, err := e.payments.Service().RetryRefunds(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Succeeded)
		require.Equal(t, payment.StatusRefunded, e.payment(t, pay.ID).Status)
		require.Equal(t, 1, e.payments.Refunds(pay.ID))
		require.Equal(t, pairing.RefundRefunded, e.failures(t, pairing.FailureFilter{})[0].RefundStatus)
	})
}

// failingReads fails reading payments while on.
type failingReads struct {
	recordingPayments
	fail *bool
}

func (f failingReads) Get(ctx context.Context, id uuid.UUID) (payment.Session, error) {
	if *f.fail {
		return payment.Session{}, errors.New("database unavailable")
	}
	return f.recordingPayments.Get(ctx, id)
}

// failingCarry is a store whose reads of a carry-over fail while *fail.
type failingCarry struct {
	pairing.Store
	fail *bool
}

func (f failingCarry) CarryOver(ctx context.Context, pairingID uuid.UUID) ([]ledger.Part, bool, error) {
	if *f.fail {
		return nil, false, errors.New("database unavailable")
	}
	return f.Store.CarryOver(ctx, pairingID)
}

func TestReroute_PrepaidBlastWaitsUntilWhatItOwesCanBeRead(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		fail := false
		p, err := pairing.NewPairer(failingCarry{e.store, &fail}, pairing.Deps{
			Availability: e.avail, Payments: failingReads{recordingPayments{e.payments, e.fx}, &fail}, Quoter: e.quoter,
			Settings: e.settings, Notifier: e.notifier,
		}, &e.cfg)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, p.Stop(ctx)) })
		e.payments.SetHandler(p)
		m := e.onlineMitra(t)
		pr, pay, err := p.StartBlast(ctx, pairing.StartParams{ClientID: e.fx.client(t), Minutes: 10})
		require.NoError(t, err)
		require.NoError(t, e.payments.Pay(ctx, pay.ID))
		s, err := p.Accept(ctx, m, pr.ID)
		require.NoError(t, err)
		e.clock.Advance(5 * time.Minute)

		fail = true
		e.avail.SetOnline(m, false)
		e.fx.setActive(t, m, false)
		_, err = p.EndMitraSessions(ctx, m, pairing.EndMitraDeactivated)
		require.NoError(t, err, "the session ends; its prepaid blast waits")
		prepaid := e.prepaidOf(t, s)
		require.Equal(t, pairing.StatusSearching, prepaid.Status, "not failed without knowing what it owes")
		require.Empty(t, e.failures(t, pairing.FailureFilter{}))

		fail = false
		e.clock.Advance(time.Minute)
		_, err = p.SweepTimeouts(ctx)
		require.NoError(t, err)
		require.Equal(t, pairing.StatusFailed, e.pairing(t, prepaid.ID).Status)
		require.Equal(t, int64(5000), e.payments.RefundedAmount(pay.ID))
	})
}

func TestSyncFailureRefunds_MarksRowsWhoseRefundWentThroughUnnoticed(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		e.payments.Gateway().FailNextRefunds(1)
		_, pay := e.paidBlast(t, 10) // nobody online: fails, its refund refused
		require.Equal(t, pairing.RefundFailed, e.failures(t, pairing.FailureFilter{})[0].RefundStatus)
		n, err := e.p.SyncFailureRefunds(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "the refund has not gone through")

		// The retry succeeds, but its notice to the pairing side is lost.
		e.payments.Service().SetRefundListener(nil)
		e.clock.Advance(payment.DefaultRefundRetryBase)
		rep, err := e.payments.Service().RetryRefunds(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Succeeded)
		require.Equal(t, pairing.RefundFailed, e.failures(t, pairing.FailureFilter{})[0].RefundStatus)

		n, err = e.p.SyncFailureRefunds(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, pairing.RefundRefunded, e.failures(t, pairing.FailureFilter{})[0].RefundStatus)
		require.Equal(t, payment.StatusRefunded, e.payment(t, pay.ID).Status)
		_, _, err = e.p.ListFailures(ctx, pairing.FailureFilter{RefundStatus: "bogus"})
		require.Error(t, err)
	})
}

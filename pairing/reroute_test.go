package pairing_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
)

func TestReroute_RefusedWhileTheMitraIsReachable(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		s := e.matched(t, 10)
		_, err := e.p.Reroute(ctx, s.ClientID, s.ID)
		require.ErrorIs(t, err, pairing.ErrInvalidState)
		_, err = e.p.Reroute(ctx, uuid.New(), s.ID)
		require.ErrorIs(t, err, pairing.ErrNotFound, "another client's session")
		require.Equal(t, pairing.SessionActive, e.session(t, s.ID).Status)

		_, err = e.p.EndSession(ctx, pairing.EndParams{SessionID: s.ID, By: pairing.PartyClient, CallerID: s.ClientID})
		require.NoError(t, err)
		e.avail.SetOnline(s.MitraID, false)
		_, err = e.p.Reroute(ctx, s.ClientID, s.ID)
		require.ErrorIs(t, err, pairing.ErrInvalidState, "not active")
	})
}

func TestReroute_ContinuesTheRemainingWholeMinutesAsAPrepaidBlast(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		s := e.matched(t, 10)
		charged := e.payments.Created()
		next := e.onlineMitra(t)
		e.avail.SetOnline(s.MitraID, false) // the mitra's app died
		e.clock.Advance(3*time.Minute + 30*time.Second)

		pr, err := e.p.Reroute(ctx, s.ClientID, s.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.TypeBlast, pr.Type)
		require.Equal(t, pairing.StatusSearching, pr.Status)
		require.True(t, pr.Prepaid)
		require.Equal(t, 6, pr.Minutes, "6.5 minutes left: the whole ones")
		require.Nil(t, pr.PaymentSessionID)
		require.Equal(t, charged, e.payments.Created(), "no new charge")

		old := e.session(t, s.ID)
		require.Equal(t, pairing.SessionEnded, old.Status)
		require.Equal(t, pairing.EndRerouted, old.EndReason)
		e.requireCapacityMirrored(t, s.MitraID, 0)
		require.Len(t, e.notifier.Find(pairing.EventSessionEnded, s.ClientID), 1)

		require.Len(t, e.offers(t, next), 1)
		ns, err := e.p.Accept(ctx, next, pr.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.SessionActive, ns.Status)
		require.Equal(t, 6, ns.Minutes)
		require.Equal(t, &s.ID, ns.ReroutedFromID)
		require.Equal(t, e.clock.Now().Add(6*time.Minute), *ns.EndsAt)
		require.Equal(t, ns, e.session(t, ns.ID))

		_, err = e.p.Reroute(ctx, s.ClientID, s.ID)
		require.ErrorIs(t, err, pairing.ErrInvalidState, "rerouted once")
	})
}

func TestEndMitraSessions_DeactivationReroutesActiveSessionsAndCancelsPendingOnes(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withSettings(settingsMax(2)))
		ctx := context.Background()
		client, m := e.returning(t)
		blast, _ := e.paidBlast(t, 10)
		active, err := e.p.Accept(ctx, m, blast.ID)
		require.NoError(t, err)
		targeted, err := e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		pending, err := e.p.Accept(ctx, m, targeted.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.SessionPendingPayment, pending.Status)
		e.requireCapacityMirrored(t, m, 2)
		next := e.onlineMitra(t)

		e.avail.SetOnline(m, false)
		e.fx.setActive(t, m, false)
		e.clock.Advance(2 * time.Minute)
		ended, err := e.p.EndMitraSessions(ctx, m, pairing.EndMitraDeactivated)
		require.NoError(t, err)
		require.Len(t, ended, 2)

		got := e.session(t, active.ID)
		require.Equal(t, pairing.SessionEnded, got.Status)
		require.Equal(t, pairing.EndMitraDeactivated, got.EndReason)
		got = e.session(t, pending.ID)
		require.Equal(t, pairing.SessionCancelled, got.Status)
		require.Equal(t, pairing.EndMitraDeactivated, got.EndReason)
		require.Equal(t, payment.StatusCancelled, e.payment(t, *e.pairing(t, targeted.ID).PaymentSessionID).Status)
		e.requireCapacityMirrored(t, m, 0)

		offers := e.offers(t, next)
		require.Len(t, offers, 1, "the active session continues as a prepaid blast")
		require.Equal(t, 8, offers[0].Minutes)
		ns, err := e.p.Accept(ctx, next, offers[0].PairingID)
		require.NoError(t, err)
		require.Equal(t, &active.ID, ns.ReroutedFromID)
		require.Equal(t, blast.ClientID, ns.ClientID)
	})
}

// extensionRace is a Store that runs a paid extension once, right before the first
// write that ends a chat session (Reroute, EndChatSession) after it is armed: the payment
// of an extension racing a reroute or a deactivation, landing between the Pairer's read
// of the session and its write.
type extensionRace struct {
	pairing.Store
	mu  sync.Mutex
	run func()
}

func (r *extensionRace) wrap(s pairing.Store) pairing.Store {
	r.Store = s
	return r
}

// arm makes the next ending write run apply first.
func (r *extensionRace) arm(apply func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.run = apply
}

func (r *extensionRace) fire() {
	r.mu.Lock()
	run := r.run
	r.run = nil
	r.mu.Unlock()
	if run != nil {
		run()
	}
}

func (r *extensionRace) Reroute(ctx context.Context, p pairing.RerouteParams) (pairing.ChatSession, pairing.Pairing, error) {
	r.fire()
	return r.Store.Reroute(ctx, p)
}

func (r *extensionRace) EndChatSession(ctx context.Context, t pairing.SessionTransition) (pairing.ChatSession, error) {
	r.fire()
	return r.Store.EndChatSession(ctx, t)
}

func TestReroute_CarriesAnExtensionPaidBetweenItsReadAndItsWrite(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		race := &extensionRace{}
		e := newEnv(t, b, withStore(race.wrap))
		ctx := context.Background()
		s := e.matched(t, 10) // 10000 for 10 minutes
		orig := *e.pairing(t, s.PairingID).PaymentSessionID
		e.avail.SetOnline(s.MitraID, false) // nobody else is online: the continuation fails
		e.clock.Advance(3*time.Minute + 30*time.Second)
		var ext payment.Session
		race.arm(func() { ext = e.extend(t, s, 5, 5000) }) // 15000 for 15 minutes

		pr, err := e.p.Reroute(ctx, s.ClientID, s.ID)
		require.NoError(t, err)
		require.Equal(t, 11, pr.Minutes, "11.5 minutes left, the extension's included")
		require.Equal(t, pairing.StatusFailed, pr.Status)
		old := e.session(t, s.ID)
		require.Equal(t, pairing.EndRerouted, old.EndReason)
		require.Equal(t, 15, old.Minutes)

		// floor(15000 × 11 / 15) = 11000: the extension's 5000, then 6000 of the chat.
		fs := e.failures(t, pairing.FailureFilter{})
		require.Len(t, fs, 1)
		require.Equal(t, int64(11000), fs[0].Amount)
		require.Equal(t, int64(5000), e.payments.RefundedAmount(ext.ID))
		require.Equal(t, int64(6000), e.payments.RefundedAmount(orig))
	})
}

func TestEndMitraSessions_DeactivationCarriesAnExtensionPaidBetweenItsReadAndItsWrite(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		race := &extensionRace{}
		e := newEnv(t, b, withStore(race.wrap))
		s := e.matched(t, 10) // 10000 for 10 minutes
		orig := *e.pairing(t, s.PairingID).PaymentSessionID
		e.clock.Advance(3*time.Minute + 30*time.Second)
		var ext payment.Session
		race.arm(func() { ext = e.extend(t, s, 5, 5000) }) // 15000 for 15 minutes

		ended := e.deactivate(t, s.MitraID)
		require.Len(t, ended, 1)
		require.Equal(t, pairing.EndMitraDeactivated, ended[0].EndReason)
		require.Equal(t, 15, ended[0].Minutes)
		pr := e.prepaidOf(t, s)
		require.Equal(t, 11, pr.Minutes, "11.5 minutes left, the extension's included")
		require.Equal(t, pairing.StatusFailed, pr.Status)

		fs := e.failures(t, pairing.FailureFilter{})
		require.Len(t, fs, 1)
		require.Equal(t, int64(11000), fs[0].Amount, "floor(15000 × 11 / 15)")
		require.Equal(t, int64(5000), e.payments.RefundedAmount(ext.ID))
		require.Equal(t, int64(6000), e.payments.RefundedAmount(orig))
	})
}

func TestEndMitraSessions_ExtensionPaidInTheLastMinuteIsContinuedNotEnded(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		race := &extensionRace{}
		e := newEnv(t, b, withStore(race.wrap))
		s := e.matched(t, 10) // 10000 for 10 minutes
		// Half a minute left: nothing to continue, so the deactivation would just end it.
		e.clock.Advance(9*time.Minute + 30*time.Second)
		var ext payment.Session
		race.arm(func() { ext = e.extend(t, s, 5, 5000) }) // 15000 for 15 minutes

		ended := e.deactivate(t, s.MitraID)
		require.Len(t, ended, 1)
		require.Equal(t, pairing.SessionEnded, ended[0].Status)
		pr := e.prepaidOf(t, s)
		require.Equal(t, 5, pr.Minutes, "the extension's 5.5 minutes continue")
		require.Equal(t, pairing.StatusFailed, pr.Status)
		require.Equal(t, int64(5000), e.failures(t, pairing.FailureFilter{})[0].Amount, "floor(15000 × 5 / 15)")
		require.Equal(t, int64(5000), e.payments.RefundedAmount(ext.ID))
	})
}

// alwaysExtended pays an extension of the session before every ending write: the session
// changes under each guarded write.
type alwaysExtended struct {
	pairing.Store
	extend func()
}

func (a *alwaysExtended) EndChatSession(ctx context.Context, t pairing.SessionTransition) (pairing.ChatSession, error) {
	if a.extend != nil {
		a.extend()
	}
	return a.Store.EndChatSession(ctx, t)
}

func (a *alwaysExtended) Reroute(ctx context.Context, p pairing.RerouteParams) (pairing.ChatSession, pairing.Pairing, error) {
	if a.extend != nil {
		a.extend()
	}
	return a.Store.Reroute(ctx, p)
}

func TestEndMitraSessions_ASessionThatKeepsChangingIsReportedNotSkipped(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		changing := &alwaysExtended{}
		e := newEnv(t, b, withStore(func(s pairing.Store) pairing.Store { changing.Store = s; return changing }))
		s := e.matched(t, 10)
		e.clock.Advance(3 * time.Minute)
		minutes := 4
		changing.extend = func() { minutes++; e.extend(t, s, minutes, 5000) } // a tier per length

		_, err := e.p.EndMitraSessions(context.Background(), s.MitraID, pairing.EndMitraDeactivated)
		require.ErrorIs(t, err, pairing.ErrConflict, "the caller hears the session was left running")
		require.NotErrorIs(t, err, pairing.ErrInvalidState)
		require.Equal(t, pairing.SessionActive, e.session(t, s.ID).Status)
	})
}

package pairing_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/pairing"
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
		require.Equal(t, pairing.PaymentCancelled, e.payment(t, *e.pairing(t, targeted.ID).PaymentSessionID).Status)
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

package pairing_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pairing/pairingtest"
)

// The wrap-up after a chat session: the mitra is offered nothing, then offered what waits.

const wrapup = 30 * time.Second

// wrapupEnv is an env with the policies s (mitra_wrapup_seconds s.Wrapup), its fake mirror
// keeping a mitra in its wrap-up unavailable as the real one does.
func wrapupEnv(t *testing.T, b backend, s pairingtest.Settings) *env {
	t.Helper()
	e := newEnv(t, b, policies(s))
	e.avail.SetWrapup(s.Wrapup, e.clock.Now)
	return e
}

// chatOf starts a paid blast that the mitra m (the only one available) accepts.
func (e *env) chatOf(t *testing.T, m uuid.UUID) pairing.ChatSession {
	t.Helper()
	pr, _ := e.paidBlast(t, 10)
	require.Equal(t, pairing.StatusSearching, pr.Status)
	s, err := e.p.Accept(context.Background(), m, pr.ID)
	require.NoError(t, err)
	return s
}

func (e *env) endByClient(t *testing.T, s pairing.ChatSession) pairing.ChatSession {
	t.Helper()
	ended, err := e.p.EndSession(context.Background(), pairing.EndParams{SessionID: s.ID, By: pairing.PartyClient, CallerID: s.ClientID})
	require.NoError(t, err)
	return ended
}

func (e *env) available(t *testing.T) []uuid.UUID {
	t.Helper()
	ids, err := e.avail.FindAvailable(context.Background(), 0, nil)
	require.NoError(t, err)
	return ids
}

func TestWrapup_AMitraIsOfferedNothingUntilItEndsThenTheHeadOfTheQueue(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := wrapupEnv(t, b, pairingtest.Settings{Queue: true, Wrapup: wrapup})
		ctx := context.Background()
		m := e.newMitra(t)
		e.comeOnline(t, m)
		s := e.chatOf(t, m)
		e.clock.Advance(5 * time.Minute)
		e.endByClient(t, s)
		ended := e.clock.Now()

		waiting, _ := e.paidBlast(t, 10)
		require.Equal(t, pairing.StatusQueued, waiting.Status, "nobody available: the mitra is in its wrap-up")
		require.Empty(t, e.available(t))
		require.Empty(t, e.offers(t, m))
		// Asked directly (the host's MitraOnline, a freed slot), it is still offered nothing.
		require.NoError(t, e.p.MitraAvailable(ctx, m))
		require.NoError(t, e.p.MitraOnline(ctx, m, false))
		require.Empty(t, e.offers(t, m))
		require.Empty(t, e.notifier.Find(pairing.EventPairingOffer, m)[1:], "the first chat's offer only")

		e.clock.Advance(wrapup - time.Millisecond)
		require.Empty(t, e.offers(t, m))
		e.clock.Advance(time.Millisecond)
		offers := e.offers(t, m)
		require.Len(t, offers, 1, "the wrap-up's end offers it the head of the queue")
		require.Equal(t, waiting.ID, offers[0].PairingID)
		require.True(t, offers[0].Queued)
		require.Equal(t, ended.Add(wrapup), offers[0].OfferedAt)
		require.Equal(t, []uuid.UUID{m}, e.available(t))

		// The timer did it: the sweep finds nothing left to do.
		rep, err := e.p.SweepTimeouts(ctx)
		require.NoError(t, err)
		require.Zero(t, rep.WrapupsEnded)
	})
}

func TestWrapup_ABlastSearchingMeanwhileReachesTheMitraWhenItEnds(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := wrapupEnv(t, b, pairingtest.Settings{Wrapup: wrapup})
		m, other := e.onlineMitra(t), e.newMitra(t)
		s := e.chatOf(t, m)
		e.clock.Advance(time.Minute)
		e.endByClient(t, s)

		// Without anybody else, a blast finds nobody.
		pr, _ := e.paidBlast(t, 10)
		require.Equal(t, pairing.StatusFailed, pr.Status)
		require.Equal(t, pairing.ReasonNoMitraAvailable, pr.FailureReason)

		e.avail.SetOnline(other, true)
		searching, _ := e.paidBlast(t, 10)
		require.Equal(t, pairing.StatusSearching, searching.Status)
		require.Empty(t, e.offers(t, m), "the blast goes to the other mitra only")
		require.Len(t, e.offers(t, other), 1)

		e.clock.Advance(wrapup)
		offers := e.offers(t, m)
		require.Len(t, offers, 1, "out of its wrap-up, it joins the searching blast")
		require.Equal(t, searching.ID, offers[0].PairingID)
	})
}

// A later end prolongs the wrap-up: the earlier end's timer waits for it.
func TestWrapup_ALaterEndProlongsIt(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := wrapupEnv(t, b, pairingtest.Settings{Queue: true, Wrapup: wrapup, MaxSessions: 2})
		m := e.newMitra(t)
		e.comeOnline(t, m)
		first := e.chatOf(t, m)
		second := e.chatOf(t, m)
		e.endByClient(t, first)
		e.clock.Advance(20 * time.Second)
		e.endByClient(t, second)
		waiting, _ := e.paidBlast(t, 10)
		require.Equal(t, pairing.StatusQueued, waiting.Status)
		e.clock.Advance(wrapup - 20*time.Second)
		require.Empty(t, e.offers(t, m), "the second end's wrap-up still runs")
		e.clock.Advance(20 * time.Second)
		require.Len(t, e.offers(t, m), 1)
	})
}

// A restarted instance has no timer: its timeouts sweep makes the mitra available, once.
func TestWrapup_TheSweepEndsAWrapupNoTimerRan(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := wrapupEnv(t, b, pairingtest.Settings{Queue: true, Wrapup: wrapup})
		ctx := context.Background()
		m := e.newMitra(t)
		e.comeOnline(t, m)
		s := e.chatOf(t, m)
		e.endByClient(t, s)
		waiting, _ := e.paidBlast(t, 10)
		require.Equal(t, pairing.StatusQueued, waiting.Status)
		require.NoError(t, e.p.Stop(ctx)) // the instance goes away with its timer

		restarted := e.newPairer(t)
		rep, err := restarted.SweepTimeouts(ctx)
		require.NoError(t, err)
		require.Zero(t, rep.WrapupsEnded, "still in its wrap-up")
		require.Empty(t, e.offers(t, m))

		e.clock.Advance(wrapup + 5*time.Second)
		recomputed := len(e.avail.Recomputed())
		rep, err = restarted.SweepTimeouts(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.WrapupsEnded)
		require.Len(t, e.avail.Recomputed(), recomputed+1, "the mirror re-synced")
		offers := e.offers(t, m)
		require.Len(t, offers, 1)
		require.Equal(t, waiting.ID, offers[0].PairingID)

		rep, err = restarted.SweepTimeouts(ctx)
		require.NoError(t, err)
		require.Zero(t, rep.WrapupsEnded, "each end once")
		// Another instance's sweep repeats it harmlessly: the offer stands, no second one.
		rep, err = e.newPairer(t).SweepTimeouts(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.WrapupsEnded)
		require.Len(t, e.offers(t, m), 1)
		require.Len(t, e.notifier.Find(pairing.EventPairingOffer, m), 2, "the first chat's offer and the queued one")
	})
}

// A wrap-up that ended longer than WrapupLookback before a restart is not the sweep's.
func TestWrapup_TheSweepLooksBackABoundedTime(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := wrapupEnv(t, b, pairingtest.Settings{Wrapup: wrapup})
		m := e.onlineMitra(t)
		e.endByClient(t, e.chatOf(t, m))
		require.NoError(t, e.p.Stop(context.Background()))
		e.clock.Advance(wrapup + pairing.WrapupLookback + time.Second)
		rep, err := e.newPairer(t).SweepTimeouts(context.Background())
		require.NoError(t, err)
		require.Zero(t, rep.WrapupsEnded)
	})
}

func TestWrapup_CurhatLagiWaitsForTheWrapup(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := wrapupEnv(t, b, pairingtest.Settings{Wrapup: wrapup})
		ctx := context.Background()
		m := e.onlineMitra(t)
		s := e.endByClient(t, e.chatOf(t, m))
		pr, err := e.p.StartTargeted(ctx, s.ClientID, m, 10)
		require.NoError(t, err)
		require.Equal(t, pairing.StatusTargetedUnavailable, pr.Status)
		require.Equal(t, pairing.ReasonMitraUnreachable, pr.FailureReason)
		_, err = e.p.Cancel(ctx, s.ClientID, pr.ID)
		require.NoError(t, err)

		e.clock.Advance(wrapup)
		pr, err = e.p.StartTargeted(ctx, s.ClientID, m, 10)
		require.NoError(t, err)
		require.Equal(t, pairing.StatusTargetedWaiting, pr.Status)
	})
}

// With mitra_wrapup_seconds 0 a freed mitra is offered the head of the queue at once, and
// the wrap-up reads nothing.
func TestWrapup_OffLeavesTheFreedMitraAvailableAtOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := wrapupEnv(t, b, pairingtest.Settings{Queue: true})
		m := e.newMitra(t)
		e.comeOnline(t, m)
		s := e.chatOf(t, m)
		waiting, _ := e.paidBlast(t, 10)
		require.Equal(t, pairing.StatusQueued, waiting.Status)
		e.endByClient(t, s)
		offers := e.offers(t, m)
		require.Len(t, offers, 1)
		require.Equal(t, waiting.ID, offers[0].PairingID)
		rep, err := e.p.SweepTimeouts(context.Background())
		require.NoError(t, err)
		require.Zero(t, rep.WrapupsEnded)
	})
}

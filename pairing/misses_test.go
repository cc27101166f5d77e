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

func (e *env) online(id uuid.UUID) bool {
	ok, _ := e.avail.IsReachable(context.Background(), id)
	return ok
}

// lapsedBlast starts a paid blast and lets its deadline pass unanswered.
func (e *env) lapsedBlast(t *testing.T) pairing.Pairing {
	t.Helper()
	pr, _ := e.paidBlast(t, 10)
	e.clock.Advance(time.Minute)
	return e.pairing(t, pr.ID)
}

func TestMissedOffers_TwoUnansweredBlastsTakeTheMitraOfflineAndTheThirdFindsNobody(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		var away []string
		e := newEnv(t, b, policies(pairingtest.Settings{MissedBeforeAway: 2}), func(e *env) {
			e.cfg.Hooks.MitraAway = func(reason string) { away = append(away, reason) }
		})
		m := e.newMitra(t)
		e.comeOnline(t, m)

		require.Equal(t, pairing.StatusFailed, e.lapsedBlast(t).Status)
		require.True(t, e.online(m), "one miss")
		e.lapsedBlast(t)
		require.False(t, e.online(m), "two misses in a row")
		require.Equal(t, pairing.AwayMissedOffers, e.avail.AwayReason(m))
		told := e.notifier.Find(pairing.EventMitraAway, m)
		require.Len(t, told, 1)
		require.Equal(t, pairing.MitraAwayEvent{Reason: "missed_offers", MissedOffers: 2}, told[0].Payload)
		require.Equal(t, []string{"missed_offers"}, away)

		third, _ := e.paidBlast(t, 10)
		require.Equal(t, pairing.StatusFailed, third.Status)
		require.Equal(t, pairing.ReasonNoMitraAvailable, third.FailureReason, "it gets no offers until it goes online")
	})
}

func TestMissedOffers_GoingOnlineAgainResetsTheCount(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{MissedBeforeAway: 2}))
		m := e.newMitra(t)
		e.comeOnline(t, m)
		e.lapsedBlast(t)
		e.lapsedBlast(t)
		require.False(t, e.online(m))

		e.comeOnline(t, m)
		require.Empty(t, e.avail.AwayReason(m))
		e.lapsedBlast(t)
		require.True(t, e.online(m), "one miss since it came back")
		e.comeOnline(t, m) // an app calling online again also forgives
		e.lapsedBlast(t)
		require.True(t, e.online(m))
	})
}

func TestMissedOffers_ADismissedOfferDoesNotCount(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{MissedBeforeAway: 2, MaxSessions: 3}))
		ctx := context.Background()
		slow, fast := e.newMitra(t), e.newMitra(t)
		e.comeOnline(t, slow)
		e.comeOnline(t, fast)
		for range 2 {
			pr, _ := e.paidBlast(t, 10)
			_, err := e.p.Accept(ctx, fast, pr.ID) // somebody else accepted
			require.NoError(t, err)
		}
		pr, _ := e.paidBlast(t, 10)
		_, err := e.p.Cancel(ctx, pr.ClientID, pr.ID) // the client cancelled
		require.NoError(t, err)
		require.True(t, e.online(slow), "three dismissed offers are no misses")
		e.lapsedBlast(t)
		require.True(t, e.online(slow), "one miss")
		require.Empty(t, e.notifier.Find(pairing.EventMitraAway, slow))
	})
}

func TestMissedOffers_AnAcceptOrADeclineResetsTheCount(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{MissedBeforeAway: 2}))
		ctx := context.Background()
		m := e.newMitra(t)
		e.comeOnline(t, m)
		e.lapsedBlast(t)
		pr, _ := e.paidBlast(t, 10)
		require.NoError(t, e.p.Decline(ctx, m, pr.ID))
		e.clock.Advance(time.Minute)
		e.lapsedBlast(t)
		require.True(t, e.online(m), "miss, decline, miss: not two in a row")

		pr, _ = e.paidBlast(t, 10)
		s, err := e.p.Accept(ctx, m, pr.ID)
		require.NoError(t, err)
		_, err = e.p.EndSession(ctx, pairing.EndParams{SessionID: s.ID, By: pairing.PartyMitra, CallerID: m})
		require.NoError(t, err)
		e.lapsedBlast(t)
		require.True(t, e.online(m), "miss, accept, miss: not two in a row")
		e.lapsedBlast(t)
		require.False(t, e.online(m))
	})
}

func TestMissedOffers_ALapsedQueuedOfferIsAMiss(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{Queue: true, MissedBeforeAway: 1}))
		pr, _ := e.paidBlast(t, 10)
		m := e.newMitra(t)
		e.comeOnline(t, m)
		require.Len(t, e.offers(t, m), 1)
		e.clock.Advance(20 * time.Second)
		require.False(t, e.online(m), "its one-to-one countdown ran out")
		require.Equal(t, pairing.StatusQueued, e.pairing(t, pr.ID).Status, "the pairing keeps its place")
		require.Empty(t, e.offers(t, m), "an away mitra is not offered the queue again")
	})
}

func TestMissedOffers_OffByDefault(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		m := e.onlineMitra(t)
		for range 5 {
			e.lapsedBlast(t)
		}
		require.True(t, e.online(m))
		require.Empty(t, e.notifier.Find(pairing.EventMitraAway, m))
	})
}

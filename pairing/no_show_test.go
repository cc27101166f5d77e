package pairing_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pairing/pairingtest"
	"github.com/curhat/curhat/payment"
)

// chatOver is the chat store over the fixtures' data (the no-show reads what it records).
func chatOver(fx fixtures) chat.Store {
	switch f := fx.(type) {
	case memFixtures:
		return chat.NewMemoryStoreIn(f.db)
	case pgFixtures:
		return chat.NewPostgresStore(f.db.Pool)
	}
	panic("unknown fixtures")
}

// reportMitraActivity records activity of the session's mitra at at, as a host with its
// own chat reports it.
func reportMitraActivity(t *testing.T, fx fixtures, sessionID uuid.UUID, at time.Time) {
	t.Helper()
	res, err := chatOver(fx).ReportActivity(context.Background(), sessionID, pairing.PartyMitra, at)
	require.NoError(t, err)
	require.True(t, res.Recorded)
}

// say stores a message of party in session s now.
func (e *env) say(t *testing.T, s pairing.ChatSession, party pairing.Party) {
	t.Helper()
	sender := s.ClientID
	if party == pairing.PartyMitra {
		sender = s.MitraID
	}
	res, err := chatOver(e.fx).Send(context.Background(), chat.Message{ID: uuid.New(), ChatSessionID: s.ID, Sender: party,
		ClientMsgID: uuid.NewString(), Text: "halo", Flags: []chat.Flag{}, CreatedAt: e.clock.Now()}, sender)
	require.NoError(t, err)
	require.Equal(t, chat.Stored, res.Outcome)
}

func (e *env) sweepNoShows(t *testing.T) int {
	t.Helper()
	n, err := e.p.SweepNoShows(context.Background())
	require.NoError(t, err)
	return n
}

func TestNoShow_ASilentMitraEndsTheSessionRefundsEverythingPaidAndCountsAMiss(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{FirstReply: time.Minute, MissedBeforeAway: 1}))
		s := e.matched(t, 10) // 10000 for 10 minutes
		orig := *e.pairing(t, s.PairingID).PaymentSessionID
		ext := e.extend(t, s, 5, 5000)
		e.say(t, s, pairing.PartyClient) // the client's own messages do not count

		e.clock.Advance(time.Minute - time.Millisecond)
		require.Zero(t, e.sweepNoShows(t), "not yet")
		require.Equal(t, pairing.SessionActive, e.session(t, s.ID).Status)

		e.clock.Advance(time.Millisecond)
		require.Equal(t, 1, e.sweepNoShows(t))
		ended := e.session(t, s.ID)
		require.Equal(t, pairing.SessionEnded, ended.Status)
		require.Equal(t, pairing.EndMitraNoShow, ended.EndReason)
		require.Equal(t, e.clock.Now(), *ended.EndedAt)

		// All it paid for the session comes back: the chat and its extension.
		require.Equal(t, int64(10000), e.payments.RefundedAmount(orig))
		require.Equal(t, int64(5000), e.payments.RefundedAmount(ext.ID))
		require.Equal(t, payment.StatusRefunded, e.payment(t, orig).Status)
		refunds, _, err := e.payments.Service().ListRefunds(context.Background(), payment.RefundFilter{Cause: pairing.NoShowCause(s.ID)})
		require.NoError(t, err)
		require.Len(t, refunds, 2, "recorded under the no-show's cause")

		for _, who := range []uuid.UUID{s.ClientID, s.MitraID} {
			ev := e.notifier.Find(pairing.EventSessionEnded, who)
			require.Len(t, ev, 1)
			require.Equal(t, pairing.EndMitraNoShow, ev[0].Payload.(pairing.SessionEndedEvent).Reason)
		}
		// A missed offer, and with mitra_missed_offers_before_away 1 the mitra is away.
		require.False(t, e.online(s.MitraID))
		require.Equal(t, pairing.AwayMissedOffers, e.avail.AwayReason(s.MitraID))
		away := e.notifier.Find(pairing.EventMitraAway, s.MitraID)
		require.Len(t, away, 1)
		require.Equal(t, pairing.MitraAwayEvent{Reason: "missed_offers", MissedOffers: 1}, away[0].Payload)
		e.requireCapacityMirrored(t, s.MitraID, 0)

		e.clock.Advance(time.Minute)
		require.Zero(t, e.sweepNoShows(t), "once")
		require.Equal(t, int64(10000), e.payments.RefundedAmount(orig), "refunded once")
	})
}

func TestNoShow_AMessageOrAReportedActivityOfTheMitraKeepsTheSession(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{FirstReply: time.Minute, MaxSessions: 3}))
		wrote := e.matched(t, 10)
		reported := e.matched(t, 10)
		late := e.matched(t, 10)
		e.clock.Advance(30 * time.Second)
		e.say(t, wrote, pairing.PartyMitra)
		reportMitraActivity(t, e.fx, reported.ID, e.clock.Now())
		e.clock.Advance(time.Minute)
		// After the deadline but before the sweep came: the mitra is talking by now.
		e.say(t, late, pairing.PartyMitra)

		require.Zero(t, e.sweepNoShows(t))
		for _, s := range []pairing.ChatSession{wrote, reported, late} {
			require.Equal(t, pairing.SessionActive, e.session(t, s.ID).Status)
		}
		require.Empty(t, e.notifier.Find(pairing.EventSessionEnded, wrote.ClientID))
	})
}

func TestNoShow_DoesNothingWhileTheSettingIsZero(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{MissedBeforeAway: 1}))
		s := e.matched(t, 30)
		e.clock.Advance(20 * time.Minute)
		require.Zero(t, e.sweepNoShows(t))
		require.Equal(t, pairing.SessionActive, e.session(t, s.ID).Status)
		require.True(t, e.online(s.MitraID))
	})
}

func TestNoShow_IsOneMissOfTheAwayRuleCountedInARow(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{FirstReply: time.Minute, MissedBeforeAway: 2}))
		s := e.matched(t, 10)
		e.clock.Advance(time.Minute)
		require.Equal(t, 1, e.sweepNoShows(t))
		require.True(t, e.online(s.MitraID), "one miss of two")

		e.lapsedBlast(t) // offered to the same mitra, unanswered
		require.False(t, e.online(s.MitraID), "the no-show and a lapsed offer in a row")
		away := e.notifier.Find(pairing.EventMitraAway, s.MitraID)
		require.Len(t, away, 1)
		require.Equal(t, pairing.MitraAwayEvent{Reason: "missed_offers", MissedOffers: 2}, away[0].Payload)
	})
}

package pairing_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pairing/pairingtest"
	"github.com/curhat/curhat/payment"
)

// matched returns an active blast session between a new client and a new mitra.
func (e *env) matched(t *testing.T, minutes int) pairing.ChatSession {
	t.Helper()
	m := e.onlineMitra(t)
	pr, _ := e.paidBlast(t, minutes)
	s, err := e.p.Accept(context.Background(), m, pr.ID)
	require.NoError(t, err)
	return s
}

func TestEndSession_EitherPartyEndsItWithTheirReason(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		for _, tc := range []struct {
			by     pairing.Party
			reason pairing.EndReason
		}{{pairing.PartyClient, pairing.EndClientEnded}, {pairing.PartyMitra, pairing.EndMitraEnded}} {
			s := e.matched(t, 10)
			e.clock.Advance(3 * time.Minute)
			caller := s.ClientID
			if tc.by == pairing.PartyMitra {
				caller = s.MitraID
			}
			ended, err := e.p.EndSession(ctx, pairing.EndParams{SessionID: s.ID, By: tc.by, CallerID: caller})
			require.NoError(t, err)
			require.Equal(t, pairing.SessionEnded, ended.Status)
			require.Equal(t, tc.reason, ended.EndReason)
			require.Equal(t, e.clock.Now(), *ended.EndedAt)
			for _, who := range []uuid.UUID{s.ClientID, s.MitraID} {
				got := e.notifier.Find(pairing.EventSessionEnded, who)
				require.Len(t, got, 1)
				require.Equal(t, tc.reason, got[0].Payload.(pairing.SessionEndedEvent).Reason)
			}
			require.Zero(t, e.avail.Capacity(s.MitraID))

			_, err = e.p.EndSession(ctx, pairing.EndParams{SessionID: s.ID, By: tc.by, CallerID: caller})
			require.ErrorIs(t, err, pairing.ErrInvalidState)
		}
		require.Zero(t, e.p.Timers())
	})
}

func TestEndSession_SomebodyElsesSessionIsNotFound(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		s := e.matched(t, 10)
		for _, p := range []pairing.EndParams{
			{SessionID: s.ID, By: pairing.PartyClient, CallerID: uuid.New()},
			{SessionID: s.ID, By: pairing.PartyMitra, CallerID: uuid.New()},
			{SessionID: s.ID, By: pairing.PartyClient, CallerID: s.MitraID}, // the mitra posing as client
			{SessionID: uuid.New(), By: pairing.PartyClient, CallerID: s.ClientID},
		} {
			_, err := e.p.EndSession(ctx, p)
			require.ErrorIs(t, err, pairing.ErrNotFound)
		}
		_, err := e.p.EndSession(ctx, pairing.EndParams{SessionID: s.ID, By: "operator", CallerID: s.ClientID})
		var verr *core.ValidationError
		require.ErrorAs(t, err, &verr)
		require.Equal(t, pairing.SessionActive, e.session(t, s.ID).Status)
	})
}

func TestSessionExpiry_EndsTheSessionAtEndsAtByTimer(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		s := e.matched(t, 10)
		e.clock.Advance(10*time.Minute - time.Second)
		require.Equal(t, pairing.SessionActive, e.session(t, s.ID).Status)
		e.clock.Advance(time.Second)
		got := e.session(t, s.ID)
		require.Equal(t, pairing.SessionEnded, got.Status)
		require.Equal(t, pairing.EndExpired, got.EndReason)
		require.Equal(t, *s.EndsAt, *got.EndedAt)
		require.Len(t, e.notifier.Find(pairing.EventSessionEnded, s.ClientID), 1)
		require.Zero(t, e.avail.Capacity(s.MitraID))
		require.Zero(t, e.p.Timers())
	})
}

func TestSessionExpiry_AnExtendedSessionIsNotEndedEarly(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		s := e.matched(t, 10)
		// An extension (another package) moves ends_at by 5 minutes, without telling us.
		extendSession(t, e, s.ID, 5*time.Minute)
		e.clock.Advance(10 * time.Minute)
		require.Equal(t, pairing.SessionActive, e.session(t, s.ID).Status, "the stale timer re-armed itself")
		e.clock.Advance(5 * time.Minute)
		require.Equal(t, pairing.SessionEnded, e.session(t, s.ID).Status)

		// Told explicitly, the timer moves at once.
		s = e.matched(t, 10)
		extendSession(t, e, s.ID, 5*time.Minute)
		ext := e.session(t, s.ID)
		e.p.SessionExtended(ctx, s.ID, *ext.EndsAt, ext.Minutes)
		e.clock.Advance(15 * time.Minute)
		require.Equal(t, pairing.EndExpired, e.session(t, s.ID).EndReason)
	})
}

// extendSession moves a session's ends_at as the extension package does.
func extendSession(t *testing.T, e *env, id uuid.UUID, by time.Duration) {
	t.Helper()
	s := e.session(t, id)
	switch st := e.store.(type) {
	case interface{ PutChatSession(pairing.ChatSession) }:
		s.EndsAt = ptr(s.EndsAt.Add(by))
		st.PutChatSession(s)
	default:
		_, err := e.fx.(pgFixtures).db.Pool.Exec(context.Background(),
			"UPDATE chat_sessions SET ends_at = ends_at + $2::interval WHERE id = $1", id, by.String())
		require.NoError(t, err)
	}
}

func TestSessionEnd_OffersTheFreedMitraTheBlastsStillSearching(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		s := e.matched(t, 10)
		e.onlineMitra(t) // keeps the next blast from failing at once
		waiting, _ := e.paidBlast(t, 10)
		require.Empty(t, e.offers(t, s.MitraID), "busy mitra gets no offer")

		_, err := e.p.EndSession(ctx, pairing.EndParams{SessionID: s.ID, By: pairing.PartyClient, CallerID: s.ClientID})
		require.NoError(t, err)
		offers := e.offers(t, s.MitraID)
		require.Len(t, offers, 1)
		require.Equal(t, waiting.ID, offers[0].PairingID)
	})
}

func TestStart_ANewPairerOverTheSameStoreExpiresSessions(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		short := e.matched(t, 5)
		long := e.matched(t, 15)
		e.onlineMitra(t)
		searching, searchingPay := e.paidBlast(t, 10)
		require.NoError(t, e.p.Stop(ctx)) // the instance goes down

		e.clock.Advance(6 * time.Minute) // the short session ends while nobody runs
		logs := &syncBuffer{}
		cfg := e.cfg
		cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		restarted := e.newPairerWith(t, &cfg)
		require.NoError(t, restarted.Start(ctx))
		require.Contains(t, logs.String(), `"msg":"chat session and pairing timers restored","count":3`)
		require.Error(t, restarted.Start(ctx), "a Pairer starts once")

		require.Equal(t, pairing.SessionEnded, e.session(t, short.ID).Status, "already past: ended at once")
		require.Equal(t, pairing.EndExpired, e.session(t, short.ID).EndReason)
		require.Equal(t, pairing.StatusFailed, e.pairing(t, searching.ID).Status, "its deadline passed too")
		require.Equal(t, payment.StatusRefunded, e.payment(t, searchingPay.ID).Status)
		require.Equal(t, pairing.SessionActive, e.session(t, long.ID).Status)
		require.Equal(t, 1, restarted.Timers())

		e.clock.Advance(9 * time.Minute)
		require.Equal(t, pairing.SessionEnded, e.session(t, long.ID).Status, "its timer was restored")
		require.Zero(t, restarted.Timers())
	})
}

func TestStart_RestoresPairingDeadlines(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		e.onlineMitra(t)
		pr, _ := e.paidBlast(t, 10)
		require.NoError(t, e.p.Stop(ctx))
		restarted := e.newPairer(t)
		require.NoError(t, restarted.Start(ctx))
		e.clock.Advance(time.Minute)
		require.Equal(t, pairing.StatusFailed, e.pairing(t, pr.ID).Status)
	})
}

func TestPairer_StopIsIdempotentSafeBeforeStartAndEndsTheTimers(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		fresh := e.newPairer(t)
		require.NoError(t, fresh.Stop(ctx), "safe before Start")
		require.NoError(t, fresh.Stop(ctx), "idempotent")
		<-fresh.Stopped()
		require.Error(t, fresh.Start(ctx), "a stopped Pairer does not start")

		s := e.matched(t, 10)
		require.Equal(t, 1, e.p.Timers())
		require.NoError(t, e.p.Stop(ctx))
		<-e.p.Stopped()
		require.Zero(t, e.p.Timers())
		e.clock.Advance(time.Hour)
		require.Equal(t, pairing.SessionActive, e.session(t, s.ID).Status, "no timer runs after Stop")
	})
}

// syncBuffer is a bytes.Buffer safe for concurrent writes (a slog handler's output).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestSweepTimeouts_ExpiresSessionsPastEndsAt(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		s := e.matched(t, 5)
		require.NoError(t, e.p.Stop(ctx))
		e.clock.Advance(5 * time.Minute)
		rep, err := e.newPairer(t).SweepTimeouts(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.SessionsExpired)
		require.Equal(t, pairing.EndExpired, e.session(t, s.ID).EndReason)
	})
}

func TestListChatSessions_FiltersByPartyAndStatusNewestFirst(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		first := e.matched(t, 10)
		e.clock.Advance(time.Second)
		second := e.matched(t, 10)
		_, err := e.p.EndSession(ctx, pairing.EndParams{SessionID: first.ID, By: pairing.PartyMitra, CallerID: first.MitraID})
		require.NoError(t, err)

		all, err := e.p.ListChatSessions(ctx, pairing.ListSessionsParams{})
		require.NoError(t, err)
		require.Len(t, all, 2)
		require.Equal(t, second.ID, all[0].ID)

		mine, err := e.p.ListChatSessions(ctx, pairing.ListSessionsParams{MitraID: &first.MitraID})
		require.NoError(t, err)
		require.Len(t, mine, 1)
		require.Equal(t, first.ID, mine[0].ID)

		active, err := e.p.ListChatSessions(ctx, pairing.ListSessionsParams{Status: pairing.SessionActive})
		require.NoError(t, err)
		require.Len(t, active, 1)
		require.Equal(t, second.ID, active[0].ID)

		byClient, err := e.p.ListChatSessions(ctx, pairing.ListSessionsParams{ClientID: &second.ClientID, Status: pairing.SessionEnded})
		require.NoError(t, err)
		require.Empty(t, byClient)
	})
}

func TestCountOpenSessions_CountsActiveAndPendingPaymentApart(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		n, err := e.p.CountOpenSessions(ctx)
		require.NoError(t, err)
		require.Zero(t, n)

		ended := e.matched(t, 10)
		e.matched(t, 10)
		_, err = e.p.EndSession(ctx, pairing.EndParams{SessionID: ended.ID, By: pairing.PartyClient, CallerID: ended.ClientID})
		require.NoError(t, err)
		client, m := e.returning(t)
		pr, err := e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		waiting, err := e.p.Accept(ctx, m, pr.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.SessionPendingPayment, waiting.Status)

		n, err = e.p.CountOpenSessions(ctx)
		require.NoError(t, err)
		require.Equal(t, pairing.OpenSessionCounts{Active: 1, PendingPayment: 1}, n, "ended sessions hold no capacity")
	})
}

func TestEndMitraSessions_DeactivationEndsEveryOpenSession(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withSettings(settingsMax(2)))
		ctx := context.Background()
		m := e.onlineMitra(t)
		var sessions []pairing.ChatSession
		for range 2 {
			pr, _ := e.paidBlast(t, 10)
			s, err := e.p.Accept(ctx, m, pr.ID)
			require.NoError(t, err)
			sessions = append(sessions, s)
		}
		e.avail.SetOnline(m, false)
		e.fx.setActive(t, m, false)
		// Seconds short of a whole minute left: nothing to continue elsewhere.
		e.clock.Advance(9*time.Minute + 30*time.Second)
		ended, err := e.p.EndMitraSessions(ctx, m, pairing.EndMitraDeactivated)
		require.NoError(t, err)
		require.Len(t, ended, 2)
		for _, s := range sessions {
			got := e.session(t, s.ID)
			require.Equal(t, pairing.SessionEnded, got.Status)
			require.Equal(t, pairing.EndMitraDeactivated, got.EndReason)
		}
		require.Zero(t, e.avail.Capacity(m))
		require.Zero(t, e.p.Timers())

		_, err = e.p.EndMitraSessions(ctx, m, pairing.EndExpired)
		var verr *core.ValidationError
		require.ErrorAs(t, err, &verr)
	})
}

func settingsMax(n int) pairingtest.Settings {
	return pairingtest.Settings{Blast: 60 * time.Second, Targeted: 20 * time.Second, MaxSessions: n}
}

func TestRecomputeCapacity_IsCalledAfterEverySessionTransition(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		count := func(m uuid.UUID) int {
			n := 0
			for _, id := range e.avail.Recomputed() {
				if id == m {
					n++
				}
			}
			return n
		}
		s := e.matched(t, 10)
		require.Equal(t, 1, count(s.MitraID), "accept")
		_, err := e.p.EndSession(ctx, pairing.EndParams{SessionID: s.ID, By: pairing.PartyClient, CallerID: s.ClientID})
		require.NoError(t, err)
		require.Equal(t, 2, count(s.MitraID), "end")

		s = e.matched(t, 10)
		e.clock.Advance(10 * time.Minute)
		require.Equal(t, 2, count(s.MitraID), "accept + expiry")

		s = e.matched(t, 10)
		_, err = e.p.EndMitraSessions(ctx, s.MitraID, pairing.EndMitraEnded)
		require.NoError(t, err)
		require.Equal(t, 2, count(s.MitraID), "accept + deactivation")
		require.Zero(t, e.avail.Capacity(s.MitraID))
	})
}

package pairing_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/pairing"
)

// TestStoreContract runs one suite against every Store implementation: the in-memory one
// must behave like Postgres.
func TestStoreContract(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		for name, f := range storeContract {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				s, fx := b.open(t)
				f(t, &contractEnv{s: s, fx: fx})
			})
		}
	})
}

type contractEnv struct {
	s  pairing.Store
	fx fixtures
}

var ctx = context.Background()

// searching inserts a searching blast of a new client with its deadline a minute on.
func (c *contractEnv) searching(t *testing.T) pairing.Pairing {
	t.Helper()
	p, err := c.s.CreatePairing(ctx, pairing.Pairing{
		ID: uuid.New(), ClientID: c.fx.client(t), Type: pairing.TypeBlast, Status: pairing.StatusSearching, Minutes: 10,
		ExpiresAt: ptr(t0.Add(time.Minute)), CreatedAt: t0, UpdatedAt: t0,
	})
	require.NoError(t, err)
	return p
}

func (c *contractEnv) offer(t *testing.T, p pairing.Pairing, mitras ...uuid.UUID) {
	t.Helper()
	got, err := c.s.InsertOffers(ctx, p.ID, mitras, t0)
	require.NoError(t, err)
	require.ElementsMatch(t, mitras, got)
}

func (c *contractEnv) accept(m uuid.UUID, p pairing.Pairing, at time.Time) (pairing.AcceptResult, error) {
	return c.s.AcceptOffer(ctx, pairing.AcceptParams{MitraID: m, PairingID: p.ID, SessionID: uuid.New(), DefaultMaxSessions: 1, Now: at})
}

var storeContract = map[string]func(t *testing.T, c *contractEnv){
	"CreatePairingRoundTripsAndRefusesDuplicates": func(t *testing.T, c *contractEnv) {
		client, target := c.fx.client(t), c.fx.mitra(t, 0)
		want := pairing.Pairing{
			ID: uuid.New(), ClientID: client, Type: pairing.TypeTargeted, TargetMitraID: &target,
			Status: pairing.StatusTargetedUnavailable, Minutes: 15, FailureReason: pairing.ReasonMitraUnreachable,
			CreatedAt: t0, UpdatedAt: t0,
		}
		got, err := c.s.CreatePairing(ctx, want)
		require.NoError(t, err)
		require.Equal(t, want, got)
		read, err := c.s.GetPairing(ctx, want.ID)
		require.NoError(t, err)
		require.Equal(t, want, read)

		_, err = c.s.CreatePairing(ctx, want)
		require.ErrorIs(t, err, pairing.ErrConflict, "the same id first")
		other := want
		other.ID = uuid.New()
		_, err = c.s.CreatePairing(ctx, other)
		require.ErrorIs(t, err, pairing.ErrInvalidState, "one open pairing per client")

		_, err = c.s.Transition(ctx, pairing.PairingTransition{
			ID: want.ID, From: []pairing.Status{pairing.StatusTargetedUnavailable}, To: pairing.StatusCancelled, Now: t0,
		})
		require.NoError(t, err)
		_, err = c.s.CreatePairing(ctx, other)
		require.NoError(t, err)

		_, err = c.s.GetPairing(ctx, uuid.New())
		require.ErrorIs(t, err, pairing.ErrNotFound)
	},
	"TransitionIsGuardedAndClosesOffersAndWritesTheFailure": func(t *testing.T, c *contractEnv) {
		p := c.searching(t)
		m1, m2, m3 := c.fx.mitra(t, 0), c.fx.mitra(t, 0), c.fx.mitra(t, 0)
		c.offer(t, p, m1, m2, m3)
		_, err := c.s.DeclineOffer(ctx, m3, p.ID, t0)
		require.NoError(t, err)

		_, err = c.s.Transition(ctx, pairing.PairingTransition{
			ID: p.ID, From: []pairing.Status{pairing.StatusAwaitingPayment}, To: pairing.StatusCancelled, Now: t0,
		})
		require.ErrorIs(t, err, pairing.ErrInvalidState, "wrong from")
		early := t0.Add(59 * time.Second)
		_, err = c.s.Transition(ctx, pairing.PairingTransition{
			ID: p.ID, From: []pairing.Status{pairing.StatusSearching}, To: pairing.StatusFailed, DueBy: &early, Now: early,
		})
		require.ErrorIs(t, err, pairing.ErrInvalidState, "deadline not reached")
		_, err = c.s.Transition(ctx, pairing.PairingTransition{ID: uuid.New(), From: []pairing.Status{pairing.StatusSearching}, To: pairing.StatusFailed, Now: t0})
		require.ErrorIs(t, err, pairing.ErrNotFound)

		due := t0.Add(time.Minute)
		res, err := c.s.Transition(ctx, pairing.PairingTransition{
			ID: p.ID, From: []pairing.Status{pairing.StatusSearching}, To: pairing.StatusFailed, DueBy: &due,
			FailureReason: pairing.ReasonTimeout, OfferStatus: pairing.OfferExpired,
			Failure: &pairing.Failure{Reason: pairing.ReasonTimeout, Amount: 10000, RefundStatus: pairing.RefundFailed}, Now: due,
		})
		require.NoError(t, err)
		require.Equal(t, pairing.StatusFailed, res.Pairing.Status)
		require.Equal(t, pairing.ReasonTimeout, res.Pairing.FailureReason)
		require.Equal(t, due, res.Pairing.UpdatedAt)
		require.ElementsMatch(t, []uuid.UUID{m1, m2}, res.Closed, "only live offers close")
		require.NotNil(t, res.Failure)
		f := *res.Failure
		require.NotEqual(t, uuid.Nil, f.ID)
		require.Equal(t, p.ID, f.PairingID)
		require.Equal(t, p.ClientID, f.ClientID)
		require.Equal(t, pairing.TypeBlast, f.Type)
		require.Equal(t, 3, f.OfferedCount, "every offer ever made")
		require.Equal(t, int64(10000), f.Amount)
		require.Equal(t, pairing.RefundFailed, f.RefundStatus)
		require.Equal(t, pairing.FailureOpen, f.Status)
		require.Equal(t, due, f.CreatedAt)
		read, err := c.s.GetFailure(ctx, f.ID)
		require.NoError(t, err)
		require.Equal(t, f, read)
		offers, err := c.s.ListOffers(ctx, m1, t0)
		require.NoError(t, err)
		require.Empty(t, offers)
	},
	"TransitionSetsTheDeadline": func(t *testing.T, c *contractEnv) {
		p, err := c.s.CreatePairing(ctx, pairing.Pairing{
			ID: uuid.New(), ClientID: c.fx.client(t), Type: pairing.TypeBlast, Status: pairing.StatusAwaitingPayment,
			Minutes: 10, CreatedAt: t0, UpdatedAt: t0,
		})
		require.NoError(t, err)
		deadline := t0.Add(time.Minute)
		res, err := c.s.Transition(ctx, pairing.PairingTransition{
			ID: p.ID, From: []pairing.Status{pairing.StatusAwaitingPayment}, To: pairing.StatusSearching, ExpiresAt: &deadline, Now: t0,
		})
		require.NoError(t, err)
		require.Equal(t, &deadline, res.Pairing.ExpiresAt)
		require.Empty(t, res.Closed)
		require.Nil(t, res.Failure)
	},
	"InsertOffersOnlyIntoWaitingPairingsBeforeTheirDeadline": func(t *testing.T, c *contractEnv) {
		p := c.searching(t)
		m1, m2 := c.fx.mitra(t, 0), c.fx.mitra(t, 0)
		c.offer(t, p, m1)
		got, err := c.s.InsertOffers(ctx, p.ID, []uuid.UUID{m1, m2}, t0)
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{m2}, got, "an existing offer is kept, not repeated")
		ids, err := c.s.OfferedMitras(ctx, p.ID)
		require.NoError(t, err)
		require.ElementsMatch(t, []uuid.UUID{m1, m2}, ids)

		m3 := c.fx.mitra(t, 0)
		got, err = c.s.InsertOffers(ctx, p.ID, []uuid.UUID{m3}, t0.Add(time.Minute))
		require.NoError(t, err)
		require.Empty(t, got, "at the deadline")

		_, err = c.s.Transition(ctx, pairing.PairingTransition{ID: p.ID, From: []pairing.Status{pairing.StatusSearching}, To: pairing.StatusCancelled, Now: t0})
		require.NoError(t, err)
		got, err = c.s.InsertOffers(ctx, p.ID, []uuid.UUID{m3}, t0)
		require.NoError(t, err)
		require.Empty(t, got, "cancelled")
	},
	"ListOffersShowsLiveOffersMostUrgentFirst": func(t *testing.T, c *contractEnv) {
		m := c.fx.mitra(t, 0)
		later := c.searching(t)
		sooner, err := c.s.CreatePairing(ctx, pairing.Pairing{
			ID: uuid.New(), ClientID: c.fx.client(t), Type: pairing.TypeTargeted, TargetMitraID: &m,
			Status: pairing.StatusTargetedWaiting, Minutes: 5, ExpiresAt: ptr(t0.Add(20 * time.Second)), CreatedAt: t0, UpdatedAt: t0,
		})
		require.NoError(t, err)
		c.offer(t, later, m)
		c.offer(t, sooner, m)
		offers, err := c.s.ListOffers(ctx, m, t0)
		require.NoError(t, err)
		require.Equal(t, []pairing.Offer{
			{PairingID: sooner.ID, Type: pairing.TypeTargeted, Minutes: 5, ExpiresAt: t0.Add(20 * time.Second), OfferedAt: t0},
			{PairingID: later.ID, Type: pairing.TypeBlast, Minutes: 10, ExpiresAt: t0.Add(time.Minute), OfferedAt: t0},
		}, offers)
		offers, err = c.s.ListOffers(ctx, m, t0.Add(20*time.Second))
		require.NoError(t, err)
		require.Len(t, offers, 1, "the targeted one reached its deadline")

		p, err := c.s.DeclineOffer(ctx, m, later.ID, t0)
		require.NoError(t, err)
		require.Equal(t, later.ID, p.ID)
		offers, err = c.s.ListOffers(ctx, m, t0)
		require.NoError(t, err)
		require.Len(t, offers, 1)
		_, err = c.s.DeclineOffer(ctx, m, later.ID, t0)
		require.ErrorIs(t, err, pairing.ErrNotFound)
	},
	"PairingsToOfferAreSearchingBlastsNotOfferedYetOldestFirst": func(t *testing.T, c *contractEnv) {
		m := c.fx.mitra(t, 0)
		first := c.searching(t)
		second, err := c.s.CreatePairing(ctx, pairing.Pairing{
			ID: uuid.New(), ClientID: c.fx.client(t), Type: pairing.TypeBlast, Status: pairing.StatusSearching, Minutes: 10,
			ExpiresAt: ptr(t0.Add(2 * time.Minute)), CreatedAt: t0.Add(time.Second), UpdatedAt: t0.Add(time.Second),
		})
		require.NoError(t, err)
		offered := c.searching(t)
		c.offer(t, offered, m)

		got, err := c.s.PairingsToOffer(ctx, m, t0, 10)
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{first.ID, second.ID}, ids(got))
		got, err = c.s.PairingsToOffer(ctx, m, t0, 1)
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{first.ID}, ids(got))
		got, err = c.s.PairingsToOffer(ctx, m, t0.Add(time.Minute), 10)
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{second.ID}, ids(got), "deadline passed for the first")
	},
	"AcceptChecksInOrderAndClaimsOnce": func(t *testing.T, c *contractEnv) {
		p := c.searching(t)
		m1, m2, stranger := c.fx.mitra(t, 0), c.fx.mitra(t, 0), c.fx.mitra(t, 0)
		c.offer(t, p, m1, m2)

		_, err := c.accept(uuid.New(), p, t0)
		require.ErrorIs(t, err, pairing.ErrNotFound, "unknown mitra")
		_, err = c.accept(stranger, p, t0)
		require.ErrorIs(t, err, pairing.ErrNotFound, "no offer")
		_, err = c.accept(m1, p, t0.Add(time.Minute))
		require.ErrorIs(t, err, pairing.ErrExpired, "deadline")
		c.fx.setActive(t, m1, false)
		_, err = c.accept(m1, p, t0)
		require.ErrorIs(t, err, pairing.ErrDeactivated)
		c.fx.setActive(t, m1, true)

		at := t0.Add(10 * time.Second)
		res, err := c.accept(m1, p, at)
		require.NoError(t, err)
		require.False(t, res.Replayed)
		require.Equal(t, []uuid.UUID{m2}, res.Dismissed)
		s := res.Session
		require.Equal(t, pairing.ChatSession{
			ID: s.ID, ClientID: p.ClientID, MitraID: m1, Status: pairing.SessionActive, Minutes: 10,
			StartedAt: &at, EndsAt: ptr(at.Add(10 * time.Minute)), PairingID: p.ID, CreatedAt: at, UpdatedAt: at,
		}, s)
		read, err := c.s.GetChatSession(ctx, s.ID)
		require.NoError(t, err)
		require.Equal(t, s, read)
		require.Equal(t, pairing.StatusMatched, res.Pairing.Status)
		require.Equal(t, &m1, res.Pairing.MatchedMitraID)
		require.Equal(t, &s.ID, res.Pairing.ChatSessionID)

		again, err := c.accept(m1, p, at)
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, s, again.Session)
		_, err = c.accept(m2, p, at)
		require.ErrorIs(t, err, pairing.ErrAlreadyMatched)

		info, err := c.s.MitraInfo(ctx, m1)
		require.NoError(t, err)
		require.Equal(t, pairing.MitraInfo{Active: true, OpenSessions: 1}, info)

		// At capacity for another pairing.
		q := c.searching(t)
		c.offer(t, q, m1)
		_, err = c.accept(m1, q, at)
		require.ErrorIs(t, err, pairing.ErrAtCapacity)
	},
	"AcceptRefusesCancelledPairingsAsExpired": func(t *testing.T, c *contractEnv) {
		p := c.searching(t)
		m := c.fx.mitra(t, 0)
		c.offer(t, p, m)
		_, err := c.s.Transition(ctx, pairing.PairingTransition{
			ID: p.ID, From: []pairing.Status{pairing.StatusSearching}, To: pairing.StatusCancelled, OfferStatus: pairing.OfferDismissed, Now: t0,
		})
		require.NoError(t, err)
		_, err = c.accept(m, p, t0)
		require.ErrorIs(t, err, pairing.ErrExpired)
	},
	"AcceptOfATargetedPairingHoldsAPendingPaymentSession": func(t *testing.T, c *contractEnv) {
		m := c.fx.mitra(t, 2)
		p, err := c.s.CreatePairing(ctx, pairing.Pairing{
			ID: uuid.New(), ClientID: c.fx.client(t), Type: pairing.TypeTargeted, TargetMitraID: &m,
			Status: pairing.StatusTargetedWaiting, Minutes: 5, ExpiresAt: ptr(t0.Add(20 * time.Second)), CreatedAt: t0, UpdatedAt: t0,
		})
		require.NoError(t, err)
		c.offer(t, p, m)
		res, err := c.accept(m, p, t0)
		require.NoError(t, err)
		require.Equal(t, pairing.SessionPendingPayment, res.Session.Status)
		require.Nil(t, res.Session.StartedAt)
		require.Nil(t, res.Session.EndsAt)
		info, err := c.s.MitraInfo(ctx, m)
		require.NoError(t, err)
		require.Equal(t, pairing.MitraInfo{Active: true, MaxConcurrentSessions: 2, OpenSessions: 1}, info)

		_, err = c.s.EndChatSession(ctx, pairing.SessionTransition{
			ID: res.Session.ID, From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded, Reason: pairing.EndExpired, Now: t0,
		})
		require.ErrorIs(t, err, pairing.ErrInvalidState)
		paidAt := t0.Add(time.Minute)
		s, err := c.s.ActivateChatSession(ctx, res.Session.ID, paidAt, paidAt.Add(5*time.Minute), paidAt)
		require.NoError(t, err)
		require.Equal(t, pairing.SessionActive, s.Status)
		require.Equal(t, &paidAt, s.StartedAt)
		require.Equal(t, paidAt.Add(5*time.Minute), *s.EndsAt)
		_, err = c.s.ActivateChatSession(ctx, res.Session.ID, paidAt, paidAt, paidAt)
		require.ErrorIs(t, err, pairing.ErrInvalidState)
	},
	"EndChatSessionIsGuardedOnStatusAndEndsAt": func(t *testing.T, c *contractEnv) {
		p := c.searching(t)
		m := c.fx.mitra(t, 0)
		c.offer(t, p, m)
		res, err := c.accept(m, p, t0)
		require.NoError(t, err)
		early := t0.Add(9 * time.Minute)
		_, err = c.s.EndChatSession(ctx, pairing.SessionTransition{
			ID: res.Session.ID, From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded,
			Reason: pairing.EndExpired, DueBy: &early, Now: early,
		})
		require.ErrorIs(t, err, pairing.ErrInvalidState)
		due := t0.Add(10 * time.Minute)
		s, err := c.s.EndChatSession(ctx, pairing.SessionTransition{
			ID: res.Session.ID, From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded,
			Reason: pairing.EndExpired, DueBy: &due, Now: due,
		})
		require.NoError(t, err)
		require.Equal(t, pairing.SessionEnded, s.Status)
		require.Equal(t, pairing.EndExpired, s.EndReason)
		require.Equal(t, &due, s.EndedAt)
		_, err = c.s.EndChatSession(ctx, pairing.SessionTransition{ID: uuid.New(), From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded, Now: due})
		require.ErrorIs(t, err, pairing.ErrNotFound)

		had, err := c.s.HasEndedSession(ctx, p.ClientID, m)
		require.NoError(t, err)
		require.True(t, had)
		had, err = c.s.HasEndedSession(ctx, p.ClientID, c.fx.mitra(t, 0))
		require.NoError(t, err)
		require.False(t, had)
	},
	"ListChatSessionsFilters": func(t *testing.T, c *contractEnv) {
		var sessions []pairing.ChatSession
		for i := range 3 {
			p := c.searching(t)
			m := c.fx.mitra(t, 0)
			c.offer(t, p, m)
			res, err := c.accept(m, p, t0.Add(time.Duration(i)*time.Second))
			require.NoError(t, err)
			sessions = append(sessions, res.Session)
		}
		_, err := c.s.EndChatSession(ctx, pairing.SessionTransition{
			ID: sessions[0].ID, From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded, Reason: pairing.EndRerouted, Now: t0,
		})
		require.NoError(t, err)

		all, err := c.s.ListChatSessions(ctx, pairing.ListSessionsParams{})
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{sessions[2].ID, sessions[1].ID, sessions[0].ID}, sessionIDs(all), "newest first")
		got, err := c.s.ListChatSessions(ctx, pairing.ListSessionsParams{Status: pairing.SessionActive, Limit: 1})
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{sessions[2].ID}, sessionIDs(got))
		got, err = c.s.ListChatSessions(ctx, pairing.ListSessionsParams{EndReasons: []pairing.EndReason{pairing.EndRerouted}})
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{sessions[0].ID}, sessionIDs(got))
		got, err = c.s.ListChatSessions(ctx, pairing.ListSessionsParams{ClientID: &sessions[1].ClientID, Statuses: []pairing.SessionStatus{pairing.SessionActive, pairing.SessionPendingPayment}})
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{sessions[1].ID}, sessionIDs(got))
		got, err = c.s.ListChatSessions(ctx, pairing.ListSessionsParams{MitraID: &sessions[2].MitraID})
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{sessions[2].ID}, sessionIDs(got))
		got, err = c.s.ListChatSessions(ctx, pairing.ListSessionsParams{Status: pairing.SessionActive, EndsBy: ptr(t0.Add(10*time.Minute + time.Second))})
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{sessions[1].ID}, sessionIDs(got))
	},
	"RerouteEndsTheSessionAndInsertsThePrepaidBlastAtomically": func(t *testing.T, c *contractEnv) {
		p := c.searching(t)
		m := c.fx.mitra(t, 0)
		c.offer(t, p, m)
		res, err := c.accept(m, p, t0)
		require.NoError(t, err)
		at := t0.Add(4 * time.Minute)
		next := pairing.Pairing{
			ID: uuid.New(), ClientID: p.ClientID, Type: pairing.TypeBlast, Status: pairing.StatusSearching, Minutes: 6,
			Prepaid: true, ExpiresAt: ptr(at.Add(time.Minute)), CreatedAt: at, UpdatedAt: at,
		}
		s, got, err := c.s.Reroute(ctx, pairing.RerouteParams{SessionID: res.Session.ID, Reason: pairing.EndRerouted, Now: at, Pairing: next})
		require.NoError(t, err)
		require.Equal(t, pairing.SessionEnded, s.Status)
		require.Equal(t, pairing.EndRerouted, s.EndReason)
		require.Equal(t, next, got)

		again := next
		again.ID = uuid.New()
		_, _, err = c.s.Reroute(ctx, pairing.RerouteParams{SessionID: res.Session.ID, Reason: pairing.EndRerouted, Now: at, Pairing: again})
		require.ErrorIs(t, err, pairing.ErrInvalidState)
		_, err = c.s.GetPairing(ctx, again.ID)
		require.ErrorIs(t, err, pairing.ErrNotFound, "nothing inserted when the session was not active")
	},
	"ListPairingsSelectsForSweeps": func(t *testing.T, c *contractEnv) {
		due := c.searching(t)
		orphan, err := c.s.CreatePairing(ctx, pairing.Pairing{
			ID: uuid.New(), ClientID: c.fx.client(t), Type: pairing.TypeBlast, Status: pairing.StatusAwaitingPayment,
			Minutes: 10, CreatedAt: t0.Add(time.Second), UpdatedAt: t0.Add(time.Second),
		})
		require.NoError(t, err)

		got, err := c.s.ListPairings(ctx, pairing.PairingQuery{Statuses: []pairing.Status{pairing.StatusSearching}, DueBy: ptr(t0.Add(time.Minute))})
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{due.ID}, ids(got))
		got, err = c.s.ListPairings(ctx, pairing.PairingQuery{Statuses: []pairing.Status{pairing.StatusSearching}, DueBy: ptr(t0.Add(59 * time.Second))})
		require.NoError(t, err)
		require.Empty(t, got)
		got, err = c.s.ListPairings(ctx, pairing.PairingQuery{WithoutPayment: true, UpdatedBefore: ptr(t0.Add(2 * time.Second))})
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{due.ID, orphan.ID}, ids(got), "oldest first")
		got, err = c.s.ListPairings(ctx, pairing.PairingQuery{UpdatedBefore: ptr(t0.Add(time.Second))})
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{due.ID}, ids(got), "strictly before")
		got, err = c.s.ListPairings(ctx, pairing.PairingQuery{Limit: 1})
		require.NoError(t, err)
		require.Len(t, got, 1)
	},
	"FallbackToBlastResetsATargetedUnavailablePairing": func(t *testing.T, c *contractEnv) {
		m := c.fx.mitra(t, 0)
		p, err := c.s.CreatePairing(ctx, pairing.Pairing{
			ID: uuid.New(), ClientID: c.fx.client(t), Type: pairing.TypeTargeted, TargetMitraID: &m,
			Status: pairing.StatusTargetedUnavailable, Minutes: 10, ExpiresAt: ptr(t0), FailureReason: pairing.ReasonTargetedDeclined,
			CreatedAt: t0, UpdatedAt: t0,
		})
		require.NoError(t, err)
		at := t0.Add(time.Second)
		got, err := c.s.FallbackToBlast(ctx, p.ID, at)
		require.NoError(t, err)
		want := p
		want.Type, want.Status, want.ExpiresAt, want.FailureReason, want.UpdatedAt = pairing.TypeBlast, pairing.StatusAwaitingPayment, nil, "", at
		require.Equal(t, want, got)
		_, err = c.s.FallbackToBlast(ctx, p.ID, at)
		require.ErrorIs(t, err, pairing.ErrInvalidState)
	},
	"FailuresFilterPageAndChangeOnceGuarded": func(t *testing.T, c *contractEnv) {
		var made []pairing.Failure
		for i, reason := range []pairing.Reason{pairing.ReasonTimeout, pairing.ReasonNoMitraAvailable, pairing.ReasonTimeout, pairing.ReasonTimeout, pairing.ReasonTargetedDeclined} {
			at := t0.Add(time.Duration(i) * time.Minute)
			typ, status := pairing.TypeBlast, pairing.StatusSearching
			var target *uuid.UUID
			if reason == pairing.ReasonTargetedDeclined {
				typ, status, target = pairing.TypeTargeted, pairing.StatusTargetedWaiting, ptr(c.fx.mitra(t, 0))
			}
			p, err := c.s.CreatePairing(ctx, pairing.Pairing{
				ID: uuid.New(), ClientID: c.fx.client(t), Type: typ, TargetMitraID: target, Status: status, Minutes: 10,
				ExpiresAt: &at, CreatedAt: at, UpdatedAt: at,
			})
			require.NoError(t, err)
			to := pairing.StatusFailed
			if typ == pairing.TypeTargeted {
				to = pairing.StatusTargetedUnavailable
			}
			res, err := c.s.Transition(ctx, pairing.PairingTransition{
				ID: p.ID, From: []pairing.Status{status}, To: to, FailureReason: reason,
				Failure: &pairing.Failure{Reason: reason, Amount: 100, RefundStatus: pairing.RefundFailed}, Now: at,
			})
			require.NoError(t, err)
			made = append(made, *res.Failure)
		}

		items, total, err := c.s.ListFailures(ctx, pairing.FailureFilter{Page: 1, PageSize: 2})
		require.NoError(t, err)
		require.Equal(t, 5, total)
		require.Equal(t, []uuid.UUID{made[4].ID, made[3].ID}, failureIDs(items), "newest first")
		items, total, err = c.s.ListFailures(ctx, pairing.FailureFilter{Page: 3, PageSize: 2})
		require.NoError(t, err)
		require.Equal(t, 5, total)
		require.Equal(t, []uuid.UUID{made[0].ID}, failureIDs(items))
		items, total, err = c.s.ListFailures(ctx, pairing.FailureFilter{Page: 4, PageSize: 2})
		require.NoError(t, err)
		require.Equal(t, 5, total)
		require.Empty(t, items)

		items, total, err = c.s.ListFailures(ctx, pairing.FailureFilter{Reason: "timeout", PageSize: 10})
		require.NoError(t, err)
		require.Equal(t, 3, total)
		require.Equal(t, []uuid.UUID{made[3].ID, made[2].ID, made[0].ID}, failureIDs(items))
		items, _, err = c.s.ListFailures(ctx, pairing.FailureFilter{Type: "targeted", PageSize: 10})
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{made[4].ID}, failureIDs(items))
		require.NotNil(t, items[0].TargetMitraID)
		items, _, err = c.s.ListFailures(ctx, pairing.FailureFilter{From: ptr(t0.Add(time.Minute)), To: ptr(t0.Add(3 * time.Minute)), PageSize: 10})
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{made[2].ID, made[1].ID}, failureIDs(items), "from inclusive, to exclusive")

		f, err := c.s.SetFailureRefunded(ctx, made[0].ID)
		require.NoError(t, err)
		require.Equal(t, pairing.RefundRefunded, f.RefundStatus)
		_, err = c.s.SetFailureRefunded(ctx, made[0].ID)
		require.ErrorIs(t, err, pairing.ErrInvalidState)

		at := t0.Add(time.Hour)
		f, err = c.s.ResolveFailure(ctx, made[1].ID, "op-1", "called the client", at)
		require.NoError(t, err)
		require.Equal(t, pairing.FailureResolved, f.Status)
		require.Equal(t, "op-1", f.ResolvedBy)
		require.Equal(t, &at, f.ResolvedAt)
		require.Equal(t, "called the client", f.Note)
		_, err = c.s.ResolveFailure(ctx, made[1].ID, "op-2", "", at)
		require.ErrorIs(t, err, pairing.ErrInvalidState)
		f, err = c.s.SetFailureRefunded(ctx, made[1].ID)
		require.NoError(t, err, "a refund that went through after an operator resolved the row still shows")
		require.Equal(t, pairing.FailureResolved, f.Status)
		require.Equal(t, pairing.RefundRefunded, f.RefundStatus)
		items, total, err = c.s.ListFailures(ctx, pairing.FailureFilter{Status: "resolved", PageSize: 10})
		require.NoError(t, err)
		require.Equal(t, 1, total)
		require.Equal(t, f, items[0])
		items, total, err = c.s.ListFailures(ctx, pairing.FailureFilter{PairingID: &made[3].PairingID})
		require.NoError(t, err)
		require.Equal(t, 1, total)
		require.Equal(t, made[3], items[0], "the failure of one pairing")
		_, err = c.s.GetFailure(ctx, uuid.New())
		require.ErrorIs(t, err, pairing.ErrNotFound)
	},
}

func ids(ps []pairing.Pairing) []uuid.UUID {
	out := make([]uuid.UUID, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func sessionIDs(ss []pairing.ChatSession) []uuid.UUID {
	out := make([]uuid.UUID, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

func failureIDs(fs []pairing.Failure) []uuid.UUID {
	out := make([]uuid.UUID, len(fs))
	for i, f := range fs {
		out[i] = f.ID
	}
	return out
}

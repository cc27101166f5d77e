package pairingtest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/pairing"
)

// StoreHarness is one pairing.Store under test, with the facts it reads but other domains
// own: clients, and mitras with their maximum of concurrent sessions and whether operators
// deactivated them. RunStoreContract calls the harness constructor once per subtest, from
// parallel subtests.
type StoreHarness struct {
	// Store is the store under test, empty: the suite expects the listings (offers to make,
	// pairings for the sweeps, chat sessions, failures) to find its own rows only.
	Store pairing.Store
	// Client creates a client, as the accounts of the host do, and returns its id.
	Client func(t *testing.T) uuid.UUID
	// Mitra creates an active mitra, as the availability domain does, and returns its id.
	// maxSessions is its own maximum of concurrent sessions; 0 leaves it unset, so that
	// AcceptParams.DefaultMaxSessions applies.
	Mitra func(t *testing.T, maxSessions int) uuid.UUID
	// SetActive deactivates or reactivates a mitra, as an operator does through the
	// availability domain.
	SetActive func(t *testing.T, id uuid.UUID, active bool)
	// MitraActive records activity of an active session's mitra at at, as the chat domain
	// does (chat_threads); nil when the store reads no chat (the no-show's guard is then
	// not exercised).
	MitraActive func(t *testing.T, sessionID uuid.UUID, at time.Time)
}

// t0 is the base time of the suite.
var t0 = time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC)

// contract is the harness with the suite's helpers.
type contract struct{ StoreHarness }

// searching inserts a searching blast of a new client with its deadline a minute on.
func (c contract) searching(t *testing.T) pairing.Pairing {
	t.Helper()
	p, err := c.Store.CreatePairing(check.Context(t), pairing.Pairing{
		ID: uuid.New(), ClientID: c.Client(t), Type: pairing.TypeBlast, Status: pairing.StatusSearching, Minutes: 10,
		ExpiresAt: ptr(t0.Add(time.Minute)), CreatedAt: t0, UpdatedAt: t0,
	})
	check.NoError(t, err)
	return p
}

func (c contract) offer(t *testing.T, p pairing.Pairing, mitras ...uuid.UUID) {
	t.Helper()
	got, err := c.Store.InsertOffers(check.Context(t), p.ID, mitras, t0)
	check.NoError(t, err)
	check.ElementsMatch(t, mitras, got)
}

func (c contract) accept(t *testing.T, m uuid.UUID, p pairing.Pairing, at time.Time) (pairing.AcceptResult, error) {
	return c.Store.AcceptOffer(check.Context(t), pairing.AcceptParams{MitraID: m, PairingID: p.ID, SessionID: uuid.New(), DefaultMaxSessions: 1, Now: at})
}

// RunStoreContract runs the conformance suite of pairing.Store: every implementation
// (pairing.NewPostgresStore, NewStore, a host's own) must pass it. Each behaviour is a
// parallel subtest over its own harness from newHarness.
func RunStoreContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("CreatePairingRoundTripsAndRefusesDuplicates", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		client, target := c.Client(t), c.Mitra(t, 0)
		want := pairing.Pairing{
			ID: uuid.New(), ClientID: client, Type: pairing.TypeTargeted, TargetMitraID: &target,
			Status: pairing.StatusTargetedUnavailable, Minutes: 15, FailureReason: pairing.ReasonMitraUnreachable,
			CreatedAt: t0, UpdatedAt: t0,
		}
		got, err := c.Store.CreatePairing(check.Context(t), want)
		check.NoError(t, err)
		check.Equal(t, want, got)
		read, err := c.Store.GetPairing(check.Context(t), want.ID)
		check.NoError(t, err)
		check.Equal(t, want, read)

		_, err = c.Store.CreatePairing(check.Context(t), want)
		check.ErrorIs(t, err, pairing.ErrConflict, "the same id first")
		other := want
		other.ID = uuid.New()
		_, err = c.Store.CreatePairing(check.Context(t), other)
		check.ErrorIs(t, err, pairing.ErrInvalidState, "one open pairing per client")

		_, err = c.Store.Transition(check.Context(t), pairing.PairingTransition{
			ID: want.ID, From: []pairing.Status{pairing.StatusTargetedUnavailable}, To: pairing.StatusCancelled, Now: t0,
		})
		check.NoError(t, err)
		_, err = c.Store.CreatePairing(check.Context(t), other)
		check.NoError(t, err)

		_, err = c.Store.GetPairing(check.Context(t), uuid.New())
		check.ErrorIs(t, err, pairing.ErrNotFound)
	})

	t.Run("TransitionIsGuardedAndClosesOffersAndWritesTheFailure", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		p := c.searching(t)
		m1, m2, m3 := c.Mitra(t, 0), c.Mitra(t, 0), c.Mitra(t, 0)
		c.offer(t, p, m1, m2, m3)
		_, err := c.Store.DeclineOffer(check.Context(t), m3, p.ID, t0)
		check.NoError(t, err)

		_, err = c.Store.Transition(check.Context(t), pairing.PairingTransition{
			ID: p.ID, From: []pairing.Status{pairing.StatusAwaitingPayment}, To: pairing.StatusCancelled, Now: t0,
		})
		check.ErrorIs(t, err, pairing.ErrInvalidState, "wrong from")
		early := t0.Add(59 * time.Second)
		_, err = c.Store.Transition(check.Context(t), pairing.PairingTransition{
			ID: p.ID, From: []pairing.Status{pairing.StatusSearching}, To: pairing.StatusFailed, DueBy: &early, Now: early,
		})
		check.ErrorIs(t, err, pairing.ErrInvalidState, "deadline not reached")
		_, err = c.Store.Transition(check.Context(t), pairing.PairingTransition{ID: uuid.New(), From: []pairing.Status{pairing.StatusSearching}, To: pairing.StatusFailed, Now: t0})
		check.ErrorIs(t, err, pairing.ErrNotFound)

		due := t0.Add(time.Minute)
		res, err := c.Store.Transition(check.Context(t), pairing.PairingTransition{
			ID: p.ID, From: []pairing.Status{pairing.StatusSearching}, To: pairing.StatusFailed, DueBy: &due,
			FailureReason: pairing.ReasonTimeout, OfferStatus: pairing.OfferExpired,
			Failure: &pairing.Failure{Reason: pairing.ReasonTimeout, Amount: 10000, RefundStatus: pairing.RefundFailed}, Now: due,
		})
		check.NoError(t, err)
		check.Equal(t, pairing.StatusFailed, res.Pairing.Status)
		check.Equal(t, pairing.ReasonTimeout, res.Pairing.FailureReason)
		check.Equal(t, due, res.Pairing.UpdatedAt)
		check.ElementsMatch(t, []uuid.UUID{m1, m2}, res.Closed, "only live offers close")
		check.NotNil(t, res.Failure)
		f := *res.Failure
		check.NotEqual(t, uuid.Nil, f.ID)
		check.Equal(t, p.ID, f.PairingID)
		check.Equal(t, p.ClientID, f.ClientID)
		check.Equal(t, pairing.TypeBlast, f.Type)
		check.Equal(t, 3, f.OfferedCount, "every offer ever made")
		check.Equal(t, int64(10000), f.Amount)
		check.Equal(t, pairing.RefundFailed, f.RefundStatus)
		check.Equal(t, pairing.FailureOpen, f.Status)
		check.Equal(t, due, f.CreatedAt)
		read, err := c.Store.GetFailure(check.Context(t), f.ID)
		check.NoError(t, err)
		check.Equal(t, f, read)
		offers, err := c.Store.ListOffers(check.Context(t), m1, t0)
		check.NoError(t, err)
		check.Len(t, offers, 0)
	})

	t.Run("TransitionSetsTheDeadline", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		p, err := c.Store.CreatePairing(check.Context(t), pairing.Pairing{
			ID: uuid.New(), ClientID: c.Client(t), Type: pairing.TypeBlast, Status: pairing.StatusAwaitingPayment,
			Minutes: 10, CreatedAt: t0, UpdatedAt: t0,
		})
		check.NoError(t, err)
		deadline := t0.Add(time.Minute)
		res, err := c.Store.Transition(check.Context(t), pairing.PairingTransition{
			ID: p.ID, From: []pairing.Status{pairing.StatusAwaitingPayment}, To: pairing.StatusSearching, ExpiresAt: &deadline, Now: t0,
		})
		check.NoError(t, err)
		check.Equal(t, &deadline, res.Pairing.ExpiresAt)
		check.Len(t, res.Closed, 0)
		check.Nil(t, res.Failure)
	})

	t.Run("InsertOffersOnlyIntoWaitingPairingsBeforeTheirDeadline", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		p := c.searching(t)
		m1, m2 := c.Mitra(t, 0), c.Mitra(t, 0)
		c.offer(t, p, m1)
		got, err := c.Store.InsertOffers(check.Context(t), p.ID, []uuid.UUID{m1, m2}, t0)
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{m2}, got, "an existing offer is kept, not repeated")
		ids, err := c.Store.OfferedMitras(check.Context(t), p.ID)
		check.NoError(t, err)
		check.ElementsMatch(t, []uuid.UUID{m1, m2}, ids)

		m3 := c.Mitra(t, 0)
		got, err = c.Store.InsertOffers(check.Context(t), p.ID, []uuid.UUID{m3}, t0.Add(time.Minute))
		check.NoError(t, err)
		check.Len(t, got, 0, "at the deadline")

		_, err = c.Store.Transition(check.Context(t), pairing.PairingTransition{ID: p.ID, From: []pairing.Status{pairing.StatusSearching}, To: pairing.StatusCancelled, Now: t0})
		check.NoError(t, err)
		got, err = c.Store.InsertOffers(check.Context(t), p.ID, []uuid.UUID{m3}, t0)
		check.NoError(t, err)
		check.Len(t, got, 0, "cancelled")
	})

	t.Run("ListOffersShowsLiveOffersMostUrgentFirst", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		m := c.Mitra(t, 0)
		later := c.searching(t)
		sooner, err := c.Store.CreatePairing(check.Context(t), pairing.Pairing{
			ID: uuid.New(), ClientID: c.Client(t), Type: pairing.TypeTargeted, TargetMitraID: &m,
			Status: pairing.StatusTargetedWaiting, Minutes: 5, ExpiresAt: ptr(t0.Add(20 * time.Second)), CreatedAt: t0, UpdatedAt: t0,
		})
		check.NoError(t, err)
		c.offer(t, later, m)
		c.offer(t, sooner, m)
		offers, err := c.Store.ListOffers(check.Context(t), m, t0)
		check.NoError(t, err)
		name := func(id uuid.UUID) string {
			cl, err := c.Store.GetClient(check.Context(t), id)
			check.NoError(t, err)
			return cl.DisplayName
		}
		check.Equal(t, []pairing.Offer{
			{PairingID: sooner.ID, Type: pairing.TypeTargeted, Minutes: 5, ExpiresAt: t0.Add(20 * time.Second), OfferedAt: t0,
				ClientID: sooner.ClientID, ClientDisplayName: name(sooner.ClientID)},
			{PairingID: later.ID, Type: pairing.TypeBlast, Minutes: 10, ExpiresAt: t0.Add(time.Minute), OfferedAt: t0,
				ClientID: later.ClientID, ClientDisplayName: name(later.ClientID)},
		}, offers, "each with its client, as the mitra is shown it")
		offers, err = c.Store.ListOffers(check.Context(t), m, t0.Add(20*time.Second))
		check.NoError(t, err)
		check.Len(t, offers, 1, "the targeted one reached its deadline")

		p, err := c.Store.DeclineOffer(check.Context(t), m, later.ID, t0)
		check.NoError(t, err)
		check.Equal(t, later.ID, p.ID)
		offers, err = c.Store.ListOffers(check.Context(t), m, t0)
		check.NoError(t, err)
		check.Len(t, offers, 1)
		_, err = c.Store.DeclineOffer(check.Context(t), m, later.ID, t0)
		check.ErrorIs(t, err, pairing.ErrNotFound)
	})

	t.Run("PairingsToOfferAreSearchingBlastsNotOfferedYetOldestFirst", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		m := c.Mitra(t, 0)
		first := c.searching(t)
		second, err := c.Store.CreatePairing(check.Context(t), pairing.Pairing{
			ID: uuid.New(), ClientID: c.Client(t), Type: pairing.TypeBlast, Status: pairing.StatusSearching, Minutes: 10,
			ExpiresAt: ptr(t0.Add(2 * time.Minute)), CreatedAt: t0.Add(time.Second), UpdatedAt: t0.Add(time.Second),
		})
		check.NoError(t, err)
		offered := c.searching(t)
		c.offer(t, offered, m)

		got, err := c.Store.PairingsToOffer(check.Context(t), m, t0, 10)
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{first.ID, second.ID}, idsOf(got, pairingID))
		got, err = c.Store.PairingsToOffer(check.Context(t), m, t0, 1)
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{first.ID}, idsOf(got, pairingID))
		got, err = c.Store.PairingsToOffer(check.Context(t), m, t0.Add(time.Minute), 10)
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{second.ID}, idsOf(got, pairingID), "deadline passed for the first")
	})

	t.Run("AcceptChecksInOrderAndClaimsOnce", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		p := c.searching(t)
		m1, m2, stranger := c.Mitra(t, 0), c.Mitra(t, 0), c.Mitra(t, 0)
		c.offer(t, p, m1, m2)

		_, err := c.accept(t, uuid.New(), p, t0)
		check.ErrorIs(t, err, pairing.ErrNotFound, "unknown mitra")
		_, err = c.accept(t, stranger, p, t0)
		check.ErrorIs(t, err, pairing.ErrNotFound, "no offer")
		_, err = c.accept(t, m1, p, t0.Add(time.Minute))
		check.ErrorIs(t, err, pairing.ErrExpired, "deadline")
		c.SetActive(t, m1, false)
		_, err = c.accept(t, m1, p, t0)
		check.ErrorIs(t, err, pairing.ErrDeactivated)
		c.SetActive(t, m1, true)

		at := t0.Add(10 * time.Second)
		res, err := c.accept(t, m1, p, at)
		check.NoError(t, err)
		check.False(t, res.Replayed)
		check.Equal(t, []uuid.UUID{m2}, res.Dismissed)
		s := res.Session
		check.Equal(t, pairing.ChatSession{
			ID: s.ID, ClientID: p.ClientID, MitraID: m1, Status: pairing.SessionActive, Minutes: 10,
			StartedAt: &at, EndsAt: ptr(at.Add(10 * time.Minute)), PairingID: p.ID, CreatedAt: at, UpdatedAt: at,
		}, s)
		read, err := c.Store.GetChatSession(check.Context(t), s.ID)
		check.NoError(t, err)
		check.Equal(t, s, read)
		check.Equal(t, pairing.StatusMatched, res.Pairing.Status)
		check.Equal(t, &m1, res.Pairing.MatchedMitraID)
		check.Equal(t, &s.ID, res.Pairing.ChatSessionID)

		again, err := c.accept(t, m1, p, at)
		check.NoError(t, err)
		check.True(t, again.Replayed)
		check.Equal(t, s, again.Session)
		_, err = c.accept(t, m2, p, at)
		check.ErrorIs(t, err, pairing.ErrAlreadyMatched)

		info, err := c.Store.MitraInfo(check.Context(t), m1)
		check.NoError(t, err)
		check.Equal(t, pairing.MitraInfo{Active: true, OpenSessions: 1}, info)

		// At capacity for another pairing.
		q := c.searching(t)
		c.offer(t, q, m1)
		_, err = c.accept(t, m1, q, at)
		check.ErrorIs(t, err, pairing.ErrAtCapacity)
	})

	t.Run("AcceptRefusesCancelledPairingsAsExpired", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		p := c.searching(t)
		m := c.Mitra(t, 0)
		c.offer(t, p, m)
		_, err := c.Store.Transition(check.Context(t), pairing.PairingTransition{
			ID: p.ID, From: []pairing.Status{pairing.StatusSearching}, To: pairing.StatusCancelled, OfferStatus: pairing.OfferDismissed, Now: t0,
		})
		check.NoError(t, err)
		_, err = c.accept(t, m, p, t0)
		check.ErrorIs(t, err, pairing.ErrExpired)
	})

	t.Run("AcceptOfATargetedPairingHoldsAPendingPaymentSession", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		m := c.Mitra(t, 2)
		p, err := c.Store.CreatePairing(check.Context(t), pairing.Pairing{
			ID: uuid.New(), ClientID: c.Client(t), Type: pairing.TypeTargeted, TargetMitraID: &m,
			Status: pairing.StatusTargetedWaiting, Minutes: 5, ExpiresAt: ptr(t0.Add(20 * time.Second)), CreatedAt: t0, UpdatedAt: t0,
		})
		check.NoError(t, err)
		c.offer(t, p, m)
		res, err := c.accept(t, m, p, t0)
		check.NoError(t, err)
		check.Equal(t, pairing.SessionPendingPayment, res.Session.Status)
		check.Nil(t, res.Session.StartedAt)
		check.Nil(t, res.Session.EndsAt)
		info, err := c.Store.MitraInfo(check.Context(t), m)
		check.NoError(t, err)
		check.Equal(t, pairing.MitraInfo{Active: true, MaxConcurrentSessions: 2, OpenSessions: 1}, info)

		_, err = c.Store.EndChatSession(check.Context(t), pairing.SessionTransition{
			ID: res.Session.ID, From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded, Reason: pairing.EndExpired, Now: t0,
		})
		check.ErrorIs(t, err, pairing.ErrInvalidState)
		paidAt := t0.Add(time.Minute)
		s, err := c.Store.ActivateChatSession(check.Context(t), res.Session.ID, paidAt, paidAt.Add(5*time.Minute), paidAt)
		check.NoError(t, err)
		check.Equal(t, pairing.SessionActive, s.Status)
		check.Equal(t, &paidAt, s.StartedAt)
		check.Equal(t, paidAt.Add(5*time.Minute), *s.EndsAt)
		_, err = c.Store.ActivateChatSession(check.Context(t), res.Session.ID, paidAt, paidAt, paidAt)
		check.ErrorIs(t, err, pairing.ErrInvalidState)
	})

	t.Run("EndChatSessionIsGuardedOnStatusAndEndsAt", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		p := c.searching(t)
		m := c.Mitra(t, 0)
		c.offer(t, p, m)
		res, err := c.accept(t, m, p, t0)
		check.NoError(t, err)
		early := t0.Add(9 * time.Minute)
		_, err = c.Store.EndChatSession(check.Context(t), pairing.SessionTransition{
			ID: res.Session.ID, From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded,
			Reason: pairing.EndExpired, DueBy: &early, Now: early,
		})
		check.ErrorIs(t, err, pairing.ErrInvalidState)
		due := t0.Add(10 * time.Minute)
		read := due.Add(-5 * time.Minute) // its end before an extension moved it
		_, err = c.Store.EndChatSession(check.Context(t), pairing.SessionTransition{
			ID: res.Session.ID, From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded,
			Reason: pairing.EndMitraDeactivated, EndsAt: &read, Now: early,
		})
		check.ErrorIs(t, err, pairing.ErrInvalidState, "ends_at is not the one read")
		s, err := c.Store.EndChatSession(check.Context(t), pairing.SessionTransition{
			ID: res.Session.ID, From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded,
			Reason: pairing.EndExpired, DueBy: &due, EndsAt: &due, Now: due,
		})
		check.NoError(t, err)
		check.Equal(t, pairing.SessionEnded, s.Status)
		check.Equal(t, pairing.EndExpired, s.EndReason)
		check.Equal(t, &due, s.EndedAt)
		_, err = c.Store.EndChatSession(check.Context(t), pairing.SessionTransition{ID: uuid.New(), From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded, Now: due})
		check.ErrorIs(t, err, pairing.ErrNotFound)

		had, err := c.Store.HasEndedSession(check.Context(t), p.ClientID, m)
		check.NoError(t, err)
		check.True(t, had)
		had, err = c.Store.HasEndedSession(check.Context(t), p.ClientID, c.Mitra(t, 0))
		check.NoError(t, err)
		check.False(t, had)
	})

	t.Run("ListChatSessionsFilters", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		var sessions []pairing.ChatSession
		for i := range 3 {
			p := c.searching(t)
			m := c.Mitra(t, 0)
			c.offer(t, p, m)
			res, err := c.accept(t, m, p, t0.Add(time.Duration(i)*time.Second))
			check.NoError(t, err)
			sessions = append(sessions, res.Session)
		}
		_, err := c.Store.EndChatSession(check.Context(t), pairing.SessionTransition{
			ID: sessions[0].ID, From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded, Reason: pairing.EndRerouted, Now: t0,
		})
		check.NoError(t, err)

		all, err := c.Store.ListChatSessions(check.Context(t), pairing.ListSessionsParams{})
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{sessions[2].ID, sessions[1].ID, sessions[0].ID}, idsOf(all, sessionID), "newest first")
		got, err := c.Store.ListChatSessions(check.Context(t), pairing.ListSessionsParams{Status: pairing.SessionActive, Limit: 1})
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{sessions[2].ID}, idsOf(got, sessionID))
		got, err = c.Store.ListChatSessions(check.Context(t), pairing.ListSessionsParams{EndReasons: []pairing.EndReason{pairing.EndRerouted}})
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{sessions[0].ID}, idsOf(got, sessionID))
		got, err = c.Store.ListChatSessions(check.Context(t), pairing.ListSessionsParams{ClientID: &sessions[1].ClientID, Statuses: []pairing.SessionStatus{pairing.SessionActive, pairing.SessionPendingPayment}})
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{sessions[1].ID}, idsOf(got, sessionID))
		got, err = c.Store.ListChatSessions(check.Context(t), pairing.ListSessionsParams{MitraID: &sessions[2].MitraID})
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{sessions[2].ID}, idsOf(got, sessionID))
		got, err = c.Store.ListChatSessions(check.Context(t), pairing.ListSessionsParams{Status: pairing.SessionActive, EndsBy: ptr(t0.Add(10*time.Minute + time.Second))})
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{sessions[1].ID}, idsOf(got, sessionID))
	})

	t.Run("RerouteEndsTheSessionAndInsertsThePrepaidBlastAtomically", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		p := c.searching(t)
		m := c.Mitra(t, 0)
		c.offer(t, p, m)
		res, err := c.accept(t, m, p, t0)
		check.NoError(t, err)
		at := t0.Add(4 * time.Minute)
		next := pairing.Pairing{
			ID: uuid.New(), ClientID: p.ClientID, Type: pairing.TypeBlast, Status: pairing.StatusSearching, Minutes: 6,
			Prepaid: true, ExpiresAt: ptr(at.Add(time.Minute)), CreatedAt: at, UpdatedAt: at,
		}
		read := pairing.RerouteParams{
			SessionID: res.Session.ID, Reason: pairing.EndRerouted, Now: at, EndsAt: *res.Session.EndsAt,
			Minutes: res.Session.Minutes, Pairing: next,
		}
		s, got, err := c.Store.Reroute(check.Context(t), read)
		check.NoError(t, err)
		check.Equal(t, pairing.SessionEnded, s.Status)
		check.Equal(t, pairing.EndRerouted, s.EndReason)
		check.Equal(t, next, got)

		again := next
		again.ID = uuid.New()
		read.Pairing = again
		_, _, err = c.Store.Reroute(check.Context(t), read)
		check.ErrorIs(t, err, pairing.ErrInvalidState)
		_, err = c.Store.GetPairing(check.Context(t), again.ID)
		check.ErrorIs(t, err, pairing.ErrNotFound, "nothing inserted when the session was not active")
	})

	t.Run("RerouteIsGuardedOnTheEndAndMinutesTheCallerRead", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		p := c.searching(t)
		m := c.Mitra(t, 0)
		c.offer(t, p, m)
		res, err := c.accept(t, m, p, t0)
		check.NoError(t, err)
		at := t0.Add(4 * time.Minute)
		next := pairing.Pairing{
			ID: uuid.New(), ClientID: p.ClientID, Type: pairing.TypeBlast, Status: pairing.StatusSearching, Minutes: 6,
			Prepaid: true, ExpiresAt: ptr(at.Add(time.Minute)), CreatedAt: at, UpdatedAt: at,
		}
		// The caller read the session before an extension of 5 minutes was applied (or
		// after: either way not the row as it is).
		for _, stale := range []struct {
			endsAt  time.Time
			minutes int
		}{
			{res.Session.EndsAt.Add(-5 * time.Minute), res.Session.Minutes - 5},
			{*res.Session.EndsAt, res.Session.Minutes - 5},
			{res.Session.EndsAt.Add(-5 * time.Minute), res.Session.Minutes},
		} {
			_, _, err = c.Store.Reroute(check.Context(t), pairing.RerouteParams{
				SessionID: res.Session.ID, Reason: pairing.EndRerouted, Now: at, EndsAt: stale.endsAt, Minutes: stale.minutes,
				Pairing: next,
			})
			check.ErrorIs(t, err, pairing.ErrInvalidState)
			_, err = c.Store.GetPairing(check.Context(t), next.ID)
			check.ErrorIs(t, err, pairing.ErrNotFound, "no blast for minutes counted on a stale read")
			got, err := c.Store.GetChatSession(check.Context(t), res.Session.ID)
			check.NoError(t, err)
			check.Equal(t, res.Session, got, "the session is left as it is")
		}

		s, got, err := c.Store.Reroute(check.Context(t), pairing.RerouteParams{
			SessionID: res.Session.ID, Reason: pairing.EndRerouted, Now: at, EndsAt: *res.Session.EndsAt,
			Minutes: res.Session.Minutes, Pairing: next,
		})
		check.NoError(t, err)
		check.Equal(t, pairing.SessionEnded, s.Status)
		check.Equal(t, next, got)
	})

	t.Run("ListPairingsSelectsForSweeps", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		due := c.searching(t)
		orphan, err := c.Store.CreatePairing(check.Context(t), pairing.Pairing{
			ID: uuid.New(), ClientID: c.Client(t), Type: pairing.TypeBlast, Status: pairing.StatusAwaitingPayment,
			Minutes: 10, CreatedAt: t0.Add(time.Second), UpdatedAt: t0.Add(time.Second),
		})
		check.NoError(t, err)

		got, err := c.Store.ListPairings(check.Context(t), pairing.PairingQuery{Statuses: []pairing.Status{pairing.StatusSearching}, DueBy: ptr(t0.Add(time.Minute))})
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{due.ID}, idsOf(got, pairingID))
		got, err = c.Store.ListPairings(check.Context(t), pairing.PairingQuery{Statuses: []pairing.Status{pairing.StatusSearching}, DueBy: ptr(t0.Add(59 * time.Second))})
		check.NoError(t, err)
		check.Len(t, got, 0)
		got, err = c.Store.ListPairings(check.Context(t), pairing.PairingQuery{WithoutPayment: true, UpdatedBefore: ptr(t0.Add(2 * time.Second))})
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{due.ID, orphan.ID}, idsOf(got, pairingID), "oldest first")
		got, err = c.Store.ListPairings(check.Context(t), pairing.PairingQuery{UpdatedBefore: ptr(t0.Add(time.Second))})
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{due.ID}, idsOf(got, pairingID), "strictly before")
		got, err = c.Store.ListPairings(check.Context(t), pairing.PairingQuery{Limit: 1})
		check.NoError(t, err)
		check.Len(t, got, 1)
	})

	t.Run("FallbackToBlastResetsATargetedUnavailablePairing", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		m := c.Mitra(t, 0)
		p, err := c.Store.CreatePairing(check.Context(t), pairing.Pairing{
			ID: uuid.New(), ClientID: c.Client(t), Type: pairing.TypeTargeted, TargetMitraID: &m,
			Status: pairing.StatusTargetedUnavailable, Minutes: 10, ExpiresAt: ptr(t0), FailureReason: pairing.ReasonTargetedDeclined,
			CreatedAt: t0, UpdatedAt: t0,
		})
		check.NoError(t, err)
		at := t0.Add(time.Second)
		got, err := c.Store.FallbackToBlast(check.Context(t), p.ID, at)
		check.NoError(t, err)
		want := p
		want.Type, want.Status, want.ExpiresAt, want.FailureReason, want.UpdatedAt = pairing.TypeBlast, pairing.StatusAwaitingPayment, nil, "", at
		check.Equal(t, want, got)
		_, err = c.Store.FallbackToBlast(check.Context(t), p.ID, at)
		check.ErrorIs(t, err, pairing.ErrInvalidState)
	})

	t.Run("FailuresFilterPageAndChangeOnceGuarded", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		var made []pairing.Failure
		for i, reason := range []pairing.Reason{pairing.ReasonTimeout, pairing.ReasonNoMitraAvailable, pairing.ReasonTimeout, pairing.ReasonTimeout, pairing.ReasonTargetedDeclined} {
			at := t0.Add(time.Duration(i) * time.Minute)
			typ, status := pairing.TypeBlast, pairing.StatusSearching
			var target *uuid.UUID
			if reason == pairing.ReasonTargetedDeclined {
				typ, status, target = pairing.TypeTargeted, pairing.StatusTargetedWaiting, ptr(c.Mitra(t, 0))
			}
			p, err := c.Store.CreatePairing(check.Context(t), pairing.Pairing{
				ID: uuid.New(), ClientID: c.Client(t), Type: typ, TargetMitraID: target, Status: status, Minutes: 10,
				ExpiresAt: &at, CreatedAt: at, UpdatedAt: at,
			})
			check.NoError(t, err)
			to := pairing.StatusFailed
			if typ == pairing.TypeTargeted {
				to = pairing.StatusTargetedUnavailable
			}
			res, err := c.Store.Transition(check.Context(t), pairing.PairingTransition{
				ID: p.ID, From: []pairing.Status{status}, To: to, FailureReason: reason,
				Failure: &pairing.Failure{Reason: reason, Amount: 100, RefundStatus: pairing.RefundFailed}, Now: at,
			})
			check.NoError(t, err)
			made = append(made, *res.Failure)
		}

		items, total, err := c.Store.ListFailures(check.Context(t), pairing.FailureFilter{Page: 1, PageSize: 2})
		check.NoError(t, err)
		check.Equal(t, 5, total)
		check.Equal(t, []uuid.UUID{made[4].ID, made[3].ID}, idsOf(items, failureID), "newest first")
		items, total, err = c.Store.ListFailures(check.Context(t), pairing.FailureFilter{Page: 3, PageSize: 2})
		check.NoError(t, err)
		check.Equal(t, 5, total)
		check.Equal(t, []uuid.UUID{made[0].ID}, idsOf(items, failureID))
		items, total, err = c.Store.ListFailures(check.Context(t), pairing.FailureFilter{Page: 4, PageSize: 2})
		check.NoError(t, err)
		check.Equal(t, 5, total)
		check.Len(t, items, 0)

		items, total, err = c.Store.ListFailures(check.Context(t), pairing.FailureFilter{Reason: "timeout", PageSize: 10})
		check.NoError(t, err)
		check.Equal(t, 3, total)
		check.Equal(t, []uuid.UUID{made[3].ID, made[2].ID, made[0].ID}, idsOf(items, failureID))
		items, _, err = c.Store.ListFailures(check.Context(t), pairing.FailureFilter{Type: "targeted", PageSize: 10})
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{made[4].ID}, idsOf(items, failureID))
		check.NotNil(t, items[0].TargetMitraID)
		items, _, err = c.Store.ListFailures(check.Context(t), pairing.FailureFilter{From: ptr(t0.Add(time.Minute)), To: ptr(t0.Add(3 * time.Minute)), PageSize: 10})
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{made[2].ID, made[1].ID}, idsOf(items, failureID), "from inclusive, to exclusive")

		f, err := c.Store.SetFailureRefunded(check.Context(t), made[0].ID)
		check.NoError(t, err)
		check.Equal(t, pairing.RefundRefunded, f.RefundStatus)
		_, err = c.Store.SetFailureRefunded(check.Context(t), made[0].ID)
		check.ErrorIs(t, err, pairing.ErrInvalidState)

		at := t0.Add(time.Hour)
		f, err = c.Store.ResolveFailure(check.Context(t), made[1].ID, "op-1", "called the client", at)
		check.NoError(t, err)
		check.Equal(t, pairing.FailureResolved, f.Status)
		check.Equal(t, "op-1", f.ResolvedBy)
		check.Equal(t, &at, f.ResolvedAt)
		check.Equal(t, "called the client", f.Note)
		_, err = c.Store.ResolveFailure(check.Context(t), made[1].ID, "op-2", "", at)
		check.ErrorIs(t, err, pairing.ErrInvalidState)
		f, err = c.Store.SetFailureRefunded(check.Context(t), made[1].ID)
		check.NoError(t, err, "a refund that went through after an operator resolved the row still shows")
		check.Equal(t, pairing.FailureResolved, f.Status)
		check.Equal(t, pairing.RefundRefunded, f.RefundStatus)
		items, total, err = c.Store.ListFailures(check.Context(t), pairing.FailureFilter{Status: "resolved", PageSize: 10})
		check.NoError(t, err)
		check.Equal(t, 1, total)
		check.Equal(t, f, items[0])
		items, total, err = c.Store.ListFailures(check.Context(t), pairing.FailureFilter{PairingID: &made[3].PairingID})
		check.NoError(t, err)
		check.Equal(t, 1, total)
		check.Equal(t, made[3], items[0], "the failure of one pairing")
		_, err = c.Store.GetFailure(check.Context(t), uuid.New())
		check.ErrorIs(t, err, pairing.ErrNotFound)
	})

	runPolicyContract(t, newHarness)
	runConstraintContract(t, newHarness)
	runPairingPathContract(t, newHarness)
	runOperationsContract(t, newHarness)
	runLookupContract(t, newHarness)
	runBlockContract(t, newHarness)
	runTrustContract(t, newHarness)
	runWrapupContract(t, newHarness)
	runRatingContract(t, newHarness)
	runRoutingContract(t, newHarness)
}

func ptr[T any](v T) *T { return &v }

// idsOf returns the id of each element of xs, in order.
func idsOf[T any](xs []T, id func(T) uuid.UUID) []uuid.UUID {
	out := make([]uuid.UUID, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	return out
}

func pairingID(p pairing.Pairing) uuid.UUID     { return p.ID }
func sessionID(s pairing.ChatSession) uuid.UUID { return s.ID }
func failureID(f pairing.Failure) uuid.UUID     { return f.ID }

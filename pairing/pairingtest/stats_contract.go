package pairingtest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/pairing"
)

// RunStatsContract runs the conformance suite of pairing.StatsStore over the Store of
// each harness, which must implement it: a scripted scenario of pairings, offers and chat
// sessions, each written at a given time, and the exact figures of windows over it.
func RunStatsContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("ScriptedScenarioGivesExactFigures", func(t *testing.T) {
		t.Parallel()
		statsScenario(t, newHarness(t))
	})
	t.Run("UnknownMitraIsNotFound", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		stats := statsStoreOf(t, h.Store)
		_, err := stats.MitraStats(check.Context(t), uuid.New(), pairing.StatsWindow{From: t0, To: t0.Add(time.Hour)})
		check.ErrorIs(t, err, pairing.ErrNotFound)
	})
	t.Run("EmptyStoreCountsNothing", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		stats := statsStoreOf(t, h.Store)
		got, err := stats.Stats(check.Context(t), pairing.StatsWindow{From: t0, To: t0.Add(time.Hour)})
		check.NoError(t, err)
		check.Equal(t, pairing.Stats{}, got)
		m := h.Mitra(t, 0)
		ms, err := stats.MitraStats(check.Context(t), m, pairing.StatsWindow{From: t0, To: t0.Add(time.Hour)})
		check.NoError(t, err)
		check.Equal(t, pairing.MitraStats{}, ms)
		_, ok := ms.AcceptanceRate()
		check.False(t, ok, "no decided offer: no rate")
	})
}

func statsStoreOf(t *testing.T, s pairing.Store) pairing.StatsStore {
	t.Helper()
	stats, ok := s.(pairing.StatsStore)
	check.True(t, ok, "%T implements pairing.StatsStore", s)
	return stats
}

// at is t0 plus m minutes.
func at(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

// statsScript writes the rows of the scenario through the Store.
type statsScript struct {
	contract
	t *testing.T
}

// paid inserts a searching blast of a new client, paid at paidAt, its deadline an hour
// later.
func (s statsScript) paid(paidAt time.Time) pairing.Pairing {
	s.t.Helper()
	p, err := s.Store.CreatePairing(check.Context(s.t), pairing.Pairing{
		ID: uuid.New(), ClientID: s.Client(s.t), Type: pairing.TypeBlast, Status: pairing.StatusSearching, Minutes: 30,
		ExpiresAt: ptr(paidAt.Add(time.Hour)), PaidAt: &paidAt, CreatedAt: paidAt.Add(-time.Minute), UpdatedAt: paidAt,
	})
	check.NoError(s.t, err)
	return p
}

func (s statsScript) offer(p pairing.Pairing, when time.Time, mitras ...uuid.UUID) {
	s.t.Helper()
	got, err := s.Store.InsertOffers(check.Context(s.t), p.ID, mitras, when)
	check.NoError(s.t, err)
	check.ElementsMatch(s.t, mitras, got)
}

func (s statsScript) accept(m uuid.UUID, p pairing.Pairing, when time.Time) pairing.ChatSession {
	s.t.Helper()
	res, err := s.Store.AcceptOffer(check.Context(s.t), pairing.AcceptParams{
		MitraID: m, PairingID: p.ID, SessionID: uuid.New(), DefaultMaxSessions: 5, Now: when})
	check.NoError(s.t, err)
	return res.Session
}

func (s statsScript) transition(p pairing.Pairing, to pairing.Status, reason pairing.Reason, offers pairing.OfferStatus, when time.Time) {
	s.t.Helper()
	_, err := s.Store.Transition(check.Context(s.t), pairing.PairingTransition{
		ID: p.ID, From: []pairing.Status{p.Status}, To: to, FailureReason: reason, OfferStatus: offers, Now: when})
	check.NoError(s.t, err)
}

func (s statsScript) end(c pairing.ChatSession, reason pairing.EndReason, when time.Time) {
	s.t.Helper()
	_, err := s.Store.EndChatSession(check.Context(s.t), pairing.SessionTransition{
		ID: c.ID, From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded, Reason: reason, Now: when})
	check.NoError(s.t, err)
}

// statsScenario is the script, minute by minute around the window (t0, t0+60m]:
//
//	P0  paid -10, offered to A -10, A accepts -9; its session expires at +21
//	P1  paid +1, offered to A B C +1; B declines +2; A accepts +4 (C dismissed); the
//	    client ends the session at +20
//	P2  paid +5, offered to B C +5; C accepts +15 (B dismissed); the session ends
//	    mitra_deactivated at +45 (not completed)
//	P3  paid +10, offered to A B +10; fails (timeout) at +11, both offers lapse
//	P4  paid +20, offered to C +20; the client cancels at +21
//	P5  awaiting payment from +25; the client cancels at +26 (never paid)
//	P6  paid +30, offered to A +30; A accepts +50 (its session runs past the window)
//	P9  targeted at B from +35, offered +35; B accepts +36 (pending payment)
//	P7  paid +40, offered to B +40, still searching
//	P8  paid +45, queued at +46
//	P10 paid +55, offered to C +55; C accepts +61 (after the window)
//	P11 paid at t0 exactly (before the window), offered to B at t0; fails at +60 exactly
func statsScenario(t *testing.T, h StoreHarness) {
	ctx := check.Context(t)
	stats := statsStoreOf(t, h.Store)
	s := statsScript{contract: contract{h}, t: t}
	a, b, c := h.Mitra(t, 0), h.Mitra(t, 0), h.Mitra(t, 0)

	p0 := s.paid(at(-10))
	s.offer(p0, at(-10), a)
	s0 := s.accept(a, p0, at(-9))
	s.end(s0, pairing.EndExpired, at(21))

	p1 := s.paid(at(1))
	s.offer(p1, at(1), a, b, c)
	_, err := h.Store.DeclineOffer(ctx, b, p1.ID, at(2))
	check.NoError(t, err)
	s1 := s.accept(a, p1, at(4))
	s.end(s1, pairing.EndClientEnded, at(20))

	p2 := s.paid(at(5))
	s.offer(p2, at(5), b, c)
	s2 := s.accept(c, p2, at(15))
	s.end(s2, pairing.EndMitraDeactivated, at(45))

	p3 := s.paid(at(10))
	s.offer(p3, at(10), a, b)
	s.transition(p3, pairing.StatusFailed, pairing.ReasonTimeout, pairing.OfferExpired, at(11))

	p4 := s.paid(at(20))
	s.offer(p4, at(20), c)
	s.transition(p4, pairing.StatusCancelled, pairing.ReasonClientCancelled, pairing.OfferDismissed, at(21))

	p5, err := h.Store.CreatePairing(ctx, pairing.Pairing{ID: uuid.New(), ClientID: h.Client(t), Type: pairing.TypeBlast,
		Status: pairing.StatusAwaitingPayment, Minutes: 30, CreatedAt: at(25), UpdatedAt: at(25)})
	check.NoError(t, err)
	s.transition(p5, pairing.StatusCancelled, pairing.ReasonClientCancelled, pairing.OfferDismissed, at(26))

	p6 := s.paid(at(30))
	s.offer(p6, at(30), a)
	s.accept(a, p6, at(50))

	p9, err := h.Store.CreatePairing(ctx, pairing.Pairing{ID: uuid.New(), ClientID: h.Client(t), Type: pairing.TypeTargeted,
		TargetMitraID: &b, Status: pairing.StatusTargetedWaiting, Minutes: 30, ExpiresAt: ptr(at(40)),
		CreatedAt: at(35), UpdatedAt: at(35)})
	check.NoError(t, err)
	s.offer(p9, at(35), b)
	s9 := s.accept(b, p9, at(36))
	check.Equal(t, pairing.SessionPendingPayment, s9.Status)

	p7 := s.paid(at(40))
	s.offer(p7, at(40), b)

	p8 := s.paid(at(45))
	s.transition(p8, pairing.StatusQueued, "", pairing.OfferExpired, at(46))

	p10 := s.paid(at(55))
	s.offer(p10, at(55), c)
	s.accept(c, p10, at(61))

	p11 := s.paid(t0)
	s.offer(p11, t0, b)
	s.transition(p11, pairing.StatusFailed, pairing.ReasonTimeout, pairing.OfferExpired, at(60))

	// Each final status stamped when it was reached; an open pairing has none.
	for want, id := range map[time.Time]uuid.UUID{at(4): p1.ID, at(11): p3.ID, at(26): p5.ID, at(36): p9.ID} {
		got, err := h.Store.GetPairing(ctx, id)
		check.NoError(t, err)
		check.Equal(t, &want, got.ClosedAt, "pairing %s closed", id)
	}
	got7, err := h.Store.GetPairing(ctx, p7.ID)
	check.NoError(t, err)
	check.Nil(t, got7.ClosedAt, "a searching pairing is not closed")

	window := pairing.StatsWindow{From: t0, To: at(60)}
	st, err := stats.Stats(ctx, window)
	check.NoError(t, err)
	check.Equal(t, pairing.Stats{
		// P1 P2 P3 P4 P6 P7 P8 P10.
		PaidPairings: 8,
		// P1 P2 P6 P9; P4 P5; P3 P11.
		Matched: 4, Abandoned: 2, Failed: 2,
		// P1 3 min, P2 10 min, P6 20 min (P9 was never paid before its match).
		Answer: pairing.Durations{Count: 3, Total: 33 * time.Minute, P50: 10 * time.Minute, P90: 20 * time.Minute},
		// Sent: P1 ×3, P2 ×2, P3 ×2, P4, P6, P9, P7, P10. Accepted: A P1, C P2, B P9, A P6.
		// Declined: B P1. Lapsed: P3 ×2, P11.
		OffersSent: 12, OffersAccepted: 4, OffersDeclined: 1, OffersLapsed: 3,
		// P7 since +40, P8.
		Waiting: pairing.Waiting{Count: 2, Longest: 20 * time.Minute},
		// P6's and P10's run; P0's expired and P1's client_ended completed.
		SessionsActive: 2, SessionsCompleted: 2,
	}, st)
	mean, ok := st.Answer.MeanSeconds()
	check.True(t, ok)
	check.Equal(t, 660.0, mean)

	w, err := stats.Waiting(ctx, at(60))
	check.NoError(t, err)
	check.Equal(t, st.Waiting, w)

	for _, m := range []struct {
		name string
		id   uuid.UUID
		want pairing.MitraStats
		rate float64
	}{
		// Offers P1 P3 P6; accepted P1 P6, lapsed P3. Sessions of P1 and P6 started in the
		// window; served: P0's 0..21, P1's 4..20, P6's 50..60.
		{"A", a, pairing.MitraStats{OffersReceived: 3, Accepted: 2, Lapsed: 1, Sessions: 2, Served: 47 * time.Minute}, 2.0 / 3},
		// Offers P1 P2 P3 P9 P7 (P11's came at t0); accepted P9, declined P1, lapsed P3 and
		// P11; P9's session never started.
		{"B", b, pairing.MitraStats{OffersReceived: 5, Accepted: 1, Declined: 1, Lapsed: 2}, 0.25},
		// Offers P1 P2 P4 P10; accepted P2 (P10 after the window). P2's session 15..45.
		{"C", c, pairing.MitraStats{OffersReceived: 4, Accepted: 1, Sessions: 1, Served: 30 * time.Minute}, 1},
	} {
		got, err := stats.MitraStats(ctx, m.id, window)
		check.NoError(t, err, m.name)
		check.Equal(t, m.want, got, "mitra %s", m.name)
		rate, ok := got.AcceptanceRate()
		check.True(t, ok, m.name)
		check.Equal(t, m.rate, rate, "mitra %s acceptance rate", m.name)
	}

	// The next hour: P10's match at +61 only; what is a state is read at its end.
	next := pairing.StatsWindow{From: at(60), To: at(120)}
	st, err = stats.Stats(ctx, next)
	check.NoError(t, err)
	check.Equal(t, pairing.Stats{
		Matched:        1,
		Answer:         pairing.Durations{Count: 1, Total: 6 * time.Minute, P50: 6 * time.Minute, P90: 6 * time.Minute},
		OffersAccepted: 1,
		Waiting:        pairing.Waiting{Count: 2, Longest: 80 * time.Minute},
		SessionsActive: 2,
	}, st)
	got, err := stats.MitraStats(ctx, c, next)
	check.NoError(t, err)
	// P10's session, +61 to its ends_at at +91 (it has not ended: no sweep ran).
	check.Equal(t, pairing.MitraStats{Accepted: 1, Sessions: 1, Served: 30 * time.Minute}, got)
}

package pairingtest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/pairing"
)

// activeSession accepts a new blast of a new client for a new mitra at at: an active
// session started at at.
func (c contract) activeSession(t *testing.T, at time.Time) pairing.ChatSession {
	t.Helper()
	p, err := c.Store.CreatePairing(check.Context(t), pairing.Pairing{
		ID: uuid.New(), ClientID: c.Client(t), Type: pairing.TypeBlast, Status: pairing.StatusSearching, Minutes: 10,
		ExpiresAt: ptr(at.Add(time.Minute)), CreatedAt: at, UpdatedAt: at,
	})
	check.NoError(t, err)
	m := c.Mitra(t, 0)
	_, err = c.Store.InsertOffers(check.Context(t), p.ID, []uuid.UUID{m}, at)
	check.NoError(t, err)
	res, err := c.accept(t, m, p, at)
	check.NoError(t, err)
	check.Equal(t, pairing.SessionActive, res.Session.Status)
	return res.Session
}

// noShow is the transition of the no-show's end of s at at.
func noShow(s pairing.ChatSession, at time.Time) pairing.SessionTransition {
	return pairing.SessionTransition{ID: s.ID, From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded,
		Reason: pairing.EndMitraNoShow, EndsAt: s.EndsAt, Now: at}
}

// runTrustContract is the part of RunStoreContract that pins pairing.NoShowStore and
// pairing.ErasureStore.
func runTrustContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("SilentSessionsAreActiveSessionsStartedByTheCutoffWhoseMitraShowedNothingEarliestFirst", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		first := c.activeSession(t, t0)
		second := c.activeSession(t, t0.Add(time.Minute))
		spoke := c.activeSession(t, t0.Add(time.Minute))
		ended := c.activeSession(t, t0)
		late := c.activeSession(t, t0.Add(3*time.Minute))
		_, err := c.Store.EndChatSession(ctx, pairing.SessionTransition{ID: ended.ID, From: []pairing.SessionStatus{pairing.SessionActive},
			To: pairing.SessionEnded, Reason: pairing.EndClientEnded, Now: t0.Add(time.Minute)})
		check.NoError(t, err)
		if c.MitraActive != nil {
			c.MitraActive(t, spoke.ID, t0.Add(90*time.Second))
		}

		silent, err := c.Store.SilentSessions(ctx, t0.Add(2*time.Minute), 10)
		check.NoError(t, err)
		want := []uuid.UUID{first.ID, second.ID}
		if c.MitraActive == nil {
			want = nil // the order of two sessions started at once is by id
			check.Len(t, silent, 3)
		} else {
			check.Equal(t, want, idsOf(silent, func(s pairing.ChatSession) uuid.UUID { return s.ID }))
			check.Equal(t, first, silent[0], "the whole row")
		}
		one, err := c.Store.SilentSessions(ctx, t0.Add(2*time.Minute), 1)
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{first.ID}, idsOf(one, func(s pairing.ChatSession) uuid.UUID { return s.ID }), "the limit")
		none, err := c.Store.SilentSessions(ctx, t0.Add(-time.Second), 10)
		check.NoError(t, err)
		check.Len(t, none, 0, "none started by then")
		all, err := c.Store.SilentSessions(ctx, t0.Add(time.Hour), 0)
		check.NoError(t, err)
		check.Contains(t, idsOf(all, func(s pairing.ChatSession) uuid.UUID { return s.ID }), late.ID)
	})

	t.Run("EndSilentSessionEndsMitraNoShowOnlyWhileTheMitraIsSilent", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		if c.MitraActive == nil {
			t.Skip("the store reads no mitra activity")
		}
		ctx := check.Context(t)
		spoke := c.activeSession(t, t0)
		silent := c.activeSession(t, t0)
		c.MitraActive(t, spoke.ID, t0.Add(time.Second))

		_, refunds, err := c.Store.EndSilentSession(ctx, noShow(spoke, t0.Add(time.Minute)), nil)
		check.ErrorIs(t, err, pairing.ErrInvalidState, "the mitra showed up")
		check.Len(t, refunds, 0)
		read, err := c.Store.GetChatSession(ctx, spoke.ID)
		check.NoError(t, err)
		check.Equal(t, spoke, read, "nothing changed")

		moved := noShow(silent, t0.Add(time.Minute))
		moved.EndsAt = ptr(silent.EndsAt.Add(time.Minute))
		_, _, err = c.Store.EndSilentSession(ctx, moved, nil)
		check.ErrorIs(t, err, pairing.ErrInvalidState, "an ends_at other than the one read")

		at := t0.Add(time.Minute)
		s, refunds, err := c.Store.EndSilentSession(ctx, noShow(silent, at), nil)
		check.NoError(t, err)
		check.Len(t, refunds, 0)
		check.Equal(t, pairing.SessionEnded, s.Status)
		check.Equal(t, pairing.EndMitraNoShow, s.EndReason)
		check.Equal(t, &at, s.EndedAt)
		_, _, err = c.Store.EndSilentSession(ctx, noShow(silent, at), nil)
		check.ErrorIs(t, err, pairing.ErrInvalidState, "once")
		_, _, err = c.Store.EndSilentSession(ctx, noShow(pairing.ChatSession{ID: uuid.New()}, at), nil)
		check.ErrorIs(t, err, pairing.ErrNotFound)
	})

	t.Run("EraseClientScrubsInPlaceOnceAndOnlyWithNothingInFlight", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		s := c.activeSession(t, t0)
		client := s.ClientID
		before, err := c.Store.GetClient(ctx, client)
		check.NoError(t, err)

		_, err = c.Store.EraseClient(ctx, client, t0.Add(time.Minute))
		check.ErrorIs(t, err, pairing.ErrInvalidState, "an active session")
		_, err = c.Store.EndChatSession(ctx, pairing.SessionTransition{ID: s.ID, From: []pairing.SessionStatus{pairing.SessionActive},
			To: pairing.SessionEnded, Reason: pairing.EndClientEnded, Now: t0.Add(time.Minute)})
		check.NoError(t, err)
		waiting, err := c.Store.CreatePairing(ctx, pairing.Pairing{ID: uuid.New(), ClientID: client, Type: pairing.TypeBlast,
			Status: pairing.StatusAwaitingPayment, Minutes: 10, CreatedAt: t0.Add(time.Minute), UpdatedAt: t0.Add(time.Minute)})
		check.NoError(t, err)
		_, err = c.Store.EraseClient(ctx, client, t0.Add(time.Minute))
		check.ErrorIs(t, err, pairing.ErrInvalidState, "an open pairing")
		read, err := c.Store.GetClient(ctx, client)
		check.NoError(t, err)
		check.Equal(t, before, read, "nothing changed")
		_, err = c.Store.Transition(ctx, pairing.PairingTransition{ID: waiting.ID, From: []pairing.Status{pairing.StatusAwaitingPayment},
			To: pairing.StatusCancelled, Now: t0.Add(2 * time.Minute)})
		check.NoError(t, err)

		at := t0.Add(3 * time.Minute)
		erased, err := c.Store.EraseClient(ctx, client, at)
		check.NoError(t, err)
		check.Equal(t, pairing.Client{ID: client, DisplayName: pairing.ErasedClientName, IsActive: false, CreatedAt: before.CreatedAt,
			ErasedAt: &at}, erased)
		read, err = c.Store.GetClient(ctx, client)
		check.NoError(t, err)
		check.Equal(t, erased, read)
		again, err := c.Store.EraseClient(ctx, client, at.Add(time.Hour))
		check.NoError(t, err)
		check.Equal(t, erased, again, "erasing twice changes nothing")
		found, _, err := c.Store.ListClients(ctx, pairing.ClientQuery{Query: client.String(), Page: 1, PageSize: 10})
		check.NoError(t, err)
		check.Equal(t, []pairing.Client{erased}, found)

		_, err = c.Store.CreatePairing(ctx, pairing.Pairing{ID: uuid.New(), ClientID: client, Type: pairing.TypeBlast,
			Status: pairing.StatusAwaitingPayment, Minutes: 10, CreatedAt: at, UpdatedAt: at})
		check.ErrorIs(t, err, pairing.ErrClientSuspended, "an erased client starts nothing")
		_, err = c.Store.SetClientActive(ctx, client, true)
		check.ErrorIs(t, err, pairing.ErrInvalidState, "an erased client is not reinstated")
		kept, err := c.Store.GetChatSession(ctx, s.ID)
		check.NoError(t, err)
		check.Equal(t, client, kept.ClientID, "its sessions keep their client")

		_, err = c.Store.EraseClient(ctx, uuid.New(), at)
		check.ErrorIs(t, err, pairing.ErrNotFound)
	})

	t.Run("ClientPairingsPagesNewestFirstFromTheCursor", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		client, other := c.Client(t), c.Client(t)
		var made []pairing.Pairing
		for i, at := range []time.Time{t0, t0.Add(time.Minute), t0.Add(time.Minute), t0.Add(2 * time.Minute), t0.Add(3 * time.Minute)} {
			p, err := c.Store.CreatePairing(ctx, pairing.Pairing{ID: uuid.New(), ClientID: client, Type: pairing.TypeBlast,
				Status: pairing.StatusCancelled, Minutes: 10 + i, CreatedAt: at, UpdatedAt: at})
			check.NoError(t, err)
			made = append(made, p)
		}
		_, err := c.Store.CreatePairing(ctx, pairing.Pairing{ID: uuid.New(), ClientID: other, Type: pairing.TypeBlast,
			Status: pairing.StatusCancelled, Minutes: 10, CreatedAt: t0, UpdatedAt: t0})
		check.NoError(t, err)

		var got []pairing.Pairing
		var after *pairing.PairingCursor
		for {
			page, err := c.Store.ClientPairings(ctx, pairing.ClientPairingsQuery{ClientID: client, After: after, Limit: 2})
			check.NoError(t, err)
			got = append(got, page...)
			if len(page) < 2 {
				break
			}
			after = pairing.CursorOf(page[len(page)-1])
		}
		check.Len(t, got, 5, "every pairing of the client once")
		check.Equal(t, made[4], got[0], "newest first")
		check.Equal(t, made[0], got[4])
		for i := 1; i < len(got); i++ {
			check.False(t, got[i].CreatedAt.After(got[i-1].CreatedAt), "in order")
		}
	})
}

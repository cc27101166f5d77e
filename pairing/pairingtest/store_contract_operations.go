package pairingtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/pairing"
)

// runOperationsContract is the part of RunStoreContract that pins what operators read and
// change: clients suspended and found (ClientStore), and the live lists of waiting
// pairings and running chats (LiveStore).
func runOperationsContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("SetClientActiveSuspendsAndReinstatesAndASuspendedClientGetsNoPairing", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		client := c.Client(t)
		read, err := c.Store.GetClient(check.Context(t), client)
		check.NoError(t, err)
		check.True(t, read.IsActive, "a client is registered active")

		off, err := c.Store.SetClientActive(check.Context(t), client, false)
		check.NoError(t, err)
		check.False(t, off.IsActive)
		again, err := c.Store.SetClientActive(check.Context(t), client, false)
		check.NoError(t, err, "suspending twice")
		check.Equal(t, off, again)
		read, err = c.Store.GetClient(check.Context(t), client)
		check.NoError(t, err)
		check.Equal(t, off, read)

		blast := pairing.Pairing{ID: uuid.New(), ClientID: client, Type: pairing.TypeBlast, Status: pairing.StatusAwaitingPayment,
			Minutes: 30, CreatedAt: t0, UpdatedAt: t0}
		_, err = c.Store.CreatePairing(check.Context(t), blast)
		check.ErrorIs(t, err, pairing.ErrClientSuspended)
		_, err = c.Store.GetPairing(check.Context(t), blast.ID)
		check.ErrorIs(t, err, pairing.ErrNotFound, "nothing was inserted")

		on, err := c.Store.SetClientActive(check.Context(t), client, true)
		check.NoError(t, err)
		check.True(t, on.IsActive)
		_, err = c.Store.CreatePairing(check.Context(t), blast)
		check.NoError(t, err, "reinstated")

		_, err = c.Store.SetClientActive(check.Context(t), uuid.New(), false)
		check.ErrorIs(t, err, pairing.ErrNotFound)
	})

	t.Run("ListClientsMatchesTheNameIgnoringCaseOrTheIDNewestFirst", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		var made []pairing.Client
		for i, name := range []string{"Dewi Lestari", "Ayu", "dewi kartika", "Budi"} {
			cl, err := c.Store.CreateClient(check.Context(t), pairing.Client{ID: uuid.New(), DisplayName: name,
				CreatedAt: t0.Add(time.Duration(i) * time.Minute)})
			check.NoError(t, err)
			made = append(made, cl)
		}
		suspended, err := c.Store.SetClientActive(check.Context(t), made[1].ID, false)
		check.NoError(t, err)
		made[1] = suspended

		all, total, err := c.Store.ListClients(check.Context(t), pairing.ClientQuery{Page: 1, PageSize: 20})
		check.NoError(t, err)
		check.Equal(t, 4, total)
		check.Equal(t, []pairing.Client{made[3], made[2], made[1], made[0]}, all, "newest first, as stored")

		got, total, err := c.Store.ListClients(check.Context(t), pairing.ClientQuery{Query: "DEWI", Page: 1, PageSize: 20})
		check.NoError(t, err)
		check.Equal(t, 2, total)
		check.Equal(t, []uuid.UUID{made[2].ID, made[0].ID}, idsOf(got, clientID), "the name, ignoring case")

		got, total, err = c.Store.ListClients(check.Context(t), pairing.ClientQuery{Query: made[3].ID.String(), Page: 1, PageSize: 20})
		check.NoError(t, err)
		check.Equal(t, 1, total)
		check.Equal(t, []uuid.UUID{made[3].ID}, idsOf(got, clientID), "the id")

		got, total, err = c.Store.ListClients(check.Context(t), pairing.ClientQuery{Page: 2, PageSize: 3})
		check.NoError(t, err)
		check.Equal(t, 4, total)
		check.Equal(t, []uuid.UUID{made[0].ID}, idsOf(got, clientID), "the second page")
		got, total, err = c.Store.ListClients(check.Context(t), pairing.ClientQuery{Page: 3, PageSize: 3})
		check.NoError(t, err)
		check.Equal(t, 4, total, "a page past the end still counts")
		check.Len(t, got, 0)
		got, total, err = c.Store.ListClients(check.Context(t), pairing.ClientQuery{Query: "nobody", Page: 1, PageSize: 20})
		check.NoError(t, err)
		check.Equal(t, 0, total)
		check.Len(t, got, 0)
	})

	t.Run("ListWaitingPairingsOldestFirstWithNamesOffersAndAwaitingPaymentTargetedChats", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		named := func(name string) uuid.UUID {
			cl, err := c.Store.CreateClient(check.Context(t), pairing.Client{ID: uuid.New(), DisplayName: name, CreatedAt: t0})
			check.NoError(t, err)
			return cl.ID
		}
		insert := func(p pairing.Pairing) pairing.Pairing {
			p.ID, p.Minutes, p.UpdatedAt = uuid.New(), 30, p.CreatedAt
			got, err := c.Store.CreatePairing(check.Context(t), p)
			check.NoError(t, err)
			return got
		}
		m1, m2, target := c.Mitra(t, 0), c.Mitra(t, 0), c.Mitra(t, 2)
		// Created in this order (oldest first): a searching blast offered to two mitras, an
		// unpaid blast, a targeted chat the mitra accepted (waiting for its payment), a
		// targeted_unavailable one, and a blast that ended.
		searching := insert(pairing.Pairing{ClientID: named("Dewi"), Type: pairing.TypeBlast, Status: pairing.StatusSearching,
			ExpiresAt: ptr(t0.Add(time.Hour)), CreatedAt: t0})
		c.offer(t, searching, m1, m2)
		_, err := c.Store.DeclineOffer(check.Context(t), m2, searching.ID, t0)
		check.NoError(t, err)
		unpaid := insert(pairing.Pairing{ClientID: named("Ayu"), Type: pairing.TypeBlast, Status: pairing.StatusAwaitingPayment,
			CreatedAt: t0.Add(time.Second)})
		accepted := insert(pairing.Pairing{ClientID: named("Budi"), Type: pairing.TypeTargeted, TargetMitraID: &target,
			Status: pairing.StatusTargetedWaiting, ExpiresAt: ptr(t0.Add(time.Hour)), CreatedAt: t0.Add(2 * time.Second)})
		c.offer(t, accepted, target)
		res, err := c.accept(t, target, accepted, t0.Add(3*time.Second))
		check.NoError(t, err)
		check.Equal(t, pairing.SessionPendingPayment, res.Session.Status)
		accepted = res.Pairing
		unavailable := insert(pairing.Pairing{ClientID: named("Sari"), Type: pairing.TypeTargeted, TargetMitraID: &target,
			Status: pairing.StatusTargetedUnavailable, FailureReason: pairing.ReasonMitraUnreachable, CreatedAt: t0.Add(4 * time.Second)})
		ended := insert(pairing.Pairing{ClientID: named("Tono"), Type: pairing.TypeBlast, Status: pairing.StatusSearching,
			ExpiresAt: ptr(t0.Add(time.Hour)), CreatedAt: t0.Add(-time.Hour)})
		_, err = c.Store.Transition(check.Context(t), pairing.PairingTransition{ID: ended.ID, From: []pairing.Status{pairing.StatusSearching},
			To: pairing.StatusCancelled, FailureReason: pairing.ReasonClientCancelled, Now: t0})
		check.NoError(t, err)

		every := pairing.WaitingQuery{Statuses: pairing.WaitingStatuses, Page: 1, PageSize: 20}
		got, total, err := c.Store.ListWaitingPairings(check.Context(t), every)
		check.NoError(t, err)
		check.Equal(t, 4, total)
		check.Equal(t, []pairing.WaitingPairing{
			{Pairing: searching, Waiting: pairing.StatusSearching, ClientName: "Dewi", Offers: 2},
			{Pairing: unpaid, Waiting: pairing.StatusAwaitingPayment, ClientName: "Ayu", Offers: 0},
			{Pairing: accepted, Waiting: pairing.StatusAwaitingPayment, ClientName: "Budi", Offers: 1},
			{Pairing: unavailable, Waiting: pairing.StatusTargetedUnavailable, ClientName: "Sari", Offers: 0},
		}, got, "oldest first; the accepted targeted chat waits for its payment; the cancelled blast is gone")

		got, total, err = c.Store.ListWaitingPairings(check.Context(t), pairing.WaitingQuery{
			Statuses: []pairing.Status{pairing.StatusAwaitingPayment}, Page: 1, PageSize: 20})
		check.NoError(t, err)
		check.Equal(t, 2, total)
		check.Equal(t, []uuid.UUID{unpaid.ID, accepted.ID}, idsOf(got, waitingID), "both kinds of waiting for a payment")
		got, total, err = c.Store.ListWaitingPairings(check.Context(t), pairing.WaitingQuery{
			Statuses: []pairing.Status{pairing.StatusSearching, pairing.StatusTargetedUnavailable}, Page: 1, PageSize: 20})
		check.NoError(t, err)
		check.Equal(t, 2, total)
		check.Equal(t, []uuid.UUID{searching.ID, unavailable.ID}, idsOf(got, waitingID))
		got, total, err = c.Store.ListWaitingPairings(check.Context(t), pairing.WaitingQuery{
			Statuses: pairing.WaitingStatuses, ClientID: &accepted.ClientID, Page: 1, PageSize: 20})
		check.NoError(t, err)
		check.Equal(t, 1, total)
		check.Equal(t, []uuid.UUID{accepted.ID}, idsOf(got, waitingID), "one client's")

		got, total, err = c.Store.ListWaitingPairings(check.Context(t), pairing.WaitingQuery{Statuses: pairing.WaitingStatuses, Page: 2, PageSize: 3})
		check.NoError(t, err)
		check.Equal(t, 4, total)
		check.Equal(t, []uuid.UUID{unavailable.ID}, idsOf(got, waitingID), "the second page")
		got, total, err = c.Store.ListWaitingPairings(check.Context(t), pairing.WaitingQuery{Statuses: pairing.WaitingStatuses, Page: 5, PageSize: 3})
		check.NoError(t, err)
		check.Equal(t, 4, total, "a page past the end still counts")
		check.Len(t, got, 0)

		paidAt := t0.Add(time.Minute)
		_, err = c.Store.ActivateChatSession(check.Context(t), res.Session.ID, paidAt, paidAt.Add(30*time.Minute), paidAt)
		check.NoError(t, err)
		got, _, err = c.Store.ListWaitingPairings(check.Context(t), every)
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{searching.ID, unpaid.ID, unavailable.ID}, idsOf(got, waitingID), "paid: no longer waiting")
	})

	t.Run("ListActiveSessionsSoonestEndFirstWithBothNames", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		var sessions []pairing.ChatSession
		// Accepted one second apart, the later ones for fewer minutes: they end first.
		for i, minutes := range []int{30, 20, 10} {
			client, err := c.Store.CreateClient(check.Context(t), pairing.Client{ID: uuid.New(),
				DisplayName: fmt.Sprintf("Client %d", minutes), CreatedAt: t0})
			check.NoError(t, err)
			p, err := c.Store.CreatePairing(check.Context(t), pairing.Pairing{
				ID: uuid.New(), ClientID: client.ID, Type: pairing.TypeBlast, Status: pairing.StatusSearching, Minutes: minutes,
				ExpiresAt: ptr(t0.Add(time.Minute)), CreatedAt: t0, UpdatedAt: t0,
			})
			check.NoError(t, err)
			m := c.Mitra(t, 0)
			c.offer(t, p, m)
			res, err := c.accept(t, m, p, t0.Add(time.Duration(i)*time.Second))
			check.NoError(t, err)
			sessions = append(sessions, res.Session)
		}
		_, err := c.Store.EndChatSession(check.Context(t), pairing.SessionTransition{
			ID: sessions[1].ID, From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded, Reason: pairing.EndClientEnded, Now: t0,
		})
		check.NoError(t, err)
		target := c.Mitra(t, 0)
		pending, err := c.Store.CreatePairing(check.Context(t), pairing.Pairing{
			ID: uuid.New(), ClientID: c.Client(t), Type: pairing.TypeTargeted, TargetMitraID: &target,
			Status: pairing.StatusTargetedWaiting, Minutes: 5, ExpiresAt: ptr(t0.Add(time.Minute)), CreatedAt: t0, UpdatedAt: t0,
		})
		check.NoError(t, err)
		c.offer(t, pending, target)
		_, err = c.accept(t, target, pending, t0)
		check.NoError(t, err)

		got, total, err := c.Store.ListActiveSessions(check.Context(t), pairing.ActiveSessionQuery{Page: 1, PageSize: 20})
		check.NoError(t, err)
		check.Equal(t, 2, total, "neither the ended session nor the one waiting for its payment")
		check.Equal(t, []uuid.UUID{sessions[2].ID, sessions[0].ID}, idsOf(got, activeID), "soonest end first")
		for i, s := range []pairing.ChatSession{sessions[2], sessions[0]} {
			check.Equal(t, s, got[i].ChatSession)
			check.Equal(t, fmt.Sprintf("Client %d", s.Minutes), got[i].ClientName)
			check.NotEqual(t, "", got[i].MitraName, "the mitra's display name")
		}
		got, total, err = c.Store.ListActiveSessions(check.Context(t), pairing.ActiveSessionQuery{Page: 2, PageSize: 1})
		check.NoError(t, err)
		check.Equal(t, 2, total)
		check.Equal(t, []uuid.UUID{sessions[0].ID}, idsOf(got, activeID))
		got, total, err = c.Store.ListActiveSessions(check.Context(t), pairing.ActiveSessionQuery{Page: 3, PageSize: 1})
		check.NoError(t, err)
		check.Equal(t, 2, total, "a page past the end still counts")
		check.Len(t, got, 0)
	})
}

func clientID(c pairing.Client) uuid.UUID          { return c.ID }
func waitingID(w pairing.WaitingPairing) uuid.UUID { return w.ID }
func activeID(a pairing.ActiveSession) uuid.UUID   { return a.ID }

package pairingtest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/pairing"
)

// runLookupContract is the part of RunStoreContract that pins pairing.LookupStore and
// pairing.OperatorEndStore: what operators read of a client's story, and their end of a
// chat session.
func runLookupContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("PairingsOfClientAreTheLatestNewestFirst", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		client, other := c.Client(t), c.Client(t)
		var ids []uuid.UUID
		for i := range 3 {
			at := t0.Add(time.Duration(i) * time.Minute)
			p, err := c.Store.CreatePairing(check.Context(t), pairing.Pairing{
				ID: uuid.New(), ClientID: client, Type: pairing.TypeBlast, Status: pairing.StatusCancelled, Minutes: 10,
				CreatedAt: at, UpdatedAt: at,
			})
			check.NoError(t, err)
			ids = append(ids, p.ID)
		}
		_, err := c.Store.CreatePairing(check.Context(t), pairing.Pairing{
			ID: uuid.New(), ClientID: other, Type: pairing.TypeBlast, Status: pairing.StatusCancelled, Minutes: 10,
			CreatedAt: t0, UpdatedAt: t0,
		})
		check.NoError(t, err)

		got, err := c.Store.PairingsOfClient(check.Context(t), client, 2)
		check.NoError(t, err)
		check.Len(t, got, 2)
		check.Equal(t, ids[2], got[0].ID)
		check.Equal(t, ids[1], got[1].ID)
		all, err := c.Store.PairingsOfClient(check.Context(t), client, pairing.MaxPairingsOfClient)
		check.NoError(t, err)
		check.Len(t, all, 3)
		none, err := c.Store.PairingsOfClient(check.Context(t), c.Client(t), 10)
		check.NoError(t, err)
		check.Len(t, none, 0)
	})

	t.Run("OfferWavesCountTheOffersOfEachPairingByTheInstantTheyWereMade", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		p, q := c.searching(t), c.searching(t)
		a, b, m := c.Mitra(t, 0), c.Mitra(t, 0), c.Mitra(t, 0)
		c.offer(t, p, a, b) // at t0
		later := t0.Add(10 * time.Second)
		got, err := c.Store.InsertOffers(check.Context(t), p.ID, []uuid.UUID{m}, later)
		check.NoError(t, err)
		check.Len(t, got, 1)
		c.offer(t, q, m)

		waves, err := c.Store.OfferWaves(check.Context(t), []uuid.UUID{p.ID})
		check.NoError(t, err)
		check.Equal(t, []pairing.OfferWave{{PairingID: p.ID, At: t0, Count: 2}, {PairingID: p.ID, At: later, Count: 1}}, waves)
		waves, err = c.Store.OfferWaves(check.Context(t), []uuid.UUID{q.ID, p.ID})
		check.NoError(t, err)
		check.Len(t, waves, 3)
		waves, err = c.Store.OfferWaves(check.Context(t), []uuid.UUID{uuid.New()})
		check.NoError(t, err)
		check.Len(t, waves, 0)
	})

	t.Run("EndChatSessionRefundingEndsAnActiveSessionOperatorEndedOnce", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		p := c.searching(t)
		m := c.Mitra(t, 0)
		c.offer(t, p, m)
		res, err := c.accept(t, m, p, t0)
		check.NoError(t, err)
		end := func(endsAt *time.Time, at time.Time) (pairing.ChatSession, error) {
			s, refunds, err := c.Store.EndChatSessionRefunding(check.Context(t), pairing.SessionTransition{
				ID: res.Session.ID, From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded,
				Reason: pairing.EndOperatorEnded, EndsAt: endsAt, Now: at,
			}, nil)
			check.Len(t, refunds, 0)
			return s, err
		}
		moved := res.Session.EndsAt.Add(time.Minute) // an extension moved it since the read
		_, err = end(&moved, t0.Add(time.Minute))
		check.ErrorIs(t, err, pairing.ErrInvalidState)

		at := t0.Add(2 * time.Minute)
		s, err := end(res.Session.EndsAt, at)
		check.NoError(t, err)
		check.Equal(t, pairing.SessionEnded, s.Status)
		check.Equal(t, pairing.EndOperatorEnded, s.EndReason)
		check.Equal(t, &at, s.EndedAt)
		read, err := c.Store.GetChatSession(check.Context(t), s.ID)
		check.NoError(t, err)
		check.Equal(t, s, read)
		listed, err := c.Store.ListChatSessions(check.Context(t), pairing.ListSessionsParams{
			ClientID: &p.ClientID, EndReasons: []pairing.EndReason{pairing.EndOperatorEnded},
		})
		check.NoError(t, err)
		check.Len(t, listed, 1)

		_, err = end(nil, at.Add(time.Minute))
		check.ErrorIs(t, err, pairing.ErrInvalidState, "an ended session does not end again")
		_, _, err = c.Store.EndChatSessionRefunding(check.Context(t), pairing.SessionTransition{
			ID: uuid.New(), From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded,
			Reason: pairing.EndOperatorEnded, Now: at,
		}, nil)
		check.ErrorIs(t, err, pairing.ErrNotFound)
	})
}

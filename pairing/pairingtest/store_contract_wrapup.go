package pairingtest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/pairing"
)

// runWrapupContract is the part of RunStoreContract that pins pairing.WrapupStore: when a
// mitra's last chat session in status ended ended.
func runWrapupContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("SessionEndsAreEachMitrasLastEnd", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		// session starts a chat of mitra m at at (a new blast of a new client).
		session := func(m uuid.UUID, at time.Time) pairing.ChatSession {
			t.Helper()
			p, err := c.Store.CreatePairing(ctx, pairing.Pairing{
				ID: uuid.New(), ClientID: c.Client(t), Type: pairing.TypeBlast, Status: pairing.StatusSearching, Minutes: 10,
				ExpiresAt: ptr(at.Add(time.Minute)), CreatedAt: at, UpdatedAt: at,
			})
			check.NoError(t, err)
			_, err = c.Store.InsertOffers(ctx, p.ID, []uuid.UUID{m}, at)
			check.NoError(t, err)
			res, err := c.Store.AcceptOffer(ctx, pairing.AcceptParams{MitraID: m, PairingID: p.ID, SessionID: uuid.New(), DefaultMaxSessions: 2, Now: at})
			check.NoError(t, err)
			return res.Session
		}
		end := func(s pairing.ChatSession, at time.Time) {
			t.Helper()
			_, err := c.Store.EndChatSession(ctx, pairing.SessionTransition{ID: s.ID, From: []pairing.SessionStatus{pairing.SessionActive},
				To: pairing.SessionEnded, Reason: pairing.EndClientEnded, Now: at})
			check.NoError(t, err)
		}
		a, b, busy, never := c.Mitra(t, 2), c.Mitra(t, 0), c.Mitra(t, 0), c.Mitra(t, 0)
		first := session(a, t0)
		second := session(a, t0)
		end(first, t0.Add(time.Minute))
		end(second, t0.Add(3*time.Minute))
		end(session(b, t0), t0.Add(2*time.Minute))
		session(busy, t0) // active: not an end

		for m, want := range map[uuid.UUID]time.Time{a: t0.Add(3 * time.Minute), b: t0.Add(2 * time.Minute), busy: {}, never: {}} {
			got, err := c.Store.LastSessionEnd(ctx, m)
			check.NoError(t, err)
			check.True(t, want.Equal(got), "last end %v, want %v", got, want)
		}

		between := func(after, until time.Time, limit int) []pairing.SessionEnd {
			t.Helper()
			ends, err := c.Store.SessionEndsBetween(ctx, after, until, limit)
			check.NoError(t, err)
			for i := range ends {
				ends[i].EndedAt = ends[i].EndedAt.UTC()
			}
			return ends
		}
		endA, endB := pairing.SessionEnd{MitraID: a, EndedAt: t0.Add(3 * time.Minute)}, pairing.SessionEnd{MitraID: b, EndedAt: t0.Add(2 * time.Minute)}
		check.Equal(t, []pairing.SessionEnd{endB, endA}, between(t0, t0.Add(time.Hour), 0), "earliest end first")
		check.Equal(t, []pairing.SessionEnd{endB}, between(t0, t0.Add(time.Hour), 1), "the limit")
		check.Equal(t, []pairing.SessionEnd{endA}, between(t0.Add(2*time.Minute), t0.Add(3*time.Minute), 0), "(after, until]")
		check.Equal(t, []pairing.SessionEnd{endB}, between(t0, t0.Add(150*time.Second), 0),
			"a mitra whose last end is later is left out, whatever its earlier ends")
		check.Len(t, between(t0.Add(3*time.Minute), t0.Add(time.Hour), 0), 0)
	})
}

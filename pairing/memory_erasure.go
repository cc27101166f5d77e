package pairing

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"
)

// EraseClient checks and scrubs in one transaction, as the Postgres store does under the
// client's row lock. The MemoryStore keeps no tokens: its host revokes its own.
func (s *MemoryStore) EraseClient(_ context.Context, id uuid.UUID, at time.Time) (Client, error) {
	defer s.db.Begin().End()
	c, ok := s.clients[id]
	if !ok {
		return Client{}, notFound("client", id)
	}
	if c.ErasedAt != nil {
		return c, nil
	}
	for _, p := range s.pairings {
		if p.ClientID == id && p.Status.Open() {
			return Client{}, erasureBlocked(id, "an open pairing", p.ID, string(p.Status))
		}
	}
	for _, cs := range s.sessions {
		if cs.ClientID == id && cs.Holds() {
			return Client{}, erasureBlocked(id, "a chat session", cs.ID, string(cs.Status))
		}
	}
	at = at.UTC().Truncate(time.Microsecond)
	c.DisplayName, c.IsActive, c.ErasedAt = ErasedClientName, false, &at
	s.clients[id] = c
	s.eraseRatingComments(id)
	return c, nil
}

func (s *MemoryStore) ClientPairings(_ context.Context, q ClientPairingsQuery) ([]Pairing, error) {
	defer s.db.Begin().End()
	var out []Pairing
	for _, p := range s.pairings {
		if p.ClientID == q.ClientID && (q.After == nil || oldestPairingFirst(p, Pairing{CreatedAt: q.After.CreatedAt, ID: q.After.ID}) < 0) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b Pairing) int { return oldestPairingFirst(b, a) })
	return limit(out, max(q.Limit, 0)), nil
}

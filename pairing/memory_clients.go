package pairing

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/memdb"
)

// SetClientActive suspends or reinstates a client. The MemoryStore keeps no tokens: its
// host revokes its own (see ClientStore.SetClientActive).
func (s *MemoryStore) SetClientActive(_ context.Context, id uuid.UUID, active bool) (Client, error) {
	defer s.db.Begin().End()
	c, ok := s.clients[id]
	if !ok {
		return Client{}, notFound("client", id)
	}
	if active && c.ErasedAt != nil {
		return Client{}, fmt.Errorf("client %s was erased: %w", id, ErrInvalidState)
	}
	c.IsActive = active
	s.clients[id] = c
	return c, nil
}

// ListClients filters, sorts and pages in memory, as the Postgres store does in SQL.
func (s *MemoryStore) ListClients(_ context.Context, q ClientQuery) ([]Client, int, error) {
	tx := s.db.Begin()
	var match []Client
	for _, c := range s.clients {
		if clientMatches(c, q.Query) {
			match = append(match, c)
		}
	}
	tx.End()
	slices.SortFunc(match, func(a, b Client) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID.String(), a.ID.String())
	})
	return memdb.Page(match, q.Page, q.PageSize, DefaultFailurePageSize), len(match), nil
}

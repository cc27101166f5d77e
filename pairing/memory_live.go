package pairing

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/memdb"
)

// ListWaitingPairings filters, sorts and pages in memory, as the Postgres store does in SQL.
func (s *MemoryStore) ListWaitingPairings(_ context.Context, q WaitingQuery) ([]WaitingPairing, int, error) {
	defer s.db.Begin().End()
	offers := map[uuid.UUID]int{}
	for k := range s.offers {
		offers[k.pairingID]++
	}
	var match []WaitingPairing
	for _, p := range s.pairings {
		waiting := p.Status
		if p.Status == StatusMatched && p.ChatSessionID != nil && s.sessions[*p.ChatSessionID].Status == SessionPendingPayment {
			waiting = StatusAwaitingPayment
		}
		if !waiting.Open() || !slices.Contains(q.Statuses, waiting) || (q.ClientID != nil && p.ClientID != *q.ClientID) {
			continue
		}
		match = append(match, WaitingPairing{Pairing: p, Waiting: waiting, ClientName: s.clients[p.ClientID].DisplayName,
			Offers: offers[p.ID]})
	}
	slices.SortFunc(match, func(a, b WaitingPairing) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), compareIDs(a.ID, b.ID))
	})
	return memdb.Page(match, q.Page, q.PageSize, DefaultFailurePageSize), len(match), nil
}

// ListActiveSessions filters, sorts and pages in memory, as the Postgres store does in SQL.
func (s *MemoryStore) ListActiveSessions(_ context.Context, q ActiveSessionQuery) ([]ActiveSession, int, error) {
	tx := s.db.Begin()
	defer tx.End()
	var match []ActiveSession
	for _, c := range s.sessions {
		if c.Status != SessionActive {
			continue
		}
		a := ActiveSession{ChatSession: c, ClientName: s.clients[c.ClientID].DisplayName}
		if row, ok := tx.Lookup("mitras", c.MitraID); ok {
			a.MitraName = memdb.Col[string](row, "display_name")
		}
		match = append(match, a)
	}
	slices.SortFunc(match, func(a, b ActiveSession) int {
		return cmp.Or(compareEnds(a.EndsAt, b.EndsAt), compareIDs(a.ID, b.ID))
	})
	return memdb.Page(match, q.Page, q.PageSize, DefaultFailurePageSize), len(match), nil
}

// compareEnds orders end times as Postgres orders ends_at ascending: NULL last.
func compareEnds(a, b *time.Time) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return a.Compare(*b)
}

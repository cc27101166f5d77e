package pairing

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/google/uuid"
)

func (s *MemoryStore) LastSessionEnd(_ context.Context, mitraID uuid.UUID) (time.Time, error) {
	defer s.db.Begin().End()
	return s.lastEnds()[mitraID], nil
}

func (s *MemoryStore) SessionEndsBetween(_ context.Context, after, until time.Time, limit int) ([]SessionEnd, error) {
	defer s.db.Begin().End()
	var out []SessionEnd
	for id, at := range s.lastEnds() {
		if at.After(after) && !at.After(until) {
			out = append(out, SessionEnd{MitraID: id, EndedAt: at})
		}
	}
	slices.SortFunc(out, func(a, b SessionEnd) int {
		return cmp.Or(a.EndedAt.Compare(b.EndedAt), cmp.Compare(a.MitraID.String(), b.MitraID.String()))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// lastEnds is when each mitra's last chat session in status ended ended. Callers hold a
// transaction.
func (s *MemoryStore) lastEnds() map[uuid.UUID]time.Time {
	out := map[uuid.UUID]time.Time{}
	for _, c := range s.sessions {
		if c.Status == SessionEnded && c.EndedAt != nil && c.EndedAt.After(out[c.MitraID]) {
			out[c.MitraID] = *c.EndedAt
		}
	}
	return out
}

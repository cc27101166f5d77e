package pairing

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/memdb"
	"github.com/curhat/curhat/payment"
)

// mitraActive reads, as the Postgres store's join does, whether the chat recorded activity
// of the session's mitra: the chat store's chat_threads row (column mitra_active_at). A
// store without the chat's tables sees none.
func mitraActive(tx *memdb.Tx, sessionID uuid.UUID) bool {
	row, ok := tx.Lookup("chat_threads", sessionID)
	return ok && memdb.Col[*time.Time](row, "mitra_active_at") != nil
}

func (s *MemoryStore) SilentSessions(_ context.Context, startedBy time.Time, limit int) ([]ChatSession, error) {
	tx := s.db.Begin()
	defer tx.End()
	var out []ChatSession
	for _, c := range s.sessions {
		if c.Status == SessionActive && c.StartedAt != nil && !c.StartedAt.After(startedBy) && !mitraActive(tx, c.ID) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b ChatSession) int {
		return cmp.Or(a.StartedAt.Compare(*b.StartedAt), cmp.Compare(a.ID.String(), b.ID.String()))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s *MemoryStore) EndSilentSession(ctx context.Context, t SessionTransition, refund *payment.RefundOrder) (ChatSession, []payment.Refund, error) {
	return s.endRefunding(ctx, t, refund, func(tx *memdb.Tx, c ChatSession) error {
		if mitraActive(tx, c.ID) {
			return fmt.Errorf("chat session %s: its mitra showed activity: %w", c.ID, ErrInvalidState)
		}
		return nil
	})
}

package chat

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/memdb"
)

// holds is what open reports hold, read from the safety reports' table as the Postgres
// store's statements read it (none when no report store shares the database).
type holds struct {
	messages, sessions map[uuid.UUID]bool
}

func readHolds(tx *memdb.Tx) holds {
	h := holds{messages: map[uuid.UUID]bool{}, sessions: map[uuid.UUID]bool{}}
	for r := range tx.Rows("safety_reports") {
		if memdb.Col[string](r, "status") != "open" {
			continue
		}
		h.sessions[memdb.Col[uuid.UUID](r, "chat_session_id")] = true
		for _, id := range memdb.Col[[]uuid.UUID](r, "message_ids") {
			h.messages[id] = true
		}
	}
	return h
}

func (h holds) hold(m Message) bool { return h.messages[m.ID] || h.sessions[m.ChatSessionID] }

func (s *MemoryStore) DeleteMessagesBefore(_ context.Context, before time.Time, limit int) (int, error) {
	tx := s.db.Begin()
	defer tx.End()
	h := readHolds(tx)
	var doomed []Message
	for _, m := range s.messages {
		if m.CreatedAt.Before(before) && !h.hold(m) {
			doomed = append(doomed, m)
		}
	}
	slices.SortFunc(doomed, func(a, b Message) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID.String(), b.ID.String()))
	})
	return s.deleteMessages(doomed, limit), nil
}

func (s *MemoryStore) DeleteClientMessages(_ context.Context, clientID uuid.UUID, limit int) (int, error) {
	tx := s.db.Begin()
	defer tx.End()
	h := readHolds(tx)
	var doomed []Message
	for _, m := range s.messages {
		if c, ok := s.sessions[m.ChatSessionID]; ok && c.ClientID == clientID && !h.hold(m) {
			doomed = append(doomed, m)
		}
	}
	return s.deleteMessages(doomed, limit), nil
}

// deleteMessages deletes the first limit of doomed (all when limit ≤ 0) and forgets their
// client_msg_ids, as the unique index forgets a deleted row: a resend is a new message.
// Their seqs stay taken (History skips them).
func (s *MemoryStore) deleteMessages(doomed []Message, limit int) int {
	if limit > 0 && len(doomed) > limit {
		doomed = doomed[:limit]
	}
	for _, m := range doomed {
		delete(s.messages, m.ID)
		if t := s.threads[m.ChatSessionID]; t != nil {
			delete(t.byMsg, msgKey{m.Sender, m.ClientMsgID})
		}
	}
	return len(doomed)
}

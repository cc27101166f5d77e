package chat

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/memdb"
	"github.com/curhat/curhat/pairing"
)

// MemoryStore is an in-memory Store over a memdb database: its tables chat_messages and
// chat_threads and, read in the same transaction, chat_sessions — the pairing store's
// table over the database curhat.NewMemoryClient shares. Every method is one transaction,
// so it checks and numbers messages as the Postgres store does.
type MemoryStore struct {
	db       *memdb.DB
	sessions memdb.Table[uuid.UUID, pairing.ChatSession]
	threads  memdb.Table[uuid.UUID, *memThread]
	messages memdb.Table[uuid.UUID, Message]
}

// memThread is a chat_threads row, with the indexes the Postgres store keeps on
// chat_messages: the message ids by seq, and by (sender, client_msg_id).
type memThread struct {
	Thread
	bySeq []uuid.UUID // bySeq[seq-1]
	byMsg map[msgKey]uuid.UUID
}

type msgKey struct {
	sender      pairing.Party
	clientMsgID string
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store over a database of its own, with a chat_sessions
// table of its own (PutSession).
func NewMemoryStore() *MemoryStore { return NewMemoryStoreIn(memdb.New()) }

// NewMemoryStoreIn returns a MemoryStore over db, whose tables it shares with the stores of
// the other domains built over it (the pairing store's chat_sessions above all), and with
// any other chat MemoryStore over db (a second instance).
func NewMemoryStoreIn(db *memdb.DB) *MemoryStore {
	return &MemoryStore{
		db: db,
		// The pairing store registers it with its columns when it is built over db too.
		sessions: memdb.NewTable[uuid.UUID, pairing.ChatSession](db, "chat_sessions", nil),
		// The pairing store reads the mitra's activity (the no-show rule).
		threads: memdb.NewTable[uuid.UUID, *memThread](db, "chat_threads", func(t *memThread) memdb.Row {
			return memdb.Row{"client_active_at": copyTime(t.ClientActiveAt), "mitra_active_at": copyTime(t.MitraActiveAt)}
		}),
		messages: memdb.NewTable[uuid.UUID, Message](db, "chat_messages", func(m Message) memdb.Row {
			return memdb.Row{"chat_session_id": m.ChatSessionID, "seq": m.Seq, "sender": string(m.Sender),
				"created_at": m.CreatedAt}
		}),
	}
}

// PutSession writes a chat session as the pairing side would (a store built alone has
// nobody else to write them; over a shared database the pairing store's sessions are the
// same rows).
func (s *MemoryStore) PutSession(c pairing.ChatSession) {
	defer s.db.Begin().End()
	s.sessions[c.ID] = c
}

// Len returns how many messages the store holds.
func (s *MemoryStore) Len() int {
	defer s.db.Begin().End()
	return len(s.messages)
}

// session returns the session as sessionID's party (the zero Session when there is none,
// or partyID is not it; a zero partyID checks no party).
func (s *MemoryStore) session(sessionID uuid.UUID, party pairing.Party, partyID uuid.UUID) (pairing.ChatSession, Session) {
	c, ok := s.sessions[sessionID]
	if !ok {
		return c, Session{}
	}
	if partyID != uuid.Nil && ((party == pairing.PartyClient && c.ClientID != partyID) || (party == pairing.PartyMitra && c.MitraID != partyID)) {
		return c, Session{}
	}
	return c, Session{Found: true, ClientID: c.ClientID, MitraID: c.MitraID, Status: c.Status,
		StartedAt: normalPtr(c.StartedAt), EndsAt: normalPtr(c.EndsAt), EndedAt: normalPtr(c.EndedAt)}
}

// open reports whether a message or an activity at at may be recorded.
func open(c pairing.ChatSession, at time.Time) bool {
	return c.Status == pairing.SessionActive && c.EndsAt != nil && c.EndsAt.After(at)
}

func (s *MemoryStore) Send(_ context.Context, m Message, senderID uuid.UUID) (SendResult, error) {
	if err := validPartyName("sender", m.Sender); err != nil {
		return SendResult{}, fmt.Errorf("send: %w", err)
	}
	// What Postgres's checks refuse.
	if n := utf8.RuneCountInString(m.Text); n < 1 || n > MaxTextLength || !utf8.ValidString(m.Text) || strings.IndexByte(m.Text, 0) >= 0 {
		return SendResult{}, checkViolation("chat_messages_text_check")
	}
	if n := len(m.ClientMsgID); n < 1 || n > MaxClientMsgIDLength {
		return SendResult{}, checkViolation("chat_messages_client_msg_id_check")
	}
	defer s.db.Begin().End()
	c, sess := s.session(m.ChatSessionID, m.Sender, senderID)
	if !sess.Found {
		return SendResult{Outcome: NotParty}, nil
	}
	t := s.threads[m.ChatSessionID]
	if t != nil {
		if id, ok := t.byMsg[msgKey{m.Sender, m.ClientMsgID}]; ok {
			return SendResult{Outcome: Replayed, Message: cloneMessage(s.messages[id]), Session: sess}, nil
		}
	}
	if !open(c, m.CreatedAt) {
		return SendResult{Outcome: NotOpen, Session: sess}, nil
	}
	if _, dup := s.messages[m.ID]; dup {
		return SendResult{}, fmt.Errorf("send: %w: chat_messages_pkey", core.ErrConflict)
	}
	if t == nil {
		t = &memThread{byMsg: map[msgKey]uuid.UUID{}}
		s.threads[m.ChatSessionID] = t
	}
	m = cloneMessage(m)
	m.CreatedAt = normalTime(m.CreatedAt)
	t.LastSeq++
	m.Seq = t.LastSeq
	t.setActive(m.Sender, m.CreatedAt)
	t.bySeq = append(t.bySeq, m.ID)
	t.byMsg[msgKey{m.Sender, m.ClientMsgID}] = m.ID
	s.messages[m.ID] = m
	return SendResult{Outcome: Stored, Message: cloneMessage(m), Session: sess}, nil
}

func (s *MemoryStore) History(_ context.Context, q HistoryQuery) (HistoryResult, error) {
	if err := validPartyName("reader", q.Reader); err != nil {
		return HistoryResult{}, fmt.Errorf("history: %w", err)
	}
	defer s.db.Begin().End()
	_, sess := s.session(q.SessionID, q.Reader, q.ReaderID)
	out := HistoryResult{Session: sess, Messages: []Message{}}
	if !sess.Found {
		return HistoryResult{Messages: []Message{}}, nil
	}
	t := s.threads[q.SessionID]
	if t == nil {
		return out, nil
	}
	out.Thread = t.snapshot()
	for seq := max(q.AfterSeq, 0); seq < int64(len(t.bySeq)) && len(out.Messages) < q.Limit; seq++ {
		if m, ok := s.messages[t.bySeq[seq]]; ok { // else deleted (retention, erasure)
			out.Messages = append(out.Messages, cloneMessage(m))
		}
	}
	return out, nil
}

func (s *MemoryStore) MarkRead(_ context.Context, r ReadQuery) (ReadResult, error) {
	if err := validPartyName("reader", r.Reader); err != nil {
		return ReadResult{}, fmt.Errorf("mark read: %w", err)
	}
	defer s.db.Begin().End()
	c, sess := s.session(r.SessionID, r.Reader, r.ReaderID)
	if !sess.Found {
		return ReadResult{}, nil
	}
	t := s.threads[r.SessionID]
	if t == nil {
		return ReadResult{Session: sess}, nil
	}
	mark := t.readSeq(r.Reader)
	readable := c.StartedAt != nil && (c.Status == pairing.SessionActive || (c.EndedAt != nil && c.EndedAt.After(r.EndedAfter)))
	if to := min(r.Seq, t.LastSeq); readable && to > *mark {
		*mark = to
		return ReadResult{Session: sess, Seq: to, Moved: true}, nil
	}
	return ReadResult{Session: sess, Seq: *mark}, nil
}

func (s *MemoryStore) ReportActivity(_ context.Context, sessionID uuid.UUID, party pairing.Party, at time.Time) (ActivityResult, error) {
	if err := validPartyName("party", party); err != nil {
		return ActivityResult{}, fmt.Errorf("report activity: %w", err)
	}
	defer s.db.Begin().End()
	c, sess := s.session(sessionID, party, uuid.Nil)
	if !sess.Found || !open(c, at) {
		return ActivityResult{Session: sess}, nil
	}
	t := s.threads[sessionID]
	if t == nil {
		t = &memThread{byMsg: map[msgKey]uuid.UUID{}}
		s.threads[sessionID] = t
	}
	t.setActive(party, normalTime(at))
	return ActivityResult{Session: sess, Recorded: true}, nil
}

func (s *MemoryStore) Thread(_ context.Context, sessionID uuid.UUID) (Thread, error) {
	defer s.db.Begin().End()
	if _, ok := s.sessions[sessionID]; !ok {
		return Thread{}, fmt.Errorf("chat session %s: %w", sessionID, ErrNotFound)
	}
	t := s.threads[sessionID]
	if t == nil {
		return Thread{}, nil
	}
	return t.snapshot(), nil
}

// setActive moves party's last activity to at, unless it is later already.
func (t *memThread) setActive(party pairing.Party, at time.Time) {
	p := &t.ClientActiveAt
	if party == pairing.PartyMitra {
		p = &t.MitraActiveAt
	}
	if *p == nil || at.After(**p) {
		*p = &at
	}
}

func (t *memThread) readSeq(party pairing.Party) *int64 {
	if party == pairing.PartyMitra {
		return &t.MitraReadSeq
	}
	return &t.ClientReadSeq
}

// snapshot copies the thread's row, so that callers never share the store's values.
func (t *memThread) snapshot() Thread {
	out := t.Thread
	out.ClientActiveAt, out.MitraActiveAt = copyTime(out.ClientActiveAt), copyTime(out.MitraActiveAt)
	return out
}

func cloneMessage(m Message) Message {
	m.Flags = append([]Flag{}, m.Flags...)
	return m
}

func copyTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	return new(*t)
}

// normalTime is a time as Postgres stores it: UTC, microseconds.
func normalTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func normalPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	return new(normalTime(*t))
}

func checkViolation(constraint string) error {
	return &core.ValidationError{Field: constraint, Reason: "violates a database check"}
}

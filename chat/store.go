package chat

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/pairing"
)

// Store is the durable side of the chat: the chat_messages table and, per chat session
// with any message, read receipt or reported activity, one chat_threads row (the message
// counter, each party's read mark and last activity). It reads chat_sessions, which the
// pairing side owns, in the same statement as each write, so that a message is checked and
// stored in one round trip. NewPostgresStore is the Postgres implementation; NewMemoryStore
// an in-memory one that behaves the same. Every call is atomic, so several instances may
// share one store. chattest.RunStoreContract pins the rules below.
type Store interface {
	// Send stores m (every field set but Seq) as the next message of its session, in one
	// atomic step, if the session exists, senderID is its party m.Sender, and it is active
	// and its ends_at is after m.CreatedAt: Seq is the session's last plus 1 (the first is
	// 1), and m.CreatedAt becomes the sender's last activity. Concurrent sends to one
	// session get consecutive Seqs, none skipped or repeated.
	//
	// When the session already holds a message of m.Sender with m.ClientMsgID, nothing is
	// written and that message is returned (Replayed), whatever the session's state — also
	// when two sends of it race: one stores it, the other returns it.
	Send(ctx context.Context, m Message, senderID uuid.UUID) (SendResult, error)
	// History reads the session as the reader sees it (Session.Found false: no such
	// session, or readerID is not its party q.Reader), its thread, and at most q.Limit of
	// its messages whose Seq is above q.AfterSeq, oldest first ([] when none).
	History(ctx context.Context, q HistoryQuery) (HistoryResult, error)
	// MarkRead moves the reader's read mark up to min(r.Seq, last Seq) when that is higher,
	// if the session exists, readerID is its party r.Reader, and it started and is active or
	// ended after r.EndedAfter. It returns the session as it saw it and the mark after the
	// call (Moved: this call moved it). A mark never moves back, also under concurrent
	// calls.
	MarkRead(ctx context.Context, r ReadQuery) (ReadResult, error)
	// ReportActivity records at as the last activity of party, if the session exists, is
	// active and its ends_at is after at (Recorded), and returns the session as it saw it
	// (Found false: no such session). A later at wins; an earlier one changes nothing.
	ReportActivity(ctx context.Context, sessionID uuid.UUID, party pairing.Party, at time.Time) (ActivityResult, error)
	// Thread returns the session's thread (the zero Thread when it has none), or
	// ErrNotFound when there is no such session.
	Thread(ctx context.Context, sessionID uuid.UUID) (Thread, error)

	// The retention limit and a client's erasure (see RetentionStore).
	RetentionStore
}

// Session is what a store call saw of a chat session, for the Service's rules.
type Session struct {
	// Found: the session exists (and, for calls that name a party, the id given is that
	// party's). The other fields are set only when it is.
	Found     bool
	ClientID  uuid.UUID
	MitraID   uuid.UUID
	Status    pairing.SessionStatus
	StartedAt *time.Time
	EndsAt    *time.Time
	EndedAt   *time.Time
}

// Thread is a session's chat_threads row.
type Thread struct {
	// LastSeq is the Seq of the last message (0: none).
	LastSeq int64
	// ClientReadSeq and MitraReadSeq are the read marks, each at most LastSeq.
	ClientReadSeq, MitraReadSeq int64
	// ClientActiveAt and MitraActiveAt are the last activities (nil: none).
	ClientActiveAt, MitraActiveAt *time.Time
}

// SendOutcome says what Send did.
type SendOutcome int

const (
	// Stored: the message is stored, with its Seq.
	Stored SendOutcome = iota + 1
	// Replayed: the sender's message with this client_msg_id was stored before; it is
	// returned as it was stored, and nothing changed.
	Replayed
	// NotParty: no such session, or the sender is not its party; nothing changed.
	NotParty
	// NotOpen: the session is not active, or its ends_at has passed; nothing changed.
	NotOpen
)

func (o SendOutcome) String() string {
	switch o {
	case Stored:
		return "stored"
	case Replayed:
		return "replayed"
	case NotParty:
		return "not_party"
	case NotOpen:
		return "not_open"
	}
	return "unknown"
}

// SendResult is the outcome of Send, the message (Stored, Replayed) and the session as
// Send saw it.
type SendResult struct {
	Outcome SendOutcome
	Message Message
	Session Session
}

// HistoryQuery selects a page of a session's messages for one of its parties.
type HistoryQuery struct {
	SessionID uuid.UUID
	Reader    pairing.Party
	ReaderID  uuid.UUID
	AfterSeq  int64
	Limit     int
}

// HistoryResult is what History read.
type HistoryResult struct {
	Session  Session
	Thread   Thread
	Messages []Message
}

// ReadQuery is a guarded move of a read mark.
type ReadQuery struct {
	SessionID uuid.UUID
	Reader    pairing.Party
	ReaderID  uuid.UUID
	Seq       int64
	// EndedAfter: a session that is no longer active moves its marks only if it ended
	// after this time.
	EndedAfter time.Time
}

// ReadResult is what MarkRead did.
type ReadResult struct {
	Session Session
	// Seq is the reader's mark after the call.
	Seq   int64
	Moved bool
}

// ActivityResult is what ReportActivity did.
type ActivityResult struct {
	Session  Session
	Recorded bool
}

// DB is what NewPostgresStore takes: a *pgxpool.Pool, or a pgx.Tx (curhat.DB). Its
// methods are pgx's: Exec, Query and QueryRow run a statement; Begin starts a transaction
// (a savepoint inside a pgx.Tx).
type DB = pgutil.DB

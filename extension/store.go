package extension

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/pairing"
)

// Store is the durable side of extensions: the extensions table, plus the one write that
// must touch chat_sessions in the same transaction (ApplyPayment). NewPostgresStore is the
// Postgres implementation; NewMemoryStore is an in-memory one that behaves the
// same. Every write is atomic and guarded, so several instances may share one store.
type Store interface {
	// Insert stores e as given (the Service fills every field). When e is open
	// (requested or approved) and its chat session already has an open extension,
	// nothing is written and the error wraps ErrInvalidState — also when two inserts
	// race: the database's unique index decides.
	Insert(ctx context.Context, e Extension) (Extension, error)
	// Get returns the extension, or ErrNotFound.
	Get(ctx context.Context, id uuid.UUID) (Extension, error)
	// ListForSession returns the chat session's extensions, oldest first ([] when none).
	ListForSession(ctx context.Context, chatSessionID uuid.UUID) ([]Extension, error)
	// OpenForSession returns the chat session's open (requested or approved) extension,
	// or ErrNotFound.
	OpenForSession(ctx context.Context, chatSessionID uuid.UUID) (Extension, error)
	// Transition applies t if the row's status is one of t.From (and its payment guard
	// holds) and returns the new row with changed=true. Otherwise it changes nothing and
	// returns the current row with changed=false. ErrNotFound when there is no such row.
	Transition(ctx context.Context, t Transition) (e Extension, changed bool, err error)
	// ApplyPayment applies a paid payment session to its extension in one transaction:
	// the extension becomes paid (guarded on approved, and on its payment_session_id
	// being unset or p.PaymentSessionID) and the chat session's ends_at and minutes grow
	// by the extension's minutes (guarded on the session being active and ending after
	// p.At). When a guard fails nothing changes and the result's Outcome says which.
	ApplyPayment(ctx context.Context, p ApplyPayment) (ApplyResult, error)
	// ExpireDue moves to expired at most q.Limit extensions that are requested and
	// created at or before q.RequestedBefore, or approved without a payment session and
	// decided at or before q.UnchargedBefore, and returns exactly the rows this call
	// changed, oldest first: of two concurrent calls, each row is returned by one only.
	ExpireDue(ctx context.Context, q ExpireQuery) ([]Extension, error)
}

// Transition is one guarded status change: UPDATE … WHERE id = ID AND status IN From
// [AND payment_session_id IS NULL OR = PaymentSessionID].
type Transition struct {
	ID   uuid.UUID
	From []Status
	To   Status
	// PaymentSessionID, when set, restricts the change to a row whose
	// payment_session_id is NULL or equal to it, and writes it.
	PaymentSessionID *uuid.UUID
	// DecidedBy, RejectReason and DecidedAt are written when set.
	DecidedBy    DecidedBy
	RejectReason string
	DecidedAt    *time.Time
}

// ApplyPayment names a paid payment session of an extension.
type ApplyPayment struct {
	ExtensionID      uuid.UUID
	PaymentSessionID uuid.UUID
	// At is now: the chat session must end after it (a session past its ends_at is over,
	// even before its expiry ends it), and it becomes the session's updated_at.
	At time.Time
}

// ApplyOutcome says what ApplyPayment did.
type ApplyOutcome int

const (
	// Applied: the extension is now paid and the chat session grew.
	Applied ApplyOutcome = iota + 1
	// AlreadyApplied: the extension was already paid by this payment session (a
	// redelivery); nothing changed.
	AlreadyApplied
	// NotApproved: the extension is not waiting for this payment (expired, rejected,
	// or paid by another session); nothing changed.
	NotApproved
	// SessionNotActive: the chat session is no longer active — it ended meanwhile, or
	// its ends_at has passed though its expiry has not ended it yet; nothing changed.
	SessionNotActive
)

func (o ApplyOutcome) String() string {
	switch o {
	case Applied:
		return "applied"
	case AlreadyApplied:
		return "already_applied"
	case NotApproved:
		return "not_approved"
	case SessionNotActive:
		return "session_not_active"
	}
	return "unknown"
}

// ApplyResult is the outcome of ApplyPayment: the extension as it is now and, when
// Applied, the chat session after it grew.
type ApplyResult struct {
	Outcome   ApplyOutcome
	Extension Extension
	Session   pairing.ChatSession
}

// ExpireQuery selects the extensions SweepExpired expires.
type ExpireQuery struct {
	// RequestedBefore: requested extensions created at or before it are past their
	// decision deadline.
	RequestedBefore time.Time
	// UnchargedBefore: approved extensions without a payment session, decided at or
	// before it, are orphans.
	UnchargedBefore time.Time
	Limit           int
}

// DB is what NewPostgresStore takes: a *pgxpool.Pool, or a pgx.Tx (curhat.DB). Its
// methods are pgx's: Exec, Query and QueryRow run a statement; Begin starts a transaction
// (a savepoint inside a pgx.Tx).
type DB = pgutil.DB

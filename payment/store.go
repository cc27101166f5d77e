package payment

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
)

// Store is the durable side of payments: the payment_sessions table. NewPostgresStore is
// the Postgres implementation; NewMemoryStore is an in-memory one that behaves the
// same. Every write is atomic and guarded, so several instances may share one store.
type Store interface {
	// Insert stores s as given (the Service fills every field). When s.IdempotencyKey is
	// set and the client already has a session with that key, nothing is written and that
	// session is returned with inserted=false — also when the two inserts race.
	Insert(ctx context.Context, s Session) (stored Session, inserted bool, err error)
	// Get returns the session, or ErrNotFound.
	Get(ctx context.Context, id uuid.UUID) (Session, error)
	// FindByIdempotencyKey returns the client's session created with key, or ErrNotFound.
	FindByIdempotencyKey(ctx context.Context, clientID uuid.UUID, key string) (Session, error)
	// SetCharge records the gateway's charge (provider_ref, checkout_url, updated_at = at)
	// on a session that has no provider_ref yet, whatever its status, and returns the row.
	// A session that already has one is returned unchanged.
	SetCharge(ctx context.Context, id uuid.UUID, charge Charge, at time.Time) (Session, error)
	// Transition applies t if the row's status is one of t.From and t.Expiry holds, and
	// returns the new row with changed=true. Otherwise it changes nothing and returns the
	// current row with changed=false. ErrNotFound when there is no such row.
	Transition(ctx context.Context, t Transition) (s Session, changed bool, err error)
	// ExpirePending moves at most limit pending sessions whose expires_at <= now to
	// expired (updated_at = now), the longest overdue first, and returns exactly the rows
	// this call changed, ordered by expires_at: of two concurrent calls, each row is
	// returned by one only.
	ExpirePending(ctx context.Context, now time.Time, limit int) ([]Session, error)
	// CountPending counts the pending sessions of every purpose still payable at at
	// (expires_at > at): what operators see as payments waiting for their client. It
	// must stay cheap (Postgres answers it from the partial index on pending sessions):
	// a live dashboard asks it every second.
	CountPending(ctx context.Context, at time.Time) (int, error)
	// HasPaidChatStart reports whether the client has a chat_start session that was paid
	// and is not (being) given back in full: paid (a free session included), partially
	// refunded, or refund_failed with refunds that do not cover its amount.
	HasPaidChatStart(ctx context.Context, clientID uuid.UUID) (bool, error)
	// MarkHandled records that the handler succeeded for the session's outcome: it sets
	// handled_at = at when the session is still in status and has no handled_at.
	MarkHandled(ctx context.Context, id uuid.UUID, status Status, at time.Time) error
	// ListUndelivered returns at most limit sessions in paid, failed or expired without
	// handled_at whose updated_at <= changedBefore, the oldest change first.
	ListUndelivered(ctx context.Context, changedBefore time.Time, limit int) ([]Session, error)

	// RecordRefund records the refunds of r in one transaction, the payments of r.From
	// locked: see RefundRecord. It returns the refund of each payment that gives
	// something, including refunds recorded earlier for the same cause (a replay).
	RecordRefund(ctx context.Context, r RefundRecord) ([]Refund, error)
	// ClaimRefund takes one refund for an attempt, as c.Mode allows, in one atomic
	// compare-and-set: status pending, attempts + 1 and next_attempt_at = c.At + c.Lease
	// (the attempt's lease), so that nobody else — another caller, another instance, the
	// retry sweep — attempts it until its outcome is recorded or the lease is over. It
	// returns the row and whether this call claimed it. A refund with an attempt in flight
	// (pending, attempted, next_attempt_at after c.At) is not claimed: the row comes back
	// with an error wrapping ErrRefundInFlight. ErrNotFound when there is none.
	ClaimRefund(ctx context.Context, c RefundClaim) (Refund, bool, error)
	// ClaimDueRefunds claims, like ClaimRefund, at most limit refunds due at at: pending
	// or failed with next_attempt_at <= at, and pending ones never attempted created at
	// or before at - lease (their recorder died before sending them). Concurrent callers
	// never claim one refund twice.
	ClaimDueRefunds(ctx context.Context, at time.Time, lease time.Duration, limit int) ([]Refund, error)
	// FinishRefund records the outcome of an attempt and, in the same transaction, the
	// payment's refunded_amount and status. A success applies to a refund not yet
	// succeeded; a failure only to the attempt that is still the last one. It returns the
	// refund and whether it changed.
	FinishRefund(ctx context.Context, o RefundAttempt) (Refund, bool, error)
	// GetRefund returns a refund, or ErrNotFound.
	GetRefund(ctx context.Context, id uuid.UUID) (Refund, error)
	// ListRefunds returns one page of the refunds matching f, newest first, and how many
	// match in all.
	ListRefunds(ctx context.Context, f RefundFilter) ([]Refund, int, error)
	// Reconcile returns the charged sessions that have no outcome as of cutoff (see
	// Service.Reconcile), oldest payment first.
	Reconcile(ctx context.Context, cutoff time.Time) ([]Unsettled, error)
}

// TxStore is a Store that can run in the caller's transaction: what Service.CreateTx needs
// of the store (else ErrNoTx). PostgresStore is one. A host's wrapper around it (tracing,
// metrics) keeps the …Tx methods by being one too: embedding *PostgresStore gives it
// WithTx, and a WithTx of its own that wraps what the inner store's returns keeps the
// wrapper in the transaction as well.
type TxStore interface {
	Store
	// WithTx returns the store with every statement run in tx, the caller's transaction
	// (the store's own transactions become savepoints of it).
	WithTx(tx pgx.Tx) Store
}

// Transition is one guarded status change: UPDATE … WHERE id = ID AND status IN From
// [AND the expiry guard].
type Transition struct {
	ID     uuid.UUID
	From   []Status
	To     Status
	Expiry ExpiryGuard
	// At is the new updated_at, the instant the expiry guard compares with, and the
	// paid_at written by SetPaidAt.
	At time.Time
	// ProviderRef is written when not empty and the row has none yet.
	ProviderRef string
	// MatchProviderRef, with a ProviderRef, restricts the transition to a row whose
	// provider_ref is unset or is ProviderRef (a confirmation that names its charge).
	MatchProviderRef bool
	// SetPaidAt writes paid_at = At.
	SetPaidAt bool
	// FeePercent, when set, is written to platform_fee_percent. A transition to paid also
	// posts the payment to the ledger (gateway +amount, client_funds −amount) in the same
	// transaction.
	FeePercent *int
	// ClearIdempotencyKey sets idempotency_key to NULL, so that the key may be used again.
	ClearIdempotencyKey bool
}

// refMismatch reports whether t, a transition that must match its ProviderRef, names a
// charge other than the one sess has.
func (t Transition) refMismatch(sess Session) bool {
	return t.MatchProviderRef && t.ProviderRef != "" && sess.ProviderRef != "" && sess.ProviderRef != t.ProviderRef
}

// ExpiryGuard restricts a Transition by the row's expires_at compared with Transition.At.
type ExpiryGuard int

const (
	// AnyExpiry: expires_at does not matter.
	AnyExpiry ExpiryGuard = iota
	// BeforeExpiry: only while expires_at > At (the session is still payable).
	BeforeExpiry
	// AfterExpiry: only once expires_at <= At.
	AfterExpiry
)

// Holds reports whether a session expiring at expiresAt passes the guard at instant at.
func (g ExpiryGuard) Holds(expiresAt, at time.Time) bool {
	switch g {
	case BeforeExpiry:
		return expiresAt.After(at)
	case AfterExpiry:
		return !expiresAt.After(at)
	}
	return true
}

// DB is what NewPostgresStore takes: a *pgxpool.Pool, or a pgx.Tx (curhat.DB). Its
// methods are pgx's: Exec, Query and QueryRow run a statement; Begin starts a transaction
// (a savepoint inside a pgx.Tx).
type DB = pgutil.DB

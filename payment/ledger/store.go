package ledger

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// Store is the ledger's port: posting, balances, a mitra's earnings and statement, the
// clearance sweep, carry-overs and the invariants. NewPostgresStore is the Postgres
// implementation (the tables ledger_txns, ledger_entries and ledger_carry_overs);
// NewMemoryStore an in-memory one that behaves the same. The postings of the SDK's own
// events are made by the payment and pairing stores in their transactions (PostTx,
// PostSessionValueTx, PostRefundTx and their in-memory twins); Post is for the others.
type Store interface {
	// Post appends t (validated: balanced) and reports whether it did; a transaction whose
	// id was posted before posts nothing (false).
	Post(ctx context.Context, t Txn) (bool, error)
	// Balance sums every account over all mitras.
	Balance(ctx context.Context) (Balance, error)
	// Earnings returns a mitra's balances (a mitra with no entries has zeros).
	Earnings(ctx context.Context, mitraID uuid.UUID) (Earnings, error)
	// Entries returns one page of a mitra's lines, newest first, and how many there are.
	Entries(ctx context.Context, f EntryFilter) ([]Entry, int, error)
	// Clear posts the clearance of at most limit earnings due at or before at (their
	// ClearsAt), oldest due first, and returns how many it cleared. Concurrent callers
	// (several instances) clear each earning once.
	Clear(ctx context.Context, at time.Time, limit int) (int, error)
	// CarryOver returns what a rerouted session handed to the prepaid pairing that
	// continues it, per payment, newest payment first (none: nil).
	CarryOver(ctx context.Context, pairingID uuid.UUID) ([]Part, error)
	// Check returns what breaks the invariants (see the package doc); payments still
	// holding funds are listed once their last change is at or before cutoff. Empty: the
	// books are sound.
	Check(ctx context.Context, cutoff time.Time) ([]Finding, error)
	// Revenue sums platform_revenue posted in [from, to).
	Revenue(ctx context.Context, from, to time.Time) (int64, error)
	// The transactions of a payment's story, for operators (see LookupStore).
	LookupStore
}

// Balance is every account's balance, summed over all mitras, as a positive amount held
// or owed (Account.Held); Imbalance is the sum of every signed line, always 0.
type Balance struct {
	Currency  string
	Accounts  map[Account]int64
	Imbalance int64
}

// Earnings are a mitra's balances.
type Earnings struct {
	Currency   string
	Pending    int64
	Available  int64
	InFlight   int64
	PaidOut    int64
	Receivable int64
	// NextClearanceAt is when the mitra's next pending earning clears (nil: none).
	NextClearanceAt *time.Time
}

// EntryFilter selects a mitra's lines.
type EntryFilter struct {
	MitraID uuid.UUID
	// Page starts at 1 (0 means 1); PageSize defaults to 20 and is at most 100.
	Page, PageSize int
}

func (f EntryFilter) normalize() (EntryFilter, error) {
	if f.MitraID == uuid.Nil {
		return f, core.Invalid("mitra_id", "must not be nil")
	}
	if f.Page < 0 || f.PageSize < 0 || f.PageSize > core.MaxPageSize {
		return f, core.Invalid("page_size", "must be 1..%d", core.MaxPageSize)
	}
	if f.Page == 0 {
		f.Page = 1
	}
	if f.PageSize == 0 {
		f.PageSize = core.DefaultPageSize
	}
	return f, nil
}

// Reasons of a Finding.
const (
	// ReasonUnbalanced: a transaction's lines do not sum to zero.
	ReasonUnbalanced = "unbalanced_txn"
	// ReasonNegativeBalance: a mitra's pending, available or in-flight balance is below 0.
	ReasonNegativeBalance = "negative_balance"
	// ReasonRefundNotSucceeded: a payment holds funds while a refund of it has not gone
	// through (failed or still pending).
	ReasonRefundNotSucceeded = "refund_not_succeeded"
	// ReasonHoldsFunds: a payment whose pairing and sessions are final and whose refunds
	// succeeded still holds client funds.
	ReasonHoldsFunds = "payment_holds_funds"
	// ReasonOverdrawn: a payment's client_funds gave more than it was paid.
	ReasonOverdrawn = "payment_overdrawn"
	// ReasonGatewayMismatch: gateway differs from paid − refunds succeeded − payouts
	// succeeded + payouts reversed.
	ReasonGatewayMismatch = "gateway_mismatch"
)

// Finding is one broken invariant.
type Finding struct {
	Reason    string
	TxnID     *uuid.UUID
	PaymentID *uuid.UUID
	MitraID   *uuid.UUID
	Account   Account
	// Amount is what is off: the unbalanced sum, the negative balance, the funds held,
	// gateway less what it should be.
	Amount int64
}

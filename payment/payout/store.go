package payout

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/payment/ledger"
)

// Store is the durable side of payouts: the tables payout_destinations and payouts, and
// their postings to the ledger in the same transaction (NewPostgresStore;
// NewMemoryStore in memory). Every write is atomic and guarded, so several instances
// may share one store.
type Store interface {
	// PutDestination sets the mitra's destination (ErrNotFound: no such mitra).
	PutDestination(ctx context.Context, d Destination) (Destination, error)
	// GetDestination returns the mitra's destination, or ErrNotFound.
	GetDestination(ctx context.Context, mitraID uuid.UUID) (Destination, error)
	// Eligible returns at most limit mitras that may be paid now: an available balance
	// above 0 and at least minimum, a destination, no open payout.
	Eligible(ctx context.Context, minimum int64, limit int) ([]uuid.UUID, error)
	// Create creates a pending payout of all of the mitra's available balance and posts
	// payout_created, in one transaction under the mitra's ledger lock, when the mitra is
	// eligible; otherwise it creates nothing and returns a *NotEligibleError (it wraps
	// ErrInvalidState) that says why. Of concurrent calls for one mitra, one creates.
	Create(ctx context.Context, c CreateParams) (Payout, error)
	// Claim takes a pending payout for a send: attempts + 1 and updated_at = at, if it is
	// still pending with the attempts the caller read. It returns the row and whether
	// this call claimed it.
	Claim(ctx context.Context, id uuid.UUID, attempts int, at time.Time) (Payout, bool, error)
	// Transition applies t when the payout's status is one of t.From, posting to the
	// ledger what t.To records, in the same transaction, and returns the row and whether
	// it changed. ErrNotFound when there is none.
	Transition(ctx context.Context, t Transition) (Payout, bool, error)
	// Get returns a payout, or ErrNotFound.
	Get(ctx context.Context, id uuid.UUID) (Payout, error)
	// List returns one page of the payouts matching f, newest first, and how many match.
	List(ctx context.Context, f Filter) ([]Payout, int, error)
	// DuePending returns at most limit pending payouts last changed at or before before,
	// oldest first: sends that were cut short.
	DuePending(ctx context.Context, before time.Time, limit int) ([]Payout, error)
	// Stats counts the payouts by status and sums what was paid out (succeeded).
	Stats(ctx context.Context) (Stats, error)
}

// CreateParams creates a mitra's payout (Store.Create).
type CreateParams struct {
	ID, MitraID uuid.UUID
	// Minimum is the least available balance paid out.
	Minimum  int64
	Currency string
	At       time.Time
}

// Transition is one guarded status change of a payout.
type Transition struct {
	ID   uuid.UUID
	From []Status
	To   Status
	// ProviderRef is written when not empty; FailureReason with a failure or reversal.
	ProviderRef, FailureReason string
	At                         time.Time
}

// Stats are the payouts by status and the amount paid out.
type Stats struct {
	ByStatus map[Status]int
	// PaidOut sums the succeeded payouts (not the reversed ones).
	PaidOut int64
}

// posting is the ledger transaction that records a payout entering to (false: none).
func posting(p Payout, to Status, at time.Time) (ledger.Txn, bool) {
	m, id := p.MitraID, p.ID
	line := func(a ledger.Account, amount int64) ledger.Line {
		l := ledger.Line{Account: a, PayoutID: &id, Amount: amount, Currency: p.Currency}
		if a.PerMitra() {
			l.MitraID = &m
		}
		return l
	}
	var kind ledger.Kind
	var lines []ledger.Line
	switch to {
	case StatusPending:
		kind, lines = ledger.KindPayoutCreated, []ledger.Line{line(ledger.AccountMitraAvailable, p.Amount), line(ledger.AccountPayoutsInFlight, -p.Amount)}
	case StatusSucceeded:
		kind, lines = ledger.KindPayoutSucceeded, []ledger.Line{line(ledger.AccountPayoutsInFlight, p.Amount), line(ledger.AccountGateway, -p.Amount)}
	case StatusFailed:
		kind, lines = ledger.KindPayoutFailed, []ledger.Line{line(ledger.AccountPayoutsInFlight, p.Amount), line(ledger.AccountMitraAvailable, -p.Amount)}
	case StatusReversed:
		kind, lines = ledger.KindPayoutReversed, []ledger.Line{line(ledger.AccountGateway, p.Amount), line(ledger.AccountMitraAvailable, -p.Amount)}
	default:
		return ledger.Txn{}, false
	}
	return ledger.Txn{ID: ledger.TxnID(kind, p.ID), Kind: kind, At: at, Lines: lines}, true
}

// Package payout pays the mitras their available earnings: a destination per mitra (a bank
// account or an e-wallet), batch runs that create at most one open payout per mitra
// however many instances run them at once, and the Payouts port to the provider, called
// with the payout's id as its idempotency key.
//
// Every status change of a payout is posted to the earnings ledger (payment/ledger) in the
// same transaction:
//
//	created   (pending)               mitra_available +P      payouts_in_flight −P
//	succeeded                         payouts_in_flight +P    gateway −P
//	failed    (final)                 payouts_in_flight +P    mitra_available −P
//	reversed  (after it succeeded)    gateway +P              mitra_available −P
//
// Lifecycle:
//
//	pending ──sent──▶ processing ──▶ succeeded ──the provider takes it back──▶ reversed
//	   │                  │
//	   └──────────────────┴──refused──▶ failed (final: the amount is available again and a
//	                                    later run creates a new payout)
//
// A payout stays pending while the provider cannot be reached; Service.RetryPending sends
// it again (the same id: the provider pays it once).
package payout

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// Errors of the package (the SDK's shared values: errors.Is works with curhat's).
var (
	ErrNotFound     = core.ErrNotFound
	ErrInvalidState = core.ErrInvalidState
	ErrConflict     = core.ErrConflict
	ErrUnavailable  = core.ErrUnavailable
	// ErrNoProvider: the Service has no Payouts provider; nothing can be paid out.
	ErrNoProvider = errors.New("no payout provider is configured")
)

// ValidationError reports one invalid input field (curhat.ValidationError): Field names it,
// Reason says what is wrong; Error returns "invalid <Field>: <Reason>".
type ValidationError = core.ValidationError

// Reasons a mitra gets no payout (NotEligibleError.Reason).
const (
	ReasonNoDestination = "no_destination"
	ReasonOpenPayout    = "open_payout"
	ReasonNoBalance     = "no_balance"
	ReasonBelowMinimum  = "below_minimum"
)

// NotEligibleError says why a mitra gets no payout now (Store.Create, Service.Run for one
// mitra). It wraps ErrInvalidState.
type NotEligibleError struct {
	MitraID uuid.UUID
	// Reason is one of the Reason… constants.
	Reason string
	// Available and Minimum are the balance and the minimum compared (below_minimum,
	// no_balance).
	Available, Minimum int64
}

func (e *NotEligibleError) Error() string {
	switch e.Reason {
	case ReasonNoDestination:
		return fmt.Sprintf("mitra %s has no payout destination", e.MitraID)
	case ReasonOpenPayout:
		return fmt.Sprintf("mitra %s has an open payout", e.MitraID)
	case ReasonNoBalance:
		return fmt.Sprintf("mitra %s has no available balance", e.MitraID)
	}
	return fmt.Sprintf("mitra %s has %d available, below the minimum %d", e.MitraID, e.Available, e.Minimum)
}

// Unwrap makes errors.Is(err, ErrInvalidState) hold.
func (e *NotEligibleError) Unwrap() error { return ErrInvalidState }

// Status is where a payout stands.
type Status string

// The statuses of a payout.
const (
	StatusPending    Status = "pending"
	StatusProcessing Status = "processing"
	StatusSucceeded  Status = "succeeded"
	StatusFailed     Status = "failed"
	StatusReversed   Status = "reversed"
)

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusProcessing, StatusSucceeded, StatusFailed, StatusReversed:
		return true
	}
	return false
}

// Open reports whether s is pending or processing: a mitra has at most one open payout.
func (s Status) Open() bool { return s == StatusPending || s == StatusProcessing }

// Destination is where a mitra is paid.
type Destination struct {
	MitraID uuid.UUID
	// ChannelCode names the bank or e-wallet, as the provider names it ("ID_BCA",
	// "ID_OVO"): upper-case letters, digits and underscores, 2..50.
	ChannelCode string
	// AccountNumber is 4..34 digits.
	AccountNumber string
	// AccountHolderName is 1..100 characters.
	AccountHolderName string
	UpdatedAt         time.Time
}

var (
	channelCode   = regexp.MustCompile(`^[A-Z][A-Z0-9_]{1,49}$`)
	accountNumber = regexp.MustCompile(`^[0-9]{4,34}$`)
)

// Validate reports what is wrong with d (a *ValidationError naming the field), or nil.
func (d Destination) Validate() error {
	switch {
	case d.MitraID == uuid.Nil:
		return core.Invalid("mitra_id", "must not be nil")
	case !channelCode.MatchString(d.ChannelCode):
		return core.Invalid("channel_code", "must be 2..50 upper-case letters, digits or underscores, starting with a letter")
	case !accountNumber.MatchString(d.AccountNumber):
		return core.Invalid("account_number", "must be 4..34 digits")
	case !utf8.ValidString(d.AccountHolderName) || utf8.RuneCountInString(d.AccountHolderName) < 1 ||
		utf8.RuneCountInString(d.AccountHolderName) > 100 || !printable(d.AccountHolderName):
		return core.Invalid("account_holder_name", "must be 1..100 printable characters")
	}
	return nil
}

// printable reports whether s has no control characters and is not only spaces.
func printable(s string) bool {
	visible := false
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
		if r != ' ' {
			visible = true
		}
	}
	return visible
}

// Payout is one payment to a mitra of its available earnings.
type Payout struct {
	ID       uuid.UUID
	MitraID  uuid.UUID
	Amount   int64
	Currency string
	Status   Status
	// ChannelCode, AccountNumber and AccountHolderName are the destination when the payout
	// was created.
	ChannelCode, AccountNumber, AccountHolderName string
	// ProviderRef is the provider's reference; FailureReason why it failed or was reversed.
	ProviderRef, FailureReason string
	// Attempts counts the sends to the provider.
	Attempts             int
	CreatedAt, UpdatedAt time.Time
}

// Request is what the Payouts provider is asked to pay.
type Request struct {
	// PayoutID is the idempotency key: the provider pays one id once, however often it is
	// sent.
	PayoutID    uuid.UUID
	Amount      int64
	Currency    string
	Destination Destination
}

// Result is the provider's answer to a send.
type Result struct {
	// Status is StatusProcessing (the outcome comes later, through Service.Succeeded or
	// Failed), StatusSucceeded or StatusFailed.
	Status      Status
	ProviderRef string
	// FailureReason says why the provider refused it (StatusFailed).
	FailureReason string
}

// Payouts is the port to the payout provider. Send is idempotent by PayoutID. An error
// means the provider could not be asked (an outage): the payout stays pending and is sent
// again; a refusal is a Result with StatusFailed.
type Payouts interface {
	Send(ctx context.Context, r Request) (Result, error)
}

// Filter selects payouts. Zero fields do not filter.
type Filter struct {
	Status  Status
	MitraID *uuid.UUID
	// Page starts at 1 (0 means 1); PageSize defaults to 20 and is at most 100.
	Page, PageSize int
}

func (f Filter) normalize() (Filter, error) {
	switch {
	case f.Status != "" && !f.Status.Valid():
		return f, core.Invalid("status", "must be pending, processing, succeeded, failed or reversed, not %q", f.Status)
	case f.Page < 0:
		return f, core.Invalid("page", "must be at least 1")
	case f.PageSize < 0 || f.PageSize > core.MaxPageSize:
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

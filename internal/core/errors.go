package core

import (
	"errors"
	"fmt"
)

// Sentinel errors shared by every domain. The root package and the domains re-export the
// ones they return (availability.ErrNotFound == curhat.ErrNotFound), so errors.Is works
// with any name.
var (
	// ErrNotFound: the addressed row does not exist (or is not visible to the caller).
	ErrNotFound = errors.New("not found")
	// ErrStaleWrite: an optimistic-lock token (updated_at) no longer matches the row.
	ErrStaleWrite = errors.New("stale write: the row changed since it was read")
	// ErrInvalidState: the operation is not allowed in the row's current state.
	ErrInvalidState = errors.New("invalid state for this operation")
	// ErrDeactivated: the mitra has been deactivated by an operator.
	ErrDeactivated = errors.New("mitra is deactivated")
	// ErrUnavailable: the durable store (Postgres) cannot be reached; retry later.
	ErrUnavailable = errors.New("service temporarily unavailable")
	// ErrConflict: a uniqueness rule refused the write (for example a client id
	// registered under another name, or an idempotency key reused for another purpose; a
	// duplicate price tier is pricing.ErrDuplicateTier).
	ErrConflict = errors.New("conflict")
	// ErrPaymentDeclined: the payment provider declined the charge. Nothing was charged,
	// and retrying the same request will not change the answer; the client pays another
	// way. Not an outage: that is ErrUnavailable.
	ErrPaymentDeclined = errors.New("payment declined by the provider")
	// ErrNoTier: there is no active price tier for the (mode, minutes) asked for — or, for
	// an extension, its price is 0 (extensions are never free).
	ErrNoTier = errors.New("no active price tier for this duration")
	// ErrNoTx: a …Tx method was called on a service whose store cannot join the caller's
	// transaction: it is not the domain's TxStore (the Postgres store, or a wrapper of it
	// with a WithTx method).
	ErrNoTx = errors.New("this service's store cannot run in the caller's transaction: it has no WithTx (TxStore)")
)

// ValidationError reports one invalid input field. Use errors.As to read Field.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason) }

// Invalid returns a *ValidationError for field.
func Invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

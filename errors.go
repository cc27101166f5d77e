package curhat

import (
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
)

// Sentinel errors shared by every domain package. They are the very values the domain
// packages return (availability.ErrNotFound == curhat.ErrNotFound), so errors.Is works
// with either name.
var (
	// ErrNotFound: the addressed row does not exist (or is not visible to the caller).
	ErrNotFound = core.ErrNotFound
	// ErrStaleWrite: an optimistic-lock token (updated_at) no longer matches the row.
	ErrStaleWrite = core.ErrStaleWrite
	// ErrInvalidState: the operation is not allowed in the row's current state.
	ErrInvalidState = core.ErrInvalidState
	// ErrDeactivated: the mitra has been deactivated by an operator.
	ErrDeactivated = core.ErrDeactivated
	// ErrUnavailable: a backend (Postgres, or Valkey for the Bus) cannot be reached; retry
	// later.
	ErrUnavailable = core.ErrUnavailable
	// ErrConflict: a uniqueness rule refused the write (for example a client id
	// registered under another name, or an idempotency key reused for another purpose; a
	// duplicate price tier is pricing.ErrDuplicateTier).
	ErrConflict = core.ErrConflict
	// ErrPaymentDeclined: the payment provider declined the charge (a card refused, a
	// wallet without funds). Nothing was charged and the same request gets the same answer:
	// the client pays another way. A gateway wraps it for a decline; an outage or a timeout
	// of the provider is ErrUnavailable instead.
	ErrPaymentDeclined = core.ErrPaymentDeclined
	// ErrNoTier: no active price tier for the (mode, minutes) asked for (pricing, pairing
	// and extensions all return this one value).
	ErrNoTier = core.ErrNoTier
	// ErrNoTx: a …Tx method was called on a service whose store cannot run in the caller's
	// transaction: it is not the domain's TxStore (the Postgres store, or a wrapper of it
	// with a WithTx method).
	ErrNoTx = core.ErrNoTx
	// ErrAlreadyRated: the chat session has a rating already (Client.RateSession): each is
	// rated once. The value pairing returns.
	ErrAlreadyRated = pairing.ErrAlreadyRated
)

// ValidationError reports one invalid input field: Field names it (as the HTTP API's JSON
// does), Reason says what is wrong; Error returns "invalid <Field>: <Reason>". Use
// errors.As to read it.
type ValidationError = core.ValidationError

// Invalid returns a *ValidationError for field.
func Invalid(field, format string, args ...any) error { return core.Invalid(field, format, args...) }

package payment

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// Errors returned by the Service and the stores. All but ErrRefundInFlight are the shared
// curhat sentinels, so errors.Is works with either name; ErrRefundInFlight wraps one.
var (
	// ErrNotFound: no payment session with that id (or idempotency key).
	ErrNotFound = core.ErrNotFound
	// ErrInvalidState: the session's status does not allow the operation (for example a
	// refund of a session that was never paid).
	ErrInvalidState = core.ErrInvalidState
	// ErrUnavailable: the gateway or the store could not be reached; retry later.
	ErrUnavailable = core.ErrUnavailable
	// ErrConflict: the idempotency key of a Create is in use — by a request still charging
	// (see Config.ReplayWait; retry later), or by a session of the other purpose; or a
	// refund's attempt is in flight (ErrRefundInFlight).
	ErrConflict = core.ErrConflict
	// ErrRefundInFlight: a refund is claimed for an attempt that has not ended and whose
	// lease (next_attempt_at) is not over — another caller, maybe on another instance, is
	// sending it. It wraps ErrConflict: ask again once that attempt ended, or its lease did
	// (its process died).
	ErrRefundInFlight = fmt.Errorf("an attempt of the refund is in flight: %w", core.ErrConflict)
	// ErrProviderRefMismatch: a confirmation names a charge other than the one the payment
	// session was created with (MarkPaidMatching) — a misrouted or replayed confirmation,
	// not applied. It wraps ErrConflict.
	ErrProviderRefMismatch = fmt.Errorf("the provider_ref is not the payment's charge: %w", core.ErrConflict)
)

// Purpose says what a payment session pays for, and so which Handler it triggers.
type Purpose string

const (
	// PurposeChatStart pays for a new chat: a blast, or a targeted session the mitra accepted.
	PurposeChatStart Purpose = "chat_start"
	// PurposeExtension pays for more minutes on an active chat session.
	PurposeExtension Purpose = "extension"
)

// Valid reports whether p is one of the known purposes.
func (p Purpose) Valid() bool { return p == PurposeChatStart || p == PurposeExtension }

// Status is the state of a payment session (column payment_sessions.status). Closed
// reports a session that closed unpaid (failed, expired, cancelled), Charged one that
// holds or held the client's money.
type Status string

const (
	// StatusPending: created, waiting for the provider's confirmation.
	StatusPending Status = "pending"
	// StatusPaid: confirmed in time; the purpose's next step was triggered.
	StatusPaid Status = "paid"
	// StatusFailed: the provider reported a failure (or the charge could not be created).
	StatusFailed Status = "failed"
	// StatusExpired: nobody paid before expires_at.
	StatusExpired Status = "expired"
	// StatusCancelled: the caller withdrew the session before it was paid.
	StatusCancelled Status = "cancelled"
	// StatusPartiallyRefunded: paid, and part of the amount went back (the unused minutes
	// of a reroute that found nobody); Session.RefundedAmount says how much.
	StatusPartiallyRefunded Status = "partially_refunded"
	// StatusRefunded: all the money went back: the succeeded refunds add up to the amount
	// (a refund, or a payment that arrived too late).
	StatusRefunded Status = "refunded"
	// StatusRefundFailed: a refund of the payment was refused by the gateway and has not
	// gone through yet; RetryRefunds retries it with backoff.
	StatusRefundFailed Status = "refund_failed"
)

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusPaid, StatusFailed, StatusExpired, StatusCancelled, StatusPartiallyRefunded,
		StatusRefunded, StatusRefundFailed:
		return true
	}
	return false
}

// Closed reports whether a session in status s closed without being paid: failed, expired
// or cancelled. A payment confirmed for a closed session is refunded.
func (s Status) Closed() bool {
	return s == StatusFailed || s == StatusExpired || s == StatusCancelled
}

// Charged reports whether a session in status s holds (or held) the client's money: paid,
// and possibly refunded in part or in full since. Only such a session can be refunded.
func (s Status) Charged() bool {
	switch s {
	case StatusPaid, StatusPartiallyRefunded, StatusRefunded, StatusRefundFailed:
		return true
	}
	return false
}

// Session is one payment_sessions row: the payment pairing and extension hand to their
// callers. The amounts are frozen at creation: a later price change never alters what a
// session charges.
//
// Optional text columns are plain strings: "" stands for SQL NULL (ProviderRef before the
// charge exists, CheckoutURL of a free session, IdempotencyKey when the caller gave none).
type Session struct {
	ID       uuid.UUID
	ClientID uuid.UUID
	Purpose  Purpose
	// PairingID is set for chat_start sessions; ChatSessionID for targeted chat_start
	// sessions (the chat waiting in pending_payment) and for extensions; ExtensionID for
	// extensions.
	PairingID     *uuid.UUID
	ChatSessionID *uuid.UUID
	ExtensionID   *uuid.UUID
	TierID        uuid.UUID
	Minutes       int
	// Amount = BaseAmount - DiscountAmount, in the currency's smallest unit.
	BaseAmount     int64
	DiscountAmount int64
	Amount         int64
	Currency       string
	Status         Status
	// RefundedAmount is the sum of the session's succeeded refunds (0..Amount).
	RefundedAmount int64
	// PlatformFeePercent is the platform's share of what the payment delivers, fixed when
	// it was paid (nil: not paid yet, or paid before the ledger).
	PlatformFeePercent *int
	// ProviderRef is the gateway's reference of the charge.
	ProviderRef string
	// CheckoutURL is where the client pays.
	CheckoutURL    string
	IdempotencyKey string
	// ExpiresAt is when an unpaid session stops being payable.
	ExpiresAt time.Time
	// PaidAt is when the payment was confirmed — also for a late payment that was refunded.
	PaidAt *time.Time
	// HandledAt is when the purpose's handler last succeeded for the current outcome (paid,
	// failed or expired); nil while that outcome still has to be delivered.
	HandledAt *time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Declined reports whether the provider declined the session's charge: Create marked it
// failed without a provider reference and kept its idempotency key, so that a replay of
// the key answers the decline (an outage releases the key instead).
func (s Session) Declined() bool {
	return s.Status == StatusFailed && s.ProviderRef == "" && s.Amount > 0 && s.IdempotencyKey != ""
}

// CreateParams describes a new payment session. The amounts come from a pricing quote.
type CreateParams struct {
	// ID of the new session; generated when zero. A caller that must write the id
	// elsewhere first (a pairing row) may choose it.
	ID       uuid.UUID
	ClientID uuid.UUID
	Purpose  Purpose
	// PairingID is required for chat_start; ExtensionID for extension.
	PairingID      *uuid.UUID
	ChatSessionID  *uuid.UUID
	ExtensionID    *uuid.UUID
	TierID         uuid.UUID
	Minutes        int
	BaseAmount     int64
	DiscountAmount int64
	// Amount must equal BaseAmount - DiscountAmount.
	Amount   int64
	Currency string
	// IdempotencyKey, when set, makes a retried create by the same client return the
	// session of the first call instead of charging again (at most 200 bytes of text).
	IdempotencyKey string
}

// MaxIdempotencyKeyLen bounds CreateParams.IdempotencyKey.
const MaxIdempotencyKeyLen = 200

// Validate reports what is wrong with p (a *ValidationError naming the field), or nil.
func (p CreateParams) Validate() error {
	switch {
	case p.ClientID == uuid.Nil:
		return core.Invalid("client_id", "is required")
	case !p.Purpose.Valid():
		return core.Invalid("purpose", "must be %q or %q, not %q", PurposeChatStart, PurposeExtension, p.Purpose)
	case p.Purpose == PurposeChatStart && isNil(p.PairingID):
		return core.Invalid("pairing_id", "is required for a chat_start payment")
	case p.Purpose == PurposeExtension && isNil(p.ExtensionID):
		return core.Invalid("extension_id", "is required for an extension payment")
	case p.TierID == uuid.Nil:
		return core.Invalid("tier_id", "is required")
	case p.Minutes < 1:
		return core.Invalid("minutes", "must be at least 1, not %d", p.Minutes)
	case p.BaseAmount < 0:
		return core.Invalid("base_amount", "must not be negative")
	case p.DiscountAmount < 0:
		return core.Invalid("discount_amount", "must not be negative")
	case p.Amount != p.BaseAmount-p.DiscountAmount:
		return core.Invalid("amount", "must equal base_amount - discount_amount (%d), not %d", p.BaseAmount-p.DiscountAmount, p.Amount)
	case p.Amount < 0:
		return core.Invalid("discount_amount", "must not exceed base_amount")
	case p.Currency == "":
		return core.Invalid("currency", "is required")
	case len(p.IdempotencyKey) > MaxIdempotencyKeyLen:
		return core.Invalid("idempotency_key", "must be at most %d bytes", MaxIdempotencyKeyLen)
	case !validText(p.IdempotencyKey):
		return core.Invalid("idempotency_key", "must be UTF-8 text without NUL characters")
	}
	return nil
}

// validText reports whether s is UTF-8 without NUL characters (what a Postgres text
// column stores).
func validText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

func isNil(id *uuid.UUID) bool { return id == nil || *id == uuid.Nil }

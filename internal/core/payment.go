package core

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// PaymentPurpose says what a payment session pays for, and so which handler its outcome
// goes to.
type PaymentPurpose string

const (
	// PurposeChatStart pays for a new chat: a blast, or a targeted session the mitra accepted.
	PurposeChatStart PaymentPurpose = "chat_start"
	// PurposeExtension pays for more minutes on an active chat session.
	PurposeExtension PaymentPurpose = "extension"
)

// Valid reports whether p is one of the known purposes.
func (p PaymentPurpose) Valid() bool { return p == PurposeChatStart || p == PurposeExtension }

// PaymentStatus is the state of a payment session (column payment_sessions.status).
type PaymentStatus string

const (
	// PaymentPending: created, waiting for the provider's confirmation.
	PaymentPending PaymentStatus = "pending"
	// PaymentPaid: confirmed in time; the purpose's next step was triggered.
	PaymentPaid PaymentStatus = "paid"
	// PaymentFailed: the provider reported a failure (or the charge could not be created).
	PaymentFailed PaymentStatus = "failed"
	// PaymentExpired: nobody paid before expires_at.
	PaymentExpired PaymentStatus = "expired"
	// PaymentCancelled: the caller withdrew the session before it was paid.
	PaymentCancelled PaymentStatus = "cancelled"
	// PaymentPartiallyRefunded: paid, and part of the amount went back (the unused minutes
	// of a reroute that found nobody); Payment.RefundedAmount says how much.
	PaymentPartiallyRefunded PaymentStatus = "partially_refunded"
	// PaymentRefunded: all the money went back: the succeeded refunds add up to the amount
	// (a refund, or a payment that arrived too late).
	PaymentRefunded PaymentStatus = "refunded"
	// PaymentRefundFailed: a refund of the payment was refused by the gateway and has not
	// gone through yet; it is retried with backoff.
	PaymentRefundFailed PaymentStatus = "refund_failed"
)

// Valid reports whether s is one of the known statuses.
func (s PaymentStatus) Valid() bool {
	switch s {
	case PaymentPending, PaymentPaid, PaymentFailed, PaymentExpired, PaymentCancelled, PaymentPartiallyRefunded,
		PaymentRefunded, PaymentRefundFailed:
		return true
	}
	return false
}

// Closed reports whether a session in status s closed without being paid: failed, expired
// or cancelled. A payment confirmed for a closed session is refunded.
func (s PaymentStatus) Closed() bool {
	return s == PaymentFailed || s == PaymentExpired || s == PaymentCancelled
}

// Charged reports whether a session in status s holds (or held) the client's money: paid,
// and possibly refunded in part or in full since. Only such a session can be refunded.
func (s PaymentStatus) Charged() bool {
	switch s {
	case PaymentPaid, PaymentPartiallyRefunded, PaymentRefunded, PaymentRefundFailed:
		return true
	}
	return false
}

// Payment is one payment_sessions row. The amounts are frozen at creation: a later price
// change never alters what a session charges.
//
// Optional text columns are plain strings: "" stands for SQL NULL (ProviderRef before the
// charge exists, CheckoutURL of a free session, IdempotencyKey when the caller gave none).
type Payment struct {
	ID       uuid.UUID
	ClientID uuid.UUID
	Purpose  PaymentPurpose
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
	Status         PaymentStatus
	// RefundedAmount is the sum of the session's succeeded refunds (0..Amount).
	RefundedAmount int64
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

// CreatePaymentParams describes a new payment session. The amounts come from a Quote.
type CreatePaymentParams struct {
	// ID of the new session; generated when zero. A caller that must write the id
	// elsewhere first (a pairing row) may choose it.
	ID       uuid.UUID
	ClientID uuid.UUID
	Purpose  PaymentPurpose
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

// MaxIdempotencyKeyLen bounds CreatePaymentParams.IdempotencyKey.
const MaxIdempotencyKeyLen = 200

// Validate reports what is wrong with p (a *ValidationError naming the field), or nil.
func (p CreatePaymentParams) Validate() error {
	switch {
	case p.ClientID == uuid.Nil:
		return Invalid("client_id", "is required")
	case !p.Purpose.Valid():
		return Invalid("purpose", "must be %q or %q, not %q", PurposeChatStart, PurposeExtension, p.Purpose)
	case p.Purpose == PurposeChatStart && isNil(p.PairingID):
		return Invalid("pairing_id", "is required for a chat_start payment")
	case p.Purpose == PurposeExtension && isNil(p.ExtensionID):
		return Invalid("extension_id", "is required for an extension payment")
	case p.TierID == uuid.Nil:
		return Invalid("tier_id", "is required")
	case p.Minutes < 1:
		return Invalid("minutes", "must be at least 1, not %d", p.Minutes)
	case p.BaseAmount < 0:
		return Invalid("base_amount", "must not be negative")
	case p.DiscountAmount < 0:
		return Invalid("discount_amount", "must not be negative")
	case p.Amount != p.BaseAmount-p.DiscountAmount:
		return Invalid("amount", "must equal base_amount - discount_amount (%d), not %d", p.BaseAmount-p.DiscountAmount, p.Amount)
	case p.Amount < 0:
		return Invalid("discount_amount", "must not exceed base_amount")
	case p.Currency == "":
		return Invalid("currency", "is required")
	case len(p.IdempotencyKey) > MaxIdempotencyKeyLen:
		return Invalid("idempotency_key", "must be at most %d bytes", MaxIdempotencyKeyLen)
	case !ValidText(p.IdempotencyKey):
		return Invalid("idempotency_key", "must be UTF-8 text without NUL characters")
	}
	return nil
}

// ValidText reports whether s is UTF-8 without NUL characters (what a Postgres text
// column stores).
func ValidText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

func isNil(id *uuid.UUID) bool { return id == nil || *id == uuid.Nil }

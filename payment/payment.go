package payment

import (
	"fmt"

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
)

// Purpose says what a payment session pays for, and so which Handler it triggers.
type Purpose = core.PaymentPurpose

const (
	// PurposeChatStart pays for a new chat: a blast, or a targeted session the mitra accepted.
	PurposeChatStart = core.PurposeChatStart
	// PurposeExtension pays for more minutes on an active chat session.
	PurposeExtension = core.PurposeExtension
)

// Status is the state of a payment session (column payment_sessions.status). Closed
// reports a session that closed unpaid (failed, expired, cancelled), Charged one that
// holds or held the client's money.
type Status = core.PaymentStatus

const (
	// StatusPending: created, waiting for the provider's confirmation.
	StatusPending = core.PaymentPending
	// StatusPaid: confirmed in time; the purpose's next step was triggered.
	StatusPaid = core.PaymentPaid
	// StatusFailed: the provider reported a failure (or the charge could not be created).
	StatusFailed = core.PaymentFailed
	// StatusExpired: nobody paid before expires_at.
	StatusExpired = core.PaymentExpired
	// StatusCancelled: the caller withdrew the session before it was paid.
	StatusCancelled = core.PaymentCancelled
	// StatusPartiallyRefunded: paid, and part of the amount went back (the unused minutes
	// of a reroute that found nobody); RefundedAmount says how much.
	StatusPartiallyRefunded = core.PaymentPartiallyRefunded
	// StatusRefunded: all the money went back: the succeeded refunds add up to the amount
	// (a refund, or a payment that arrived too late).
	StatusRefunded = core.PaymentRefunded
	// StatusRefundFailed: a refund of the payment was refused by the gateway and has not
	// gone through yet; RetryRefunds retries it with backoff.
	StatusRefundFailed = core.PaymentRefundFailed
)

// Session is one payment_sessions row. The amounts are frozen at creation: a later price
// change never alters what a session charges. It is the value pairing and extension
// handle as a payment (pairing.Payment is the same type).
type Session = core.Payment

// CreateParams describes a new payment session. The amounts come from a pricing quote.
type CreateParams = core.CreatePaymentParams

package payment

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// ErrPaymentDeclined: the provider declined the charge. A Gateway wraps it in the error of
// a decline (fmt.Errorf("…: %w", payment.ErrPaymentDeclined)); Create then answers it,
// never ErrUnavailable. It is the curhat sentinel, so errors.Is works with either name.
var ErrPaymentDeclined = core.ErrPaymentDeclined

// Gateway hides the payment provider. NewFakeGateway is a fake one for tests and
// the reference server.
//
// A charge carries the payment session id and a refund its own id (RefundRequest.RefundID,
// stable across retries); an implementation over a real provider should pass them as the
// provider's idempotency keys, so that a call retried after a timeout or a crash never
// charges or refunds twice at the provider either.
type Gateway interface {
	// CreateCharge asks the provider for a charge and returns its reference and the URL
	// where the client pays. The provider later confirms through the webhook that ends in
	// Service.MarkPaid or Service.MarkFailed.
	//
	// A charge the provider declines (a final answer about this payment) is an error
	// wrapping ErrPaymentDeclined; any other error (the provider unreachable, a timeout, a
	// 5xx) counts as an outage, after which the same request may be retried.
	CreateCharge(ctx context.Context, req ChargeRequest) (Charge, error)
	// Refund gives back req.Amount of a confirmed payment (all of it, or a part). An error
	// means the refund was not made; it is retried later with the same RefundID, which
	// must then not refund twice (a provider's idempotency key).
	Refund(ctx context.Context, req RefundRequest) (RefundReceipt, error)
}

// ChargeRequest is what the provider needs to create a charge.
type ChargeRequest struct {
	PaymentID uuid.UUID
	ClientID  uuid.UUID
	Amount    int64
	Currency  string
	// ExpiresAt is when the payment stops being payable (an invoice's duration).
	ExpiresAt time.Time
}

// ErrRefundNotPossible: the provider can never make this refund (a payment channel
// without refunds, the refund window passed). A Gateway wraps it; the refund becomes
// manual: never retried, paid by hand and recorded with Service.SettleManually.
var ErrRefundNotPossible = errors.New("the provider cannot make this refund")

// ErrChargePaid: a charge the caller asked to expire was paid already (ChargeExpirer).
var ErrChargePaid = errors.New("the charge was paid already")

// ChargeExpirer is a Gateway that can expire a charge at the provider (an invoice), so
// that a payment the SDK expires cannot be paid there any more. ExpireStale calls it for
// each payment it expired; a charge already expired is no error, one paid meanwhile is
// ErrChargePaid: the payment is then confirmed as a late one at once (paid and refunded
// in full), whether or not the provider's confirmation ever arrives.
type ChargeExpirer interface {
	ExpireCharge(ctx context.Context, providerRef string) error
}

// Charge is the provider's answer to CreateCharge.
type Charge struct {
	ProviderRef string
	CheckoutURL string
}

// RefundRequest is what the provider needs to refund (part of) a payment.
type RefundRequest struct {
	// RefundID names this refund: the same on every retry of it.
	RefundID  uuid.UUID
	PaymentID uuid.UUID
	// ProviderRef is the charge's reference (from CreateCharge).
	ProviderRef string
	// Amount is what to give back: the whole payment or a part of it.
	Amount   int64
	Currency string
	// Reason is free text for the provider's records (for example "late_payment").
	Reason string
	// IdempotencyKey is the key to send to the provider (Refund.IdempotencyKey): the same
	// while an earlier attempt's outcome is unknown, a new one after a final refusal.
	IdempotencyKey string
}

// RefundReceipt is the provider's answer to a refund it accepted.
type RefundReceipt struct {
	// ProviderRef is the provider's reference of the refund (may be empty).
	ProviderRef string
	// Status is RefundSucceeded (or empty): made now; or RefundProcessing: accepted, its
	// outcome comes later (Service.RefundOutcome, the provider's callback).
	Status RefundStatus
}

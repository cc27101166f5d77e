package payment

import (
	"context"

	"github.com/google/uuid"
)

// Gateway hides the payment provider. paymenttest.NewGateway is a fake one for tests and
// the reference server.
//
// Both calls carry the payment session id; an implementation over a real provider should
// pass it as the provider's idempotency key, so that a call retried after a timeout never
// charges or refunds twice at the provider either.
type Gateway interface {
	// CreateCharge asks the provider for a charge and returns its reference and the URL
	// where the client pays. The provider later confirms through the webhook that ends in
	// Service.MarkPaid or Service.MarkFailed.
	CreateCharge(ctx context.Context, req ChargeRequest) (Charge, error)
	// Refund gives a confirmed payment back. An error means the refund was not made.
	Refund(ctx context.Context, req RefundRequest) error
}

// ChargeRequest is what the provider needs to create a charge.
type ChargeRequest struct {
	PaymentID uuid.UUID
	ClientID  uuid.UUID
	Amount    int64
	Currency  string
}

// Charge is the provider's answer to CreateCharge.
type Charge struct {
	ProviderRef string
	CheckoutURL string
}

// RefundRequest is what the provider needs to refund a payment.
type RefundRequest struct {
	PaymentID   uuid.UUID
	ProviderRef string
	Amount      int64
	Currency    string
	// Reason is free text for the provider's records (for example "late_payment").
	Reason string
}

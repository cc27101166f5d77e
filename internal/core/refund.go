package core

import (
	"time"

	"github.com/google/uuid"
)

// RefundStatus is the state of one refund (column payment_refunds.status).
type RefundStatus string

const (
	// RefundPending: recorded, not gone through yet (never attempted, or an attempt in
	// flight).
	RefundPending RefundStatus = "pending"
	// RefundSucceeded: the gateway made the refund. Final.
	RefundSucceeded RefundStatus = "succeeded"
	// RefundFailed: the gateway refused the last attempt. Retried with backoff until the
	// attempts run out, then it stays failed until an operator retries it.
	RefundFailed RefundStatus = "failed"
)

// Valid reports whether s is one of the known refund statuses.
func (s RefundStatus) Valid() bool {
	return s == RefundPending || s == RefundSucceeded || s == RefundFailed
}

// Refund is one payment_refunds row.
type Refund struct {
	ID        uuid.UUID
	PaymentID uuid.UUID
	// Amount is what this refund gives back (> 0).
	Amount int64
	// Currency is the payment's.
	Currency string
	// Cause is the machine key of why the money goes back (with PaymentID it makes ID).
	Cause string
	// Reason is free text for people.
	Reason string
	Status RefundStatus
	// ProviderRef is the gateway's reference of the refund once it succeeded ("" before).
	ProviderRef string
	// Attempts counts the gateway calls claimed so far.
	Attempts int
	// NextAttemptAt is when the retry sweep may attempt it next: the end of the running
	// attempt's lease, or of the backoff after a refusal. Nil for a refund never attempted
	// (due a lease after CreatedAt), a succeeded one, and a failed one that used up its
	// attempts.
	NextAttemptAt *time.Time
	// LastError is the gateway's answer to the last refused attempt ("" if none).
	LastError string
	CreatedAt time.Time
	UpdatedAt time.Time
	// ChargeRef is the payment's provider_ref: the charge this refund gives back.
	ChargeRef string
}

// refundNamespace derives refund ids.
var refundNamespace = uuid.MustParse("5b7f0c1a-2e3d-4c6b-8a9f-1d2e3f4a5b6c")

// RefundID is the id of the refund of payment for cause. Deciding the same refund again
// finds this row instead of adding one.
func RefundID(paymentID uuid.UUID, cause string) uuid.UUID {
	return uuid.NewSHA1(refundNamespace, append(paymentID[:], cause...))
}

// Bounds of the text of a refund.
const (
	MaxRefundCauseLen  = 200
	MaxRefundReasonLen = 500
)

// RefundOrder asks for money back.
type RefundOrder struct {
	// Cause names why (at most 200 bytes); with a payment id it makes the refund's id, so
	// one cause never refunds a payment twice.
	Cause string
	// Reason is free text for operators and the provider's records (at most 500 bytes).
	Reason string
	// From are the payments to take the money from, in order: each gives at most what
	// remains of it (its amount less all its refunds). Payments never charged are skipped.
	From []uuid.UUID
	// Amount is the total to give back; 0 means all that remains of every payment in From.
	Amount int64
}

// Validate reports what is wrong with o (a *ValidationError naming the field), or nil.
func (o RefundOrder) Validate() error {
	switch {
	case o.Cause == "" || len(o.Cause) > MaxRefundCauseLen || !ValidText(o.Cause):
		return Invalid("cause", "must be 1..%d bytes of UTF-8 text", MaxRefundCauseLen)
	case len(o.Reason) > MaxRefundReasonLen || !ValidText(o.Reason):
		return Invalid("reason", "must be at most %d bytes of UTF-8 text", MaxRefundReasonLen)
	case len(o.From) == 0:
		return Invalid("from", "names no payment")
	case o.Amount < 0:
		return Invalid("amount", "must not be negative, not %d", o.Amount)
	}
	for _, id := range o.From {
		if id == uuid.Nil {
			return Invalid("from", "holds a nil payment id")
		}
	}
	return nil
}

// RefundRecord is what a payment store records for a RefundOrder, in its own transaction
// or in the caller's.
type RefundRecord struct {
	RefundOrder
	// At stamps the rows.
	At time.Time
	// Late: From is one payment that closed unpaid (failed, expired or cancelled) and is
	// confirmed now. In the same transaction it becomes paid (paid_at = At, ProviderRef
	// recorded when it has none) and handled — nothing may start from it — and all of it
	// is refunded. A payment in any other status is ErrInvalidState, unless the refund of
	// this cause exists already (a duplicate confirmation: it is returned).
	Late        bool
	ProviderRef string
}

// Validate reports what is wrong with r (a *ValidationError naming the field), or nil.
func (r RefundRecord) Validate() error {
	if err := r.RefundOrder.Validate(); err != nil {
		return err
	}
	if r.Late && (len(r.From) != 1 || r.Amount != 0) {
		return Invalid("from", "a late payment is refunded alone and in full")
	}
	return nil
}

// RefundSummary is how the refunds of one cause stand.
type RefundSummary struct {
	// Recorded is the sum of the refunds recorded; Succeeded of those that went through.
	Recorded, Succeeded int64
	// Pending and Failed count the refunds that have not gone through.
	Pending, Failed int
}

// Settled reports whether something was recorded and all of it went through.
func (s RefundSummary) Settled() bool { return s.Recorded > 0 && s.Succeeded == s.Recorded }

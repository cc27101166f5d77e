package payment

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// Operators' refunds. An operator gives back part or all of a paid payment, whatever it
// paid for, with an idempotency key of their own:
//
//   - never beyond what is left of it: its amount less all its refunds, whatever their
//     status (a failed refund is retried and may still go through, so it keeps its share;
//     see Refund), checked with the payment locked, so two operators refunding at once
//     never give back more than was paid;
//   - money a chat session already earned (what its value took of the payment in the
//     ledger, see ledger.ConsumedTx) only when the operator says so (ReverseEarning):
//     when such a refund goes through, the ledger takes the earning back from the mitra
//     (earning_reversed). A session still running has earned nothing yet: its value is
//     posted when it ends, less the refunds recorded by then;
//   - the key names the refund: the same key again finds it (whatever it asks), and with
//     another amount or reason is ErrIdempotencyKeyReused.
//
// The refund is sent through the gateway at once, like every other refund: refused, it is
// retried by RetryRefunds; accepted for later, it waits for the provider's callback;
// impossible, it becomes manual.

// Errors of an operator's refund.
var (
	// ErrRefundExceedsRemainder: the refund asks for more than is left of the payment. The
	// error is a *RefundLimitError that says how much is left.
	ErrRefundExceedsRemainder = fmt.Errorf("the refund asks for more than is left of the payment: %w", core.ErrConflict)
	// ErrEarningsNotReversed: the refund takes money a chat session already earned, and
	// the operator did not allow the earning to be reversed. The error is a
	// *RefundLimitError that says how much is left unearned.
	ErrEarningsNotReversed = fmt.Errorf("the refund takes money a chat session already earned: %w", core.ErrConflict)
	// ErrIdempotencyKeyReused: the key names a refund of another amount or reason.
	ErrIdempotencyKeyReused = fmt.Errorf("the idempotency key names another refund of this payment: %w", core.ErrConflict)
)

// RefundLimitError is an exact refund refused for its amount (RefundOrder.Exact).
type RefundLimitError struct {
	// Err is ErrRefundExceedsRemainder or ErrEarningsNotReversed.
	Err       error
	PaymentID uuid.UUID
	// Asked is the refund's amount; Remaining what is left of the payment (its amount less
	// all its refunds); Unearned what is left that no chat session has earned.
	Asked, Remaining, Unearned int64
}

func (e *RefundLimitError) Error() string {
	return fmt.Sprintf("refund %d of payment %s: %d left, %d of it unearned: %v", e.Asked, e.PaymentID, e.Remaining,
		e.Unearned, e.Err)
}

func (e *RefundLimitError) Unwrap() error { return e.Err }

// checkExact decides an exact refund of o from a payment locked by the caller: status and
// amount are the payment's, reserved the sum of its refunds, consumed what chat sessions
// took of it (ledger.ConsumedTx). Both stores call it.
func (o RefundOrder) checkExact(id uuid.UUID, status Status, amount, reserved, consumed int64) error {
	if !status.Charged() {
		return fmt.Errorf("payment %s is %s, not paid: %w", id, status, ErrInvalidState)
	}
	remaining := max(amount-reserved, 0)
	e := &RefundLimitError{PaymentID: id, Asked: o.Amount, Remaining: remaining, Unearned: max(remaining-consumed, 0)}
	switch {
	case o.Amount > e.Remaining:
		e.Err = ErrRefundExceedsRemainder
	case o.KeepEarnings && o.Amount > e.Unearned:
		e.Err = ErrEarningsNotReversed
	default:
		return nil
	}
	return e
}

// MaxOperatorRefundKeyLen bounds an operator's idempotency key.
const MaxOperatorRefundKeyLen = 128

// operatorRefundCausePrefix starts the cause of an operator's refund; the key follows.
const operatorRefundCausePrefix = "operator:"

// OperatorRefundCause is the cause under which an operator's refund with key is recorded:
// with the payment, it makes the refund's id.
func OperatorRefundCause(key string) string { return operatorRefundCausePrefix + key }

// OperatorRefundParams is an operator's refund of a paid payment.
type OperatorRefundParams struct {
	PaymentID uuid.UUID
	// Key is the operator's idempotency key: 1..128 printable ASCII characters.
	Key string
	// Amount is what to give back (> 0).
	Amount int64
	// Reason says why, for people and the provider's records (1..500 bytes).
	Reason string
	// ReverseEarning allows the refund to take money a chat session already earned.
	ReverseEarning bool
}

// Validate reports what is wrong with p (a *ValidationError naming the field), or nil.
func (p OperatorRefundParams) Validate() error {
	switch {
	case p.PaymentID == uuid.Nil:
		return core.Invalid("payment_id", "must not be nil")
	case !ValidOperatorRefundKey(p.Key):
		return core.Invalid("key", "must be 1..%d printable ASCII characters", MaxOperatorRefundKeyLen)
	case p.Amount <= 0:
		return core.Invalid("amount", "must be at least 1, not %d", p.Amount)
	case p.Reason == "" || len(p.Reason) > MaxRefundReasonLen || !validText(p.Reason):
		return core.Invalid("reason", "must be 1..%d bytes of UTF-8 text", MaxRefundReasonLen)
	}
	return nil
}

// ValidOperatorRefundKey reports whether key may name an operator's refund: 1..128
// printable ASCII characters, no space.
func ValidOperatorRefundKey(key string) bool {
	if len(key) == 0 || len(key) > MaxOperatorRefundKeyLen {
		return false
	}
	for i := range len(key) {
		if key[i] < 0x21 || key[i] > 0x7e {
			return false
		}
	}
	return true
}

// OperatorRefund gives back p.Amount of a paid payment (see the rules above), and sends
// the refund through the gateway at once. It returns the refund as it stands after that
// attempt — a refusal is its status (failed, retried by RetryRefunds), not an error — and
// the payment. Refused: a payment never paid (ErrInvalidState), an amount beyond what is
// left (ErrRefundExceedsRemainder) or beyond what is unearned without ReverseEarning
// (ErrEarningsNotReversed), both as a *RefundLimitError; a key that names a refund of
// another amount or reason (ErrIdempotencyKeyReused).
func (s *Service) OperatorRefund(ctx context.Context, p OperatorRefundParams) (Refund, Session, error) {
	if err := p.Validate(); err != nil {
		return Refund{}, Session{}, err
	}
	recorded, err := s.record(ctx, RefundRecord{At: s.now(), RefundOrder: RefundOrder{
		Cause: OperatorRefundCause(p.Key), Reason: p.Reason, From: []uuid.UUID{p.PaymentID}, Amount: p.Amount,
		Exact: true, KeepEarnings: !p.ReverseEarning,
	}})
	if err != nil {
		return Refund{}, Session{}, fmt.Errorf("operator refund of payment %s: %w", p.PaymentID, err)
	}
	if len(recorded) != 1 {
		return Refund{}, Session{}, fmt.Errorf("operator refund of payment %s: %d refunds recorded, not 1", p.PaymentID, len(recorded))
	}
	r := recorded[0]
	if r.Amount != p.Amount || r.Reason != p.Reason {
		return Refund{}, Session{}, fmt.Errorf("operator refund of payment %s: key %q made refund %s of %d (%q): %w",
			p.PaymentID, p.Key, r.ID, r.Amount, r.Reason, ErrIdempotencyKeyReused)
	}
	if r.Status == RefundPending && r.Attempts == 0 {
		if r, err = s.attempt(ctx, r.ID, ClaimFirst); err != nil {
			return Refund{}, Session{}, fmt.Errorf("operator refund of payment %s: %w", p.PaymentID, err)
		}
	}
	pay, err := s.store.Get(ctx, p.PaymentID)
	if err != nil {
		return Refund{}, Session{}, fmt.Errorf("operator refund of payment %s: %w", p.PaymentID, err)
	}
	return r, pay, nil
}

package payment

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"
)

// Errors of the fake gateway while told to fail.
var (
	// ErrFakeChargeDeclined is a decline (FailCharges): it wraps ErrPaymentDeclined, as
	// a real gateway's decline must.
	ErrFakeChargeDeclined = fmt.Errorf("fake gateway: charge declined: %w", ErrPaymentDeclined)
	// ErrFakeChargeUnreachable stands for an outage of the provider (FailChargesWith): not a
	// decline, so Create answers ErrUnavailable.
	ErrFakeChargeUnreachable = errors.New("fake gateway: the provider cannot be reached")
	ErrFakeRefundDeclined    = errors.New("fake gateway: refund declined")
)

// FakeCheckoutBaseURL prefixes the fake checkout URLs: FakeCheckoutBaseURL + payment id.
const FakeCheckoutBaseURL = "https://pay.example.invalid/checkout/"

// FakeGateway is a fake Gateway. It records the charges and refunds it accepted, and
// can be told to refuse them. Like a provider honouring idempotency keys, it makes a
// refund once per RefundID: a refund sent again after it went through (the answer was
// lost) is answered with the same receipt and not made twice. Safe for concurrent use.
type FakeGateway struct {
	mu              sync.Mutex
	charges         []ChargeRequest
	refunds         []RefundRequest
	made            map[uuid.UUID]bool // refund ids made
	calls           map[uuid.UUID]int  // Refund calls per refund id, whatever the answer
	failCharges     error              // CreateCharge's answer while not nil
	failRefunds     bool
	failNextRefunds int
	refusedRefund   int
	refundAnswer    error            // Refund's answer while not nil (FailRefundsWith)
	nextAnswer      FakeRefundAnswer // how the next nextCount new refunds are answered
	nextCount       int
	processing      bool     // accepted refunds answer processing (ProcessRefunds)
	keys            []string // the idempotency key of every Refund call
}

var _ Gateway = (*FakeGateway)(nil)

// NewFakeGateway returns a fake gateway that accepts everything.
func NewFakeGateway() *FakeGateway {
	return &FakeGateway{made: map[uuid.UUID]bool{}, calls: map[uuid.UUID]int{}}
}

// CreateCharge returns the reference "fake_ch_<payment id>" and a checkout URL under
// FakeCheckoutBaseURL, or ErrFakeChargeDeclined while FailCharges is on (the error of
// FailChargesWith while that is set).
func (g *FakeGateway) CreateCharge(ctx context.Context, req ChargeRequest) (Charge, error) {
	if err := ctx.Err(); err != nil {
		return Charge{}, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failCharges != nil {
		return Charge{}, g.failCharges
	}
	g.charges = append(g.charges, req)
	return Charge{
		ProviderRef: "fake_ch_" + req.PaymentID.String(),
		CheckoutURL: FakeCheckoutBaseURL + req.PaymentID.String(),
	}, nil
}

// Refund records the refund and answers the reference "fake_rf_<refund id>", or returns
// ErrFakeRefundDeclined while FailRefunds is on or FailNextRefunds has refusals left. A
// refund id already made is answered again without a second refund.
func (g *FakeGateway) Refund(ctx context.Context, req RefundRequest) (RefundReceipt, error) {
	if err := ctx.Err(); err != nil {
		return RefundReceipt{}, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls[req.RefundID]++
	g.keys = append(g.keys, req.IdempotencyKey)
	receipt := RefundReceipt{ProviderRef: "fake_rf_" + req.RefundID.String()}
	if g.refundAnswer != nil {
		return RefundReceipt{}, g.refundAnswer
	}
	if g.nextCount > 0 && !g.made[req.RefundID] {
		g.nextCount--
		switch g.nextAnswer {
		case FakeRefundNotPossible:
			return RefundReceipt{}, ErrFakeRefundNotPossible
		case FakeRefundProcessing:
			receipt.Status = RefundProcessing
		default:
			g.refusedRefund++
			return RefundReceipt{}, ErrFakeRefundDeclined
		}
	}
	if g.processing {
		receipt.Status = RefundProcessing
	}
	if req.RefundID != uuid.Nil && g.made[req.RefundID] {
		return receipt, nil
	}
	if g.failRefunds || g.failNextRefunds > 0 {
		if g.failNextRefunds > 0 {
			g.failNextRefunds--
		}
		g.refusedRefund++
		return RefundReceipt{}, ErrFakeRefundDeclined
	}
	if req.RefundID != uuid.Nil {
		g.made[req.RefundID] = true
	}
	g.refunds = append(g.refunds, req)
	return receipt, nil
}

// FailCharges makes CreateCharge decline (true: ErrFakeChargeDeclined) or accept (false)
// from now on.
func (g *FakeGateway) FailCharges(fail bool) {
	var err error
	if fail {
		err = ErrFakeChargeDeclined
	}
	g.FailChargesWith(err)
}

// FailChargesWith makes CreateCharge answer err from now on (ErrFakeChargeUnreachable for an
// outage, for example); nil accepts again.
func (g *FakeGateway) FailChargesWith(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failCharges = err
}

// FailRefunds makes Refund refuse (true) or accept (false) from now on.
func (g *FakeGateway) FailRefunds(fail bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failRefunds = fail
}

// FakeRefundAnswer is how AnswerNextRefunds has the fake answer refunds.
type FakeRefundAnswer string

// The answers of AnswerNextRefunds.
const (
	// FakeRefundRefuse: ErrFakeRefundDeclined (the retry sweep tries again).
	FakeRefundRefuse FakeRefundAnswer = "refuse"
	// FakeRefundNotPossible: ErrFakeRefundNotPossible (the refund becomes manual).
	FakeRefundNotPossible FakeRefundAnswer = "not_possible"
	// FakeRefundProcessing: accepted, settled later (Service.RefundOutcome decides).
	FakeRefundProcessing FakeRefundAnswer = "processing"
)

// ErrFakeRefundNotPossible is the fake's answer to a refund it can never make: it wraps
// ErrRefundNotPossible.
var ErrFakeRefundNotPossible = fmt.Errorf("fake gateway: the payment channel takes no refunds: %w", ErrRefundNotPossible)

// AnswerNextRefunds makes the fake answer the next n new refunds (a refund already made
// is answered as it was) as answer says, then as its other settings say; a call replaces
// the previous one, and n ≤ 0 cancels it. It counts apart from FailNextRefunds.
func (g *FakeGateway) AnswerNextRefunds(n int, answer FakeRefundAnswer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.nextAnswer, g.nextCount = answer, max(n, 0)
}

// FailRefundsWith makes Refund answer err from now on (an error wrapping ErrUnavailable
// for an outage, or ErrRefundNotPossible); nil answers again as the other settings say.
func (g *FakeGateway) FailRefundsWith(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.refundAnswer = err
}

// ProcessRefunds makes accepted refunds answer processing (true): the provider settles
// them later and its word comes through Service.RefundOutcome.
func (g *FakeGateway) ProcessRefunds(on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.processing = on
}

// RefundKeys returns the idempotency key of every Refund call, oldest first.
func (g *FakeGateway) RefundKeys() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.keys...)
}

// FailNextRefunds makes Refund refuse the next n refunds (whichever they are), then
// accept again; n = 0 cancels the refusals still pending. Negative n counts as 0.
func (g *FakeGateway) FailNextRefunds(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failNextRefunds = max(n, 0)
}

// Charges returns the accepted charges, oldest first.
func (g *FakeGateway) Charges() []ChargeRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]ChargeRequest(nil), g.charges...)
}

// ChargesFor counts the accepted charges of one payment session.
func (g *FakeGateway) ChargesFor(paymentID uuid.UUID) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, c := range g.charges {
		if c.PaymentID == paymentID {
			n++
		}
	}
	return n
}

// Refunds returns the accepted refunds, oldest first.
func (g *FakeGateway) Refunds() []RefundRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]RefundRequest(nil), g.refunds...)
}

// RefundsFor counts the accepted refunds of one payment session.
func (g *FakeGateway) RefundsFor(paymentID uuid.UUID) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, r := range g.refunds {
		if r.PaymentID == paymentID {
			n++
		}
	}
	return n
}

// RefundedAmount sums the accepted refunds of one payment session.
func (g *FakeGateway) RefundedAmount(paymentID uuid.UUID) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	var n int64
	for _, r := range g.refunds {
		if r.PaymentID == paymentID {
			n += r.Amount
		}
	}
	return n
}

// RefundCalls counts the Refund calls made for one refund id, whatever their answer
// (refused, made, or answered again): a sender that never sends a refund twice keeps it
// at 1 per successful attempt.
func (g *FakeGateway) RefundCalls(refundID uuid.UUID) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[refundID]
}

// RefusedRefunds counts the refunds refused (FailRefunds, FailNextRefunds).
func (g *FakeGateway) RefusedRefunds() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refusedRefund
}

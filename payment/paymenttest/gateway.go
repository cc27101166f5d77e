package paymenttest

import (
	"context"
	"errors"
	"sync"

	"github.com/google/uuid"

	"github.com/curhat/curhat/payment"
)

// Errors of the fake gateway while told to fail.
var (
	ErrChargeDeclined = errors.New("fake gateway: charge declined")
	ErrRefundDeclined = errors.New("fake gateway: refund declined")
)

// CheckoutBaseURL prefixes the fake checkout URLs: CheckoutBaseURL + payment id.
const CheckoutBaseURL = "https://pay.example.invalid/checkout/"

// FakeGateway is a fake payment.Gateway. It records the charges and refunds it accepted, and
// can be told to refuse them. Safe for concurrent use.
type FakeGateway struct {
	mu            sync.Mutex
	charges       []payment.ChargeRequest
	refunds       []payment.RefundRequest
	failCharges   bool
	failRefunds   bool
	refusedRefund int
}

var _ payment.Gateway = (*FakeGateway)(nil)

// NewGateway returns a fake gateway that accepts everything.
func NewGateway() *FakeGateway { return &FakeGateway{} }

// CreateCharge returns the reference "fake_ch_<payment id>" and a checkout URL under
// CheckoutBaseURL, or ErrChargeDeclined while FailCharges is on.
func (g *FakeGateway) CreateCharge(ctx context.Context, req payment.ChargeRequest) (payment.Charge, error) {
	if err := ctx.Err(); err != nil {
		return payment.Charge{}, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failCharges {
		return payment.Charge{}, ErrChargeDeclined
	}
	g.charges = append(g.charges, req)
	return payment.Charge{
		ProviderRef: "fake_ch_" + req.PaymentID.String(),
		CheckoutURL: CheckoutBaseURL + req.PaymentID.String(),
	}, nil
}

// Refund records the refund, or returns ErrRefundDeclined while FailRefunds is on.
func (g *FakeGateway) Refund(ctx context.Context, req payment.RefundRequest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failRefunds {
		g.refusedRefund++
		return ErrRefundDeclined
	}
	g.refunds = append(g.refunds, req)
	return nil
}

// FailCharges makes CreateCharge refuse (true) or accept (false) from now on.
func (g *FakeGateway) FailCharges(fail bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failCharges = fail
}

// FailRefunds makes Refund refuse (true) or accept (false) from now on.
func (g *FakeGateway) FailRefunds(fail bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failRefunds = fail
}

// Charges returns the accepted charges, oldest first.
func (g *FakeGateway) Charges() []payment.ChargeRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]payment.ChargeRequest(nil), g.charges...)
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
func (g *FakeGateway) Refunds() []payment.RefundRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]payment.RefundRequest(nil), g.refunds...)
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

// RefusedRefunds counts the refunds refused while FailRefunds was on.
func (g *FakeGateway) RefusedRefunds() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refusedRefund
}

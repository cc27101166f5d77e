package main

import (
	"time"

	"github.com/curhat/curhat/payment"
)

// paymentJSON is the API shape of a payment session.
type paymentJSON struct {
	ID             string     `json:"id"`
	Purpose        string     `json:"purpose"`
	Status         string     `json:"status"`
	BaseAmount     int64      `json:"base_amount"`
	DiscountAmount int64      `json:"discount_amount"`
	Amount         int64      `json:"amount"`
	RefundedAmount int64      `json:"refunded_amount"`
	Currency       string     `json:"currency"`
	ExpiresAt      time.Time  `json:"expires_at"`
	CheckoutURL    *string    `json:"checkout_url"`
	PaidAt         *time.Time `json:"paid_at"`
	CreatedAt      time.Time  `json:"created_at"`
}

func toPaymentJSON(p payment.Session) paymentJSON {
	out := paymentJSON{
		ID: p.ID.String(), Purpose: string(p.Purpose), Status: string(p.Status),
		BaseAmount: p.BaseAmount, DiscountAmount: p.DiscountAmount, Amount: p.Amount, RefundedAmount: p.RefundedAmount,
		Currency: p.Currency, ExpiresAt: p.ExpiresAt.UTC(), PaidAt: utcPtr(p.PaidAt), CreatedAt: p.CreatedAt.UTC(),
	}
	if p.CheckoutURL != "" {
		u := p.CheckoutURL
		out.CheckoutURL = &u
	}
	return out
}

func optPayment(p *payment.Session) any {
	if p == nil {
		return nil
	}
	return toPaymentJSON(*p)
}

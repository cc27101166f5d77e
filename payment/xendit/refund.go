package xendit

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/curhat/curhat/payment"
)

// Refund statuses (Xendit's refund object).
const (
	refundPending   = "PENDING"
	refundSucceeded = "SUCCEEDED"
	refundFailed    = "FAILED"
)

// Refund reasons Xendit accepts (CreateRefund.reason) that this package sends.
const (
	reasonRequestedByCustomer = "REQUESTED_BY_CUSTOMER"
	reasonCancellation        = "CANCELLATION"
)

// metadataKey is the refund metadata field that keeps the idempotency key, so that the
// refund a key made can be found again (Xendit's refund object does not show the key).
const metadataKey = "idempotency_key"

// createRefundRequest is the body of POST /refunds.
type createRefundRequest struct {
	InvoiceID   string            `json:"invoice_id"`
	ReferenceID string            `json:"reference_id"`
	Amount      int64             `json:"amount"`
	Currency    string            `json:"currency,omitempty"`
	Reason      string            `json:"reason"`
	Metadata    map[string]string `json:"metadata"`
}

// refund is the part of Xendit's refund object the Client reads.
type refund struct {
	ID          string            `json:"id"`
	ReferenceID string            `json:"reference_id"`
	Status      string            `json:"status"`
	FailureCode string            `json:"failure_code"`
	Metadata    map[string]string `json:"metadata"`
}

// Refund asks Xendit to give back req.Amount of the invoice req.ProviderRef, with
// req.IdempotencyKey as its Idempotency-key and req.RefundID as its reference_id.
// SUCCEEDED is a refund made now; PENDING (or any status still in flight) is
// payment.RefundProcessing, its outcome coming by callback. A refund the provider can never
// make wraps payment.ErrRefundNotPossible; an outage wraps payment.ErrUnavailable; any
// other refusal is a plain error.
func (cl *Client) Refund(ctx context.Context, req payment.RefundRequest) (payment.RefundReceipt, error) {
	if req.ProviderRef == "" || req.IdempotencyKey == "" {
		return payment.RefundReceipt{}, fmt.Errorf("refund %s: provider reference and idempotency key are required", req.RefundID)
	}
	body := createRefundRequest{
		InvoiceID: req.ProviderRef, ReferenceID: req.RefundID.String(), Amount: req.Amount,
		Currency: req.Currency, Reason: refundReason(req.Reason),
		Metadata: map[string]string{metadataKey: req.IdempotencyKey},
	}
	var made refund
	err := cl.do(ctx, call{op: "create refund", method: http.MethodPost, path: "/refunds", body: body, key: req.IdempotencyKey}, &made)
	if e := apiError(err); e != nil && e.StatusCode == http.StatusConflict && duplicateKeyCodes[e.Code] {
		made, err = cl.findRefund(ctx, req, e)
	}
	if e := apiError(err); e != nil && !e.Temporary() && refundNotPossibleCodes[e.Code] {
		return payment.RefundReceipt{}, fmt.Errorf("refund %s: %w: %w", req.RefundID, payment.ErrRefundNotPossible, err)
	}
	if err != nil {
		return payment.RefundReceipt{}, fmt.Errorf("refund %s: %w", req.RefundID, err)
	}
	return refundReceipt(req, made)
}

// refundReceipt is Refund's answer for the refund Xendit made.
func refundReceipt(req payment.RefundRequest, r refund) (payment.RefundReceipt, error) {
	switch r.Status {
	case refundSucceeded:
		return payment.RefundReceipt{ProviderRef: r.ID, Status: payment.RefundSucceeded}, nil
	case refundFailed:
		err := fmt.Errorf("refund %s: xendit refund %s FAILED %s", req.RefundID, r.ID, r.FailureCode)
		if refundNotPossibleCodes[r.FailureCode] {
			return payment.RefundReceipt{}, fmt.Errorf("%w: %w", err, payment.ErrRefundNotPossible)
		}
		return payment.RefundReceipt{}, err
	}
	// PENDING, and any status Xendit may add for a refund in flight: accepted, not final.
	return payment.RefundReceipt{ProviderRef: r.ID, Status: payment.RefundProcessing}, nil
}

// findRefund finds the refund an earlier request with req's idempotency key made, after
// Xendit refused the key as a duplicate (dup). Not found (the first request may still be
// in flight), or the list unreadable, is an outage: the SDK sends the same key again
// later, never a new one that could refund twice.
func (cl *Client) findRefund(ctx context.Context, req payment.RefundRequest, dup *APIError) (refund, error) {
	var list struct {
		Data []refund `json:"data"`
	}
	err := cl.do(ctx, call{
		op: "find refund", method: http.MethodGet, path: "/refunds",
		query: url.Values{"invoice_id": {req.ProviderRef}},
	}, &list)
	if err != nil {
		return refund{}, fmt.Errorf("%w; finding the refund it made: %w: %w", dup, payment.ErrUnavailable, err)
	}
	ref := req.RefundID.String()
	var open []refund
	for _, r := range list.Data {
		if r.Metadata[metadataKey] == req.IdempotencyKey {
			return r, nil
		}
		if r.ReferenceID == ref && r.Status != refundFailed {
			open = append(open, r)
		}
	}
	// Without the key in the metadata: an earlier key of this refund was final only after
	// a refusal, so the one refund of this reference still open is this key's.
	if len(open) == 1 {
		return open[0], nil
	}
	return refund{}, fmt.Errorf("%w; the refund it made was not found: %w", dup, payment.ErrUnavailable)
}

// refundReason maps the SDK's free-text reason to Xendit's: a refund the client asked for
// is REQUESTED_BY_CUSTOMER; one the marketplace decided (no mitra, a late payment, a
// session cut short) is CANCELLATION.
func refundReason(text string) string {
	t := strings.ToLower(text)
	for _, w := range []string{"request", "customer", "client", "user"} {
		if strings.Contains(t, w) {
			return reasonRequestedByCustomer
		}
	}
	return reasonCancellation
}

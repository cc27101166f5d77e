package xendit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"

	"github.com/curhat/curhat/payment"
)

// Invoice statuses (Xendit's InvoiceStatus).
const (
	statusPending = "PENDING"
	statusPaid    = "PAID"
	statusSettled = "SETTLED"
	statusExpired = "EXPIRED"
)

// invoice is the part of Xendit's invoice object the Client reads.
type invoice struct {
	ID         string `json:"id"`
	ExternalID string `json:"external_id"`
	Status     string `json:"status"`
	InvoiceURL string `json:"invoice_url"`
}

// createInvoiceRequest is the body of POST /v2/invoices.
type createInvoiceRequest struct {
	ExternalID         string `json:"external_id"`
	Amount             int64  `json:"amount"`
	Currency           string `json:"currency"`
	InvoiceDuration    int64  `json:"invoice_duration,omitempty"`
	Description        string `json:"description"`
	SuccessRedirectURL string `json:"success_redirect_url,omitempty"`
}

// CreateCharge creates the payment's invoice, or returns the one an earlier call made (its
// answer lost): Xendit takes no idempotency key for invoices, so the payment's invoices
// are looked up by external_id first, and one still payable or already paid is reused. An
// invoice Xendit refuses for this payment wraps payment.ErrPaymentDeclined; an outage
// wraps payment.ErrUnavailable.
func (cl *Client) CreateCharge(ctx context.Context, req payment.ChargeRequest) (payment.Charge, error) {
	externalID := req.PaymentID.String()
	var found []invoice
	err := cl.do(ctx, call{
		op: "find invoice", method: http.MethodGet, path: "/v2/invoices",
		query: url.Values{"external_id": {externalID}},
	}, &found)
	if e := apiError(err); e != nil && e.StatusCode == http.StatusNotFound {
		found, err = nil, nil // some list endpoints answer "none" with a 404
	}
	if err != nil {
		return payment.Charge{}, fmt.Errorf("create charge for payment %s: %w", req.PaymentID, err)
	}
	for _, inv := range found {
		if inv.ExternalID == externalID && inv.Status != statusExpired && inv.ID != "" {
			return payment.Charge{ProviderRef: inv.ID, CheckoutURL: inv.InvoiceURL}, nil
		}
	}

	body := createInvoiceRequest{
		ExternalID: externalID, Amount: req.Amount, Currency: req.Currency,
		Description:        "Payment " + externalID,
		SuccessRedirectURL: cl.successURL,
	}
	if !req.ExpiresAt.IsZero() {
		body.InvoiceDuration = max(1, int64(math.Ceil(req.ExpiresAt.Sub(cl.now()).Seconds())))
	}
	var created invoice
	err = cl.do(ctx, call{op: "create invoice", method: http.MethodPost, path: "/v2/invoices", body: body}, &created)
	if e := apiError(err); e != nil && !e.Temporary() && declineCodes[e.Code] {
		return payment.Charge{}, fmt.Errorf("create charge for payment %s: %w: %w", req.PaymentID, payment.ErrPaymentDeclined, err)
	}
	if err != nil {
		return payment.Charge{}, fmt.Errorf("create charge for payment %s: %w", req.PaymentID, err)
	}
	if created.ID == "" || created.InvoiceURL == "" {
		return payment.Charge{}, fmt.Errorf("create charge for payment %s: xendit answered an invoice without id or invoice_url: %w",
			req.PaymentID, payment.ErrUnavailable)
	}
	return payment.Charge{ProviderRef: created.ID, CheckoutURL: created.InvoiceURL}, nil
}

// ExpireCharge expires the invoice providerRef so that it cannot be paid any more. An
// invoice already expired is no error; one already paid (or settled) is an error wrapping
// payment.ErrChargePaid. Xendit documents only a 404 for an invoice it cannot expire, so
// after any refusal the invoice is read to tell which it is.
func (cl *Client) ExpireCharge(ctx context.Context, providerRef string) error {
	if providerRef == "" {
		return errors.New("expire charge: empty provider reference")
	}
	var inv invoice
	err := cl.do(ctx, call{
		op: "expire invoice", method: http.MethodPost,
		path: "/invoices/" + url.PathEscape(providerRef) + "/expire!",
	}, &inv)
	if err == nil {
		return expiredOrPaid(providerRef, inv.Status)
	}
	if e := apiError(err); e == nil || e.Temporary() {
		return fmt.Errorf("expire charge %s: %w", providerRef, err)
	}
	refusal := err
	err = cl.do(ctx, call{op: "get invoice", method: http.MethodGet, path: "/v2/invoices/" + url.PathEscape(providerRef)}, &inv)
	if err != nil {
		return fmt.Errorf("expire charge %s: %w (reading it: %w)", providerRef, refusal, err)
	}
	if inv.Status == statusPending {
		return fmt.Errorf("expire charge %s: still pending: %w", providerRef, refusal)
	}
	return expiredOrPaid(providerRef, inv.Status)
}

// expiredOrPaid is ExpireCharge's answer for an invoice in status.
func expiredOrPaid(ref, status string) error {
	switch status {
	case statusExpired:
		return nil
	case statusPaid, statusSettled:
		return fmt.Errorf("expire charge %s: invoice is %s: %w", ref, status, payment.ErrChargePaid)
	}
	return fmt.Errorf("expire charge %s: xendit answered status %q, not EXPIRED", ref, status)
}

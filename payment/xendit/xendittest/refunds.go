package xendittest

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
)

// refundReasons are the reasons CreateRefund accepts.
var refundReasons = []string{"FRAUDULENT", "DUPLICATE", "REQUESTED_BY_CUSTOMER", "CANCELLATION", "OTHERS"}

// createRefund makes a refund of a paid invoice, as RefundOutcome and the documented test
// amounts say, once per Idempotency-key.
func (s *Server) createRefund(r *http.Request, body []byte) (int, any) {
	key := r.Header.Get("Idempotency-key")
	if key == "" {
		s.t.Errorf("xendittest: %s: the Idempotency-key header is missing", EndpointCreateRefund)
		return badRequest()
	}
	obj, ok := s.object(EndpointCreateRefund, body, []field{
		{name: "invoice_id", kind: kindString, required: true},
		{name: "reference_id", kind: kindString, required: true},
		{name: "amount", kind: kindInteger, required: true},
		{name: "currency", kind: kindString},
		{name: "reason", kind: kindString, required: true},
		{name: "metadata", kind: kindObject},
	})
	if !ok {
		return badRequest()
	}
	if !slices.Contains(refundReasons, obj["reason"].(string)) {
		s.t.Errorf("xendittest: %s: reason must be one of %v, got %q", EndpointCreateRefund, refundReasons, obj["reason"])
		return badRequest()
	}
	amount := integer(obj["amount"])
	if amount <= 0 {
		s.t.Errorf("xendittest: %s: amount must be positive, got %d", EndpointCreateRefund, amount)
		return badRequest()
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if status, answer, seen := s.seen(EndpointCreateRefund, key, body); seen {
		return status, answer
	}
	inv := s.invoice(obj["invoice_id"].(string))
	if inv == nil {
		return http.StatusNotFound, apiErr("DATA_NOT_FOUND", "Data not found")
	}
	if inv.Status != StatusPaid && inv.Status != StatusSettled {
		return http.StatusForbidden, apiErr("INELIGIBLE_TRANSACTION", "The transaction is not in a refundable status")
	}
	if c, ok := refundTestAmounts[amount]; ok {
		return c.status, apiErr(c.code, "test scenario for amount "+fmt.Sprint(amount))
	}
	var refunded int64
	for _, rf := range s.refunds {
		if rf.InvoiceID == inv.ID && rf.Status != "FAILED" {
			refunded += rf.Amount
		}
	}
	if refunded+amount > inv.Amount {
		return http.StatusBadRequest, apiErr("MAXIMUM_REFUND_AMOUNT_REACHED", "The refund amount exceeds what remains of the payment")
	}
	rf := &Refund{
		ID: "rfd-" + uuid.NewString(), InvoiceID: inv.ID, ReferenceID: obj["reference_id"].(string),
		IdempotencyKey: key, Reason: obj["reason"].(string), Amount: amount, Created: time.Now().UTC(),
		Metadata: map[string]string{},
	}
	rf.Currency, _ = obj["currency"].(string)
	if md, ok := obj["metadata"].(map[string]any); ok {
		for k, v := range md {
			rf.Metadata[k] = fmt.Sprint(v)
		}
	}
	switch s.refundAs {
	case RefundRefused:
		return http.StatusBadRequest, apiErr("INSUFFICIENT_BALANCE", "Your balance is not enough for this refund")
	case RefundNotSupported:
		return http.StatusBadRequest, apiErr("REFUND_NOT_SUPPORTED", "The payment channel does not support refunds")
	case RefundWindowPassed:
		return http.StatusForbidden, apiErr("INELIGIBLE_TRANSACTION", "The transaction has passed its refund validity period")
	case RefundSucceeded:
		rf.Status = "SUCCEEDED"
	case RefundFailed:
		rf.Status, rf.FailureCode = "FAILED", "REFUND_FAILED"
	default:
		rf.Status = "PENDING"
	}
	s.refunds = append(s.refunds, rf)
	return s.record(EndpointCreateRefund, key, body, http.StatusOK, refundJSON(rf))
}

func (s *Server) listRefunds(r *http.Request, _ []byte) (int, any) {
	invoiceID := r.URL.Query().Get("invoice_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	data := []map[string]any{}
	for _, rf := range s.refunds {
		if invoiceID == "" || rf.InvoiceID == invoiceID {
			data = append(data, refundJSON(rf))
		}
	}
	return http.StatusOK, map[string]any{"data": data, "has_more": false}
}

func refundJSON(rf *Refund) map[string]any {
	var failure any
	if rf.FailureCode != "" {
		failure = rf.FailureCode
	}
	return map[string]any{
		"id": rf.ID, "payment_request_id": nil, "invoice_id": rf.InvoiceID, "amount": rf.Amount,
		"payment_method_type": "EWALLET", "channel_code": "OVO", "country": "ID", "currency": cmp.Or(rf.Currency, "IDR"),
		"reference_id": rf.ReferenceID, "status": rf.Status, "reason": rf.Reason, "failure_code": failure,
		"refund_fee_amount": nil, "metadata": rf.Metadata,
		"created": rf.Created.Format(time.RFC3339Nano), "updated": time.Now().UTC().Format(time.RFC3339Nano),
	}
}

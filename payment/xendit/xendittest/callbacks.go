package xendittest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"net/http"
	"time"
)

// Callback bodies are shaped as Xendit's documentation shows them, with the fields a
// receiver does not need included, so that a parser that ignores them is exercised.

// InvoiceCallback sets the invoice's status (PAID, SETTLED, EXPIRED) and returns the
// callback Xendit sends for it. An unknown invoice fails the test.
func (s *Server) InvoiceCallback(invoiceID, status string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv := s.invoice(invoiceID)
	if inv == nil {
		s.t.Errorf("xendittest: InvoiceCallback: no invoice %s", invoiceID)
		return nil
	}
	s.setInvoiceStatus(inv, status)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	cb := map[string]any{
		"id": inv.ID, "external_id": inv.ExternalID, "user_id": "5f27a14a9bf05c73dd040bc8",
		"is_high": false, "status": inv.Status, "merchant_name": "Curhat Test",
		"amount": inv.Amount, "currency": inv.Currency, "description": inv.Description,
		"created": inv.Created.Format(time.RFC3339Nano), "updated": now,
	}
	if !inv.PaidAt.IsZero() {
		cb["paid_at"] = inv.PaidAt.Format(time.RFC3339Nano)
		cb["paid_amount"] = inv.Amount
		cb["payment_method"] = "EWALLET"
		cb["payment_channel"] = "OVO"
		cb["payment_destination"] = "TEST815"
		cb["payment_id"] = "ewc_" + randomHex(8)
	}
	return mustJSON(cb)
}

// RefundCallback sets the refund's status (SUCCEEDED or FAILED, with failureCode) and
// returns the refund.succeeded or refund.failed callback. An unknown refund fails the
// test.
func (s *Server) RefundCallback(refundID, status, failureCode string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rf *Refund
	for _, r := range s.refunds {
		if r.ID == refundID {
			rf = r
		}
	}
	if rf == nil {
		s.t.Errorf("xendittest: RefundCallback: no refund %s", refundID)
		return nil
	}
	rf.Status, rf.FailureCode = status, failureCode
	event := "refund.succeeded"
	if status == "FAILED" {
		event = "refund.failed"
	}
	data := refundJSON(rf)
	data["payment_id"] = "ewc_" + randomHex(8)
	return mustJSON(map[string]any{
		"event": event, "business_id": "5f27a14a9bf05c73dd040bc8",
		"created": time.Now().UTC().Format(time.RFC3339Nano), "data": data,
	})
}

// PayoutCallback sets the payout's status (SUCCEEDED, FAILED or REVERSED, with
// failureCode) and returns the payout.succeeded, payout.failed or payout.reversed
// callback. An unknown payout fails the test.
func (s *Server) PayoutCallback(payoutID, status, failureCode string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var p *Payout
	for _, x := range s.payouts {
		if x.ID == payoutID {
			p = x
		}
	}
	if p == nil {
		s.t.Errorf("xendittest: PayoutCallback: no payout %s", payoutID)
		return nil
	}
	p.Status, p.FailureCode = status, failureCode
	events := map[string]string{"SUCCEEDED": "payout.succeeded", "FAILED": "payout.failed", "REVERSED": "payout.reversed"}
	return mustJSON(map[string]any{
		"event": cmp.Or(events[status], "payout."+status), "business_id": "5f27a14a9bf05c73dd040bc8",
		"created": time.Now().UTC().Format(time.RFC3339Nano), "data": payoutJSON(p),
	})
}

// PostCallback posts body to url with the right x-callback-token, and returns the answer's
// HTTP status (0 after a transport error, which fails the test).
func (s *Server) PostCallback(url string, body []byte) int {
	return s.PostCallbackWithToken(url, s.callbackToken, body)
}

// PostForgedCallback posts body to url with a wrong x-callback-token.
func (s *Server) PostForgedCallback(url string, body []byte) int {
	return s.PostCallbackWithToken(url, "forged-"+s.callbackToken, body)
}

// PostCallbackWithToken posts body to url with token as x-callback-token (no header when
// token is empty), as Xendit posts a callback.
func (s *Server) PostCallbackWithToken(url, token string, body []byte) int {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		s.t.Errorf("xendittest: post callback: %v", err)
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("x-callback-token", token)
	}
	resp, err := s.cb.Do(req)
	if err != nil {
		s.t.Errorf("xendittest: post callback to %s: %v", url, err)
		return 0
	}
	defer resp.Body.Close()
	return resp.StatusCode
}

// PostInvoiceCallback posts InvoiceCallback(invoiceID, status) to url, signed.
func (s *Server) PostInvoiceCallback(url, invoiceID, status string) int {
	return s.PostCallback(url, s.InvoiceCallback(invoiceID, status))
}

// PostRefundCallback posts RefundCallback(refundID, status, failureCode) to url, signed.
func (s *Server) PostRefundCallback(url, refundID, status, failureCode string) int {
	return s.PostCallback(url, s.RefundCallback(refundID, status, failureCode))
}

// PostPayoutCallback posts PayoutCallback(payoutID, status, failureCode) to url, signed.
func (s *Server) PostPayoutCallback(url, payoutID, status, failureCode string) int {
	return s.PostCallback(url, s.PayoutCallback(payoutID, status, failureCode))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

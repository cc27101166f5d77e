package xendittest

import (
	"bytes"
	"cmp"
	"net/http"
	"slices"
	"time"
)

func (s *Server) invoice(id string) *Invoice {
	for _, inv := range s.invoices {
		if inv.ID == id {
			return inv
		}
	}
	return nil
}

// createInvoice makes a PENDING invoice (no idempotency key: Xendit takes none), unless
// DeclineInvoices.
func (s *Server) createInvoice(r *http.Request, body []byte) (int, any) {
	obj, ok := s.object(EndpointCreateInvoice, body, []field{
		{name: "external_id", kind: kindString, required: true},
		{name: "amount", kind: kindInteger, required: true},
		{name: "currency", kind: kindString, required: true},
		{name: "invoice_duration", kind: kindInteger},
		{name: "description", kind: kindString},
		{name: "success_redirect_url", kind: kindString},
	})
	if !ok {
		return badRequest()
	}
	amount := integer(obj["amount"])
	duration := integer(obj["invoice_duration"])
	switch {
	case amount <= 0:
		s.t.Errorf("xendittest: %s: amount must be positive, got %d", EndpointCreateInvoice, amount)
		return badRequest()
	case obj["invoice_duration"] != nil && duration < 1:
		s.t.Errorf("xendittest: %s: invoice_duration must be at least 1 second, got %d", EndpointCreateInvoice, duration)
		return badRequest()
	case obj["currency"] != "IDR":
		s.t.Errorf("xendittest: %s: currency must be IDR, got %v", EndpointCreateInvoice, obj["currency"])
		return badRequest()
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.declining {
		return http.StatusBadRequest, apiErr("NO_COLLECTION_METHODS_ERROR", "There is no payment method available for this invoice")
	}
	now := time.Now().UTC()
	inv := &Invoice{
		ID: randomHex(12), ExternalID: obj["external_id"].(string), Status: StatusPending, Amount: amount,
		Currency: "IDR", Duration: duration, Created: now,
		ExpiresAt: now.Add(time.Duration(cmp.Or(duration, 86400)) * time.Second),
	}
	inv.Description, _ = obj["description"].(string)
	inv.SuccessRedirectURL, _ = obj["success_redirect_url"].(string)
	inv.InvoiceURL = s.URL + "/web/" + inv.ID
	s.invoices = append(s.invoices, inv)
	return http.StatusOK, invoiceJSON(inv)
}

func (s *Server) listInvoices(r *http.Request, _ []byte) (int, any) {
	externalID := r.URL.Query().Get("external_id")
	if externalID == "" {
		s.t.Errorf("xendittest: %s: expected an external_id query parameter", EndpointListInvoices)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, inv := range slices.Backward(s.invoices) {
		if externalID == "" || inv.ExternalID == externalID {
			out = append(out, invoiceJSON(inv))
		}
	}
	return http.StatusOK, out
}

func (s *Server) getInvoice(r *http.Request, _ []byte) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv := s.invoice(r.PathValue("id"))
	if inv == nil {
		return http.StatusNotFound, apiErr("INVOICE_NOT_FOUND_ERROR", "Invoice not found")
	}
	return http.StatusOK, invoiceJSON(inv)
}

// expireInvoice expires a pending invoice; any other is "not found", the one error the
// expire endpoint documents.
func (s *Server) expireInvoice(r *http.Request, body []byte) (int, any) {
	if len(bytes.TrimSpace(body)) > 0 {
		s.t.Errorf("xendittest: %s: expected no body, got %q", EndpointExpireInvoice, body)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inv := s.invoice(r.PathValue("id"))
	if inv == nil || inv.Status != StatusPending {
		return http.StatusNotFound, apiErr("INVOICE_NOT_FOUND_ERROR", "Could not find invoice by id")
	}
	inv.Status = StatusExpired
	return http.StatusOK, invoiceJSON(inv)
}

func invoiceJSON(inv *Invoice) map[string]any {
	m := map[string]any{
		"id": inv.ID, "external_id": inv.ExternalID, "user_id": "5f27a14a9bf05c73dd040bc8",
		"status": inv.Status, "merchant_name": "Curhat Test", "merchant_profile_picture_url": "",
		"amount": inv.Amount, "description": inv.Description, "invoice_url": inv.InvoiceURL,
		"expiry_date": inv.ExpiresAt.Format(time.RFC3339Nano), "currency": inv.Currency,
		"available_banks": []any{}, "available_retail_outlets": []any{}, "available_ewallets": []any{},
		"available_qr_codes": []any{}, "available_direct_debits": []any{}, "available_paylaters": []any{},
		"should_exclude_credit_card": false, "should_send_email": false,
		"created": inv.Created.Format(time.RFC3339Nano), "updated": time.Now().UTC().Format(time.RFC3339Nano),
	}
	if inv.SuccessRedirectURL != "" {
		m["success_redirect_url"] = inv.SuccessRedirectURL
	}
	return m
}

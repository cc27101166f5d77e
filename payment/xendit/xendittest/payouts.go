package xendittest

import (
	"net/http"
	"time"

	"github.com/google/uuid"
)

// createPayout makes a payout, as PayoutOutcome says, once per Idempotency-key.
func (s *Server) createPayout(r *http.Request, body []byte) (int, any) {
	key := r.Header.Get("Idempotency-key")
	if key == "" {
		s.t.Errorf("xendittest: %s: the Idempotency-key header is missing", EndpointCreatePayout)
		return badRequest()
	}
	obj, ok := s.object(EndpointCreatePayout, body, []field{
		{name: "reference_id", kind: kindString, required: true},
		{name: "channel_code", kind: kindString, required: true},
		{name: "channel_properties", kind: kindObject, required: true},
		{name: "amount", kind: kindInteger, required: true},
		{name: "currency", kind: kindString, required: true},
		{name: "description", kind: kindString},
		{name: "receipt_notification", kind: kindObject},
		{name: "metadata", kind: kindObject},
	})
	if !ok {
		return badRequest()
	}
	props, ok := s.fields(EndpointCreatePayout+" channel_properties", obj["channel_properties"].(map[string]any), []field{
		{name: "account_number", kind: kindString, required: true},
		{name: "account_holder_name", kind: kindString, required: true},
		{name: "account_type", kind: kindString},
	})
	if !ok {
		return badRequest()
	}
	amount := integer(obj["amount"])
	if amount <= 0 {
		s.t.Errorf("xendittest: %s: amount must be positive, got %d", EndpointCreatePayout, amount)
		return badRequest()
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if status, answer, seen := s.seen(EndpointCreatePayout, key, body); seen {
		return status, answer
	}
	if s.payoutAs == PayoutRejected {
		return http.StatusBadRequest, apiErr("RECIPIENT_ACCOUNT_NUMBER_ERROR", "The account number is invalid for this channel")
	}
	p := &Payout{
		ID: "disb-" + uuid.NewString(), ReferenceID: obj["reference_id"].(string), IdempotencyKey: key,
		ChannelCode: obj["channel_code"].(string), AccountNumber: props["account_number"].(string),
		AccountHolderName: props["account_holder_name"].(string), Currency: obj["currency"].(string),
		Amount: amount, Status: "ACCEPTED", Created: time.Now().UTC(),
	}
	p.Description, _ = obj["description"].(string)
	switch s.payoutAs {
	case PayoutSucceeded:
		p.Status = "SUCCEEDED"
	case PayoutFailed:
		p.Status, p.FailureCode = "FAILED", "INVALID_DESTINATION"
	}
	s.payouts = append(s.payouts, p)
	return s.record(EndpointCreatePayout, key, body, http.StatusOK, payoutJSON(p))
}

func (s *Server) listPayouts(r *http.Request, _ []byte) (int, any) {
	ref := r.URL.Query().Get("reference_id")
	if ref == "" {
		s.t.Errorf("xendittest: %s: reference_id is a required query parameter", EndpointListPayouts)
		return badRequest()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	data := []map[string]any{}
	for _, p := range s.payouts {
		if p.ReferenceID == ref {
			data = append(data, payoutJSON(p))
		}
	}
	return http.StatusOK, map[string]any{"data": data, "has_more": false}
}

func payoutJSON(p *Payout) map[string]any {
	m := map[string]any{
		"id": p.ID, "amount": p.Amount, "channel_code": p.ChannelCode, "currency": p.Currency,
		"status": p.Status, "description": p.Description, "reference_id": p.ReferenceID,
		"business_id": "5f27a14a9bf05c73dd040bc8",
		"channel_properties": map[string]any{
			"account_number": p.AccountNumber, "account_holder_name": p.AccountHolderName,
		},
		"created": p.Created.Format(time.RFC3339Nano), "updated": time.Now().UTC().Format(time.RFC3339Nano),
		"estimated_arrival_time": p.Created.Add(time.Hour).Format(time.RFC3339Nano),
	}
	if p.FailureCode != "" {
		m["failure_code"] = p.FailureCode
	}
	return m
}

package main

// The fake gateway's refund switches, so that every way a provider answers a refund can
// be driven black-box (tests, demos): refuse the next refunds (the retry sweep tries
// again), answer that it can never make them (they become manual: an operator pays them
// by hand and records it with settle-manually), or accept them to settle later
// (processing) and deliver that outcome on an operator's word, as a real provider's
// callback would. Like the rest of the fake gateway, these routes exist only while it is
// the gateway in use.

import (
	"net/http"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/payment"
)

// maxFakeRefundFailures bounds the count of POST /api/internal/fake-gateway/refund-failures.
const maxFakeRefundFailures = 1000

// fakeRefundMode is how the fake gateway answers the refunds an operator singled out.
type fakeRefundMode string

const (
	// fakeRefundRefuse: declined (payment.ErrFakeRefundDeclined); the sweep retries them.
	fakeRefundRefuse fakeRefundMode = "refuse"
	// fakeRefundNotPossible: the provider can never make them (payment.ErrRefundNotPossible):
	// they become manual and are never retried.
	fakeRefundNotPossible fakeRefundMode = "not_possible"
	// fakeRefundProcessing: accepted, settled later; the outcome comes through
	// POST /api/internal/fake-gateway/refunds/{id}/outcome.
	fakeRefundProcessing fakeRefundMode = "processing"
)

// fakeRefundFailures sets how the fake gateway answers the next count refunds: mode
// refuse (the default), not_possible or processing. A call replaces the previous one;
// count 0 makes every refund go through at once again. Without the fake gateway the route
// does not exist: 404 NOT_FOUND.
func (s *Server) fakeRefundFailures(w http.ResponseWriter, r *http.Request, c caller) error {
	fake := s.app.fakeGateway
	if fake == nil || s.app.checkout == nil {
		return newAPIError(http.StatusNotFound, "NOT_FOUND", "the payment gateway is not the fake one")
	}
	var body struct {
		Count *int    `json:"count"`
		Mode  *string `json:"mode"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.Count == nil {
		return curhat.Invalid("count", "is required")
	}
	if *body.Count < 0 || *body.Count > maxFakeRefundFailures {
		return curhat.Invalid("count", "must be 0..%d", maxFakeRefundFailures)
	}
	mode := fakeRefundRefuse
	if body.Mode != nil {
		mode = fakeRefundMode(*body.Mode)
	}
	switch mode {
	case fakeRefundRefuse, fakeRefundNotPossible, fakeRefundProcessing:
		fake.FailNextRefunds(0)
		fake.AnswerNextRefunds(*body.Count, payment.FakeRefundAnswer(mode))
	default:
		return curhat.Invalid("mode", "must be refuse, not_possible or processing")
	}
	s.audit(r, c, "fake_gateway.refund_failures", "fake_gateway", "refunds", nil, map[string]any{"count": *body.Count, "mode": mode})
	writeJSON(w, http.StatusOK, map[string]any{"count": *body.Count, "mode": mode})
	return nil
}

// fakeRefundOutcome is the fake provider's later word on a refund it accepted
// (processing), delivered as a real provider's callback is (payment.Service.RefundOutcome):
// succeeded; failed, and retried with a new idempotency key; or, with not_possible, never
// possible: manual. A refund already decided is answered as it is; an unknown one is 404.
func (s *Server) fakeRefundOutcome(w http.ResponseWriter, r *http.Request, c caller) error {
	if s.app.fakeGateway == nil {
		return newAPIError(http.StatusNotFound, "NOT_FOUND", "the payment gateway is not the fake one")
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var body struct {
		Succeeded   *bool   `json:"succeeded"`
		Reason      *string `json:"reason"`
		NotPossible bool    `json:"not_possible"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.Succeeded == nil {
		return curhat.Invalid("succeeded", "is required")
	}
	o := payment.RefundOutcome{RefundID: id, Succeeded: *body.Succeeded, NotPossible: body.NotPossible,
		ProviderRef: "fake_rf_" + id.String()}
	switch {
	case o.Succeeded && o.NotPossible:
		return curhat.Invalid("not_possible", "goes only with succeeded false")
	case o.Succeeded && body.Reason != nil:
		return curhat.Invalid("reason", "goes only with succeeded false")
	case body.Reason != nil && *body.Reason != "":
		if len(*body.Reason) > payment.MaxRefundReasonLen {
			return curhat.Invalid("reason", "must be at most %d bytes of UTF-8 text", payment.MaxRefundReasonLen)
		}
		if err := validText("reason", *body.Reason); err != nil {
			return err
		}
		o.Reason = *body.Reason
	case o.NotPossible:
		o.Reason = payment.ErrFakeRefundNotPossible.Error()
	case !o.Succeeded:
		o.Reason = payment.ErrFakeRefundDeclined.Error()
	}
	before, err := s.app.payments.GetRefund(r.Context(), id)
	if err != nil {
		return err
	}
	ref, err := s.app.payments.RefundOutcome(r.Context(), o)
	if err != nil {
		return err
	}
	s.audit(r, c, "fake_gateway.refund_outcome", "refund", id.String(), toRefundJSON(before), toRefundJSON(ref))
	writeJSON(w, http.StatusOK, toRefundJSON(ref))
	return nil
}

package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"github.com/curhat/curhat"
)

func (s *Server) webhookRoutes() {
	s.handle("POST", "/api/payments/webhook", rolePublic, s.paymentWebhook)
}

var errBadSignature = newAPIError(http.StatusUnauthorized, "UNAUTHENTICATED", "missing or invalid X-Signature")

// signBody returns hex(HMAC-SHA256(secret, body)), the X-Signature of a webhook.
func signBody(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// errProviderRefMismatch: the webhook names a charge other than the one the payment was
// created with — a misrouted or forged-by-replay confirmation, not to be applied.
var errProviderRefMismatch = newAPIError(http.StatusConflict, "PROVIDER_REF_MISMATCH",
	"provider_ref does not match the payment's charge")

// paymentWebhook receives the provider's confirmation. The signature is checked over the
// raw body before anything is parsed; duplicates are no-ops (MarkPaid/MarkFailed are
// idempotent). Fields the provider adds are ignored; provider_ref, when both the payment
// and the webhook have one, must be the payment's.
func (s *Server) paymentWebhook(w http.ResponseWriter, r *http.Request, _ caller) error {
	raw, err := readBody(w, r)
	if err != nil {
		return err
	}
	got, err := hex.DecodeString(r.Header.Get("X-Signature"))
	want, _ := hex.DecodeString(signBody(s.app.cfg.PaymentWebhookSecret, raw))
	if err != nil || len(got) == 0 || !hmac.Equal(got, want) {
		return errBadSignature
	}
	var body struct {
		PaymentID   string `json:"payment_id"`
		Status      string `json:"status"`
		ProviderRef string `json:"provider_ref"`
	}
	if err := unmarshalBody(raw, &body, false); err != nil {
		return err
	}
	id, err := bodyID("payment_id", body.PaymentID)
	if err != nil {
		return err
	}
	if len(body.ProviderRef) > 200 {
		return curhat.Invalid("provider_ref", "must be at most 200 characters")
	}
	if err := validText("provider_ref", body.ProviderRef); err != nil {
		return err
	}
	if body.Status != "paid" && body.Status != "failed" {
		return curhat.Invalid("status", "must be paid or failed")
	}
	if body.ProviderRef != "" {
		p, err := s.app.payments.Get(r.Context(), id)
		if err != nil {
			return err
		}
		if p.ProviderRef != "" && p.ProviderRef != body.ProviderRef {
			s.log.WarnContext(r.Context(), "webhook refused: provider_ref is not the payment's", "request_id", w.Header().Get(requestIDHeader),
				"payment", id, "status", body.Status, "payment_provider_ref", p.ProviderRef, "webhook_provider_ref", body.ProviderRef)
			return errProviderRefMismatch
		}
	}
	if body.Status == "paid" {
		_, err = s.app.payments.MarkPaid(r.Context(), id, body.ProviderRef)
	} else {
		_, err = s.app.payments.MarkFailed(r.Context(), id, body.ProviderRef)
	}
	if err != nil {
		return err
	}
	p, err := s.app.payments.Get(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"payment": toPaymentJSON(p)})
	return nil
}

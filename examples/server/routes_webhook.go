package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
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

// paymentWebhook receives the provider's confirmation. The signature is checked over the
// raw body before anything is parsed; duplicates are no-ops (MarkPaid/MarkFailed are
// idempotent).
func (s *Server) paymentWebhook(w http.ResponseWriter, r *http.Request, _ caller) error {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return err
	}
	got, err := hex.DecodeString(r.Header.Get("X-Signature"))
	want, _ := hex.DecodeString(signBody(s.app.cfg.PaymentWebhookSecret, raw))
	if err != nil || len(got) == 0 || !hmac.Equal(got, want) {
		return errBadSignature
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	var body struct {
		PaymentID   string `json:"payment_id"`
		Status      string `json:"status"`
		ProviderRef string `json:"provider_ref"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
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
	switch body.Status {
	case "paid":
		_, err = s.app.payments.MarkPaid(r.Context(), id, body.ProviderRef)
	case "failed":
		_, err = s.app.payments.MarkFailed(r.Context(), id, body.ProviderRef)
	default:
		return curhat.Invalid("status", "must be paid or failed")
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

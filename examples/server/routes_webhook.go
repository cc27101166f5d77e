package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/payment"
)

func (s *Server) webhookRoutes() {
	s.handle("POST", "/api/payments/webhook", rolePublic, s.paymentWebhook)
}

// The webhook's signature errors say which part is wrong, never what the right value is
// (the secret stays out of every answer).
var (
	errSignatureMissing = newAPIError(http.StatusUnauthorized, "UNAUTHENTICATED",
		"X-Signature is missing: send the lowercase hex of HMAC-SHA256(PAYMENT_WEBHOOK_SECRET, raw body)")
	errSignatureNotHex = newAPIError(http.StatusUnauthorized, "UNAUTHENTICATED",
		"X-Signature is not 64 hex digits: send the hex digest alone, without a prefix such as sha256= or the rest of the openssl output")
	errSignatureMismatch = newAPIError(http.StatusUnauthorized, "UNAUTHENTICATED",
		"X-Signature does not match the body: sign the exact bytes sent with PAYMENT_WEBHOOK_SECRET (printf '%%s' \"$BODY\", not echo, which adds a newline)")
)

// checkSignature checks header, the X-Signature of raw.
func checkSignature(secret string, raw []byte, header string) error {
	if header == "" {
		return errSignatureMissing
	}
	got, err := hex.DecodeString(header)
	if err != nil || len(got) != sha256.Size {
		return errSignatureNotHex
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(raw)
	if !hmac.Equal(got, m.Sum(nil)) {
		return errSignatureMismatch
	}
	return nil
}

// signBody returns hex(HMAC-SHA256(secret, body)), the X-Signature of a webhook.
func signBody(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// errProviderRefMismatch: the webhook names a charge other than the one the payment was
// created with — a misrouted or forged-by-replay confirmation, not to be applied
// (payment.ErrProviderRefMismatch).
var errProviderRefMismatch = newAPIError(http.StatusConflict, "PROVIDER_REF_MISMATCH",
	"provider_ref does not match the payment's charge")

// paymentWebhook receives the provider's confirmation. The signature is checked over the
// raw body before anything is parsed; duplicates are no-ops (MarkPaid/MarkFailed are
// idempotent). Fields the provider adds are ignored; provider_ref, when both the payment
// and the webhook have one, must be the payment's. The answer is the payment as the
// confirmation left it.
func (s *Server) paymentWebhook(w http.ResponseWriter, r *http.Request, _ caller) error {
	raw, err := readBody(w, r)
	if err != nil {
		return err
	}
	if err := checkSignature(s.app.cfg.PaymentWebhookSecret, raw, r.Header.Get("X-Signature")); err != nil {
		return err
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
	var p payment.Session
	if body.Status == "paid" {
		// The provider_ref is checked in the write itself (no read before it).
		p, err = s.app.payments.MarkPaidMatching(r.Context(), id, body.ProviderRef)
	} else {
		p, err = s.markFailed(r.Context(), id, body.ProviderRef)
	}
	if errors.Is(err, payment.ErrProviderRefMismatch) {
		s.log.WarnContext(r.Context(), "webhook refused: provider_ref is not the payment's", "request_id", w.Header().Get(requestIDHeader),
			"payment", id, "status", body.Status, "payment_provider_ref", p.ProviderRef, "webhook_provider_ref", body.ProviderRef)
		return errProviderRefMismatch
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"payment": toPaymentJSON(p)})
	return nil
}

// markFailed applies a "failed" confirmation, unless it names a charge other than the
// payment's (payment.ErrProviderRefMismatch, with the payment as it is).
func (s *Server) markFailed(ctx context.Context, id uuid.UUID, providerRef string) (payment.Session, error) {
	if providerRef != "" {
		p, err := s.app.payments.Get(ctx, id)
		if err != nil {
			return p, err
		}
		if p.ProviderRef != "" && p.ProviderRef != providerRef {
			return p, payment.ErrProviderRefMismatch
		}
	}
	return s.app.payments.MarkFailed(ctx, id, providerRef)
}

package main

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
)

// Payments for operators (SPEC §24, Lookup and Live work): a payment's whole story, a
// client's timeline (timeline.go), an operator's refund of any paid payment, and an
// operator's end of a running chat with the refund they choose.
//
//   - GET /api/internal/payments/{id} → {payment, refunds, timeline}.
//   - GET /api/internal/clients/{id}/timeline → {items}.
//   - POST /api/internal/payments/{id}/refunds {amount, reason, reverse_earning} with the
//     header Idempotency-Key (payment.Service.OperatorRefund): 200 {refund, payment}, the
//     refund as it stands after it was sent. The key names the refund: the same key again
//     answers that refund (a replay: nothing is sent twice) whatever reverse_earning says
//     — it allows, it does not describe — and with another amount or reason 422
//     IDEMPOTENCY_KEY_REUSED. Beyond what is left of the payment (its amount less every
//     refund, whatever its status): 409 REFUND_EXCEEDS_REMAINING; beyond what no chat
//     session earned, without reverse_earning: 409 EARNING_REVERSAL_REQUIRED — both with
//     remaining and unearned. A payment never paid: 409 INVALID_STATE.
//   - POST /api/internal/chat-sessions/{id}/end {reason, refund: none|unused|full}
//     (pairing.Pairer.EndByOperator): 200 {chat_session, refunds}. A session that is not
//     active: 409 INVALID_STATE.

func (s *Server) paymentOpsRoutes() {
	s.handle("GET", "/api/internal/payments/{id}", roleViewer, s.getPaymentStory)
	s.handle("POST", "/api/internal/payments/{id}/refunds", roleSupport, s.refundPayment)
	s.handle("GET", "/api/internal/clients/{id}/timeline", roleViewer, s.clientTimeline)
	s.handle("POST", "/api/internal/chat-sessions/{id}/end", roleSupport, s.operatorEndSession)
}

// operatorPaymentJSON is a payment as operators see it: the client's shape, what it is
// for, and what is left to refund.
type operatorPaymentJSON struct {
	paymentJSON
	ClientID      uuid.UUID  `json:"client_id"`
	PairingID     *uuid.UUID `json:"pairing_id"`
	ChatSessionID *uuid.UUID `json:"chat_session_id"`
	ExtensionID   *uuid.UUID `json:"extension_id"`
	Minutes       int        `json:"minutes"`
	ProviderRef   *string    `json:"provider_ref"`
	// PlatformFeePercent is the platform's share fixed when it was paid (null before).
	PlatformFeePercent *int      `json:"platform_fee_percent"`
	UpdatedAt          time.Time `json:"updated_at"`
	// Refundable is what an operator may still refund: the amount less every refund,
	// whatever its status (a failed refund is retried, so it keeps its share). Null when the
	// payment was never paid.
	Refundable *int64 `json:"refundable"`
}

func toOperatorPaymentJSON(p payment.Session, refunds []payment.Refund) operatorPaymentJSON {
	out := operatorPaymentJSON{paymentJSON: toPaymentJSON(p), ClientID: p.ClientID, PairingID: p.PairingID,
		ChatSessionID: p.ChatSessionID, ExtensionID: p.ExtensionID, Minutes: p.Minutes, ProviderRef: strPtr(p.ProviderRef),
		PlatformFeePercent: p.PlatformFeePercent, UpdatedAt: p.UpdatedAt.UTC()}
	if p.Status.Charged() {
		left := p.Amount
		for _, r := range refunds {
			left -= r.Amount
		}
		out.Refundable = new(max(left, 0))
	}
	return out
}

func toRefundsJSON(rs []payment.Refund) []refundJSON {
	out := make([]refundJSON, 0, len(rs))
	for _, r := range rs {
		out = append(out, toRefundJSON(r))
	}
	return out
}

// getPaymentStory is GET /api/internal/payments/{id}: the payment, its refunds (oldest
// first) and the timeline of its story (timeline.go).
func (s *Server) getPaymentStory(w http.ResponseWriter, r *http.Request, _ caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	p, refunds, items, err := s.app.paymentStory(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"payment": toOperatorPaymentJSON(p, refunds), "refunds": toRefundsJSON(refunds), "timeline": items,
	})
	return nil
}

// clientTimeline is GET /api/internal/clients/{id}/timeline: the stories of the client's
// latest pairings (timeline.go). An unknown client is 404.
func (s *Server) clientTimeline(w http.ResponseWriter, r *http.Request, _ caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.app.pairer.GetClient(r.Context(), id); err != nil {
		return err
	}
	items, err := s.app.clientTimeline(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

// refundPayment is POST /api/internal/payments/{id}/refunds (see the file's doc).
func (s *Server) refundPayment(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var body struct {
		Amount         *int64  `json:"amount"`
		Reason         *string `json:"reason"`
		ReverseEarning *bool   `json:"reverse_earning"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	switch {
	case body.Amount == nil:
		return curhat.Invalid("amount", "is required")
	case body.Reason == nil || strings.TrimSpace(*body.Reason) == "":
		return curhat.Invalid("reason", "is required: say why the money goes back")
	}
	if err := validText("reason", *body.Reason); err != nil {
		return err
	}
	key := r.Header.Get("Idempotency-Key")
	if !payment.ValidOperatorRefundKey(key) {
		return curhat.Invalid("Idempotency-Key", "is required: 1..%d printable ASCII characters naming this refund",
			payment.MaxOperatorRefundKeyLen)
	}
	before, err := s.app.payments.Get(r.Context(), id)
	if err != nil {
		return err
	}
	ref, pay, err := s.app.payments.OperatorRefund(r.Context(), payment.OperatorRefundParams{
		PaymentID: id, Key: key, Amount: *body.Amount, Reason: *body.Reason,
		ReverseEarning: body.ReverseEarning != nil && *body.ReverseEarning,
	})
	var limit *payment.RefundLimitError
	if errors.As(err, &limit) {
		ae, _ := toAPIError(err) // REFUND_EXCEEDS_REMAINING or EARNING_REVERSAL_REQUIRED
		ae.Details = map[string]any{"remaining": limit.Remaining, "unearned": limit.Unearned}
		return ae
	}
	if err != nil {
		return err
	}
	refunds, err := s.app.refundsOf(r.Context(), id)
	if err != nil {
		return err
	}
	s.app.log.InfoContext(r.Context(), "payment refunded by an operator", "payment_id", id, "refund_id", ref.ID,
		"amount", ref.Amount, "status", ref.Status, "operator_id", c.ID)
	out := map[string]any{"refund": toRefundJSON(ref), "payment": toOperatorPaymentJSON(pay, refunds)}
	s.audit(r, c, "payment.refund", "payment", id.String(), toOperatorPaymentJSON(before, nil), out)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// operatorEndSession is POST /api/internal/chat-sessions/{id}/end (see the file's doc):
// the session as it ended and its refunds as they stand once sent.
func (s *Server) operatorEndSession(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var body struct {
		Reason *string `json:"reason"`
		Refund *string `json:"refund"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	switch {
	case body.Refund == nil || !pairing.EndRefund(*body.Refund).Valid():
		return curhat.Invalid("refund", "must be none, unused or full")
	case body.Reason == nil || strings.TrimSpace(*body.Reason) == "":
		return curhat.Invalid("reason", "is required: say why the chat ends")
	}
	if err := validText("reason", *body.Reason); err != nil {
		return err
	}
	before, err := s.app.pairer.GetChatSession(r.Context(), id)
	if err != nil {
		return err
	}
	ended, recorded, err := s.app.pairer.EndByOperator(r.Context(), pairing.OperatorEndParams{
		SessionID: id, Refund: pairing.EndRefund(*body.Refund), Reason: *body.Reason,
	})
	if err != nil {
		return err
	}
	// As they stand once sent (EndByOperator sends them before it returns).
	refunds := make([]payment.Refund, len(recorded))
	for i, rec := range recorded {
		if refunds[i], err = s.app.payments.GetRefund(r.Context(), rec.ID); err != nil {
			return err
		}
	}
	out := map[string]any{"chat_session": toSessionJSON(ended), "refunds": toRefundsJSON(refunds)}
	s.audit(r, c, "chat_session.end", "chat_session", id.String(), toSessionJSON(before), out)
	writeJSON(w, http.StatusOK, out)
	return nil
}

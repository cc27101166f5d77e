package main

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/payment"
)

// Refunds for operators: the list, a retry now, and the record of a refund the payment
// provider cannot make that an operator paid by hand. The fake gateway's switches that
// make refunds refused, impossible or slow are in fake_refunds.go.

func (s *Server) refundRoutes() {
	s.handle("GET", "/api/internal/refunds", roleViewer, s.listRefunds)
	s.handle("POST", "/api/internal/refunds/{id}/retry", roleSupport, s.retryRefund)
	s.handle("POST", "/api/internal/refunds/{id}/settle-manually", roleSupport, s.settleRefundManually)
	// POST /api/internal/fake-gateway/refund-failures and …/refunds/{id}/outcome are among
	// the fake gateway's routes (fake_checkout.go): they exist only while the fake is in use.
}

// refundJSON is the API shape of a refund.
type refundJSON struct {
	ID            uuid.UUID  `json:"id"`
	PaymentID     uuid.UUID  `json:"payment_id"`
	Amount        int64      `json:"amount"`
	Currency      string     `json:"currency"`
	Reason        string     `json:"reason"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	LastError     *string    `json:"last_error,omitempty"`
	Note          *string    `json:"note"` // how an operator paid a manual refund by hand
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

func toRefundJSON(r payment.Refund) refundJSON {
	return refundJSON{ID: r.ID, PaymentID: r.PaymentID, Amount: r.Amount, Currency: r.Currency, Reason: r.Reason,
		Status: string(r.Status), Attempts: r.Attempts, NextAttemptAt: utcPtr(r.NextAttemptAt), LastError: strPtr(r.LastError),
		Note: strPtr(r.Note), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

func (s *Server) listRefunds(w http.ResponseWriter, r *http.Request, _ caller) error {
	q := r.URL.Query()
	f := payment.RefundFilter{Status: payment.RefundStatus(q.Get("status")), Page: 1, PageSize: payment.DefaultRefundPageSize}
	if f.Status != "" && !f.Status.Valid() {
		return curhat.Invalid("status", "must be one of pending, processing, succeeded, failed, manual")
	}
	for _, p := range []struct {
		name string
		dst  *int
		max  int
	}{{"page", &f.Page, 1_000_000}, {"page_size", &f.PageSize, payment.MaxRefundPageSize}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > p.max {
				return curhat.Invalid(p.name, "must be an integer in 1..%d", p.max)
			}
			*p.dst = n
		}
	}
	items, total, err := s.app.payments.ListRefunds(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]refundJSON, 0, len(items))
	for _, it := range items {
		out = append(out, toRefundJSON(it))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "page": f.Page, "page_size": f.PageSize, "total": total})
	return nil
}

// retryRefund makes one attempt now, whatever the refund's backoff or attempts; a
// refund that succeeded already is 409 INVALID_STATE, one with an attempt in flight on
// any instance (or processing: the provider has it) 409 REFUND_IN_FLIGHT
// (payment.ErrRefundInFlight), and a manual one 409 REFUND_MANUAL: the provider can
// never make it, so an operator pays it by hand and records that (settle-manually).
func (s *Server) retryRefund(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	before, err := s.app.payments.GetRefund(r.Context(), id)
	if err != nil {
		return err
	}
	ref, err := s.app.payments.RetryRefund(r.Context(), id)
	if errors.Is(err, curhat.ErrInvalidState) {
		// The SDK refuses a succeeded refund and a manual one alike; the operator's next
		// step differs, so the answer says which.
		if before.Status == payment.RefundManual {
			return errRefundManual
		}
	}
	if err != nil {
		return err
	}
	s.audit(r, c, "refund.retry", "refund", id.String(), toRefundJSON(before), toRefundJSON(ref))
	writeJSON(w, http.StatusOK, toRefundJSON(ref))
	return nil
}

// errRefundManual answers a retry of a manual refund.
var errRefundManual = newAPIError(http.StatusConflict, "REFUND_MANUAL",
	"the payment provider cannot make this refund, so it is not retried: pay it by hand, then record it with POST /api/internal/refunds/{id}/settle-manually")

// settleRefundManually records that an operator paid a manual refund by hand; the note
// (required) says how, for the accounts. The refund succeeds and is posted to the ledger
// like one the provider made. A refund in any other status is 409 NOT_MANUAL: the
// provider makes those, and paying one by hand as well would pay it twice.
func (s *Server) settleRefundManually(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var body struct {
		Note *string `json:"note"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.Note == nil || strings.TrimSpace(*body.Note) == "" {
		return curhat.Invalid("note", "is required: say how the refund was paid (for example the bank transfer's reference)")
	}
	if len(*body.Note) > payment.MaxRefundReasonLen {
		return curhat.Invalid("note", "must be at most %d bytes of UTF-8 text", payment.MaxRefundReasonLen)
	}
	if err := validText("note", *body.Note); err != nil {
		return err
	}
	before, err := s.app.payments.GetRefund(r.Context(), id)
	if err != nil {
		return err
	}
	ref, err := s.app.payments.SettleManually(r.Context(), id, *body.Note)
	if errors.Is(err, curhat.ErrInvalidState) {
		if ref.Status == "" {
			return newAPIError(http.StatusConflict, "NOT_MANUAL", "only a manual refund (one the payment provider cannot make) is settled by hand")
		}
		return newAPIError(http.StatusConflict, "NOT_MANUAL",
			"this refund is %s, not manual: only a refund the payment provider cannot make is settled by hand", ref.Status)
	}
	if err != nil {
		return err
	}
	s.app.log.InfoContext(r.Context(), "refund settled by hand", "refund_id", ref.ID, "payment_id", ref.PaymentID,
		"amount", ref.Amount, "operator_id", c.ID)
	s.audit(r, c, "refund.settle_manually", "refund", id.String(), toRefundJSON(before), toRefundJSON(ref))
	writeJSON(w, http.StatusOK, toRefundJSON(ref))
	return nil
}

package main

import (
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/payment"
)

// Refunds for operators: the list, a retry now, and the fake gateway's switch
// that refuses the next refunds so retries can be tested black-box.

// maxFakeRefundFailures bounds POST /api/internal/fake-gateway/refund-failures.
const maxFakeRefundFailures = 1000

func (s *Server) refundRoutes() {
	s.handle("GET", "/api/internal/refunds", roleOperator, s.listRefunds)
	s.handle("POST", "/api/internal/refunds/{id}/retry", roleOperator, s.retryRefund)
	// POST /api/internal/fake-gateway/refund-failures is among the fake gateway's routes
	// (fake_checkout.go): it exists only while the fake is in use.
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
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

func toRefundJSON(r payment.Refund) refundJSON {
	return refundJSON{ID: r.ID, PaymentID: r.PaymentID, Amount: r.Amount, Currency: r.Currency, Reason: r.Reason,
		Status: string(r.Status), Attempts: r.Attempts, NextAttemptAt: utcPtr(r.NextAttemptAt), LastError: strPtr(r.LastError),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

func (s *Server) listRefunds(w http.ResponseWriter, r *http.Request, _ caller) error {
	q := r.URL.Query()
	f := payment.RefundFilter{Status: payment.RefundStatus(q.Get("status")), Page: 1, PageSize: payment.DefaultRefundPageSize}
	if f.Status != "" && !f.Status.Valid() {
		return curhat.Invalid("status", "must be one of pending, succeeded, failed")
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
// any instance 409 REFUND_IN_FLIGHT (payment.ErrRefundInFlight).
func (s *Server) retryRefund(w http.ResponseWriter, r *http.Request, _ caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ref, err := s.app.payments.RetryRefund(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toRefundJSON(ref))
	return nil
}

// fakeRefundFailures tells the fake gateway to refuse the next count refunds (0 stops
// refusing). Without the fake gateway the route does not exist: 404 NOT_FOUND.
func (s *Server) fakeRefundFailures(w http.ResponseWriter, r *http.Request, _ caller) error {
	fake := s.app.fakeGateway
	if fake == nil {
		return newAPIError(http.StatusNotFound, "NOT_FOUND", "the payment gateway is not the fake one")
	}
	var body struct {
		Count *int `json:"count"`
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
	fake.FailNextRefunds(*body.Count)
	writeJSON(w, http.StatusOK, map[string]any{"count": *body.Count})
	return nil
}

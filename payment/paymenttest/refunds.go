package paymenttest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/payment"
)

// The refunds of the in-memory Store: the rules of the Postgres one, each call atomic
// under the store's lock.

// reserved sums every refund of a payment, whatever its status.
func (s *Store) reserved(paymentID uuid.UUID) int64 {
	var n int64
	for _, r := range s.refunds {
		if r.PaymentID == paymentID {
			n += r.Amount
		}
	}
	return n
}

// view is a refund as returned: with its payment's currency and charge reference.
func (s *Store) view(r payment.Refund) payment.Refund {
	p := s.sessions[r.PaymentID]
	r.Currency, r.ChargeRef = p.Currency, p.ProviderRef
	if r.NextAttemptAt != nil {
		t := *r.NextAttemptAt
		r.NextAttemptAt = &t
	}
	return r
}

func (s *Store) RecordRefund(_ context.Context, r payment.RefundRecord) ([]payment.Refund, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at := truncate(r.At)
	var from []uuid.UUID
	for _, id := range r.From {
		if !slices.Contains(from, id) {
			from = append(from, id)
		}
	}
	for _, id := range from {
		if _, ok := s.sessions[id]; !ok {
			return nil, fmt.Errorf("record refund (%s): payment %s: %w", r.Cause, id, payment.ErrNotFound)
		}
	}
	wanted := r.Amount
	var out []payment.Refund
	for _, id := range from {
		rid := payment.RefundID(id, r.Cause)
		if x, ok := s.refunds[rid]; ok {
			out = append(out, s.view(x))
			wanted -= x.Amount
			continue
		}
		if r.Amount > 0 && wanted <= 0 {
			break
		}
		p := s.sessions[id]
		switch {
		case r.Late && !p.Status.Closed():
			return nil, fmt.Errorf("record refund (%s): late payment %s is %s, not closed: %w", r.Cause, id, p.Status, payment.ErrInvalidState)
		case r.Late:
			p.Status, p.PaidAt, p.HandledAt, p.UpdatedAt = payment.StatusPaid, &at, &at, at
			if p.ProviderRef == "" {
				p.ProviderRef = r.ProviderRef
			}
			s.sessions[id] = p
		case !p.Status.Charged():
			continue
		}
		take := p.Amount - s.reserved(id)
		if r.Amount > 0 {
			take = min(take, wanted)
		}
		if take <= 0 {
			continue
		}
		x := payment.Refund{ID: rid, PaymentID: id, Amount: take, Cause: r.Cause, Reason: r.Reason,
			Status: payment.RefundPending, CreatedAt: at, UpdatedAt: at}
		s.refunds[rid] = x
		wanted -= take
		out = append(out, s.view(x))
	}
	return out, nil
}

func (s *Store) ClaimRefund(_ context.Context, c payment.RefundClaim) (payment.Refund, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refunds[c.ID]
	if !ok {
		return payment.Refund{}, false, fmt.Errorf("get refund %s: %w", c.ID, payment.ErrNotFound)
	}
	at := truncate(c.At)
	// In flight: claimed for an attempt whose outcome is not recorded and whose lease is
	// not over. Checked and claimed under the one lock, as Postgres does in one UPDATE.
	inFlight := r.Status == payment.RefundPending && r.Attempts > 0 && r.NextAttemptAt != nil && r.NextAttemptAt.After(at)
	var may bool
	switch c.Mode {
	case payment.ClaimFirst:
		may = r.Status == payment.RefundPending && r.Attempts == 0
	case payment.ClaimNow:
		may = r.Status == payment.RefundFailed || (r.Status == payment.RefundPending && !inFlight)
	default:
		return payment.Refund{}, false, fmt.Errorf("claim refund %s: unknown claim mode %d", c.ID, c.Mode)
	}
	switch {
	case may:
		return s.claim(r, at, c.Lease), true, nil
	case inFlight:
		return s.view(r), false, fmt.Errorf("claim refund %s: %w", c.ID, payment.ErrRefundInFlight)
	}
	return s.view(r), false, nil
}

// claim starts an attempt of r: pending while in flight, its lease in NextAttemptAt.
func (s *Store) claim(r payment.Refund, at time.Time, lease time.Duration) payment.Refund {
	next := at.Add(lease)
	r.Status, r.Attempts, r.NextAttemptAt, r.UpdatedAt = payment.RefundPending, r.Attempts+1, &next, at
	s.refunds[r.ID] = r
	return s.view(r)
}

func (s *Store) ClaimDueRefunds(_ context.Context, at time.Time, lease time.Duration, limit int) ([]payment.Refund, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at = truncate(at)
	var due []payment.Refund
	for _, r := range s.refunds {
		switch {
		case r.Status != payment.RefundPending && r.Status != payment.RefundFailed:
		case r.NextAttemptAt != nil && !r.NextAttemptAt.After(at):
			due = append(due, r)
		case r.Status == payment.RefundPending && r.NextAttemptAt == nil && !r.CreatedAt.After(at.Add(-lease)):
			due = append(due, r)
		}
	}
	slices.SortFunc(due, func(a, b payment.Refund) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), slices.Compare(a.ID[:], b.ID[:]))
	})
	if limit >= 0 && len(due) > limit {
		due = due[:limit]
	}
	out := make([]payment.Refund, 0, len(due))
	for _, r := range due {
		out = append(out, s.claim(r, at, lease))
	}
	return out, nil
}

func (s *Store) FinishRefund(_ context.Context, o payment.RefundAttempt) (payment.Refund, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refunds[o.ID]
	if !ok {
		return payment.Refund{}, false, fmt.Errorf("get refund %s: %w", o.ID, payment.ErrNotFound)
	}
	at := truncate(o.At)
	open := r.Status == payment.RefundPending || r.Status == payment.RefundFailed
	switch {
	case o.Succeeded && open:
		r.Status, r.ProviderRef, r.NextAttemptAt, r.LastError = payment.RefundSucceeded, o.ProviderRef, nil, ""
	case !o.Succeeded && open && r.Attempts == o.Attempt:
		r.Status, r.LastError = payment.RefundFailed, o.Error
		r.NextAttemptAt = nil
		if o.NextAttemptAt != nil {
			t := truncate(*o.NextAttemptAt)
			r.NextAttemptAt = &t
		}
	default:
		return s.view(r), false, nil
	}
	r.UpdatedAt = at
	s.refunds[r.ID] = r
	s.settle(r.PaymentID, at)
	return s.view(r), true, nil
}

// settle derives a charged payment's refunded_amount and status from its refunds.
func (s *Store) settle(paymentID uuid.UUID, at time.Time) {
	p := s.sessions[paymentID]
	if !p.Status.Charged() {
		return
	}
	var succeeded int64
	failed := 0
	for _, r := range s.refunds {
		if r.PaymentID != paymentID {
			continue
		}
		switch r.Status {
		case payment.RefundSucceeded:
			succeeded += r.Amount
		case payment.RefundFailed:
			failed++
		}
	}
	p.RefundedAmount, p.UpdatedAt = succeeded, at
	switch {
	case failed > 0:
		p.Status = payment.StatusRefundFailed
	case succeeded >= p.Amount:
		p.Status = payment.StatusRefunded
	case succeeded > 0:
		p.Status = payment.StatusPartiallyRefunded
	default:
		p.Status = payment.StatusPaid
	}
	s.sessions[paymentID] = p
}

func (s *Store) GetRefund(_ context.Context, id uuid.UUID) (payment.Refund, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refunds[id]
	if !ok {
		return payment.Refund{}, fmt.Errorf("get refund %s: %w", id, payment.ErrNotFound)
	}
	return s.view(r), nil
}

func (s *Store) ListRefunds(_ context.Context, f payment.RefundFilter) ([]payment.Refund, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []payment.Refund
	for _, r := range s.refunds {
		switch {
		case f.Status != "" && r.Status != f.Status:
		case f.PaymentID != nil && r.PaymentID != *f.PaymentID:
		case f.Cause != "" && r.Cause != f.Cause:
		default:
			all = append(all, s.view(r))
		}
	}
	slices.SortFunc(all, func(a, b payment.Refund) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), slices.Compare(b.ID[:], a.ID[:]))
	})
	page, size := max(f.Page, 1), f.PageSize
	if size <= 0 {
		size = payment.DefaultRefundPageSize
	}
	start := min((page-1)*size, len(all))
	end := min(start+size, len(all))
	return slices.Clone(all[start:end]), len(all), nil
}

// Reconcile asks the Delivered hook about every charged session not yet refunded in full,
// outside the store's lock, then applies the rules of the Postgres store.
func (s *Store) Reconcile(ctx context.Context, cutoff time.Time) ([]payment.Unsettled, error) {
	type candidate struct {
		u      payment.Unsettled
		refund bool
	}
	s.mu.Lock()
	var cands []candidate
	for _, p := range s.sessions {
		if p.Amount == 0 || p.PaidAt == nil {
			continue
		}
		switch p.Status {
		case payment.StatusPaid, payment.StatusPartiallyRefunded, payment.StatusRefundFailed:
		default:
			continue
		}
		c := candidate{u: payment.Unsettled{Payment: clone(p)}}
		for _, r := range s.refunds {
			if r.PaymentID != p.ID || r.CreatedAt.After(cutoff) {
				continue
			}
			switch r.Status {
			case payment.RefundFailed:
				c.u.FailedRefunds++
			case payment.RefundPending:
				c.u.StuckRefunds++
			}
		}
		c.refund = c.u.FailedRefunds > 0 || c.u.StuckRefunds > 0
		cands = append(cands, c)
	}
	s.mu.Unlock()

	var out []payment.Unsettled
	for _, c := range cands {
		p := c.u.Payment
		if s.Delivered != nil {
			ok, err := s.Delivered(ctx, p)
			if err != nil {
				return nil, fmt.Errorf("reconcile payment %s: %w", p.ID, err)
			}
			c.u.Delivered = ok
		}
		undelivered := !p.PaidAt.After(cutoff) && !c.u.Delivered && p.RefundedAmount < p.Amount
		if undelivered || c.refund {
			out = append(out, c.u)
		}
	}
	slices.SortFunc(out, func(a, b payment.Unsettled) int {
		return cmp.Or(a.Payment.PaidAt.Compare(*b.Payment.PaidAt), slices.Compare(a.Payment.ID[:], b.Payment.ID[:]))
	})
	return out, nil
}

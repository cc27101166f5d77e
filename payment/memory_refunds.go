package payment

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/memdb"
	"github.com/curhat/curhat/payment/ledger"
)

// The refunds of the in-memory MemoryStore: the rules of the Postgres one, each call one
// transaction.

// reserved sums every refund of a payment, whatever its status.
func (s memTables) reserved(paymentID uuid.UUID) int64 {
	var n int64
	for _, r := range s.refunds {
		if r.PaymentID == paymentID {
			n += r.Amount
		}
	}
	return n
}

// view is a refund as returned: with its payment's currency and charge reference.
func (s memTables) view(r Refund) Refund {
	p := s.sessions[r.PaymentID]
	r.Currency, r.ChargeRef = p.Currency, p.ProviderRef
	if r.NextAttemptAt != nil {
		t := *r.NextAttemptAt
		r.NextAttemptAt = &t
	}
	return r
}

func (s *MemoryStore) RecordRefund(_ context.Context, r RefundRecord) ([]Refund, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	tx := s.db.Begin()
	defer tx.End()
	return s.record(tx, r)
}

// RecordRefundIn records the refunds of r inside tx, a transaction of the in-memory
// database of curhat.NewMemoryClient: what RecordRefundTx does in a Postgres transaction,
// for the pairing store's transitions that owe a refund. It fails when no payment store
// registered its tables in tx's database.
func RecordRefundIn(tx *memdb.Tx, r RefundRecord) ([]Refund, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	sessions, ok := memdb.Open[uuid.UUID, Session](tx, "payment_sessions")
	refunds, ok2 := memdb.Open[uuid.UUID, Refund](tx, "payment_refunds")
	if !ok || !ok2 {
		return nil, errors.New("record refund: no payment store over this database")
	}
	return memTables{sessions: sessions, refunds: refunds}.record(tx, r)
}

// record records the refunds of r, validated (Store.RecordRefund).
func (s memTables) record(tx *memdb.Tx, r RefundRecord) ([]Refund, error) {
	at := truncate(r.At)
	var from []uuid.UUID
	for _, id := range r.From {
		if !slices.Contains(from, id) {
			from = append(from, id)
		}
	}
	for _, id := range from {
		if _, ok := s.sessions[id]; !ok {
			return nil, fmt.Errorf("record refund (%s): payment %s: %w", r.Cause, id, ErrNotFound)
		}
	}
	wanted := r.Amount
	var out []Refund
	for _, id := range from {
		rid := RefundID(id, r.Cause)
		if x, ok := s.refunds[rid]; ok {
			out = append(out, s.view(x))
			wanted -= x.Amount
			continue
		}
		if r.Amount > 0 && wanted <= 0 {
			break
		}
		p := s.sessions[id]
		if r.Exact {
			if err := r.checkExact(id, p.Status, p.Amount, s.reserved(id), ledger.ConsumedIn(tx, id)); err != nil {
				return nil, fmt.Errorf("record refund (%s): %w", r.Cause, err)
			}
		}
		switch {
		case r.Late && !p.Status.Closed():
			return nil, fmt.Errorf("record refund (%s): late payment %s is %s, not closed: %w", r.Cause, id, p.Status, ErrInvalidState)
		case r.Late:
			p.Status, p.PaidAt, p.HandledAt, p.UpdatedAt = StatusPaid, &at, &at, at
			if p.ProviderRef == "" {
				p.ProviderRef = r.ProviderRef
			}
			if txn, ok := ledger.PaymentPaid(p.ID, p.Amount, p.Currency, at); ok {
				if _, err := ledger.PostIn(tx, txn); err != nil {
					return nil, err
				}
			}
			s.sessions[id] = p
		case !p.Status.Charged():
			continue
		}
		take := p.Amount - s.reserved(id)
		if r.Amount > 0 {
			take = min(take, wanted)
		}
		if r.Caps != nil {
			take = min(take, r.Caps[id])
		}
		if take <= 0 {
			continue
		}
		x := Refund{ID: rid, PaymentID: id, Amount: take, Cause: r.Cause, Reason: r.Reason,
			Status: RefundPending, CreatedAt: at, UpdatedAt: at}
		s.refunds[rid] = x
		wanted -= take
		out = append(out, s.view(x))
	}
	return out, nil
}

func (s *MemoryStore) ClaimRefund(_ context.Context, c RefundClaim) (Refund, bool, error) {
	defer s.db.Begin().End()
	r, ok := s.refunds[c.ID]
	if !ok {
		return Refund{}, false, fmt.Errorf("get refund %s: %w", c.ID, ErrNotFound)
	}
	at := truncate(c.At)
	// In flight: claimed for an attempt whose outcome is not recorded and whose lease is
	// not over. Checked and claimed under the one lock, as Postgres does in one UPDATE.
	inFlight := r.Status == RefundPending && r.Attempts > 0 && r.NextAttemptAt != nil && r.NextAttemptAt.After(at)
	var may bool
	switch c.Mode {
	case ClaimFirst:
		may = r.Status == RefundPending && r.Attempts == 0
	case ClaimNow:
		may = r.Status == RefundFailed || (r.Status == RefundPending && !inFlight)
	default:
		return Refund{}, false, fmt.Errorf("claim refund %s: unknown claim mode %d", c.ID, c.Mode)
	}
	switch {
	case may:
		return s.claim(r, at, c.Lease), true, nil
	case r.Status == RefundManual && c.Mode == ClaimNow:
		return s.view(r), false, fmt.Errorf("claim refund %s: the provider cannot make it; settle it by hand: %w", c.ID, ErrInvalidState)
	case inFlight || (r.Status == RefundProcessing && c.Mode == ClaimNow):
		return s.view(r), false, fmt.Errorf("claim refund %s: %w", c.ID, ErrRefundInFlight)
	}
	return s.view(r), false, nil
}

// claim starts an attempt of r: pending while in flight, its lease in NextAttemptAt.
func (s *MemoryStore) claim(r Refund, at time.Time, lease time.Duration) Refund {
	next := at.Add(lease)
	r.Status, r.Attempts, r.NextAttemptAt, r.UpdatedAt = RefundPending, r.Attempts+1, &next, at
	s.refunds[r.ID] = r
	return s.view(r)
}

func (s *MemoryStore) ClaimDueRefunds(_ context.Context, at time.Time, lease time.Duration, limit int) ([]Refund, error) {
	defer s.db.Begin().End()
	at = truncate(at)
	var due []Refund
	for _, r := range s.refunds {
		switch {
		case r.Status != RefundPending && r.Status != RefundFailed:
		case r.NextAttemptAt != nil && !r.NextAttemptAt.After(at):
			due = append(due, r)
		case r.Status == RefundPending && r.NextAttemptAt == nil && !r.CreatedAt.After(at.Add(-lease)):
			due = append(due, r)
		}
	}
	slices.SortFunc(due, func(a, b Refund) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), slices.Compare(a.ID[:], b.ID[:]))
	})
	if limit >= 0 && len(due) > limit {
		due = due[:limit]
	}
	out := make([]Refund, 0, len(due))
	for _, r := range due {
		out = append(out, s.claim(r, at, lease))
	}
	return out, nil
}

func (s *MemoryStore) FinishRefund(_ context.Context, o RefundAttempt) (Refund, bool, error) {
	tx := s.db.Begin()
	defer tx.End()
	r, ok := s.refunds[o.ID]
	if !ok {
		return Refund{}, false, fmt.Errorf("get refund %s: %w", o.ID, ErrNotFound)
	}
	at := truncate(o.At)
	open := r.Status == RefundPending || r.Status == RefundFailed || r.Status == RefundProcessing
	switch {
	case o.Succeeded && o.Manual && r.Status == RefundManual:
		r.Status, r.ProviderRef, r.NextAttemptAt, r.Note = RefundSucceeded, o.ProviderRef, nil, o.Note
	case o.Succeeded && !o.Manual && open:
		r.Status, r.ProviderRef, r.NextAttemptAt, r.LastError = RefundSucceeded, o.ProviderRef, nil, ""
	case o.Processing && r.Status == RefundPending && r.Attempts == o.Attempt:
		r.Status, r.ProviderRef, r.NextAttemptAt = RefundProcessing, o.ProviderRef, nil
	case o.NotPossible && (r.Status == RefundPending || r.Status == RefundProcessing) && r.Attempts == o.Attempt:
		r.Status, r.LastError, r.NextAttemptAt = RefundManual, o.Error, nil
	case !o.Succeeded && !o.Processing && !o.NotPossible && open && r.Attempts == o.Attempt:
		r.Status, r.LastError = RefundFailed, o.Error
		r.NextAttemptAt = nil
		if o.NextAttemptAt != nil {
			t := truncate(*o.NextAttemptAt)
			r.NextAttemptAt = &t
		}
		if o.NewKey {
			r.KeyAttempt = r.Attempts + 1
		}
	default:
		return s.view(r), false, nil
	}
	if o.Succeeded {
		p := s.sessions[r.PaymentID]
		if err := ledger.PostRefundIn(tx, ledger.RefundPosting{RefundID: r.ID, PaymentID: r.PaymentID, Amount: r.Amount,
			Currency: p.Currency, FeePercent: core.Deref(p.PlatformFeePercent), At: at}); err != nil {
			return Refund{}, false, fmt.Errorf("record outcome of refund %s: %w", o.ID, err)
		}
	}
	r.UpdatedAt = at
	s.refunds[r.ID] = r
	s.settle(r.PaymentID, at)
	return s.view(r), true, nil
}

// settle derives a charged payment's refunded_amount and status from its refunds.
func (s *MemoryStore) settle(paymentID uuid.UUID, at time.Time) {
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
		case RefundSucceeded:
			succeeded += r.Amount
		case RefundFailed, RefundManual:
			failed++
		}
	}
	p.RefundedAmount, p.UpdatedAt = succeeded, at
	switch {
	case failed > 0:
		p.Status = StatusRefundFailed
	case succeeded >= p.Amount:
		p.Status = StatusRefunded
	case succeeded > 0:
		p.Status = StatusPartiallyRefunded
	default:
		p.Status = StatusPaid
	}
	s.sessions[paymentID] = p
}

func (s *MemoryStore) GetRefund(_ context.Context, id uuid.UUID) (Refund, error) {
	defer s.db.Begin().End()
	r, ok := s.refunds[id]
	if !ok {
		return Refund{}, fmt.Errorf("get refund %s: %w", id, ErrNotFound)
	}
	return s.view(r), nil
}

func (s *MemoryStore) ListRefunds(_ context.Context, f RefundFilter) ([]Refund, int, error) {
	defer s.db.Begin().End()
	var all []Refund
	for _, r := range s.refunds {
		switch {
		case f.Status != "" && r.Status != f.Status:
		case f.PaymentID != nil && r.PaymentID != *f.PaymentID:
		case f.Cause != "" && r.Cause != f.Cause:
		default:
			all = append(all, s.view(r))
		}
	}
	slices.SortFunc(all, func(a, b Refund) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), slices.Compare(b.ID[:], a.ID[:]))
	})
	return memdb.Page(all, f.Page, f.PageSize, DefaultRefundPageSize), len(all), nil
}

// Reconcile applies the rules of the Postgres store's statement in one transaction,
// reading whether each charged session delivered from the tables of pairing (a chat
// session of its pairing started) and extension (its extension paid by it). A store
// without those tables (built alone) asks Delivered instead, outside the transaction.
func (s *MemoryStore) Reconcile(ctx context.Context, cutoff time.Time) ([]Unsettled, error) {
	type candidate struct {
		u      Unsettled
		refund bool
		// ask: Delivered decides, after the transaction.
		ask bool
	}
	tx := s.db.Begin()
	started := startedByPairing(tx)
	var cands []candidate
	for _, p := range s.sessions {
		if p.Amount == 0 || p.PaidAt == nil {
			continue
		}
		switch p.Status {
		case StatusPaid, StatusPartiallyRefunded, StatusRefundFailed:
		default:
			continue
		}
		c := candidate{u: Unsettled{Payment: clone(p)}}
		for _, r := range s.refunds {
			if r.PaymentID != p.ID || r.CreatedAt.After(cutoff) {
				continue
			}
			switch r.Status {
			case RefundFailed, RefundManual:
				c.u.FailedRefunds++
			case RefundPending, RefundProcessing:
				c.u.StuckRefunds++
			}
		}
		c.refund = c.u.FailedRefunds > 0 || c.u.StuckRefunds > 0
		if p.Purpose == PurposeChatStart && tx.Has("pairings") || p.Purpose == PurposeExtension && tx.Has("extensions") {
			c.u.Delivered = delivered(tx, p, started)
		} else {
			c.ask = s.Delivered != nil
		}
		cands = append(cands, c)
	}
	tx.End()

	var out []Unsettled
	for _, c := range cands {
		p := c.u.Payment
		if c.ask {
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
	slices.SortFunc(out, func(a, b Unsettled) int {
		return cmp.Or(a.Payment.PaidAt.Compare(*b.Payment.PaidAt), slices.Compare(a.Payment.ID[:], b.Payment.ID[:]))
	})
	return out, nil
}

// startedByPairing returns the pairings whose chat session started (chat_sessions joined
// on pairing_id, as the Postgres statement joins them).
func startedByPairing(tx *memdb.Tx) map[uuid.UUID]bool {
	started := map[uuid.UUID]bool{}
	for row := range tx.Rows("chat_sessions") {
		if memdb.Col[*time.Time](row, "started_at") != nil {
			started[memdb.Col[uuid.UUID](row, "pairing_id")] = true
		}
	}
	return started
}

// delivered reports whether what p paid for happened: its pairing, pointing back at it,
// has a chat session that started (chat_start); its extension is paid by it (extension).
func delivered(tx *memdb.Tx, p Session, started map[uuid.UUID]bool) bool {
	switch {
	case p.Purpose == PurposeChatStart && p.PairingID != nil:
		row, ok := tx.Lookup("pairings", *p.PairingID)
		return ok && pointsAt(row, p.ID) && started[*p.PairingID]
	case p.Purpose == PurposeExtension && p.ExtensionID != nil:
		row, ok := tx.Lookup("extensions", *p.ExtensionID)
		return ok && pointsAt(row, p.ID) && memdb.Col[string](row, "status") == "paid"
	}
	return false
}

// pointsAt reports whether the row's payment_session_id is id.
func pointsAt(row memdb.Row, id uuid.UUID) bool {
	ref := memdb.Col[*uuid.UUID](row, "payment_session_id")
	return ref != nil && *ref == id
}

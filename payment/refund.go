package payment

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// Refunds. Every paid amount ends in exactly one of: what it paid for delivered,
// or a refund — never neither, never twice. A refund is a payment_refunds row, recorded
// before the gateway is asked (an outbox):
//
//   - it is recorded in one transaction with the payment row locked, and the sum of a
//     payment's refunds, whatever their status, never exceeds its amount — a failed refund
//     is retried and may still go through, so it keeps its share;
//   - its id is derived from the payment and a cause (RefundID), so a refund decided twice
//     (two instances, a retried handler, a duplicate webhook) is one row, sent once;
//   - whoever records it sends it right after the commit (ClaimFirst). If that process
//     dies in between, or the gateway refuses, RetryRefunds sends it later: a refund never
//     attempted is due Config.RefundLease after it was recorded, a refused one after an
//     exponential backoff, an attempt that showed no outcome (a crash during the call)
//     when its lease ends;
//   - each attempt is claimed in the store first, in one compare-and-set (pending,
//     attempts + 1, a lease in next_attempt_at), so two callers or instances never
//     attempt one refund at once: whoever asks while it is in flight (an operator's retry:
//     ErrRefundInFlight) is turned away until its outcome is recorded or its lease ends
//     (its process died). The gateway gets the refund's id as its idempotency key, so a
//     retry after a crash during the call does not refund twice at the provider either.
//     While a refused refund's retry is in flight its payment stays refund_failed: the
//     payment's status follows each outcome, not the claims.
//
// A domain that decides a refund in its own Postgres transaction (the pairing store's
// transition of a blast that fails) records it in that very transaction with
// RecordRefundTx: a crash after its commit loses nothing. A domain that learns in a
// payment handler that nothing waits for the payment returns ErrInvalidState and the
// payment side refunds it (the handler is redelivered until that is recorded).

// RefundStatus is the state of one refund (column payment_refunds.status).
type RefundStatus string

const (
	// RefundPending: recorded, not gone through yet (never attempted, or an attempt in
	// flight).
	RefundPending RefundStatus = "pending"
	// RefundSucceeded: the gateway made the refund. Final.
	RefundSucceeded RefundStatus = "succeeded"
	// RefundFailed: the gateway refused the last attempt. Retried with backoff until
	// Config.RefundMaxAttempts attempts, then it stays failed until an operator retries it.
	// A retry's claim makes it pending again while the attempt is in flight.
	RefundFailed RefundStatus = "failed"
	// RefundProcessing: the provider accepted the refund and settles it later; its
	// outcome comes through Service.RefundOutcome (the provider's callback). Not retried.
	RefundProcessing RefundStatus = "processing"
	// RefundManual: the provider cannot make this refund (a channel without refunds, the
	// refund window passed). Never retried: an operator pays it by hand and records it
	// (Service.SettleManually).
	RefundManual RefundStatus = "manual"
)

// Valid reports whether s is one of the known refund statuses.
func (s RefundStatus) Valid() bool {
	switch s {
	case RefundPending, RefundSucceeded, RefundFailed, RefundProcessing, RefundManual:
		return true
	}
	return false
}

// Refund is one payment_refunds row.
type Refund struct {
	ID        uuid.UUID
	PaymentID uuid.UUID
	// Amount is what this refund gives back (> 0).
	Amount int64
	// Currency is the payment's.
	Currency string
	// Cause is the machine key of why the money goes back (with PaymentID it makes ID).
	Cause string
	// Reason is free text for people.
	Reason string
	Status RefundStatus
	// ProviderRef is the gateway's reference of the refund once it succeeded ("" before).
	ProviderRef string
	// Attempts counts the gateway calls claimed so far.
	Attempts int
	// NextAttemptAt is when the retry sweep may attempt it next: the end of the running
	// attempt's lease, or of the backoff after a refusal. Nil for a refund never attempted
	// (due a lease after CreatedAt), a succeeded one, and a failed one that used up its
	// attempts.
	NextAttemptAt *time.Time
	// LastError is the gateway's answer to the last refused attempt ("" if none).
	LastError string
	// KeyAttempt is the attempt that started the idempotency key the provider gets (see
	// IdempotencyKey): 0 until an attempt is refused for good.
	KeyAttempt int
	// Note is an operator's record of a refund settled by hand.
	Note      string
	CreatedAt time.Time
	UpdatedAt time.Time
	// ChargeRef is the payment's provider_ref: the charge this refund gives back.
	ChargeRef string
}

// IdempotencyKey is the key the provider gets for the next attempt of r: its id while
// earlier attempts' outcomes were unknown (an outage: the same key finds the refund the
// provider may have made), "<id>:<attempt>" after a final refusal (a new request).
func (r Refund) IdempotencyKey() string {
	if r.KeyAttempt == 0 {
		return r.ID.String()
	}
	return fmt.Sprintf("%s:%d", r.ID, r.KeyAttempt)
}

// Causes of the refunds the payment service decides by itself.
const (
	// CauseFull: Refund, all that remains of one payment.
	CauseFull = "full"
	// CauseLatePayment: a payment confirmed after its session closed unpaid.
	CauseLatePayment = "late_payment"
)

// maxErrorLen bounds the gateway's answer kept in LastError.
const maxErrorLen = 500

// refundNamespace derives refund ids.
var refundNamespace = uuid.MustParse("5b7f0c1a-2e3d-4c6b-8a9f-1d2e3f4a5b6c")

// RefundID is the id of the refund of payment for cause. Deciding the same refund again
// finds this row instead of adding one.
func RefundID(paymentID uuid.UUID, cause string) uuid.UUID {
	return uuid.NewSHA1(refundNamespace, append(paymentID[:], cause...))
}

// Bounds of the text of a refund.
const (
	MaxRefundCauseLen  = 200
	MaxRefundReasonLen = 500
)

// RefundOrder asks for money back. A domain that decides a refund in its own transaction
// (a pairing that stops searching) hands one to its store, which records it with the
// transition.
type RefundOrder struct {
	// Cause names why (at most 200 bytes); with a payment id it makes the refund's id, so
	// one cause never refunds a payment twice.
	Cause string
	// Reason is free text for operators and the provider's records (at most 500 bytes).
	Reason string
	// From are the payments to take the money from, in order: each gives at most what
	// remains of it (its amount less all its refunds). Payments never charged are skipped.
	From []uuid.UUID
	// Amount is the total to give back; 0 means all that remains of every payment in From.
	Amount int64
	// Caps, when set, bounds what each payment gives (a payment missing from it gives
	// nothing): the parts of a carry-over, each from the payment it came from.
	Caps map[uuid.UUID]int64
	// Exact: all of Amount or nothing (an operator's refund, see OperatorRefund). From is
	// one payment, charged (else ErrInvalidState), and what is left of it — its amount
	// less all its refunds, whatever their status — must cover Amount, else a
	// *RefundLimitError wrapping ErrRefundExceedsRemainder; nothing is recorded then. A
	// refund of the cause recorded earlier is returned as it is, whatever Amount says.
	Exact bool
	// KeepEarnings, with Exact: Amount must also fit in what is left of the payment that
	// no chat session has earned (Unearned), else a *RefundLimitError wrapping
	// ErrEarningsNotReversed. Without it, an exact refund may take earned money: when it
	// goes through, the ledger takes the earnings back (earning_reversed).
	KeepEarnings bool
}

// Validate reports what is wrong with o (a *ValidationError naming the field), or nil.
func (o RefundOrder) Validate() error {
	switch {
	case o.Cause == "" || len(o.Cause) > MaxRefundCauseLen || !validText(o.Cause):
		return core.Invalid("cause", "must be 1..%d bytes of UTF-8 text", MaxRefundCauseLen)
	case len(o.Reason) > MaxRefundReasonLen || !validText(o.Reason):
		return core.Invalid("reason", "must be at most %d bytes of UTF-8 text", MaxRefundReasonLen)
	case len(o.From) == 0:
		return core.Invalid("from", "names no payment")
	case o.Amount < 0:
		return core.Invalid("amount", "must not be negative, not %d", o.Amount)
	case o.Exact && (len(o.From) != 1 || o.Amount == 0 || o.Caps != nil):
		return core.Invalid("from", "an exact refund takes an amount from one payment, without caps")
	case o.KeepEarnings && !o.Exact:
		return core.Invalid("keep_earnings", "applies to an exact refund only")
	}
	for _, id := range o.From {
		if id == uuid.Nil {
			return core.Invalid("from", "holds a nil payment id")
		}
	}
	return nil
}

// RefundRecord is what Store.RecordRefund and RecordRefundTx write: a RefundOrder, the
// time, and for a late payment (Late) the confirmation that closes it.
type RefundRecord struct {
	RefundOrder
	// At stamps the rows.
	At time.Time
	// Late: From is one payment that closed unpaid (failed, expired or cancelled) and is
	// confirmed now. In the same transaction it becomes paid (paid_at = At, ProviderRef
	// recorded when it has none) and handled — nothing may start from it — and all of it
	// is refunded. A payment in any other status is ErrInvalidState, unless the refund of
	// this cause exists already (a duplicate confirmation: it is returned).
	Late        bool
	ProviderRef string
}

// Validate reports what is wrong with r (a *ValidationError naming the field), or nil.
func (r RefundRecord) Validate() error {
	if err := r.RefundOrder.Validate(); err != nil {
		return err
	}
	if r.Late && (len(r.From) != 1 || r.Amount != 0) {
		return core.Invalid("from", "a late payment is refunded alone and in full")
	}
	return nil
}

// ClaimMode says which refunds ClaimRefund may take.
type ClaimMode int

const (
	// ClaimFirst takes a pending refund never attempted: its recorder sends it right
	// after the commit.
	ClaimFirst ClaimMode = iota + 1
	// ClaimNow takes a refund for an attempt now, whatever its backoff or attempts: a
	// failed one, or a pending one not in flight (never attempted, or its last attempt's
	// lease is over). An operator's retry. One in flight is ErrRefundInFlight.
	ClaimNow
)

// RefundClaim takes one refund for an attempt (Store.ClaimRefund).
type RefundClaim struct {
	ID   uuid.UUID
	Mode ClaimMode
	At   time.Time
	// Lease: next_attempt_at becomes At + Lease while the attempt runs.
	Lease time.Duration
}

// RefundAttempt is the outcome of one attempt (Store.FinishRefund).
type RefundAttempt struct {
	ID uuid.UUID
	// Attempt is the refund's Attempts as claimed for this attempt.
	Attempt   int
	Succeeded bool
	// Processing: the provider accepted it and settles it later (pending → processing).
	Processing bool
	// NotPossible: the provider can never make it (pending or processing → manual).
	NotPossible bool
	// NewKey: a refusal that is final for this key; the next attempt gets a new one
	// (KeyAttempt = Attempt + 1).
	NewKey bool
	// Manual: Succeeded records an operator's payment by hand of a manual refund (with
	// Note), not the provider's.
	Manual bool
	Note   string
	// ProviderRef is the gateway's reference of the refund (success).
	ProviderRef string
	// Error is the gateway's refusal (failure).
	Error string
	At    time.Time
	// NextAttemptAt is when a refused refund is due again; nil: never (it used up its
	// attempts).
	NextAttemptAt *time.Time
}

// Paging of ListRefunds (the paging of every operator list).
const (
	DefaultRefundPageSize = core.DefaultPageSize
	MaxRefundPageSize     = core.MaxPageSize
)

// RefundFilter selects refunds. Zero fields do not filter.
type RefundFilter struct {
	Status    RefundStatus
	PaymentID *uuid.UUID
	Cause     string
	// Page starts at 1 (0 means 1); PageSize defaults to 20 and is at most 100.
	Page, PageSize int
}

func (f RefundFilter) normalize() (RefundFilter, error) {
	if f.Status != "" && !f.Status.Valid() {
		return f, core.Invalid("status", "must be %q, %q or %q, not %q", RefundPending, RefundSucceeded, RefundFailed, f.Status)
	}
	var err error
	f.Page, f.PageSize, err = core.NormalizePage(f.Page, f.PageSize)
	return f, err
}

// RefundSummary is how the refunds of one cause stand (SettleRefunds).
type RefundSummary struct {
	// Recorded is the sum of the refunds recorded; Succeeded of those that went through.
	Recorded, Succeeded int64
	// Pending and Failed count the refunds that have not gone through.
	Pending, Failed int
}

// Settled reports whether something was recorded and all of it went through.
func (s RefundSummary) Settled() bool { return s.Recorded > 0 && s.Succeeded == s.Recorded }

// Refund gives back all that remains of a charged session through the gateway (the
// refund of cause CauseFull), and attempts at once every refund of the session that has
// not gone through — the new one, and one the gateway refused before:
//
//   - paid, partially_refunded, refund_failed: the rest of the amount is refunded; the
//     session ends refunded, or refund_failed if the gateway refuses;
//   - refunded: nothing happens;
//   - a free session (amount 0) that is paid becomes refunded without a gateway call;
//   - any other status (nothing was paid): ErrInvalidState.
//
// However many Refund calls race (a cancel, an operator, a handler, several instances),
// the payment is refunded once: the refund is one row and each attempt is claimed before
// the gateway is called. A refusal by the gateway is an outcome (refund_failed, reported
// through Hooks.RefundFailed, retried by RetryRefunds), not an error. reason goes to the
// gateway and the log.
func (s *Service) Refund(ctx context.Context, id uuid.UUID, reason string) (Session, error) {
	if _, err := s.record(ctx, RefundRecord{
		RefundOrder: RefundOrder{Cause: CauseFull, Reason: reason, From: []uuid.UUID{id}}, At: s.now(),
	}); err != nil {
		return Session{}, fmt.Errorf("refund payment %s: %w", id, err)
	}
	sess, err := s.store.Get(ctx, id)
	if err != nil {
		return Session{}, fmt.Errorf("refund payment %s: %w", id, err)
	}
	if !sess.Status.Charged() {
		return Session{}, fmt.Errorf("refund payment %s: it is %s, not paid: %w", id, sess.Status, ErrInvalidState)
	}
	if sess.Amount == 0 {
		if sess.Status == StatusPaid {
			sess, _, err = s.store.Transition(ctx, Transition{ID: id, From: []Status{StatusPaid}, To: StatusRefunded, At: s.now()})
			if err != nil {
				return Session{}, fmt.Errorf("refund payment %s: %w", id, err)
			}
			s.cfg.Logger.InfoContext(ctx, "payment: free session refunded (no money moved)", "payment_id", id)
		}
		return sess, nil
	}
	if err := s.attemptAll(ctx, RefundFilter{PaymentID: &id}, ClaimNow); err != nil {
		return Session{}, fmt.Errorf("refund payment %s: %w", id, err)
	}
	return s.store.Get(ctx, id)
}

// RefundPart records the refunds of o and attempts them at once (see RefundOrder and
// RecordRefunds). It returns the refunds as they stand after the attempt; a refusal is
// their status (failed, retried by RetryRefunds), not an error.
func (s *Service) RefundPart(ctx context.Context, o RefundOrder) ([]Refund, error) {
	recorded, err := s.RecordRefunds(ctx, o)
	if err != nil {
		return nil, err
	}
	out := make([]Refund, 0, len(recorded))
	for _, r := range recorded {
		if r.Status == RefundPending && r.Attempts == 0 {
			if r, err = s.attempt(ctx, r.ID, ClaimFirst); err != nil {
				return nil, err
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// RecordRefunds records the refunds of o without sending them (the outbox half of
// RefundPart): each payment of o.From gives at most what remains of it, in order, until
// o.Amount is reached (0: all that remains of each). A cause already recorded for a
// payment returns that refund instead (whatever amount is asked now). Send them with
// SettleRefunds; if nobody does, RetryRefunds does after Config.RefundLease.
func (s *Service) RecordRefunds(ctx context.Context, o RefundOrder) ([]Refund, error) {
	out, err := s.record(ctx, RefundRecord{RefundOrder: o, At: s.now()})
	if err != nil {
		return nil, fmt.Errorf("record refunds (%s): %w", o.Cause, err)
	}
	return out, nil
}

func (s *Service) record(ctx context.Context, r RefundRecord) ([]Refund, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	out, err := s.store.RecordRefund(ctx, r)
	if err != nil {
		return nil, err
	}
	for _, x := range out {
		s.cfg.Logger.InfoContext(ctx, "payment: refund recorded", "refund_id", x.ID, "payment_id", x.PaymentID,
			"amount", x.Amount, "cause", x.Cause, "status", x.Status)
	}
	return out, nil
}

// SettleRefunds attempts now the refunds of cause that were never attempted (their
// recorder sends them: this is that send) — and, with retryFailed, those the gateway
// refused, whatever their backoff — then reports how the cause's refunds stand.
func (s *Service) SettleRefunds(ctx context.Context, cause string, retryFailed bool) (RefundSummary, error) {
	mode := ClaimFirst
	if retryFailed {
		mode = ClaimNow
	}
	if err := s.attemptAll(ctx, RefundFilter{Cause: cause}, mode); err != nil {
		return RefundSummary{}, fmt.Errorf("settle refunds (%s): %w", cause, err)
	}
	all, err := s.listAll(ctx, RefundFilter{Cause: cause})
	if err != nil {
		return RefundSummary{}, fmt.Errorf("settle refunds (%s): %w", cause, err)
	}
	var sum RefundSummary
	for _, r := range all {
		sum.Recorded += r.Amount
		switch r.Status {
		case RefundSucceeded:
			sum.Succeeded += r.Amount
		case RefundFailed:
			sum.Failed++
		default:
			sum.Pending++
		}
	}
	return sum, nil
}

// GetRefund returns a refund, or ErrNotFound.
func (s *Service) GetRefund(ctx context.Context, id uuid.UUID) (Refund, error) {
	r, err := s.store.GetRefund(ctx, id)
	if err != nil {
		return Refund{}, fmt.Errorf("get refund %s: %w", id, err)
	}
	return r, nil
}

// ListRefunds returns one page of refunds, newest first, and how many match f in all. An
// unknown status or a page size above 100 is a validation error.
func (s *Service) ListRefunds(ctx context.Context, f RefundFilter) ([]Refund, int, error) {
	f, err := f.normalize()
	if err != nil {
		return nil, 0, err
	}
	items, total, err := s.store.ListRefunds(ctx, f)
	if err != nil {
		return nil, 0, fmt.Errorf("list refunds: %w", err)
	}
	return items, total, nil
}

// listAll returns every refund matching f (a payment's or a cause's: a handful).
func (s *Service) listAll(ctx context.Context, f RefundFilter) ([]Refund, error) {
	f.PageSize = MaxRefundPageSize
	var out []Refund
	for f.Page = 1; ; f.Page++ {
		items, total, err := s.store.ListRefunds(ctx, f)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if len(items) == 0 || len(out) >= total {
			return out, nil
		}
	}
}

// attemptAll attempts, as mode allows, every refund matching f that has not succeeded.
func (s *Service) attemptAll(ctx context.Context, f RefundFilter, mode ClaimMode) error {
	all, err := s.listAll(ctx, f)
	if err != nil {
		return err
	}
	for _, r := range all {
		if r.Status == RefundSucceeded {
			continue
		}
		if _, err := s.attempt(ctx, r.ID, mode); err != nil {
			return err
		}
	}
	return nil
}

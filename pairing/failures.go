package pairing

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// Failure actions of operators.
const (
	// ActionRefund retries the refund of a refund_failed failure.
	ActionRefund = "refund"
	// ActionResolve closes a failure with a note.
	ActionResolve = "resolve"
)

// maxNoteLen bounds an operator's note.
const maxNoteLen = 2000

// ListFailures returns one page of failed pairings, newest first, and how many match the
// filter in all. Unknown reason, status or type values and a page size above 100 are
// validation errors.
func (p *Pairer) ListFailures(ctx context.Context, f FailureFilter) ([]Failure, int, error) {
	f, err := normalizeFailureFilter(f)
	if err != nil {
		return nil, 0, err
	}
	items, total, err := p.store.ListFailures(ctx, f)
	if err != nil {
		return nil, 0, fmt.Errorf("list failed pairings: %w", err)
	}
	return items, total, nil
}

// normalizeFailureFilter validates f and fills its paging defaults.
func normalizeFailureFilter(f FailureFilter) (FailureFilter, error) {
	if f.Reason != "" && !slices.Contains(FailureReasons, Reason(f.Reason)) {
		return f, core.Invalid("reason", "must be one of %s, not %q", joinReasons(), f.Reason)
	}
	if f.Status != "" && f.Status != string(FailureOpen) && f.Status != string(FailureResolved) {
		return f, core.Invalid("status", "must be %q or %q, not %q", FailureOpen, FailureResolved, f.Status)
	}
	if f.Type != "" && f.Type != string(TypeBlast) && f.Type != string(TypeTargeted) {
		return f, core.Invalid("type", "must be %q or %q, not %q", TypeBlast, TypeTargeted, f.Type)
	}
	switch f.RefundStatus {
	case "", RefundNotCharged, RefundRefunded, RefundFailed:
	default:
		return f, core.Invalid("refund_status", "must be %q, %q or %q, not %q", RefundNotCharged, RefundRefunded, RefundFailed, f.RefundStatus)
	}
	if f.From != nil && f.To != nil && f.To.Before(*f.From) {
		return f, core.Invalid("to", "must not be before from")
	}
	var err error
	f.Page, f.PageSize, err = core.NormalizePage(f.Page, f.PageSize)
	return f, err
}

func joinReasons() string {
	s := make([]string, len(FailureReasons))
	for i, r := range FailureReasons {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// GetFailure returns a failed pairing's row, or ErrNotFound.
func (p *Pairer) GetFailure(ctx context.Context, id uuid.UUID) (Failure, error) {
	f, err := p.store.GetFailure(ctx, id)
	if err != nil {
		return Failure{}, fmt.Errorf("failure %s: %w", id, err)
	}
	return f, nil
}

// FailureActionParams is an operator's action on a failed pairing.
type FailureActionParams struct {
	// ID is the failure's (pairing_failures.id).
	ID uuid.UUID
	// Action is ActionRefund or ActionResolve.
	Action string
	// Note is the operator's note (at most 2000 characters; kept by "resolve").
	Note string
	// Operator names who acts (resolved_by); required by "resolve".
	Operator string
}

// FailureAction applies an operator's action to a failed pairing:
//   - "refund" sends at once the refunds the failure recorded that have not gone through
//     (those the provider refused, whatever their backoff) — a paid blast's payment or the
//     unused part of a prepaid blast's session alike; a failure recorded before refunds
//     had rows of their own refunds its blast's payment in full. When they all went
//     through the row says refunded; otherwise the error wraps ErrUnavailable and the
//     row stays refund_failed (the payment side keeps retrying);
//   - "resolve" closes it with the operator's id and note.
//
// Acting on a resolved failure, or refunding one that is not refund_failed, is
// ErrInvalidState.
func (p *Pairer) FailureAction(ctx context.Context, params FailureActionParams) (Failure, error) {
	id := params.ID
	if len(params.Note) > maxNoteLen {
		return Failure{}, core.Invalid("note", "must be at most %d characters", maxNoteLen)
	}
	f, err := p.store.GetFailure(ctx, id)
	if err != nil {
		return Failure{}, fmt.Errorf("failed pairing %s: %w", id, err)
	}
	if f.Status == FailureResolved {
		return Failure{}, fmt.Errorf("failed pairing %s: resolved already: %w", id, ErrInvalidState)
	}
	switch params.Action {
	case ActionRefund:
		return p.retryRefund(ctx, f)
	case ActionResolve:
		if strings.TrimSpace(params.Operator) == "" {
			return Failure{}, core.Invalid("operator", "is required")
		}
		out, err := p.store.ResolveFailure(ctx, id, params.Operator, params.Note, p.now())
		if err != nil {
			return Failure{}, fmt.Errorf("resolve failed pairing %s: %w", id, err)
		}
		return out, nil
	default:
		return Failure{}, core.Invalid("action", "must be %q or %q, not %q", ActionRefund, ActionResolve, params.Action)
	}
}

func (p *Pairer) retryRefund(ctx context.Context, f Failure) (Failure, error) {
	if f.RefundStatus != RefundFailed {
		return Failure{}, fmt.Errorf("refund failed pairing %s: refund status is %s: %w", f.ID, f.RefundStatus, ErrInvalidState)
	}
	sum, err := p.payments.SettleRefunds(ctx, RefundCause(f.PairingID), true)
	if err != nil {
		return Failure{}, fmt.Errorf("refund failed pairing %s: %w", f.ID, err)
	}
	switch {
	case sum.Recorded == 0:
		// Recorded before refunds had rows of their own: the blast's payment, in full.
		pr, err := p.store.GetPairing(ctx, f.PairingID)
		if err != nil {
			return Failure{}, fmt.Errorf("refund failed pairing %s: %w", f.ID, err)
		}
		if pr.PaymentSessionID == nil {
			return Failure{}, fmt.Errorf("refund failed pairing %s: the pairing has no payment: %w", f.ID, ErrInvalidState)
		}
		if !p.refund(ctx, *pr.PaymentSessionID, "operator retry of a failed pairing refund") {
			return Failure{}, fmt.Errorf("refund failed pairing %s: the payment provider did not refund; retry later: %w", f.ID, ErrUnavailable)
		}
	case !sum.Settled():
		return Failure{}, fmt.Errorf("refund failed pairing %s: the payment provider did not refund (%d of %d went back); retry later: %w",
			f.ID, sum.Succeeded, sum.Recorded, ErrUnavailable)
	}
	out, err := p.store.SetFailureRefunded(ctx, f.ID)
	if isState(err) {
		return p.store.GetFailure(ctx, f.ID) // marked meanwhile (RefundSucceeded)
	}
	if err != nil {
		return Failure{}, fmt.Errorf("refund failed pairing %s: %w", f.ID, err)
	}
	return out, nil
}

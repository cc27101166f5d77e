package pairing

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/ledger"
)

// Money a pairing owes. A blast that stops searching without a match — it
// fails (nobody available, deadline) or the client cancels it — gives back what it was
// paid with:
//
//   - a paid blast: all that remains of its chat_start payment;
//   - a prepaid blast (Reroute, or a deactivated mitra's session continuing elsewhere):
//     the unused part of what the client paid for the session it continues,
//     floor(paid × remaining_minutes / total_minutes), where paid is the session's
//     chat_start payment plus its applied extensions, total_minutes the session's minutes
//     (extensions included) and remaining_minutes the prepaid blast's minutes.
//
// A chain — a continued session rerouted again — carries value over proportionally: a
// session that continues another one was paid with that one's value × the minutes
// carried over / its total minutes, plus its own extensions. The money is taken from the
// chain's payments newest first (the latest session's extensions, then those before, the
// first chat_start last), each giving at most what remains of it.
//
// The refund is recorded in the same transaction as the transition that decides it (the
// Store's PairingTransition.Refund), under the cause RefundCause(pairing id), and sent
// right after the commit; the payment side's retry sweep sends it if that did not
// happen or the provider refused. A failure row carries its amount, refund_failed until
// every part went through.

// maxRerouteChain bounds how far back a chain of continued sessions is followed.
const maxRerouteChain = 64

const refundCausePrefix = "pairing:"

// RefundCause is the cause under which the refunds a pairing owes are recorded.
func RefundCause(pairingID uuid.UUID) string { return refundCausePrefix + pairingID.String() }

// PairingOfRefundCause returns the pairing of a cause made by RefundCause.
func PairingOfRefundCause(cause string) (uuid.UUID, bool) {
	rest, ok := strings.CutPrefix(cause, refundCausePrefix)
	if !ok {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(rest)
	return id, err == nil
}

// refundIntent is what a searching blast owes its client if it stops now (nil: nothing).
// A read failing is an error, never "nothing": the caller keeps the pairing as it is and
// tries again (the timeouts sweep, or the client's retry).
func (p *Pairer) refundIntent(ctx context.Context, pr Pairing, reason string) (*payment.RefundOrder, error) {
	if !pr.Prepaid {
		if pr.PaymentSessionID == nil {
			return nil, nil
		}
		return &payment.RefundOrder{Cause: RefundCause(pr.ID), Reason: reason, From: []uuid.UUID{*pr.PaymentSessionID}}, nil
	}
	amount, from, caps, err := p.carried(ctx, pr)
	if err != nil {
		return nil, fmt.Errorf("what prepaid pairing %s carries: %w", pr.ID, err)
	}
	if amount <= 0 || len(from) == 0 {
		return nil, nil
	}
	return &payment.RefundOrder{Cause: RefundCause(pr.ID), Reason: "unused minutes of a rerouted chat: " + reason,
		From: from, Amount: amount, Caps: caps}, nil
}

// carried is what a prepaid pairing carries and the payments behind it, newest first: the
// carry-over the ledger recorded when the session it continues ended — the one amount
// that is the continuation's value or, if it fails, its refund. A store that keeps no
// ledger (a pairing store built alone) has none: the same rule, ledger.CarryAmount, is
// applied along the chain of sessions instead.
// With the ledger's carry-over, caps holds each payment's part.
func (p *Pairer) carried(ctx context.Context, pr Pairing) (amount int64, from []uuid.UUID, caps map[uuid.UUID]int64, err error) {
	parts, kept, err := p.store.CarryOver(ctx, pr.ID)
	if err != nil {
		return 0, nil, nil, err
	}
	if kept {
		caps = map[uuid.UUID]int64{}
		for _, part := range parts {
			amount += part.Amount
			from = append(from, part.PaymentID)
			caps[part.PaymentID] = part.Amount
		}
		return amount, from, caps, nil
	}
	amount, from, err = p.prepaidValue(ctx, pr, 0)
	return amount, from, nil, err
}

// prepaidValue is what a prepaid pairing carries when no ledger recorded it:
// ledger.CarryAmount of the value of the session it continues for its minutes of that
// session's, and the payments behind it, newest first.
func (p *Pairer) prepaidValue(ctx context.Context, pr Pairing, depth int) (int64, []uuid.UUID, error) {
	if depth > maxRerouteChain {
		return 0, nil, fmt.Errorf("a chain of more than %d rerouted sessions: %w", maxRerouteChain, ErrInvalidState)
	}
	origin, err := p.rerouteOrigin(ctx, pr)
	if err != nil {
		return 0, nil, err
	}
	if origin == nil {
		// No session ended into this pairing: nothing was paid for it.
		p.log.WarnContext(ctx, "a prepaid pairing continues no session; it carries nothing", "pairing_id", pr.ID)
		return 0, nil, nil
	}
	s, err := p.store.GetChatSession(ctx, *origin)
	if err != nil {
		return 0, nil, err
	}
	value, from, err := p.sessionValue(ctx, s, depth)
	if err != nil {
		return 0, nil, err
	}
	return ledger.CarryAmount(value, pr.Minutes, s.Minutes), from, nil
}

// sessionValue is what the client paid for a chat session — its pairing's payment, or
// what a prepaid pairing carried, plus its applied extensions — and the payments behind
// it, newest first.
func (p *Pairer) sessionValue(ctx context.Context, s ChatSession, depth int) (int64, []uuid.UUID, error) {
	var value int64
	var from []uuid.UUID
	if p.extensions != nil {
		exts, err := p.extensions.PaidExtensions(ctx, s.ID)
		if err != nil {
			return 0, nil, fmt.Errorf("extensions of chat session %s: %w", s.ID, err)
		}
		for i := len(exts) - 1; i >= 0; i-- {
			value += exts[i].Amount
			from = append(from, exts[i].PaymentID)
		}
	}
	pr, err := p.store.GetPairing(ctx, s.PairingID)
	if err != nil {
		return 0, nil, err
	}
	switch {
	case pr.Prepaid:
		carried, before, err := p.prepaidValue(ctx, pr, depth+1)
		if err != nil {
			return 0, nil, err
		}
		value += carried
		from = append(from, before...)
	case pr.PaymentSessionID != nil:
		pay, err := p.payments.Get(ctx, *pr.PaymentSessionID)
		if err != nil {
			return 0, nil, fmt.Errorf("payment of chat session %s: %w", s.ID, err)
		}
		value += pay.Amount
		from = append(from, pay.ID)
	}
	return value, from, nil
}

// settleRefunds sends the refunds a transition of the pairing just recorded, and reports
// whether they all went through. What did not is logged: the payment side retries it.
// The work is detached from ctx's cancellation: the decision is committed.
func (p *Pairer) settleRefunds(ctx context.Context, pairingID uuid.UUID) bool {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.TimerTimeout)
	defer cancel()
	sum, err := p.payments.SettleRefunds(dctx, RefundCause(pairingID), false)
	if err != nil {
		p.log.WarnContext(ctx, "send the refunds of a pairing; the payment side retries them", "pairing_id", pairingID, "err", err)
		return false
	}
	if !sum.Settled() {
		p.log.WarnContext(ctx, "refunds of a pairing did not all go through; the payment side retries them",
			"pairing_id", pairingID, "recorded", sum.Recorded, "succeeded", sum.Succeeded, "failed", sum.Failed, "pending", sum.Pending)
	}
	return sum.Settled()
}

// markRefunded records on a failure row that its refunds went through.
func (p *Pairer) markRefunded(ctx context.Context, f Failure) Failure {
	updated, err := p.store.SetFailureRefunded(ctx, f.ID)
	switch {
	case err == nil:
		return updated
	case isState(err):
		if cur, gerr := p.store.GetFailure(ctx, f.ID); gerr == nil {
			return cur // marked meanwhile (RefundSucceeded)
		}
	default:
		p.log.WarnContext(ctx, "record refund of a failed pairing", "failure_id", f.ID, "err", err)
	}
	return f
}

// DefaultFailureSyncBatch bounds how many refund_failed failure rows SyncFailureRefunds
// looks at per pass (the newest first).
const DefaultFailureSyncBatch = 100

// SyncFailureRefunds marks refunded the failure rows (refund_failed, the newest
// DefaultFailureSyncBatch) whose refunds all went through — what RefundSucceeded does as
// each refund succeeds, for the successes whose notice was lost (a crash, or the database
// unreachable right after the refund was recorded). Run it with the payment side's retry
// sweep. It sends never-attempted refunds of those rows too (their recorder died). It
// returns how many rows it marked.
func (p *Pairer) SyncFailureRefunds(ctx context.Context) (int, error) {
	items, _, err := p.store.ListFailures(ctx, FailureFilter{RefundStatus: RefundFailed, Page: 1, PageSize: DefaultFailureSyncBatch})
	if err != nil {
		return 0, fmt.Errorf("sync failure refunds: %w", err)
	}
	marked := 0
	var errs []error
	for _, f := range items {
		sum, err := p.payments.SettleRefunds(ctx, RefundCause(f.PairingID), false)
		if err != nil {
			errs = append(errs, fmt.Errorf("failure %s: %w", f.ID, err))
			continue
		}
		if !sum.Settled() {
			continue
		}
		if _, err := p.store.SetFailureRefunded(ctx, f.ID); err != nil && !isState(err) {
			errs = append(errs, fmt.Errorf("failure %s: %w", f.ID, err))
			continue
		}
		marked++
	}
	if err := errors.Join(errs...); err != nil {
		return marked, fmt.Errorf("sync failure refunds: %w", err)
	}
	return marked, nil
}

// RefundSucceeded is told that a refund recorded under cause went through (register it
// with the payment service: payment.Service.SetRefundListener). When cause is a
// pairing's and all its refunds went through, the pairing's failure row says refunded —
// also when the payment side's retry sweep, not the failure itself, made the refund.
// Other causes are ignored.
func (p *Pairer) RefundSucceeded(ctx context.Context, cause string) error {
	pairingID, ok := PairingOfRefundCause(cause)
	if !ok {
		return nil
	}
	items, _, err := p.store.ListFailures(ctx, FailureFilter{PairingID: &pairingID, Page: 1, PageSize: 1})
	if err != nil {
		return fmt.Errorf("failure of pairing %s: %w", pairingID, err)
	}
	if len(items) == 0 || items[0].RefundStatus != RefundFailed {
		return nil
	}
	sum, err := p.payments.SettleRefunds(ctx, cause, false)
	if err != nil {
		return fmt.Errorf("refunds of pairing %s: %w", pairingID, err)
	}
	if sum.Settled() {
		if _, err := p.store.SetFailureRefunded(ctx, items[0].ID); err != nil && !errors.Is(err, ErrInvalidState) {
			return fmt.Errorf("failure of pairing %s: %w", pairingID, err)
		}
	}
	return nil
}

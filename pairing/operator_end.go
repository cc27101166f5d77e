package pairing

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/payment"
)

// An operator ends a running chat (SPEC §24, Live work): the session ends operator_ended,
// both parties are told as for any other end, and the client gets back what the operator
// chose:
//
//   - none: nothing; the mitra earns the session's whole value, as if it had expired;
//   - unused: the part of what the client paid for the session that the time left stands
//     for, floor(paid × seconds left / (minutes × 60)) — the unused-minutes rule of a
//     reroute (section 18) counted in seconds, rounded down to the currency's unit;
//   - full: all the client paid for the session.
//
// What the client paid for a session is its chat_start payment (or, for a session that
// continues a rerouted one, the carry-over handed to it) plus its paid extensions, taken
// back newest payment first; no payment gives more than is left of it. The refund is
// recorded in the transaction that ends the session, before the session's value is
// posted to the ledger: the value leaves it out, so the mitra never earns what goes back
// (none of a full refund) and nothing has to be reversed. The refund is sent right after
// the commit; a refusal is retried like every refund.

// EndRefund is what an operator's end of a chat session gives back (see above).
type EndRefund string

const (
	EndRefundNone   EndRefund = "none"
	EndRefundUnused EndRefund = "unused"
	EndRefundFull   EndRefund = "full"
)

// Valid reports whether r is one of the choices.
func (r EndRefund) Valid() bool {
	return r == EndRefundNone || r == EndRefundUnused || r == EndRefundFull
}

// OperatorEndStore is the Store's write of an operator's end of a chat session. It is part
// of Store.
type OperatorEndStore interface {
	// EndChatSessionRefunding is EndChatSession that also records refund (when not nil)
	// in the same transaction, after the guard held and before the session's value is
	// posted, so that the value leaves out what the refund gives back. It returns the
	// session and the refunds recorded (a cause recorded before comes back as it is).
	EndChatSessionRefunding(ctx context.Context, t SessionTransition, refund *payment.RefundOrder) (ChatSession, []payment.Refund, error)
}

// OperatorEndCause is the cause under which the refund of an operator's end of a chat
// session is recorded: one session is refunded this way once.
func OperatorEndCause(sessionID uuid.UUID) string { return "operator_end:" + sessionID.String() }

// OperatorEndParams is an operator's end of a chat session.
type OperatorEndParams struct {
	SessionID uuid.UUID
	Refund    EndRefund
	// Reason says why, for the refund's records (1..500 bytes).
	Reason string
}

// Validate reports what is wrong with p (a *ValidationError naming the field), or nil.
func (p OperatorEndParams) Validate() error {
	switch {
	case p.SessionID == uuid.Nil:
		return core.Invalid("session_id", "must not be nil")
	case !p.Refund.Valid():
		return core.Invalid("refund", "must be %q, %q or %q, not %q", EndRefundNone, EndRefundUnused,
			EndRefundFull, p.Refund)
	case p.Reason == "" || len(p.Reason) > payment.MaxRefundReasonLen || !utf8.ValidString(p.Reason) || strings.ContainsRune(p.Reason, 0):
		return core.Invalid("reason", "must be 1..%d bytes of UTF-8 text", payment.MaxRefundReasonLen)
	}
	return nil
}

// EndByOperator ends an active chat session operator_ended with the refund p chooses (see
// above). It returns the session and the refunds recorded (sent right after; list them
// by OperatorEndCause to see how they stand). A session that is not active — waiting for
// its payment, or over already — is ErrInvalidState; an unknown one ErrNotFound.
func (p *Pairer) EndByOperator(ctx context.Context, params OperatorEndParams) (ChatSession, []payment.Refund, error) {
	if err := params.Validate(); err != nil {
		return ChatSession{}, nil, err
	}
	s, err := p.store.GetChatSession(ctx, params.SessionID)
	if err != nil {
		return ChatSession{}, nil, fmt.Errorf("operator end of chat session %s: %w", params.SessionID, err)
	}
	if s.Status != SessionActive {
		return ChatSession{}, nil, fmt.Errorf("operator end of chat session %s: it is %s, not active: %w",
			params.SessionID, s.Status, ErrInvalidState)
	}
	ended, refunds, err := p.endRefunding(ctx, s, refundingEnd{
		Reason: EndOperatorEnded, Refund: params.Refund, Cause: OperatorEndCause(s.ID), Why: params.Reason,
	})
	if err != nil {
		return ChatSession{}, nil, fmt.Errorf("operator end of chat session %s: %w", params.SessionID, err)
	}
	p.log.InfoContext(ctx, "chat session ended by an operator", "chat_session_id", ended.ID, "refund", params.Refund,
		"refunds", len(refunds))
	if len(refunds) > 0 {
		p.sendEndRefunds(ctx, ended.ID, OperatorEndCause(ended.ID))
	}
	p.sessionClosed(ctx, ended)
	return ended, refunds, nil
}

// refundingEnd is an end of an active chat session that gives the client back what Refund
// chooses: an operator's (EndByOperator) or a no-show's (SweepNoShows).
type refundingEnd struct {
	Reason EndReason
	Refund EndRefund
	// Cause is the refund's cause (one session is refunded under it once); Why its reason.
	Cause, Why string
	// MitraSilent also requires that the mitra showed no activity (NoShowStore).
	MitraSilent bool
}

// endRefunding ends the active session s as e says and records its refund in the same
// transaction. The refund is decided on the session as read: an extension paid meanwhile
// moves ends_at, and the refund is decided again on the session as it is then.
func (p *Pairer) endRefunding(ctx context.Context, s ChatSession, e refundingEnd) (ChatSession, []payment.Refund, error) {
	now := p.now()
	var ended ChatSession
	var refunds []payment.Refund
	err := p.onSessionAsRead(ctx, s, func(s ChatSession) error {
		order, err := p.endRefundOrder(ctx, s, e, now)
		if err != nil {
			return err
		}
		t := SessionTransition{
			ID: s.ID, From: []SessionStatus{SessionActive}, To: SessionEnded, Reason: e.Reason, EndsAt: s.EndsAt,
			Now: now, ClearsAt: p.clearsAt(ctx, now),
		}
		if e.MitraSilent {
			ended, refunds, err = p.store.EndSilentSession(ctx, t, order)
		} else {
			ended, refunds, err = p.store.EndChatSessionRefunding(ctx, t, order)
		}
		return err
	})
	return ended, refunds, err
}

// endRefundOrder is what ending s at now gives back as e chooses (nil: nothing).
func (p *Pairer) endRefundOrder(ctx context.Context, s ChatSession, e refundingEnd, now time.Time) (*payment.RefundOrder, error) {
	if e.Refund == EndRefundNone {
		return nil, nil
	}
	paid, from, caps, err := p.paidFor(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("what the client paid for chat session %s: %w", s.ID, err)
	}
	amount := paid
	if e.Refund == EndRefundUnused {
		var left int64
		if s.EndsAt != nil && s.EndsAt.After(now) {
			left = int64(s.EndsAt.Sub(now) / time.Second)
		}
		amount = unusedPart(paid, left, int64(s.Minutes)*60)
	}
	if amount <= 0 || len(from) == 0 {
		return nil, nil
	}
	return &payment.RefundOrder{Cause: e.Cause, Reason: e.Why, From: from, Amount: amount, Caps: caps}, nil
}

// paidFor is what the client paid for chat session s and the payments behind it, newest
// first: its paid extensions, then its chat_start payment — or, for a session continuing
// a rerouted one, the carry-over handed to it. caps holds what each payment may give back
// for s (nil when the store keeps no ledger, and a carry-over's parts are not known).
func (p *Pairer) paidFor(ctx context.Context, s ChatSession) (int64, []uuid.UUID, map[uuid.UUID]int64, error) {
	var paid int64
	var from []uuid.UUID
	caps := map[uuid.UUID]int64{}
	if p.extensions != nil {
		exts, err := p.extensions.PaidExtensions(ctx, s.ID)
		if err != nil {
			return 0, nil, nil, err
		}
		for i := len(exts) - 1; i >= 0; i-- {
			paid += exts[i].Amount
			from = append(from, exts[i].PaymentID)
			caps[exts[i].PaymentID] = exts[i].Amount
		}
	}
	pr, err := p.store.GetPairing(ctx, s.PairingID)
	if err != nil {
		return 0, nil, nil, err
	}
	switch {
	case pr.Prepaid:
		carried, before, parts, err := p.carried(ctx, pr)
		if err != nil {
			return 0, nil, nil, err
		}
		paid += carried
		from = append(from, before...)
		if parts == nil {
			return paid, from, nil, nil // no ledger: each payment gives what is left of it
		}
		for id, amount := range parts {
			caps[id] += amount
		}
	case pr.PaymentSessionID != nil:
		pay, err := p.payments.Get(ctx, *pr.PaymentSessionID)
		if err != nil {
			return 0, nil, nil, err
		}
		paid += pay.Amount
		from = append(from, pay.ID)
		caps[pay.ID] += pay.Amount
	}
	return paid, from, caps, nil
}

// unusedPart is floor(paid × left / total): the part of paid that left of total stands
// for (paid ≤ 2^63, left ≤ total ≤ 86,400 seconds: split to stay in int64).
func unusedPart(paid, left, total int64) int64 {
	if paid <= 0 || left <= 0 || total <= 0 {
		return 0
	}
	if left >= total {
		return paid
	}
	q, r := paid/total, paid%total
	return q*left + r*left/total
}

// sendEndRefunds sends the refunds an end of a chat session just recorded under cause.
// What did not go through is logged: the payment side retries it. The work is detached
// from ctx's cancellation: the end is committed.
func (p *Pairer) sendEndRefunds(ctx context.Context, sessionID uuid.UUID, cause string) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.TimerTimeout)
	defer cancel()
	sum, err := p.payments.SettleRefunds(dctx, cause, false)
	if err != nil {
		p.log.WarnContext(ctx, "send the refunds of a chat session's end; the payment side retries them",
			"chat_session_id", sessionID, "cause", cause, "err", err)
		return
	}
	if !sum.Settled() {
		p.log.WarnContext(ctx, "refunds of a chat session's end did not all go through; the payment side retries them",
			"chat_session_id", sessionID, "cause", cause, "recorded", sum.Recorded, "succeeded", sum.Succeeded,
			"failed", sum.Failed, "pending", sum.Pending)
	}
}

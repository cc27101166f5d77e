package payment

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// MarkPaid records the provider's confirmation of a payment (the webhook). It is
// idempotent: a duplicate confirmation changes nothing and returns the current row.
//
//   - pending and not past expires_at: the session becomes paid (paid_at = now) and the
//     purpose's Handler.PaymentPaid runs, once;
//   - pending but past expires_at: the session is expired first (Handler.PaymentClosed
//     runs, as the sweep would have done), then handled as below;
//   - expired, cancelled or failed (a confirmation arriving late or out of order): the
//     payment is refunded through the gateway and nothing is started — in one transaction
//     the session becomes paid (and handled: nothing starts from it) with its refund
//     recorded, then the refund is sent; the session ends refunded, or refund_failed if
//     the gateway refuses (RetryRefunds retries it);
//   - paid, refunded or refund_failed: a duplicate; nothing happens.
//
// providerRef is recorded when the session has none yet. A refusal by the gateway is an
// outcome (refund_failed), not an error; an error wrapping a handler's failure comes back
// with the session, whose transition is kept.
func (s *Service) MarkPaid(ctx context.Context, id uuid.UUID, providerRef string) (Session, error) {
	return s.markPaid(ctx, id, providerRef, false)
}

// MarkPaidMatching is MarkPaid for a confirmation that names its charge (a webhook): a
// providerRef other than the one the session has is refused with ErrProviderRefMismatch
// (the session comes back with it) and nothing changes, whatever the session's status.
// The check is part of MarkPaid's guarded write: no read of the session before it.
func (s *Service) MarkPaidMatching(ctx context.Context, id uuid.UUID, providerRef string) (Session, error) {
	return s.markPaid(ctx, id, providerRef, true)
}

func (s *Service) markPaid(ctx context.Context, id uuid.UUID, providerRef string, matchRef bool) (Session, error) {
	now := s.now()
	t := Transition{
		ID: id, From: []Status{StatusPending}, To: StatusPaid, Expiry: BeforeExpiry,
		At: now, ProviderRef: providerRef, MatchProviderRef: matchRef, SetPaidAt: true, FeePercent: s.feePercent(ctx),
	}
	sess, changed, err := s.store.Transition(ctx, t)
	if err != nil {
		return Session{}, fmt.Errorf("mark payment %s paid: %w", id, err)
	}
	if !changed && t.refMismatch(sess) {
		return sess, fmt.Errorf("mark payment %s paid: %w", id, ErrProviderRefMismatch)
	}
	if changed {
		s.cfg.Logger.InfoContext(ctx, "payment: paid", "payment_id", id, "purpose", sess.Purpose, "amount", sess.Amount)
		return s.deliverPaid(ctx, sess)
	}

	var closeErr error
	if sess.Status == StatusPending {
		// Past expires_at: expire it exactly as the sweep would, so that what waited is
		// released once, then treat the payment as late.
		sess, changed, err = s.store.Transition(ctx, Transition{
			ID: id, From: []Status{StatusPending}, To: StatusExpired, Expiry: AfterExpiry, At: now,
		})
		if err != nil {
			return Session{}, fmt.Errorf("expire payment %s: %w", id, err)
		}
		if changed {
			s.cfg.Logger.InfoContext(ctx, "payment: expired", "payment_id", id, "purpose", sess.Purpose)
			sess, closeErr = s.deliverClosed(ctx, sess)
		}
	}
	switch {
	case sess.Status.Closed():
		sess, err = s.refundLate(ctx, sess, providerRef)
		return sess, errors.Join(closeErr, err)
	case sess.Status == StatusPaid && sess.HandledAt != nil && sess.RefundedAmount < sess.Amount:
		// A duplicate confirmation of a late payment whose refund may not have been sent
		// (the first confirmation stopped after recording it): send it now.
		if err := s.attemptAll(ctx, RefundFilter{PaymentID: &sess.ID}, ClaimFirst); err != nil {
			return sess, errors.Join(closeErr, err)
		}
		cur, err := s.store.Get(ctx, id)
		if err != nil {
			return sess, errors.Join(closeErr, err)
		}
		return cur, closeErr
	case sess.Status == StatusPending:
		// Neither guard held: the row changed between the two statements and back, which
		// no transition does. Let the provider retry.
		return Session{}, fmt.Errorf("mark payment %s paid: %w", id, core.ErrStaleWrite)
	case sess.Status == StatusPaid && sess.HandledAt == nil && !now.Before(sess.UpdatedAt.Add(s.cfg.DetachedTimeout)):
		// A duplicate confirmation of a payment whose handler has not succeeded (it failed,
		// or the process stopped in between) and can no longer be running (a delivery is
		// bounded by DetachedTimeout): deliver it again. Handlers are idempotent, so a
		// delivery that did succeed but was not recorded is harmless. A duplicate arriving
		// while the first delivery may still run changes nothing.
		return s.deliverPaid(ctx, sess)
	default: // paid and delivered, refunded, refund_failed
		return sess, closeErr
	}
}

// refundLate refunds a payment confirmed for a session that had already closed (failed,
// expired or cancelled). Nothing is started for it: the session becomes paid and handled,
// with its refund recorded, in one transaction; then the refund is sent.
func (s *Service) refundLate(ctx context.Context, sess Session, providerRef string) (Session, error) {
	recorded, err := s.record(ctx, RefundRecord{
		RefundOrder: RefundOrder{Cause: CauseLatePayment, Reason: "late_payment", From: []uuid.UUID{sess.ID}},
		At:          s.now(), Late: true, ProviderRef: providerRef,
	})
	if errors.Is(err, ErrInvalidState) {
		return s.store.Get(ctx, sess.ID) // moved on meanwhile (another confirmation)
	}
	if err != nil {
		return Session{}, fmt.Errorf("refund late payment %s: %w", sess.ID, err)
	}
	s.cfg.Logger.WarnContext(ctx, "payment: confirmed after the session closed; refunding",
		"payment_id", sess.ID, "purpose", sess.Purpose, "closed_as", sess.Status)
	for _, r := range recorded {
		if r.Status == RefundPending && r.Attempts == 0 {
			if _, err := s.attempt(ctx, r.ID, ClaimFirst); err != nil {
				return Session{}, fmt.Errorf("refund late payment %s: %w", sess.ID, err)
			}
		}
	}
	return s.store.Get(ctx, sess.ID)
}

// MarkFailed records the provider's report that a payment failed. A pending session
// becomes failed and the purpose's Handler.PaymentClosed releases what waited. It is
// idempotent, and a failure reported after the session was paid, expired or cancelled
// (out of order) changes nothing.
func (s *Service) MarkFailed(ctx context.Context, id uuid.UUID, providerRef string) (Session, error) {
	sess, changed, err := s.store.Transition(ctx, Transition{
		ID: id, From: []Status{StatusPending}, To: StatusFailed, At: s.now(), ProviderRef: providerRef,
	})
	if err != nil {
		return Session{}, fmt.Errorf("mark payment %s failed: %w", id, err)
	}
	if !changed {
		return sess, nil
	}
	s.cfg.Logger.InfoContext(ctx, "payment: failed", "payment_id", id, "purpose", sess.Purpose)
	return s.deliverClosed(ctx, sess)
}

// Cancel withdraws a session on behalf of what it was for (a pairing cancelled by the
// client, for example). A pending session becomes cancelled — no Handler is called: the
// caller releases what waited. A session already paid is refunded (see Refund). Any other
// status is final: Cancel returns the row unchanged.
func (s *Service) Cancel(ctx context.Context, id uuid.UUID) (Session, error) {
	sess, changed, err := s.store.Transition(ctx, Transition{
		ID: id, From: []Status{StatusPending}, To: StatusCancelled, At: s.now(),
	})
	if err != nil {
		return Session{}, fmt.Errorf("cancel payment %s: %w", id, err)
	}
	if changed {
		s.cfg.Logger.InfoContext(ctx, "payment: cancelled", "payment_id", id, "purpose", sess.Purpose)
		return sess, nil
	}
	if sess.Status == StatusPaid {
		return s.Refund(ctx, id, "cancelled")
	}
	return sess, nil
}

// Redeliver calls the purpose's Handler again for the session's outcome: PaymentPaid for a
// paid session (with the same automatic refund on ErrInvalidState), PaymentClosed for a
// failed or expired one; nothing for any other status. ExpireStale and a duplicate
// MarkPaid do this by themselves for outcomes whose handler has not succeeded yet; it is
// also open to operators.
func (s *Service) Redeliver(ctx context.Context, id uuid.UUID) (Session, error) {
	sess, err := s.store.Get(ctx, id)
	if err != nil {
		return Session{}, fmt.Errorf("redeliver payment %s: %w", id, err)
	}
	switch sess.Status {
	case StatusPaid:
		return s.deliverPaid(ctx, sess)
	case StatusFailed, StatusExpired:
		return s.deliverClosed(ctx, sess)
	}
	return sess, nil
}

// deliverPaid runs Handler.PaymentPaid for a session that just became paid. A handler
// answering ErrInvalidState has nothing left to start: the payment is refunded.
func (s *Service) deliverPaid(ctx context.Context, sess Session) (Session, error) {
	h := s.handler(sess.Purpose)
	if h == nil {
		s.cfg.Logger.WarnContext(ctx, "payment: no handler for purpose; nothing started", "payment_id", sess.ID, "purpose", sess.Purpose)
		return s.delivered(ctx, sess), nil
	}
	hctx, cancel := s.detached(ctx)
	err := h.PaymentPaid(hctx, sess)
	cancel()
	switch {
	case err == nil:
		return s.delivered(ctx, sess), nil
	case errors.Is(err, ErrInvalidState):
		s.cfg.Logger.InfoContext(ctx, "payment: nothing waits for this payment any more; refunding",
			"payment_id", sess.ID, "purpose", sess.Purpose, "reason", err)
		refunded, err := s.Refund(ctx, sess.ID, "nothing_waits")
		if err != nil {
			return sess, err // still paid and undelivered: delivered again later
		}
		// The refund is recorded: this outcome is handled (a refund that could not be sent
		// yet is RetryRefunds' business, not a redelivery's).
		s.delivered(ctx, sess)
		return refunded, nil
	default:
		s.cfg.Logger.ErrorContext(ctx, "payment: paid, but the handler failed", "payment_id", sess.ID, "purpose", sess.Purpose, "err", err)
		return sess, fmt.Errorf("payment %s is paid, but its %s handler failed: %w", sess.ID, sess.Purpose, err)
	}
}

// deliverClosed runs Handler.PaymentClosed for a session that just failed or expired.
func (s *Service) deliverClosed(ctx context.Context, sess Session) (Session, error) {
	h := s.handler(sess.Purpose)
	if h == nil {
		return s.delivered(ctx, sess), nil
	}
	hctx, cancel := s.detached(ctx)
	err := h.PaymentClosed(hctx, sess)
	cancel()
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "payment: closed, but the handler failed", "payment_id", sess.ID,
			"purpose", sess.Purpose, "status", sess.Status, "err", err)
		return sess, fmt.Errorf("payment %s is %s, but its %s handler failed: %w", sess.ID, sess.Status, sess.Purpose, err)
	}
	return s.delivered(ctx, sess), nil
}

// delivered records that the handler succeeded for sess's outcome. Failing to record it
// only means one more (idempotent) delivery later.
func (s *Service) delivered(ctx context.Context, sess Session) Session {
	now := s.now()
	dctx, cancel := s.detached(ctx)
	defer cancel()
	if err := s.store.MarkHandled(dctx, sess.ID, sess.Status, now); err != nil {
		s.cfg.Logger.WarnContext(ctx, "payment: could not record the delivery; it will be redelivered",
			"payment_id", sess.ID, "err", err)
		return sess
	}
	sess.HandledAt = &now
	return sess
}

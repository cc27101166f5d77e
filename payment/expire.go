package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// ExpireReport says what one ExpireStale pass did.
type ExpireReport struct {
	// Expired counts the sessions this pass moved from pending to expired.
	Expired int
	// HandlerErrors counts the handler calls that failed (they are delivered again on a
	// later pass).
	HandlerErrors int
	// Redelivered counts outcomes delivered again because their handler had not succeeded
	// within Config.RedeliverAfter.
	Redelivered int
	// Duration is the wall-clock time the pass took.
	Duration time.Duration
}

// expireCharge expires at the provider the charge of a session the SDK expired, when the
// gateway can (ChargeExpirer), so that it cannot be paid there any more. A charge the
// provider says was paid (its confirmation late, or lost) is a late payment at once: the
// session becomes paid and is refunded in full, so the money never stays at the provider
// with neither a chat nor a refund. One the provider could not be asked about expires
// there at its own deadline (the invoice's duration is the session's), and a confirmation
// that arrives after it is refunded the same way.
func (s *Service) expireCharge(ctx context.Context, sess Session) {
	exp, ok := s.gw.(ChargeExpirer)
	if !ok || sess.ProviderRef == "" {
		return
	}
	err := exp.ExpireCharge(ctx, sess.ProviderRef)
	if errors.Is(err, ErrChargePaid) {
		s.cfg.Logger.InfoContext(ctx, "payment: the provider says the expired charge was paid; refunding it as a late payment",
			"payment_id", sess.ID, "provider_ref", sess.ProviderRef)
		if _, err := s.MarkPaid(ctx, sess.ID, sess.ProviderRef); err != nil {
			s.cfg.Logger.WarnContext(ctx, "payment: refund a charge paid after its session expired; its confirmation refunds it",
				"payment_id", sess.ID, "err", err)
		}
		return
	}
	if err != nil {
		s.cfg.Logger.WarnContext(ctx, "payment: expire the charge at the provider", "payment_id", sess.ID,
			"provider_ref", sess.ProviderRef, "err", err)
	}
}

// MarkExpired records the provider's word that a pending session's charge expired (its
// callback): the session expires now, as the sweep would, and what waited for it is
// released. A session no longer pending is returned as it is.
func (s *Service) MarkExpired(ctx context.Context, id uuid.UUID) (Session, error) {
	sess, changed, err := s.store.Transition(ctx, Transition{ID: id, From: []Status{StatusPending}, To: StatusExpired, At: s.now()})
	if err != nil {
		return Session{}, fmt.Errorf("mark payment %s expired: %w", id, err)
	}
	if !changed {
		return sess, nil
	}
	s.cfg.Logger.InfoContext(ctx, "payment: expired at the provider", "payment_id", id, "purpose", sess.Purpose)
	return s.deliverClosed(ctx, sess)
}

// ExpireStale expires every pending session past its expires_at, in batches of
// Config.ExpireBatchSize, and runs the purpose's Handler.PaymentClosed for each: their blast
// pairing is cancelled, their pending_payment chat session cancelled, their extension
// expired. It then delivers again every paid, failed or expired outcome whose handler has
// not succeeded for Config.RedeliverAfter. It is safe to run on several instances at once: each session is expired, and
// its handler called, by exactly one of them. The stale-payments sweep calls it.
func (s *Service) ExpireStale(ctx context.Context) (ExpireReport, error) {
	start := time.Now()
	now := s.now()
	var rep ExpireReport
	var firstErr error
	for {
		rows, err := s.store.ExpirePending(ctx, now, s.cfg.ExpireBatchSize)
		if err != nil {
			rep.Duration = time.Since(start)
			return rep, fmt.Errorf("expire stale payments: %w", err)
		}
		rep.Expired += len(rows)
		for _, sess := range rows {
			s.cfg.Logger.InfoContext(ctx, "payment: expired", "payment_id", sess.ID, "purpose", sess.Purpose)
			s.expireCharge(ctx, sess)
			if _, err := s.deliverClosed(ctx, sess); err != nil {
				rep.HandlerErrors++
				if firstErr == nil {
					firstErr = err
				}
			}
		}
		if len(rows) < s.cfg.ExpireBatchSize {
			break
		}
	}

	// Outcomes whose handler failed earlier (or never ran: a crash between the two steps)
	// are delivered again; handlers are idempotent.
	undelivered, err := s.store.ListUndelivered(ctx, now.Add(-s.cfg.RedeliverAfter), s.cfg.ExpireBatchSize)
	if err != nil {
		rep.Duration = time.Since(start)
		return rep, fmt.Errorf("list undelivered payments: %w", err)
	}
	for _, sess := range undelivered {
		s.cfg.Logger.InfoContext(ctx, "payment: delivering an outcome again", "payment_id", sess.ID, "status", sess.Status)
		rep.Redelivered++
		if _, err := s.Redeliver(ctx, sess.ID); err != nil {
			rep.HandlerErrors++
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	rep.Duration = time.Since(start)
	if firstErr != nil {
		return rep, fmt.Errorf("expire stale payments: %d handler call(s) failed, first: %w", rep.HandlerErrors, firstErr)
	}
	return rep, nil
}

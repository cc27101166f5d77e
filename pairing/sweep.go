package pairing

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// expirePairing applies a waiting pairing's deadline (timer or sweep); a deadline that
// moved or a pairing that moved on makes it a no-op.
func (p *Pairer) expirePairing(ctx context.Context, id uuid.UUID) error {
	pr, err := p.store.GetPairing(ctx, id)
	if err != nil {
		return err
	}
	now := p.now()
	if pr.ExpiresAt == nil || pr.ExpiresAt.After(now) {
		p.armDeadline(pr) // fired early (or the deadline moved): wait for the real one
		return nil
	}
	switch pr.Status {
	case StatusSearching:
		// Nobody accepted: into the queue when it is on, else the blast fails.
		if queued, err := p.enqueue(ctx, pr, &now); queued || err != nil {
			return err
		}
		return p.failBlast(ctx, pr, ReasonTimeout, &now)
	case StatusQueued:
		return p.failBlast(ctx, pr, ReasonQueueTimeout, &now)
	case StatusTargetedWaiting:
		return p.targetedUnavailable(ctx, pr, ReasonTargetedTimeout, &now)
	}
	return nil
}

// TimeoutReport is what one SweepTimeouts pass did.
type TimeoutReport struct {
	// PairingsTimedOut: blasts failed (timeout) or queued, queued blasts failed
	// (queue_timeout), and "Curhat lagi" offers run out.
	PairingsTimedOut int
	// RingsAdded: rings of ring-policy blasts offered by the sweep (their timer had not).
	RingsAdded int
	// OffersLapsed: offers of queued pairings ended at their own deadline.
	OffersLapsed int
	// SessionsExpired: active chat sessions ended at their ends_at.
	SessionsExpired int
	// Abandoned: targeted_unavailable pairings cancelled after Config.UnavailableTTL.
	Abandoned int
	// Orphans: awaiting_payment pairings cancelled after Config.OrphanTTL without a payment.
	Orphans int
	// WrapupsEnded: mitras made available at the end of a wrap-up no timer of this
	// instance ended (wrapup.go).
	WrapupsEnded int
}

// SweepTimeouts backs up the in-process timers (run it every PAIRING_SWEEP_SECONDS):
// waiting and queued pairings past their deadline time out, the rings and the offers of
// queued pairings that are due are handled, the queue's head is offered to free slots,
// active sessions past ends_at expire, and stale pairings (targeted_unavailable past
// Config.UnavailableTTL, awaiting_payment with no payment past Config.OrphanTTL) are
// cancelled; a queue index that failed is rebuilt. Each kind handles at most
// Config.SweepBatch rows per pass. Safe on several instances at once: every change is a
// guarded transition, done once.
func (p *Pairer) SweepTimeouts(ctx context.Context) (TimeoutReport, error) {
	var rep TimeoutReport
	var errs []error
	now := p.now()

	if p.index != nil && p.indexDirty.Load() {
		// Not an error of the sweep: the store answers meanwhile, and the failure that
		// made the index dirty was logged.
		if err := p.RebuildQueueIndex(ctx); err != nil {
			p.log.DebugContext(ctx, "queue index not rebuilt yet", "err", err)
		}
	}

	due, err := p.store.ListPairings(ctx, PairingQuery{
		Statuses: []Status{StatusSearching, StatusTargetedWaiting, StatusQueued}, DueBy: &now, Limit: p.cfg.SweepBatch,
	})
	errs = append(errs, err)
	for _, pr := range due {
		before := pr.Status
		if err := p.expirePairing(ctx, pr.ID); err != nil {
			errs = append(errs, fmt.Errorf("pairing %s: %w", pr.ID, err))
			continue
		}
		if cur, err := p.store.GetPairing(ctx, pr.ID); err == nil && cur.Status != before {
			rep.PairingsTimedOut++
		}
	}

	rings, err := p.store.ListPairings(ctx, PairingQuery{
		Statuses: []Status{StatusSearching}, RingDueBy: &now, Limit: p.cfg.SweepBatch,
	})
	errs = append(errs, err)
	for _, pr := range rings {
		_, claimed, err := p.offerRing(ctx, pr)
		if err != nil {
			errs = append(errs, fmt.Errorf("pairing %s: %w", pr.ID, err))
		}
		if claimed {
			rep.RingsAdded++
		}
	}

	steps, err := p.store.ListPairings(ctx, PairingQuery{
		Statuses: []Status{StatusSearching}, StepDueBy: &now, Limit: p.cfg.SweepBatch,
	})
	errs = append(errs, err)
	for _, pr := range steps {
		if err := p.widen(ctx, pr.ID); err != nil {
			errs = append(errs, fmt.Errorf("pairing %s: %w", pr.ID, err))
		}
	}

	lapsed, err := p.expireLapsed(ctx, nil)
	rep.OffersLapsed = lapsed
	errs = append(errs, err)
	errs = append(errs, p.dispatchQueue(ctx))

	sessions, err := p.store.ListChatSessions(ctx, ListSessionsParams{Status: SessionActive, EndsBy: &now, Limit: p.cfg.SweepBatch})
	errs = append(errs, err)
	for _, s := range sessions {
		ended, err := p.expireSession(ctx, s.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("chat session %s: %w", s.ID, err))
			continue
		}
		if ended {
			rep.SessionsExpired++
		}
	}

	n, err := p.cancelStale(ctx, PairingQuery{
		Statuses: []Status{StatusTargetedUnavailable}, UpdatedBefore: ptr(now.Add(-p.cfg.UnavailableTTL)), Limit: p.cfg.SweepBatch,
	}, ReasonAbandoned)
	rep.Abandoned = n
	errs = append(errs, err)

	n, err = p.cancelStale(ctx, PairingQuery{
		Statuses: []Status{StatusAwaitingPayment}, WithoutPayment: true,
		UpdatedBefore: ptr(now.Add(-p.cfg.OrphanTTL)), Limit: p.cfg.SweepBatch,
	}, ReasonPaymentNotCreated)
	rep.Orphans = n
	errs = append(errs, err)

	rep.WrapupsEnded, err = p.sweepWrapups(ctx, now)
	errs = append(errs, err)

	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("sweep timeouts: %w", err)
	}
	return rep, nil
}

// cancelStale cancels the pairings q selects, each still guarded on the status it was
// found in (and, for orphans, on having no payment — checked again after the read).
func (p *Pairer) cancelStale(ctx context.Context, q PairingQuery, reason Reason) (int, error) {
	stale, err := p.store.ListPairings(ctx, q)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, pr := range stale {
		if q.WithoutPayment {
			// A payment attached since the read must not be left pending for nothing.
			cur, err := p.store.GetPairing(ctx, pr.ID)
			if err != nil || cur.PaymentSessionID != nil {
				continue
			}
		}
		res, err := p.store.Transition(ctx, PairingTransition{
			ID: pr.ID, From: []Status{pr.Status}, To: StatusCancelled, FailureReason: reason,
			OfferStatus: OfferDismissed, Now: p.now(),
		})
		if isState(err) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("pairing %s: %w", pr.ID, err))
			continue
		}
		n++
		p.notify(ctx, Event{
			ClientID: ptr(pr.ClientID),
			Payload:  PairingCancelledEvent{PairingID: pr.ID, Reason: reason},
		})
		if res.Pairing.PaymentSessionID != nil {
			// Attached between the re-read and the transition: withdraw it.
			if _, err := p.payments.Cancel(ctx, *res.Pairing.PaymentSessionID); err != nil {
				p.log.WarnContext(ctx, "cancel the payment of a stale pairing", "pairing_id", pr.ID, "err", err)
			}
		}
	}
	return n, errors.Join(errs...)
}

// restoreTimers re-arms, from the store, the timers of every active chat session and
// every waiting pairing; those already past their time are ended at once (Start). It
// returns how many sessions and pairings it handled.
func (p *Pairer) restoreTimers(ctx context.Context) (int, error) {
	sessions, err := p.store.ListChatSessions(ctx, ListSessionsParams{Status: SessionActive})
	if err != nil {
		return 0, fmt.Errorf("restore timers: %w", err)
	}
	pairings, err := p.store.ListPairings(ctx, PairingQuery{Statuses: []Status{StatusSearching, StatusTargetedWaiting, StatusQueued}})
	if err != nil {
		return 0, fmt.Errorf("restore timers: %w", err)
	}
	now := p.now()
	var errs []error
	for _, s := range sessions {
		if s.EndsAt != nil && !s.EndsAt.After(now) {
			if _, err := p.expireSession(ctx, s.ID); err != nil {
				errs = append(errs, fmt.Errorf("chat session %s: %w", s.ID, err))
			}
			continue
		}
		p.armExpiry(s)
	}
	for _, pr := range pairings {
		if pr.ExpiresAt != nil && !pr.ExpiresAt.After(now) {
			if err := p.expirePairing(ctx, pr.ID); err != nil {
				errs = append(errs, fmt.Errorf("pairing %s: %w", pr.ID, err))
			}
			continue
		}
		p.armDeadline(pr)
		p.armRing(pr)
		p.armStep(pr)
	}
	if err := errors.Join(errs...); err != nil {
		return len(sessions) + len(pairings), fmt.Errorf("restore timers: %w", err)
	}
	return len(sessions) + len(pairings), nil
}

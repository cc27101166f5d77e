package pairing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Ring offers (Policies.OfferPolicy "ring"): a blast is offered to RingSize available
// mitras at a time, the longest idle first, a new ring every RingInterval until its
// deadline. The rings are driven by in-process timers (ringTick) backed by SweepTimeouts,
// like deadlines; each ring is claimed in the Store (AdvanceRing) so that one instance
// offers it.

func (p *Pairer) ringPolicy(ctx context.Context) bool {
	return p.policies.OfferPolicy(ctx) == OfferPolicyRing
}

// offerRing offers a searching blast its next ring: the RingSize available mitras idle
// longest that were never offered it and are not blocked with its client — the requested
// mitra of a "Curhat lagi" fallback first, in the first ring — and schedules the ring
// after it (while before the deadline).
// It returns how many mitras it offered the blast, and whether this call claimed the ring
// (false: another instance did, or the blast stopped searching).
func (p *Pairer) offerRing(ctx context.Context, pr Pairing) (offered int, claimed bool, err error) {
	now := p.now()
	var next *time.Time
	if at := now.Add(p.policies.RingInterval(ctx)); pr.ExpiresAt != nil && at.Before(*pr.ExpiresAt) {
		next = &at
	}
	adv, err := p.store.AdvanceRing(ctx, RingParams{ID: pr.ID, From: pr.Rings, NextRingAt: next, Now: now})
	if isState(err) {
		return 0, false, nil // another instance offered this ring, or the blast stopped searching
	}
	if err != nil {
		return 0, false, fmt.Errorf("ring %d of blast %s: %w", pr.Rings, pr.ID, err)
	}
	p.armRing(adv)
	n, err := p.offerRingTo(ctx, adv, pr.Rings, now)
	return n, true, err
}

// offerRingTo offers ring number ring of a blast whose ring was just claimed.
func (p *Pairer) offerRingTo(ctx context.Context, pr Pairing, ring int, now time.Time) (int, error) {
	exclude, err := p.store.ExcludedMitras(ctx, pr.ID, pr.ClientID)
	if err != nil {
		return 0, fmt.Errorf("ring %d of blast %s: %w", ring, pr.ID, err)
	}
	ids, err := p.avail.FindAvailable(ctx, 0, exclude)
	if err != nil {
		return 0, fmt.Errorf("ring %d of blast %s: find available mitras: %w", ring, pr.ID, err)
	}
	if pr, ids, err = p.routed(ctx, pr, ids, 0); errors.Is(err, errStepMoved) {
		return 0, nil // the widening's own instance: the next ring draws from its step
	} else if err != nil {
		return 0, fmt.Errorf("ring %d of blast %s: %w", ring, pr.ID, err)
	}
	size := p.policies.RingSize(ctx)
	var mitras []uuid.UUID
	if t := pr.TargetMitraID; ring == 0 && t != nil && slices.Contains(ids, *t) {
		mitras = append(mitras, *t)
		ids = slices.DeleteFunc(ids, func(id uuid.UUID) bool { return id == *t })
	}
	if size > len(mitras) && len(ids) > 0 {
		idlest, err := p.rankOrder(ctx, ids, size-len(mitras))
		if err != nil {
			return 0, fmt.Errorf("ring %d of blast %s: %w", ring, pr.ID, err)
		}
		mitras = append(mitras, idlest...)
	}
	if len(mitras) == 0 {
		return 0, nil
	}
	offered, err := p.store.InsertOffers(ctx, pr.ID, mitras, now)
	if err != nil {
		return 0, fmt.Errorf("ring %d of blast %s: offer: %w", ring, pr.ID, err)
	}
	p.notifyOffers(ctx, pr, offered)
	return len(offered), nil
}

func (p *Pairer) armRing(pr Pairing) {
	if pr.NextRingAt == nil || pr.Status != StatusSearching {
		return
	}
	id := pr.ID
	p.schedule(timerKey{ringTick, id}, *pr.NextRingAt, func(ctx context.Context) {
		if err := p.nextRing(ctx, id); err != nil {
			p.log.ErrorContext(ctx, "ring of a blast; the timeouts sweep will retry", "pairing_id", id, "err", err)
		}
	})
}

// nextRing offers a blast its next ring when it is due (timer or sweep).
func (p *Pairer) nextRing(ctx context.Context, id uuid.UUID) error {
	pr, err := p.store.GetPairing(ctx, id)
	if err != nil {
		return err
	}
	if pr.Status != StatusSearching || pr.NextRingAt == nil {
		return nil
	}
	if pr.NextRingAt.After(p.now()) {
		p.armRing(pr) // fired early: wait for the real time
		return nil
	}
	_, _, err = p.offerRing(ctx, pr)
	return err
}

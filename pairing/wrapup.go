package pairing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Wrap-up (SPEC §26). With mitra_wrapup_seconds above 0, a mitra whose chat session ended
// (status ended, whatever the reason: either party, expiry, an operator, a no-show, a
// reroute) is offered nothing for that long and not counted available; then it is
// available again, and offered what waits like any freed mitra: the head of the queue, the
// blasts still searching. A targeted chat cancelled before it started holds no wrap-up.
//
// The availability mirror holds the rule (availability.MitraState.InWrapup: the mitra is
// kept as at capacity), so a blast, a ring or the queue never find the mitra meanwhile; the
// Pairer checks it too before offering a mitra directly (MitraAvailable, a "Curhat lagi").
// The wrap-up ends by time alone, which no write marks, so the Pairer re-syncs the mitra
// then: a timer per mitra at the end of its wrap-up (re-armed by a later end), and, for the
// wrap-ups whose timer did not run (a restart, another instance's end), SweepTimeouts,
// which finds the mitras whose last session ended between WrapupLookback plus the wrap-up
// ago and the wrap-up ago. Each instance's sweep goes through each end once (it keeps the
// end it reached); the re-sync is idempotent, so two instances doing it cost a repeat, not
// a second offer. A wrap-up that ended before the lookback (every instance down longer)
// is healed by the mirror's seed at start and the queue's dispatch, not re-offered here.

// WrapupSettings: see routing.go.

// WrapupLookback is how far before the wrap-up's end the first SweepTimeouts pass of a
// Pairer looks for wrap-ups that ended while no timer ran (a restart): 10 minutes. Later
// passes start where the previous one stopped.
const WrapupLookback = 10 * time.Minute

// WrapupStore is the Store's part of the wrap-up: when a mitra's chat sessions ended. It
// is part of Store.
type WrapupStore interface {
	// LastSessionEnd returns when the mitra's last chat session in status ended ended, or
	// the zero time when it has none.
	LastSessionEnd(ctx context.Context, mitraID uuid.UUID) (time.Time, error)
	// SessionEndsBetween returns the mitras whose last chat session in status ended ended
	// in (after, until], with that end, earliest end first (ties by mitra id), at most
	// limit (0: all).
	SessionEndsBetween(ctx context.Context, after, until time.Time, limit int) ([]SessionEnd, error)
}

// SessionEnd is when a mitra's last chat session ended.
type SessionEnd struct {
	MitraID uuid.UUID
	EndedAt time.Time
}

// wrapupEnd is the timer kind of the end of a mitra's wrap-up, keyed by the mitra: a value
// apart from the kinds of pairer.go, which count up from 1.
const wrapupEnd timerKind = 100

// wrapup is mitra_wrapup_seconds (0: none).
func (p *Pairer) wrapup(ctx context.Context) time.Duration {
	if s, ok := p.settings.(WrapupSettings); ok {
		return max(s.MitraWrapup(ctx), 0)
	}
	return 0
}

// sessionFreed follows a transition that ended or cancelled s: the mitra's capacity is
// mirrored now. A session that ended starts the mitra's wrap-up when there is one: the
// freed mitra is recorded idle and offered what waits when the wrap-up ends; otherwise at
// once.
func (p *Pairer) sessionFreed(ctx context.Context, s ChatSession) {
	if s.Status == SessionEnded && s.EndedAt != nil {
		if w := p.wrapup(ctx); w > 0 && s.EndedAt.Add(w).After(p.now()) {
			p.capacityChanged(ctx, s.MitraID, false)
			p.armWrapup(s.MitraID, s.EndedAt.Add(w))
			return
		}
	}
	p.capacityChanged(ctx, s.MitraID, true)
}

// armWrapup (re)arms the end of the mitra's wrap-up at at.
func (p *Pairer) armWrapup(mitraID uuid.UUID, at time.Time) {
	p.schedule(timerKey{wrapupEnd, mitraID}, at, func(ctx context.Context) {
		if err := p.endWrapup(ctx, mitraID); err != nil {
			p.log.WarnContext(ctx, "end of a mitra's wrap-up; the timeouts sweep will retry", "mitra_id", mitraID, "err", err)
		}
	})
}

// endWrapup makes the mitra available again once its wrap-up is over: mirrored, recorded
// idle since the wrap-up's end, offered what waits. A wrap-up that a later end prolonged is
// waited for instead.
func (p *Pairer) endWrapup(ctx context.Context, mitraID uuid.UUID) error {
	last, err := p.store.LastSessionEnd(ctx, mitraID)
	if err != nil {
		return fmt.Errorf("end the wrap-up of mitra %s: %w", mitraID, err)
	}
	if last.IsZero() {
		return nil
	}
	until := last.Add(p.wrapup(ctx))
	if until.After(p.now()) {
		p.armWrapup(mitraID, until)
		return nil
	}
	p.wrapupEnded(ctx, mitraID, SessionEnd{MitraID: mitraID, EndedAt: last}, until)
	return nil
}

// wrapupEnded re-syncs a mitra whose wrap-up ended at until: what capacityChanged does for
// a freed slot, idle since until rather than now (the sweep may come later).
func (p *Pairer) wrapupEnded(ctx context.Context, mitraID uuid.UUID, end SessionEnd, until time.Time) {
	p.noteWrapupDone(end)
	if _, err := p.avail.RecomputeCapacity(ctx, mitraID); err != nil {
		p.log.WarnContext(ctx, "recompute capacity; the reseed sweep heals the mirror", "mitra_id", mitraID, "err", err)
	}
	if err := p.store.MarkIdle(ctx, mitraID, until); err != nil {
		p.log.WarnContext(ctx, "record a mitra idle; the ring order sees it later", "mitra_id", mitraID, "err", err)
	}
	if err := p.MitraAvailable(ctx, mitraID); err != nil {
		p.log.WarnContext(ctx, "offer searching blasts to a mitra out of its wrap-up", "mitra_id", mitraID, "err", err)
	}
}

// inWrapup reports whether the mitra's last session ended less than the wrap-up ago. It
// reads nothing while there is no wrap-up.
func (p *Pairer) inWrapup(ctx context.Context, mitraID uuid.UUID) (bool, error) {
	w := p.wrapup(ctx)
	if w <= 0 {
		return false, nil
	}
	last, err := p.store.LastSessionEnd(ctx, mitraID)
	if err != nil {
		return false, fmt.Errorf("wrap-up of mitra %s: %w", mitraID, err)
	}
	return !last.IsZero() && last.Add(w).After(p.now()), nil
}

// wrapupSweep is what one instance's sweep remembers of the wrap-ups: the end it reached,
// and the ends its own timers handled (not re-synced again).
type wrapupSweep struct {
	reached time.Time
	done    map[uuid.UUID]time.Time
}

func (p *Pairer) noteWrapupDone(end SessionEnd) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wrapups.done == nil {
		p.wrapups.done = map[uuid.UUID]time.Time{}
	}
	if end.EndedAt.After(p.wrapups.done[end.MitraID]) {
		p.wrapups.done[end.MitraID] = end.EndedAt
	}
}

// sweepWrapups re-syncs the mitras whose wrap-up ended since the last pass (the first pass:
// within WrapupLookback) and that no timer of this instance re-synced, at most
// Config.SweepBatch a pass. It returns how many it re-synced.
func (p *Pairer) sweepWrapups(ctx context.Context, now time.Time) (int, error) {
	w := p.wrapup(ctx)
	if w <= 0 {
		return 0, nil
	}
	until := now.Add(-w)
	p.mu.Lock()
	after := p.wrapups.reached
	if floor := until.Add(-WrapupLookback); after.Before(floor) {
		after = floor
	}
	p.mu.Unlock()
	if !until.After(after) {
		return 0, nil
	}
	ends, err := p.store.SessionEndsBetween(ctx, after, until, p.cfg.SweepBatch)
	if err != nil {
		return 0, fmt.Errorf("wrap-ups ended: %w", err)
	}
	reached := until
	if len(ends) == p.cfg.SweepBatch && len(ends) > 0 {
		// Cut in the middle: the next pass starts at this batch's last end (its ties are
		// re-read, a repeat the re-sync allows).
		if last := ends[len(ends)-1].EndedAt.Add(-time.Microsecond); last.After(after) {
			reached = last
		} else {
			reached = ends[len(ends)-1].EndedAt
		}
	}
	n := 0
	var errs []error
	for _, e := range ends {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		p.mu.Lock()
		handled := !p.wrapups.done[e.MitraID].Before(e.EndedAt)
		p.mu.Unlock()
		if handled {
			continue
		}
		p.wrapupEnded(ctx, e.MitraID, e, e.EndedAt.Add(w))
		n++
	}
	p.mu.Lock()
	if reached.After(p.wrapups.reached) {
		p.wrapups.reached = reached
	}
	for id, at := range p.wrapups.done {
		if !at.After(after) {
			delete(p.wrapups.done, id) // behind every later pass
		}
	}
	p.mu.Unlock()
	return n, errors.Join(errs...)
}

package pairing

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"
)

// The queue of paid blasts (Policies.QueueEnabled): entering it, leaving it, and the
// dispatch that offers its head to free slots. See Policies for the rules.

// QueueStatus is where a queued pairing stands.
type QueueStatus struct {
	// Position is its 1-based place in the queue, exact.
	Position int
	// EstimatedWait is the shared estimate of the wait from payment to match
	// (Store.QueueWaitEstimate); nil until a queued blast matched.
	EstimatedWait *time.Duration
}

// QueueStatus returns the place of a queued pairing and the wait estimate;
// ErrInvalidState when the pairing is not queued, ErrNotFound when it does not exist.
// The place comes from the QueueIndex in O(log n) when there is one (the Store
// otherwise, or when the index cannot answer).
func (p *Pairer) QueueStatus(ctx context.Context, pairingID uuid.UUID) (QueueStatus, error) {
	pos, err := p.queuePosition(ctx, pairingID)
	if err != nil {
		return QueueStatus{}, fmt.Errorf("queue status of pairing %s: %w", pairingID, err)
	}
	est, err := p.waitEstimate(ctx)
	if err != nil {
		return QueueStatus{}, fmt.Errorf("queue status of pairing %s: %w", pairingID, err)
	}
	return QueueStatus{Position: pos, EstimatedWait: est}, nil
}

func (p *Pairer) waitEstimate(ctx context.Context) (*time.Duration, error) {
	e, ok, err := p.store.QueueWaitEstimate(ctx)
	if err != nil || !ok {
		return nil, err
	}
	return &e, nil
}

// QueueLength counts the queued pairings (from the QueueIndex when there is one).
func (p *Pairer) QueueLength(ctx context.Context) (int, error) {
	if p.indexUsable() {
		n, err := p.index.Length(ctx)
		if err == nil {
			return n, nil
		}
		p.indexUnusable(ctx, "length", err)
	}
	n, err := p.store.QueueLength(ctx)
	if err != nil {
		return 0, fmt.Errorf("queue length: %w", err)
	}
	return n, nil
}

func (p *Pairer) queuePosition(ctx context.Context, id uuid.UUID) (int, error) {
	if p.indexUsable() {
		n, err := p.index.Position(ctx, id)
		if err == nil {
			return n, nil
		}
		if !errors.Is(err, ErrNotFound) {
			p.indexUnusable(ctx, "position", err)
		}
		// Not in the index: not queued — or queued a moment ago, its mirroring on its
		// way. The Store decides.
	}
	return p.store.QueuePosition(ctx, id)
}

// checkQueueRoom refuses a new blast while the queue is full (ErrQueueFull). A queue
// that cannot be counted lets the blast through: the bound is the operators' wish, not
// a safety rule.
func (p *Pairer) checkQueueRoom(ctx context.Context) error {
	if !p.policies.QueueEnabled(ctx) {
		return nil
	}
	n, err := p.QueueLength(ctx)
	if err != nil {
		p.log.WarnContext(ctx, "count the queue; the start goes ahead", "err", err)
		return nil
	}
	if max := p.policies.QueueMaxLength(ctx); n >= max {
		return fmt.Errorf("%d blasts wait (at most %d): %w", n, max, ErrQueueFull)
	}
	return nil
}

// queueFirst reports whether a blast that starts searching must queue at once because
// other paid blasts wait: nothing newer goes before them.
func (p *Pairer) queueFirst(ctx context.Context) bool {
	if !p.policies.QueueEnabled(ctx) {
		return false
	}
	n, err := p.QueueLength(ctx)
	if err != nil {
		p.log.WarnContext(ctx, "count the queue; the blast is offered as usual", "err", err)
		return false
	}
	return n > 0
}

// enqueue moves a searching blast into the queue: at its start (nobody available, or
// others wait) or at its deadline (nobody accepted; dueBy guards against a moved
// deadline). Its deadline becomes its payment + QueueMaxWait. It reports false, having
// done nothing, when the queue is off or that wait is used up already: the caller fails
// the blast as the seed does.
func (p *Pairer) enqueue(ctx context.Context, pr Pairing, dueBy *time.Time) (bool, error) {
	if !p.policies.QueueEnabled(ctx) {
		return false, nil
	}
	paid := pr.CreatedAt
	if pr.PaidAt != nil {
		paid = *pr.PaidAt
	}
	deadline := paid.Add(p.policies.QueueMaxWait(ctx))
	now := p.now()
	if !deadline.After(now) {
		return false, nil
	}
	res, err := p.store.Transition(ctx, PairingTransition{
		ID: pr.ID, From: []Status{StatusSearching}, To: StatusQueued, DueBy: dueBy,
		ExpiresAt: &deadline, PaidAt: &paid, OfferStatus: OfferExpired, Now: now,
	})
	if isState(err) {
		return true, nil // matched, cancelled or queued by another caller meanwhile
	}
	if err != nil {
		return true, fmt.Errorf("queue blast %s: %w", pr.ID, err)
	}
	p.unschedule(timerKey{ringTick, pr.ID})
	p.unschedule(timerKey{stepTick, pr.ID}) // the queue is first in, first out: no routing
	p.armDeadline(res.Pairing)
	p.notifyDismissed(ctx, pr.ID, res.Closed, DismissExpired)
	p.offersMissed(ctx, res.Closed)
	p.syncQueue(ctx, pr.ID)
	p.notifyQueue(ctx, &pr.ID)
	if err := p.dispatchQueue(ctx); err != nil {
		p.log.WarnContext(ctx, "offer the queue to free slots; the timeouts sweep does it again", "err", err)
	}
	return true, nil
}

// leftQueue follows a transition that took pr out of the queue: the mitras whose offer of
// it closed get their slot offered again, the index and the clients behind it learn
// their new places (with the new estimate after a match).
func (p *Pairer) leftQueue(ctx context.Context, pr Pairing, outcome QueueOutcome, closed []uuid.UUID) {
	now := p.now()
	p.unschedule(timerKey{queuedOfferDeadline, pr.ID})
	p.syncQueue(ctx, pr.ID)
	paid := pr.CreatedAt
	if pr.PaidAt != nil {
		paid = *pr.PaidAt
	}
	waited := now.Sub(paid)
	if outcome == QueueMatched {
		if _, err := p.store.RecordQueueWait(ctx, waited, now); err != nil {
			p.log.WarnContext(ctx, "record a queue wait in the estimate", "pairing_id", pr.ID, "err", err)
		}
	}
	if h := p.cfg.Hooks.QueueLeft; h != nil {
		h(outcome, waited)
	}
	p.notifyQueue(ctx, nil)
	for _, m := range closed {
		if err := p.MitraAvailable(ctx, m); err != nil {
			p.log.WarnContext(ctx, "offer a freed slot the queue", "mitra_id", m, "err", err)
		}
	}
}

// notifyQueue tells queued clients their place and the estimate (EventQueuePosition):
// every one of the first QueueNotifyLimit, or with from set, that pairing and those
// behind it (only their places changed).
func (p *Pairer) notifyQueue(ctx context.Context, from *uuid.UUID) {
	queue, err := p.store.ListQueue(ctx, p.cfg.QueueNotifyLimit)
	if err != nil {
		p.log.WarnContext(ctx, "read the queue to tell clients their place; they read it when they poll", "err", err)
		return
	}
	start := 0
	if from != nil {
		start = slices.IndexFunc(queue, func(q Pairing) bool { return q.ID == *from })
		if start < 0 {
			return // further back than the notified head, or no longer queued
		}
	}
	est, err := p.waitEstimate(ctx)
	if err != nil {
		p.log.WarnContext(ctx, "read the wait estimate", "err", err)
	}
	for i := start; i < len(queue); i++ {
		p.notifyPosition(ctx, queue[i], i+1, est)
	}
}

func (p *Pairer) notifyPosition(ctx context.Context, pr Pairing, position int, est *time.Duration) {
	ev := QueuePositionEvent{PairingID: pr.ID, QueuePosition: position}
	if est != nil {
		ev.EstimatedWaitSeconds = ptr(WaitSeconds(*est))
	}
	p.notify(ctx, Event{ClientID: ptr(pr.ClientID), Payload: ev})
}

// WaitSeconds is an estimate in whole seconds, as clients are shown it (rounded up: a
// wait under a second shows as 1).
func WaitSeconds(d time.Duration) int64 { return int64(math.Ceil(d.Seconds())) }

// offerQueued offers the head of the queue to the free slots of one mitra.
func (p *Pairer) offerQueued(ctx context.Context, mitraID uuid.UUID) (OfferQueuedResult, error) {
	res, err := p.store.OfferQueued(ctx, OfferQueuedParams{
		MitraID: mitraID, DefaultMaxSessions: p.settings.MitraMaxConcurrentSessions(ctx),
		OfferTTL: p.settings.TargetedTimeout(ctx), Now: p.now(),
	})
	if err != nil {
		return OfferQueuedResult{}, fmt.Errorf("offer the queue to mitra %s: %w", mitraID, err)
	}
	for _, o := range res.Offered {
		pr := o.Pairing
		pr.ExpiresAt = ptr(o.ExpiresAt)
		p.armQueuedOffer(pr.ID, o.ExpiresAt)
		p.notifyOffer(ctx, pr, mitraID)
	}
	return res, nil
}

// dispatchQueue offers the head of the queue to the free slots of available mitras, the
// longest idle first, until no queued pairing is left without an offer or DispatchBatch
// mitras were asked. The mitras of skip are passed over (they just let one lapse or
// declined it: another slot gets the first chance).
func (p *Pairer) dispatchQueue(ctx context.Context, skip ...uuid.UUID) error {
	n, err := p.QueueLength(ctx)
	if err != nil || n == 0 {
		return err
	}
	ids, err := p.avail.FindAvailable(ctx, 0, skip)
	if err != nil || len(ids) == 0 {
		return err
	}
	ordered, err := p.rankOrder(ctx, ids, p.cfg.DispatchBatch)
	if err != nil {
		return fmt.Errorf("dispatch the queue: %w", err)
	}
	var errs []error
	for _, m := range ordered {
		res, err := p.offerQueued(ctx, m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !res.Waiting {
			break
		}
	}
	return errors.Join(errs...)
}

func (p *Pairer) armQueuedOffer(pairingID uuid.UUID, at time.Time) {
	p.schedule(timerKey{queuedOfferDeadline, pairingID}, at, func(ctx context.Context) {
		if _, err := p.expireLapsed(ctx, &pairingID); err != nil {
			p.log.ErrorContext(ctx, "queued offer deadline; the timeouts sweep will retry", "pairing_id", pairingID, "err", err)
		}
	})
}

// expireLapsed ends the offers of queued pairings whose own deadline passed (of one
// pairing, or all): each is a miss, its pairing goes to another slot first, then the
// mitra's slot takes the next queued pairing. It returns how many it ended.
func (p *Pairer) expireLapsed(ctx context.Context, pairingID *uuid.UUID) (int, error) {
	refs, err := p.store.ExpireLapsedOffers(ctx, LapsedOffersParams{PairingID: pairingID, Now: p.now(), Limit: p.cfg.SweepBatch})
	if err != nil || len(refs) == 0 {
		return 0, err
	}
	var mitras []uuid.UUID
	for _, r := range refs {
		p.notifyDismissed(ctx, r.PairingID, []uuid.UUID{r.MitraID}, DismissExpired)
		mitras = append(mitras, r.MitraID)
	}
	p.offersMissed(ctx, mitras)
	errs := []error{p.dispatchQueue(ctx, mitras...)}
	for _, m := range slices.Compact(slices.SortedFunc(slices.Values(mitras), compareUUID)) {
		errs = append(errs, p.MitraAvailable(ctx, m))
	}
	return len(refs), errors.Join(errs...)
}

func compareUUID(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) }

// syncQueue mirrors the queue state of pairings into the QueueIndex, in the order their
// transitions committed (Store.LockQueueEntries). A failure makes the index untrusted
// here and elsewhere until it is rebuilt.
func (p *Pairer) syncQueue(ctx context.Context, ids ...uuid.UUID) {
	if !p.indexUsable() {
		return // not trusted until its rebuild, which reads everything again
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.TimerTimeout)
	defer cancel()
	if err := p.store.LockQueueEntries(dctx, ids, func(es []QueueEntry) error { return p.index.Apply(dctx, es) }); err != nil {
		p.indexUnusable(dctx, "apply", err)
	}
}

func (p *Pairer) indexUsable() bool { return p.index != nil && !p.indexDirty.Load() }

// indexUnusable stops trusting the index until a rebuild (the next SweepTimeouts) and
// tells the other instances to stop too.
func (p *Pairer) indexUnusable(ctx context.Context, op string, err error) {
	if p.indexDirty.Swap(true) {
		return
	}
	p.log.WarnContext(ctx, "queue index unusable: the store answers until it is rebuilt", "op", op, "err", err)
	if ierr := p.index.Invalidate(ctx); ierr != nil {
		p.log.WarnContext(ctx, "invalidate the queue index", "err", ierr)
	}
}

// RebuildQueueIndex rebuilds the QueueIndex from the Store (nothing without one). The
// client runs it at start and with the reseed sweep; SweepTimeouts runs it after a failed
// write or read. While it runs (about a second at 100k queued pairings) the mirroring of
// queue changes waits for it.
func (p *Pairer) RebuildQueueIndex(ctx context.Context) error {
	if p.index == nil {
		return nil
	}
	// A rebuild holds back the mirroring of every queue change (on every instance) while
	// it runs: first make sure the index answers at all.
	if _, err := p.index.Length(ctx); err != nil && !errors.Is(err, ErrQueueIndexNotBuilt) {
		p.indexDirty.Store(true)
		return fmt.Errorf("rebuild the queue index: %w", err)
	}
	if err := p.store.SnapshotQueue(ctx, func(es []QueueEntry) error { return p.index.Replace(ctx, es) }); err != nil {
		p.indexDirty.Store(true)
		return fmt.Errorf("rebuild the queue index: %w", err)
	}
	p.indexDirty.Store(false)
	return nil
}

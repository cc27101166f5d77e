package pairing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/lifecycle"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/pricing"
)

// Pairer matches clients with mitras and runs the chat sessions that result. It
// is safe for concurrent use, also by several instances over one database: every
// transition is a guarded write in the Store, and in-process timers (pairing deadlines,
// session expiry) are backed up by SweepTimeouts.
type Pairer struct {
	store    Store
	avail    Availability
	payments Payments
	quoter   Quoter
	settings Settings
	notifier Notifier
	// extensions is optional (Deps.Extensions).
	extensions Extensions
	policies   Policies
	away       Away       // nil: the missed-offer policy cannot take a mitra offline
	index      QueueIndex // nil: positions and the length come from the Store
	labels     Labels     // nil: no mitra has labels
	cfg        Config
	log        *slog.Logger
	clock      clock.Clock

	// gates serialise the accepts of one pairing on this instance (claim).
	gates acceptGates

	// indexDirty is set when a write to the queue index failed: SweepTimeouts rebuilds it.
	indexDirty atomic.Bool

	// base is the context of timer work; Stop cancels it.
	base   context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	timers  map[timerKey]clock.Timer
	started bool
	stopped bool
	running *lifecycle.InFlight // timer callbacks in flight
	wrapups wrapupSweep         // what the timeouts sweep remembers of the wrap-ups (wrapup.go)
}

type timerKind uint8

const (
	pairingDeadline timerKind = iota + 1
	sessionExpiry
	// ringTick adds the next ring of a ring-policy blast.
	ringTick
	// queuedOfferDeadline ends the live offer of a queued pairing (one at a time).
	queuedOfferDeadline
	// stepTick widens a blast to its next routing step.
	stepTick
)

type timerKey struct {
	kind timerKind
	id   uuid.UUID
}

// NewPairer returns a Pairer over store and deps. It fails, naming the field, when store,
// deps.Availability, deps.Payments or deps.Quoter is nil, or cfg holds a negative
// duration or count.
//
// Call Start once at startup (before serving requests: it restores the timers), run
// SweepTimeouts periodically, and Stop on shutdown. A Pairer serves calls (and arms
// timers) without Start too; Start only brings back the timers of an earlier process.
func NewPairer(store Store, deps Deps, cfg *Config) (*Pairer, error) {
	if err := core.FirstError(
		core.Required("store", store == nil),
		core.Required("Deps.Availability", deps.Availability == nil),
		core.Required("Deps.Payments", deps.Payments == nil),
		core.Required("Deps.Quoter", deps.Quoter == nil),
		cfg.validate(),
	); err != nil {
		return nil, fmt.Errorf("pairing.NewPairer: %w", err)
	}
	c := cfg.WithDefaults()
	p := &Pairer{
		store:      store,
		avail:      deps.Availability,
		payments:   deps.Payments,
		quoter:     deps.Quoter,
		settings:   deps.Settings,
		notifier:   deps.Notifier,
		extensions: deps.Extensions,
		policies:   deps.Policies,
		away:       deps.Away,
		index:      deps.QueueIndex,
		labels:     deps.Labels,
		cfg:        c,
		log:        c.Logger,
		clock:      c.Clock,
		timers:     map[timerKey]clock.Timer{},
		running:    lifecycle.NewInFlight(),
	}
	if p.settings == nil {
		p.settings = DefaultSettings{}
	}
	if p.notifier == nil {
		p.notifier = DiscardNotifier{}
	}
	if p.policies == nil {
		if sp, ok := p.settings.(Policies); ok {
			p.policies = sp
		} else {
			p.policies = DefaultPolicies{}
		}
	}
	if p.away == nil {
		p.away, _ = deps.Availability.(Away)
	}
	p.base, p.cancel = context.WithCancel(context.Background())
	return p, nil
}

// Start re-arms, from the store, the timers of every active chat session and every
// waiting pairing; those already past their time are ended at once. ctx bounds that work
// only: the timers run until Stop. It returns the first error of the restore (what it
// could restore is restored), and fails when the Pairer was started or stopped already.
func (p *Pairer) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.started || p.stopped {
		p.mu.Unlock()
		return errors.New("pairing: Pairer already started or stopped")
	}
	p.started = true
	p.mu.Unlock()
	n, err := p.restoreTimers(ctx)
	if n > 0 {
		p.log.InfoContext(ctx, "chat session and pairing timers restored", "count", n)
	}
	return err
}

// Stop stops every timer and waits (until ctx ends) for timer work in flight. It is
// idempotent and safe before Start. The Pairer keeps serving calls afterwards but arms no
// more timers; the timeouts sweep of another instance (or a restart's Start) takes over.
func (p *Pairer) Stop(ctx context.Context) error {
	p.mu.Lock()
	p.stopped = true
	for k, t := range p.timers {
		t.Stop()
		delete(p.timers, k)
	}
	p.mu.Unlock()
	p.cancel()
	return p.running.Drain(ctx)
}

// Stopped is closed once Stop has stopped every timer and the work of those that fired.
func (p *Pairer) Stopped() <-chan struct{} { return p.running.Drained() }

// now is the Pairer's time, at the store's precision, so that what is written and what
// is compared agree in memory and in Postgres.
func (p *Pairer) now() time.Time { return p.clock.Now().UTC().Truncate(time.Microsecond) }

// clearsAt is when the earning of a session ending at now becomes available.
func (p *Pairer) clearsAt(ctx context.Context, now time.Time) time.Time {
	d := DefaultEarningsClearance
	if c, ok := p.settings.(ClearanceSettings); ok {
		d = c.EarningsClearance(ctx)
	}
	return now.Add(d)
}

// schedule (re)arms the timer of key to run fn at at. A timer that was replaced or
// stopped meanwhile does nothing when it fires.
func (p *Pairer) schedule(key timerKey, at time.Time, fn func(ctx context.Context)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	if old, ok := p.timers[key]; ok {
		old.Stop()
	}
	var t clock.Timer
	t = p.clock.AfterFunc(max(at.Sub(p.clock.Now()), 0), func() {
		p.mu.Lock()
		if p.stopped || p.timers[key] != t {
			p.mu.Unlock()
			return
		}
		delete(p.timers, key)
		p.running.Add()
		p.mu.Unlock()
		defer p.running.Done()

		ctx, cancel := context.WithTimeout(p.base, p.cfg.TimerTimeout)
		defer cancel()
		fn(ctx)
	})
	p.timers[key] = t
}

// stopWaiting drops the timers of a pairing that stopped waiting (matched, failed or
// cancelled): its deadline, its next ring and its next routing step.
func (p *Pairer) stopWaiting(id uuid.UUID) {
	for _, kind := range []timerKind{pairingDeadline, ringTick, stepTick} {
		p.unschedule(timerKey{kind, id})
	}
}

func (p *Pairer) unschedule(key timerKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.timers[key]; ok {
		t.Stop()
		delete(p.timers, key)
	}
}

// Timers reports how many in-process timers are armed (for tests and metrics).
func (p *Pairer) Timers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.timers)
}

func (p *Pairer) armDeadline(pr Pairing) {
	if pr.ExpiresAt == nil || !pr.Status.Deadlined() {
		return
	}
	id := pr.ID
	p.schedule(timerKey{pairingDeadline, id}, *pr.ExpiresAt, func(ctx context.Context) {
		if err := p.expirePairing(ctx, id); err != nil {
			p.log.ErrorContext(ctx, "pairing deadline; the timeouts sweep will retry", "pairing_id", id, "err", err)
		}
	})
}

func (p *Pairer) armExpiry(s ChatSession) {
	if s.Status != SessionActive || s.EndsAt == nil {
		return
	}
	id := s.ID
	p.schedule(timerKey{sessionExpiry, id}, *s.EndsAt, func(ctx context.Context) {
		if _, err := p.expireSession(ctx, id); err != nil {
			p.log.ErrorContext(ctx, "session expiry; the timeouts sweep will retry", "chat_session_id", id, "err", err)
		}
	})
}

// capacityChanged mirrors the mitra's capacity after a chat-session transition and, when
// the transition freed a slot, records the mitra idle from now (the ring policy's order)
// and offers it what waits: the head of the queue, then the blasts still searching.
func (p *Pairer) capacityChanged(ctx context.Context, mitraID uuid.UUID, freed bool) {
	if _, err := p.avail.RecomputeCapacity(ctx, mitraID); err != nil {
		p.log.WarnContext(ctx, "recompute capacity; the reseed sweep heals the mirror", "mitra_id", mitraID, "err", err)
	}
	if freed {
		if err := p.store.MarkIdle(ctx, mitraID, p.now()); err != nil {
			p.log.WarnContext(ctx, "record a mitra idle; the ring order sees it later", "mitra_id", mitraID, "err", err)
		}
		if err := p.MitraAvailable(ctx, mitraID); err != nil {
			p.log.WarnContext(ctx, "offer searching blasts to a freed mitra", "mitra_id", mitraID, "err", err)
		}
	}
}

func (p *Pairer) notify(ctx context.Context, e Event) { p.notifier.Notify(ctx, e) }

// notifyMitras sends e (MitraID unset) to every mitra of mitras: in one call when the
// Notifier is a MitrasNotifier, else one Notify per mitra.
func (p *Pairer) notifyMitras(ctx context.Context, e Event, mitras []uuid.UUID) {
	if len(mitras) == 0 {
		return
	}
	if mn, ok := p.notifier.(MitrasNotifier); ok {
		mn.NotifyMitras(ctx, e, mitras)
		return
	}
	for _, m := range mitras {
		one := e
		one.MitraID = ptr(m)
		p.notify(ctx, one)
	}
}

func ptr[T any](v T) *T { return &v }

// refund gives back all that remains of a payment and reports whether it is refunded now.
// Failures are logged: the payment side retries them.
func (p *Pairer) refund(ctx context.Context, paymentID uuid.UUID, reason string) bool {
	pay, err := p.payments.Refund(ctx, paymentID, reason)
	if err == nil && pay.Status == payment.StatusRefunded {
		return true
	}
	if err != nil {
		// It may have been refunded already (a duplicate event, another instance).
		if cur, gerr := p.payments.Get(ctx, paymentID); gerr == nil && cur.Status == payment.StatusRefunded {
			return true
		}
	}
	p.log.WarnContext(ctx, "refund did not go through", "payment_id", paymentID, "reason", reason, "err", err)
	return false
}

func validateMinutes(minutes int) error {
	if minutes < 1 || minutes > 1440 {
		return core.Invalid("minutes", "must be between 1 and 1440, not %d", minutes)
	}
	return nil
}

func requireID(field string, id uuid.UUID) error {
	if id == uuid.Nil {
		return core.Invalid(field, "is required")
	}
	return nil
}

// quote prices a chat; an error that is neither ErrNoTier nor a validation error from the
// pricing side is reported as is.
func (p *Pairer) quote(ctx context.Context, clientID uuid.UUID, minutes int) (pricing.Quote, error) {
	q, err := p.quoter.Quote(ctx, clientID, pricing.ModeSession, minutes)
	if err != nil {
		return pricing.Quote{}, fmt.Errorf("quote %d minutes: %w", minutes, err)
	}
	return q, nil
}

func isState(err error) bool { return errors.Is(err, ErrInvalidState) }

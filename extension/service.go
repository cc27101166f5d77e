package extension

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/lifecycle"
	"github.com/curhat/curhat/pairing"
)

// Service runs extensions: requests, the mitra's decision or auto-approval, the charge,
// and what the payment's outcome does to the chat session. It is safe for concurrent use,
// also by several instances over one database.
type Service struct {
	store    Store
	sessions Sessions
	reach    Reachability
	payments Payments
	quoter   Quoter
	settings Settings
	notifier pairing.Notifier
	cfg      Config
	log      *slog.Logger
	clock    clock.Clock

	mu      sync.Mutex
	timers  map[uuid.UUID]clock.Timer // decision deadlines of requested extensions
	stopped bool
	running *lifecycle.InFlight // deadline work in flight
}

// NewService returns a Service over store (NewPostgresStore, or NewMemoryStore in
// tests). cfg may be nil. It fails, naming the field, when store, deps.Sessions,
// deps.Reachability, deps.Payments or deps.Quoter is nil, or cfg holds a negative
// duration or count.
//
// Register it with the payment service: payments.SetHandler(payment.PurposeExtension, svc).
func NewService(store Store, deps Deps, cfg *Config) (*Service, error) {
	if err := core.FirstError(
		core.Required("store", store == nil),
		core.Required("Deps.Sessions", deps.Sessions == nil),
		core.Required("Deps.Reachability", deps.Reachability == nil),
		core.Required("Deps.Payments", deps.Payments == nil),
		core.Required("Deps.Quoter", deps.Quoter == nil),
		cfg.validate(),
	); err != nil {
		return nil, fmt.Errorf("extension.NewService: %w", err)
	}
	c := cfg.WithDefaults()
	s := &Service{
		store:    store,
		sessions: deps.Sessions,
		reach:    deps.Reachability,
		payments: deps.Payments,
		quoter:   deps.Quoter,
		settings: deps.Settings,
		notifier: deps.Notifier,
		cfg:      c,
		log:      c.Logger,
		clock:    c.Clock,
		timers:   map[uuid.UUID]clock.Timer{},
		running:  lifecycle.NewInFlight(),
	}
	if s.settings == nil {
		s.settings = DefaultSettings{}
	}
	if s.notifier == nil {
		s.notifier = pairing.DiscardNotifier{}
	}
	return s, nil
}

// Get returns an extension, or ErrNotFound. Whether the caller may see it is the caller's
// business (the session's client and mitra may).
func (s *Service) Get(ctx context.Context, id uuid.UUID) (Extension, error) {
	e, err := s.store.Get(ctx, id)
	if err != nil {
		return Extension{}, fmt.Errorf("get extension %s: %w", id, err)
	}
	return e, nil
}

// PaidExtensions returns the extensions applied to a chat session (paid: its ends_at and
// minutes grew), oldest first — what the refund of a reroute that finds nobody counts
// (*Service satisfies pairing.Extensions).
func (s *Service) PaidExtensions(ctx context.Context, chatSessionID uuid.UUID) ([]pairing.PaidExtension, error) {
	es, err := s.ListForSession(ctx, chatSessionID)
	if err != nil {
		return nil, err
	}
	var out []pairing.PaidExtension
	for _, e := range es {
		if e.Status == StatusPaid && e.PaymentSessionID != nil {
			out = append(out, pairing.PaidExtension{PaymentID: *e.PaymentSessionID, Amount: e.Amount, Minutes: e.Minutes})
		}
	}
	return out, nil
}

// ListForSession returns a chat session's extensions, oldest first ([] when none).
func (s *Service) ListForSession(ctx context.Context, chatSessionID uuid.UUID) ([]Extension, error) {
	es, err := s.store.ListForSession(ctx, chatSessionID)
	if err != nil {
		return nil, fmt.Errorf("list extensions of chat session %s: %w", chatSessionID, err)
	}
	return es, nil
}

// Stop stops the in-process decision timers and waits (until ctx ends) for the work of
// those that fired; later requests arm none. Requests still undecided are expired by
// SweepExpired (on this instance or another). Stop is idempotent.
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	for id, t := range s.timers {
		t.Stop()
		delete(s.timers, id)
	}
	s.mu.Unlock()
	return s.running.Drain(ctx)
}

// Stopped is closed once Stop has stopped the timers and the work of those that fired.
func (s *Service) Stopped() <-chan struct{} { return s.running.Drained() }

// now is the clock's time at Postgres precision, so that both stores compare alike.
func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

func (s *Service) notify(ctx context.Context, e pairing.Event) { s.notifier.Notify(ctx, e) }

// detached keeps ctx's values but not its cancellation, bounded by TimerTimeout: for the
// work that must follow a committed transition.
func (s *Service) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.cfg.TimerTimeout)
}

func ptr[T any](v T) *T { return &v }

package payment

import (
	"cmp"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/clock"
)

// Defaults of Config.
const (
	// DefaultTTL is how long a session stays payable when Config.TTL is nil or returns a
	// non-positive duration (payment_session_ttl_seconds defaults to 900).
	DefaultTTL = 15 * time.Minute
	// DefaultReplayWait bounds how long a replayed Create waits for the first call's charge.
	DefaultReplayWait = 10 * time.Second
	// DefaultExpireBatchSize is how many sessions ExpireStale expires per statement.
	DefaultExpireBatchSize = 500
	// DefaultDetachedTimeout bounds each piece of work that follows a committed transition.
	DefaultDetachedTimeout = 10 * time.Second
	// DefaultRedeliverAfter is how long an outcome may stay undelivered (its handler failed,
	// or the process stopped between the two steps) before ExpireStale delivers it again.
	DefaultRedeliverAfter = 30 * time.Second
)

// Config configures a Service. The zero value (or nil) works.
type Config struct {
	// Logger receives a line per transition and per refund. Defaults to discarding.
	Logger *slog.Logger
	// Clock stamps the rows and decides expiry. Defaults to the wall clock.
	Clock clock.Clock
	// TTL returns how long a new session stays payable, read at each Create (wire it to
	// the runtime setting payment_session_ttl_seconds). Nil, or a non-positive result,
	// means DefaultTTL.
	TTL func(ctx context.Context) time.Duration
	// ReplayWait bounds how long a Create replayed with an idempotency key waits for the
	// first call to obtain its charge, measured on the wall clock. Defaults to 10 seconds.
	ReplayWait time.Duration
	// ExpireBatchSize is how many sessions ExpireStale expires per statement. Defaults
	// to 500.
	ExpireBatchSize int
	// DetachedTimeout bounds each piece of work that follows a committed transition: a
	// Handler call, a gateway refund, recording the gateway's answer. That work runs
	// detached from the caller's cancellation, so that a webhook caller hanging up cannot
	// leave a paid session without its next step or a claimed refund unissued. Defaults to
	// 10 seconds.
	DetachedTimeout time.Duration
	// RedeliverAfter is how long a paid, failed or expired session may stay without a
	// successful handler call before ExpireStale calls the handler again. Handlers must be
	// idempotent. Defaults to DefaultRedeliverAfter.
	RedeliverAfter time.Duration
	// Hooks report refunds, for metrics.
	Hooks Hooks
}

// Hooks are optional callbacks for metrics. They run synchronously: keep them cheap.
type Hooks struct {
	// RefundIssued is called after the gateway accepted a refund (s is refunded).
	RefundIssued func(ctx context.Context, s Session)
	// RefundFailed is called when the gateway refused a refund (s is refund_failed).
	RefundFailed func(ctx context.Context, s Session, err error)
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c *Config) WithDefaults() Config {
	var out Config
	if c != nil {
		out = *c
	}
	out.Logger = cmp.Or(out.Logger, slog.New(slog.DiscardHandler))
	out.Clock = clock.Or(out.Clock)
	if out.ReplayWait <= 0 {
		out.ReplayWait = DefaultReplayWait
	}
	if out.ExpireBatchSize <= 0 {
		out.ExpireBatchSize = DefaultExpireBatchSize
	}
	if out.RedeliverAfter <= 0 {
		out.RedeliverAfter = DefaultRedeliverAfter
	}
	if out.DetachedTimeout <= 0 {
		out.DetachedTimeout = DefaultDetachedTimeout
	}
	return out
}

// Handler reacts to the outcome of the sessions of one Purpose (SetHandler). Each method
// is called once per session, by the instance whose guarded update decided the outcome;
// it should still be idempotent (Redeliver calls it again on purpose).
type Handler interface {
	// PaymentPaid starts what the payment was for (a blast, a chat, more minutes).
	// Returning an error that wraps ErrInvalidState means nothing waits for this payment
	// any more (the pairing was cancelled, the chat ended): the payment is then refunded
	// automatically. Any other error is returned to MarkPaid's caller; the session stays
	// paid.
	PaymentPaid(ctx context.Context, s Session) error
	// PaymentClosed releases what waited on a session that failed or expired. It is not
	// called for Cancel: whoever cancels releases what waited.
	PaymentClosed(ctx context.Context, s Session) error
}

// Service manages payment sessions over a Store and a Gateway. It is safe for concurrent
// use, also by several instances over one database.
type Service struct {
	store Store
	gw    Gateway
	cfg   Config

	mu       sync.RWMutex
	handlers map[Purpose]Handler
}

// NewService returns a Service over store (NewPostgresStore, or paymenttest.NewStore in
// tests) and gw (paymenttest.NewGateway in tests). cfg may be nil.
func NewService(store Store, gw Gateway, cfg *Config) *Service {
	return &Service{store: store, gw: gw, cfg: cfg.WithDefaults(), handlers: map[Purpose]Handler{}}
}

// SetHandler registers h for the sessions of purpose p (nil removes it). Register
// handlers at wiring time, before webhooks and sweeps run: an outcome decided while no
// handler is registered only updates the row.
func (s *Service) SetHandler(p Purpose, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h == nil {
		delete(s.handlers, p)
		return
	}
	s.handlers[p] = h
}

func (s *Service) handler(p Purpose) Handler {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.handlers[p]
}

// Get returns the session, or ErrNotFound.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (Session, error) {
	return s.store.Get(ctx, id)
}

// FindByIdempotencyKey returns the client's session created with key, or ErrNotFound.
func (s *Service) FindByIdempotencyKey(ctx context.Context, clientID uuid.UUID, key string) (Session, error) {
	return s.store.FindByIdempotencyKey(ctx, clientID, key)
}

// HasPaidChatStart reports whether the client has a paid chat_start session (then the
// first-session discount is used up). Refunded payments do not count.
func (s *Service) HasPaidChatStart(ctx context.Context, clientID uuid.UUID) (bool, error) {
	return s.store.HasPaidChatStart(ctx, clientID)
}

// now is the clock's time at Postgres precision, so that both stores compare alike.
func (s *Service) now() time.Time { return s.cfg.Clock.Now().UTC().Truncate(time.Microsecond) }

// ttl is the lifetime of a new session.
func (s *Service) ttl(ctx context.Context) time.Duration {
	if s.cfg.TTL != nil {
		if d := s.cfg.TTL(ctx); d > 0 {
			return d
		}
	}
	return DefaultTTL
}

// detached keeps ctx's values but not its cancellation, bounded by DetachedTimeout: for the
// work that must follow a transition (or a gateway call) that already happened.
func (s *Service) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.cfg.DetachedTimeout)
}

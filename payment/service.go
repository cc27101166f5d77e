package payment

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/core"
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
	// DefaultRefundRetryBase is the backoff after a refund's first refusal; it doubles with
	// every refusal (PAYMENT_REFUND_RETRY_SECONDS of the reference server).
	DefaultRefundRetryBase = 60 * time.Second
	// MaxRefundBackoff bounds the wait between two attempts of a refused refund.
	MaxRefundBackoff = time.Hour
	// DefaultRefundMaxAttempts is how many times RetryRefunds attempts a refund before it
	// leaves it failed for operators.
	DefaultRefundMaxAttempts = 10
	// DefaultRefundBatchSize is how many refunds RetryRefunds claims per statement.
	DefaultRefundBatchSize = 100
)

// Config configures a Service. The zero value (or nil) works.
type Config struct {
	// Logger receives a line per transition and per refund. Defaults to discarding.
	Logger *slog.Logger
	// Clock stamps the rows and decides expiry (a curhat.Clock, which a host may
	// implement). Defaults to the wall clock.
	Clock clock.Clock
	// TTL returns how long a new session stays payable, read at each Create (wire it to
	// the runtime setting payment_session_ttl_seconds). Nil, or a non-positive result,
	// means DefaultTTL.
	TTL func(ctx context.Context) time.Duration
	// FeePercent returns the platform's share (0..100) fixed on each payment when it is
	// paid (wire it to curhat.RuntimeConfig.PlatformFeePercent). Nil: 0.
	FeePercent func(ctx context.Context) int
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
	// RefundRetryBase is the wait after a refund's first refusal; each further refusal
	// doubles it, up to MaxRefundBackoff. Defaults to 60 seconds.
	RefundRetryBase time.Duration
	// RefundMaxAttempts is how many attempts RetryRefunds makes before a refused refund
	// stays failed (an operator may still retry it). Defaults to 10.
	RefundMaxAttempts int
	// RefundLease is how long an attempt may run before another one may be made: the
	// attempt's process died or lost the database after claiming it. A refund recorded but
	// never attempted is due that long after it was recorded (its recorder sends it at
	// once, unless it died). It must exceed the time a gateway call and its recording take.
	// Defaults to 2 × DetachedTimeout.
	RefundLease time.Duration
	// RefundBatchSize is how many refunds RetryRefunds claims at a time. Defaults to 100.
	RefundBatchSize int
	// Hooks report refunds to a metrics system. The zero value reports nothing.
	Hooks Hooks
}

// Hooks report refunds to a metrics system. Every field is optional: a nil one is not
// called. They run synchronously on the refund path: keep them cheap.
type Hooks struct {
	// RefundIssued is called after the gateway made a refund (r succeeded; r.Amount is
	// what went back).
	RefundIssued func(ctx context.Context, r Refund)
	// RefundFailed is called when the gateway refused an attempt (r is failed).
	RefundFailed func(ctx context.Context, r Refund, err error)
}

// validate reports a field no default can stand for: a negative duration or count.
func (c *Config) validate() error {
	if c == nil {
		return nil
	}
	return core.FirstError(
		core.NotNegative("Config.ReplayWait", c.ReplayWait),
		core.NotNegative("Config.ExpireBatchSize", c.ExpireBatchSize),
		core.NotNegative("Config.DetachedTimeout", c.DetachedTimeout),
		core.NotNegative("Config.RedeliverAfter", c.RedeliverAfter),
		core.NotNegative("Config.RefundRetryBase", c.RefundRetryBase),
		core.NotNegative("Config.RefundMaxAttempts", c.RefundMaxAttempts),
		core.NotNegative("Config.RefundLease", c.RefundLease),
		core.NotNegative("Config.RefundBatchSize", c.RefundBatchSize),
	)
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c *Config) WithDefaults() Config {
	out := core.Deref(c)
	out.Logger, out.Clock = core.LoggerOr(out.Logger), clock.Or(out.Clock)
	out.ReplayWait = cmp.Or(out.ReplayWait, DefaultReplayWait)
	out.ExpireBatchSize = cmp.Or(out.ExpireBatchSize, DefaultExpireBatchSize)
	out.RedeliverAfter = cmp.Or(out.RedeliverAfter, DefaultRedeliverAfter)
	out.DetachedTimeout = cmp.Or(out.DetachedTimeout, DefaultDetachedTimeout)
	out.RefundRetryBase = cmp.Or(out.RefundRetryBase, DefaultRefundRetryBase)
	out.RefundMaxAttempts = cmp.Or(out.RefundMaxAttempts, DefaultRefundMaxAttempts)
	out.RefundLease = cmp.Or(out.RefundLease, 2*out.DetachedTimeout)
	out.RefundBatchSize = cmp.Or(out.RefundBatchSize, DefaultRefundBatchSize)
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

	mu             sync.RWMutex
	handlers       map[Purpose]Handler
	refundListener func(ctx context.Context, r Refund)
}

// NewService returns a Service over store (NewPostgresStore, or NewMemoryStore in
// tests) and gw (NewFakeGateway in tests). cfg may be nil. It fails, naming the
// field, when store or gw is nil or cfg holds a negative duration or count.
func NewService(store Store, gw Gateway, cfg *Config) (*Service, error) {
	if err := core.FirstError(core.Required("store", store == nil), core.Required("gateway", gw == nil), cfg.validate()); err != nil {
		return nil, fmt.Errorf("payment.NewService: %w", err)
	}
	return &Service{store: store, gw: gw, cfg: cfg.WithDefaults(), handlers: map[Purpose]Handler{}}, nil
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
// first-session discount is used up). A payment given back in full (or being given back)
// does not count; one refunded in part (a chat delivered, then rerouted to nobody) does.
func (s *Service) HasPaidChatStart(ctx context.Context, clientID uuid.UUID) (bool, error) {
	return s.store.HasPaidChatStart(ctx, clientID)
}

// CountPending counts the sessions of every purpose (chat_start, extension) that wait for
// their client to pay and still can: pending, not yet expired.
func (s *Service) CountPending(ctx context.Context) (int, error) {
	return s.store.CountPending(ctx, s.now())
}

// now is the clock's time at Postgres precision, so that both stores compare alike.
func (s *Service) now() time.Time { return s.cfg.Clock.Now().UTC().Truncate(time.Microsecond) }

// ttl is the lifetime of a new session.
// feePercent is the platform's share to fix on a payment paid now.
func (s *Service) feePercent(ctx context.Context) *int {
	pct := 0
	if s.cfg.FeePercent != nil {
		pct = min(max(s.cfg.FeePercent(ctx), 0), 100)
	}
	return &pct
}

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

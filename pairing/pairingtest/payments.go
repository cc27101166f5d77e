package pairingtest

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
)

// RefundListener is told when a refund went through; *pairing.Pairer implements it.
type RefundListener interface {
	RefundSucceeded(ctx context.Context, cause string) error
}

// Payments is a pairing.Payments backed by the real payment service over an in-memory
// payment store (or a given one) and a fake gateway: per-client idempotency keys, sessions
// created paid when free, Cancel refunding a session paid in between, a payment arriving
// after cancellation or expiry refunded at once and never handed to the handler, partial
// refunds recorded before they are sent and retried by RetryRefunds. Wire its
// RecordRefunds into a pairing.MemoryStore built alone (MemoryStore.RecordRefunds) so that
// the refunds a transition owes are recorded with it.
type Payments struct {
	// Now tells the time (defaults to the wall clock).
	Now func() time.Time
	// TTL is how long a session stays payable (defaults to 15 minutes).
	TTL time.Duration

	store   payment.Store
	gateway *payment.FakeGateway
	svc     *payment.Service

	mu        sync.Mutex
	handler   payment.Handler
	createErr error
	created   []uuid.UUID
}

var _ pairing.Payments = (*Payments)(nil)

// NewPayments returns a Payments over an empty in-memory payment store.
func NewPayments() *Payments { return NewPaymentsOver(payment.NewMemoryStore()) }

// NewPaymentsOver returns a Payments over store — payment.NewPostgresStore when the
// pairing store is Postgres, so that the refunds its transitions record
// (payment.RecordRefundTx) land next to the payments (in memory, a payment store over the
// pairing store's database does the same). A nil store is an empty in-memory one.
func NewPaymentsOver(store payment.Store) *Payments {
	if store == nil {
		store = payment.NewMemoryStore()
	}
	p := &Payments{store: store, gateway: payment.NewFakeGateway()}
	svc, err := payment.NewService(store, p.gateway, &payment.Config{
		Clock: funcClock{p.now},
		TTL:   func(context.Context) time.Duration { return p.TTL },
	})
	if err != nil {
		panic(err) // a store, a gateway and a fixed config: unreachable
	}
	p.svc = svc
	p.svc.SetHandler(payment.PurposeChatStart, handlerAdapter{p})
	return p
}

// Service is the payment service behind p (for RetryRefunds, ListRefunds, Reconcile).
func (p *Payments) Service() *payment.Service { return p.svc }

// Gateway is the fake gateway behind p.
func (p *Payments) Gateway() *payment.FakeGateway { return p.gateway }

// SetHandler registers the chat_start handler (a *pairing.Pairer). A handler that is also
// a RefundListener is told of the refunds that went through.
func (p *Payments) SetHandler(h payment.Handler) {
	p.mu.Lock()
	p.handler = h
	p.mu.Unlock()
	if l, ok := h.(RefundListener); ok {
		p.svc.SetRefundListener(func(ctx context.Context, r payment.Refund) { _ = l.RefundSucceeded(ctx, r.Cause) })
	}
}

// FailRefunds makes the provider refuse refunds (sessions end refund_failed) while on.
func (p *Payments) FailRefunds(on bool) { p.gateway.FailRefunds(on) }

// FailCreate makes Create fail with err (nil: work again).
func (p *Payments) FailCreate(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.createErr = err
}

func (p *Payments) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}

func (p *Payments) Create(ctx context.Context, params payment.CreateParams) (payment.Session, bool, error) {
	p.mu.Lock()
	createErr := p.createErr
	p.mu.Unlock()
	if createErr != nil {
		return payment.Session{}, false, createErr
	}
	s, replayed, err := p.svc.Create(ctx, params)
	if err == nil && !replayed {
		p.mu.Lock()
		p.created = append(p.created, s.ID)
		p.mu.Unlock()
	}
	return s, replayed, err
}

func (p *Payments) Get(ctx context.Context, id uuid.UUID) (payment.Session, error) {
	return p.svc.Get(ctx, id)
}

func (p *Payments) FindByIdempotencyKey(ctx context.Context, clientID uuid.UUID, key string) (payment.Session, error) {
	return p.svc.FindByIdempotencyKey(ctx, clientID, key)
}

func (p *Payments) Cancel(ctx context.Context, id uuid.UUID) (payment.Session, error) {
	return p.svc.Cancel(ctx, id)
}

func (p *Payments) Refund(ctx context.Context, id uuid.UUID, reason string) (payment.Session, error) {
	return p.svc.Refund(ctx, id, reason)
}

func (p *Payments) SettleRefunds(ctx context.Context, cause string, retryFailed bool) (payment.RefundSummary, error) {
	return p.svc.SettleRefunds(ctx, cause, retryFailed)
}

// RecordRefunds records a refund intent in the payment store: the hook of the in-memory
// pairing store (Store.RecordRefunds).
func (p *Payments) RecordRefunds(ctx context.Context, r payment.RefundOrder, at time.Time) ([]payment.Refund, error) {
	return RecordRefunds(ctx, p.store, r, at)
}

// RecordRefunds records a refund intent in a payment store and returns what it recorded:
// what a Store.RecordRefunds hook does.
func RecordRefunds(ctx context.Context, store payment.Store, r payment.RefundOrder, at time.Time) ([]payment.Refund, error) {
	return store.RecordRefund(ctx, payment.RefundRecord{RefundOrder: r, At: at})
}

// Pay confirms a payment, as the provider's webhook would: a pending session becomes
// paid and the handler's PaymentPaid runs; a session closed meanwhile is refunded and
// starts nothing; a paid one is a duplicate.
func (p *Payments) Pay(ctx context.Context, id uuid.UUID) error {
	_, err := p.svc.MarkPaid(ctx, id, "")
	return err
}

// Expire closes a pending payment as expired (the stale-payments sweep) and tells the
// handler; Fail does the same for a failed charge.
func (p *Payments) Expire(ctx context.Context, id uuid.UUID) error {
	_, changed, err := p.store.Transition(ctx, payment.Transition{
		ID: id, From: []payment.Status{payment.StatusPending}, To: payment.StatusExpired, At: p.now(),
	})
	if err != nil || !changed {
		return err
	}
	_, err = p.svc.Redeliver(ctx, id)
	return err
}

func (p *Payments) Fail(ctx context.Context, id uuid.UUID) error {
	_, err := p.svc.MarkFailed(ctx, id, "")
	return err
}

// Created counts the sessions created (replays excluded): what would have been charged.
func (p *Payments) Created() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.created)
}

// Refunds counts the refunds the provider made of a payment.
func (p *Payments) Refunds(id uuid.UUID) int { return p.gateway.RefundsFor(id) }

// RefundedAmount sums what the provider gave back of a payment.
func (p *Payments) RefundedAmount(id uuid.UUID) int64 { return p.gateway.RefundedAmount(id) }

// All returns every payment session created through p.
func (p *Payments) All() []payment.Session {
	p.mu.Lock()
	ids := append([]uuid.UUID(nil), p.created...)
	p.mu.Unlock()
	out := make([]payment.Session, 0, len(ids))
	for _, id := range ids {
		if s, err := p.svc.Get(context.Background(), id); err == nil {
			out = append(out, s)
		}
	}
	return out
}

// handlerAdapter hands chat_start outcomes to the registered PaymentHandler.
type handlerAdapter struct{ p *Payments }

func (h handlerAdapter) get() payment.Handler {
	h.p.mu.Lock()
	defer h.p.mu.Unlock()
	return h.p.handler
}

func (h handlerAdapter) PaymentPaid(ctx context.Context, s payment.Session) error {
	if hd := h.get(); hd != nil {
		return hd.PaymentPaid(ctx, s)
	}
	return nil
}

func (h handlerAdapter) PaymentClosed(ctx context.Context, s payment.Session) error {
	if hd := h.get(); hd != nil {
		return hd.PaymentClosed(ctx, s)
	}
	return nil
}

// funcClock is a clock.Clock telling the time of a func (the payment service only asks
// the time).
type funcClock struct{ now func() time.Time }

func (c funcClock) Now() time.Time { return c.now() }

func (c funcClock) AfterFunc(d time.Duration, f func()) clock.Timer { return time.AfterFunc(d, f) }

// Extensions is an in-memory pairing.Extensions: the extensions applied to each chat
// session, as a test declares them.
type Extensions struct {
	mu   sync.Mutex
	paid map[uuid.UUID][]pairing.PaidExtension
}

var _ pairing.Extensions = (*Extensions)(nil)

// NewExtensions returns an Extensions with none applied.
func NewExtensions() *Extensions { return &Extensions{paid: map[uuid.UUID][]pairing.PaidExtension{}} }

// Applied records an extension applied to a chat session.
func (e *Extensions) Applied(chatSessionID uuid.UUID, x pairing.PaidExtension) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.paid[chatSessionID] = append(e.paid[chatSessionID], x)
}

func (e *Extensions) PaidExtensions(_ context.Context, chatSessionID uuid.UUID) ([]pairing.PaidExtension, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]pairing.PaidExtension(nil), e.paid[chatSessionID]...), nil
}

package pairing

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/pricing"
)

// The Pairer's view of the services it works with. Each is a small interface owned here,
// satisfied by the SDK's own services (*payment.Service, *pricing.PricingStore,
// *extension.Service, *curhat.RuntimeConfig; availability.Mirror through curhat.NewClient's
// wiring); pairingtest has in-memory fakes of each.

// Availability answers who can take a chat, and keeps the capacity mirror fresh.
type Availability interface {
	// FindAvailable returns up to limit available mitras (0 = all of them), none of
	// exclude: online, not deactivated, heartbeat fresh, under capacity.
	FindAvailable(ctx context.Context, limit int, exclude []uuid.UUID) ([]uuid.UUID, error)
	// IsReachable reports whether the mitra is online, not deactivated and its heartbeat
	// fresh (capacity ignored).
	IsReachable(ctx context.Context, mitraID uuid.UUID) (bool, error)
	// RecomputeCapacity derives the mitra's count of active + pending_payment chat
	// sessions from the durable store and mirrors it. The Pairer calls it after every
	// chat-session transition.
	RecomputeCapacity(ctx context.Context, mitraID uuid.UUID) (int, error)
}

// Payments creates, reads, cancels and refunds payment sessions; *payment.Service
// satisfies it.
type Payments interface {
	// Create opens a payment session. A session whose amount is 0 comes back already paid.
	// With an IdempotencyKey (per client), a second Create with the same key returns the
	// first session (replayed = true) and never charges twice.
	Create(ctx context.Context, p payment.CreateParams) (pay payment.Session, replayed bool, err error)
	Get(ctx context.Context, id uuid.UUID) (payment.Session, error)
	// FindByIdempotencyKey returns the client's session created with key, or ErrNotFound.
	FindByIdempotencyKey(ctx context.Context, clientID uuid.UUID, key string) (payment.Session, error)
	// Cancel withdraws a pending session; one that got paid in between is refunded.
	Cancel(ctx context.Context, id uuid.UUID) (payment.Session, error)
	// Refund gives back all that remains of a paid session. A refund the provider refuses
	// leaves the session refund_failed (returned with or without an error); it is retried.
	Refund(ctx context.Context, id uuid.UUID, reason string) (payment.Session, error)
	// SettleRefunds sends the refunds recorded under cause that were never attempted (a
	// Store transition recorded them: see PairingTransition.Refund) — and, with
	// retryFailed, those the provider refused, at once — and reports how they stand.
	SettleRefunds(ctx context.Context, cause string, retryFailed bool) (payment.RefundSummary, error)
}

// Extensions tells what was paid on top of a chat session: its applied extensions. The
// refund of a reroute that finds nobody counts them; *extension.Service
// satisfies it. Optional: without it a session's value is its chat_start payment alone.
type Extensions interface {
	// PaidExtensions returns the extensions applied to the chat session (paid, its
	// ends_at and minutes grown), oldest first.
	PaidExtensions(ctx context.Context, chatSessionID uuid.UUID) ([]PaidExtension, error)
}

// PaidExtension is one applied extension of a chat session: what it added on top of the
// session's chat_start payment.
type PaidExtension struct {
	// PaymentID is its extension payment; Amount what that payment charged.
	PaymentID uuid.UUID
	Amount    int64
	Minutes   int
}

// Quoter prices a chat; *pricing.PricingStore satisfies it. No active tier for the
// minutes is an error wrapping ErrNoTier (the value pricing returns).
type Quoter interface {
	Quote(ctx context.Context, clientID uuid.UUID, mode pricing.Mode, minutes int) (pricing.Quote, error)
}

// Settings are the operator-editable runtime settings the Pairer reads;
// *curhat.RuntimeConfig satisfies it.
type Settings interface {
	BlastTimeout(ctx context.Context) time.Duration
	TargetedTimeout(ctx context.Context) time.Duration
	MitraMaxConcurrentSessions(ctx context.Context) int
}

// ClearanceSettings is what the Pairer asks its Settings, when they have it, of the
// earnings ledger; *curhat.RuntimeConfig has it. Settings without it clear earnings
// DefaultEarningsClearance after a session ends.
type ClearanceSettings interface {
	// EarningsClearance is how long after a session's end its earning becomes available.
	EarningsClearance(ctx context.Context) time.Duration
}

// DefaultEarningsClearance is the clearance of Settings that are not ClearanceSettings.
const DefaultEarningsClearance = 72 * time.Hour

// Notifier delivers events, best effort: an app that misses one re-reads by polling.
type Notifier interface {
	Notify(ctx context.Context, e Event)
}

// DiscardNotifier drops every event: what a service uses when its Deps.Notifier is nil.
type DiscardNotifier struct{}

// Notify drops e.
func (DiscardNotifier) Notify(context.Context, Event) {}

// MitrasNotifier is a Notifier that can send one event to many mitras in one call: the
// offers of a blast (or of a ring) and their dismissals, which go to every offered mitra
// at once. The Pairer calls NotifyMitras when its Notifier implements it — e has no
// MitraID, and each mitra of mitras gets e as if it were its MitraID — and one Notify per
// mitra otherwise. A host that fans events out (a pub/sub bus, push notifications) sends
// one message for a blast to 10 000 mitras instead of 10 000.
type MitrasNotifier interface {
	NotifyMitras(ctx context.Context, e Event, mitras []uuid.UUID)
}

// Deps are the services a Pairer works with. Availability, Payments and Quoter are
// required; Settings defaults to the documented runtime defaults, Notifier to dropping
// events, Extensions to none. Policies defaults to Settings when it implements Policies
// (as *curhat.RuntimeConfig does), else to every policy off; Away to Availability when it
// implements Away; QueueIndex to none (queue positions are read from the Store).
type Deps struct {
	Availability Availability
	Payments     Payments
	Quoter       Quoter
	Settings     Settings
	Notifier     Notifier
	Extensions   Extensions
	Policies     Policies
	Away         Away
	QueueIndex   QueueIndex
	// Labels filters mitras by routing labels (routing steps); nil: no mitra has labels,
	// so a blast with preferences reaches everyone only at its last step, any.
	Labels Labels
}

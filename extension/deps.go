package extension

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/pricing"
)

// The Service's view of the services it works with. Each is a small interface owned here,
// satisfied by the SDK's own services: *pairing.Pairer satisfies Sessions,
// *payment.Service Payments, *pricing.PricingStore Quoter, *curhat.RuntimeConfig Settings
// and *availability.Mirror Reachability. extensiontest has in-memory fakes of Sessions,
// Reachability, Settings and Notifier.

// Sessions reads chat sessions and is told when one was extended. The chat sessions
// themselves — and their in-process expiry timers — belong to the pairing side.
type Sessions interface {
	// GetChatSession returns the session, or an error wrapping ErrNotFound.
	GetChatSession(ctx context.Context, id uuid.UUID) (pairing.ChatSession, error)
	// SessionExtended is called after a paid extension moved the session's ends_at (to
	// endsAt) and minutes (to the new total): the expiry timer must move with it. It is
	// best effort (the session's expiry re-reads ends_at anyway), hence no error.
	SessionExtended(ctx context.Context, id uuid.UUID, endsAt time.Time, minutes int)
}

// Reachability answers whether a mitra is reachable: online, not deactivated and its
// heartbeat fresh (capacity ignored). availability.Mirror.IsReachable is Valkey-first with
// a Postgres fallback; an error means neither could answer.
type Reachability interface {
	IsReachable(ctx context.Context, mitraID uuid.UUID) (bool, error)
}

// Payments creates and withdraws payment sessions; *payment.Service satisfies it.
// Register the Service as the payment service's Handler for payment.PurposeExtension: a
// payment that arrives when nothing waits for it any more is refunded by the payment side
// (PaymentPaid answers ErrInvalidState).
type Payments interface {
	Create(ctx context.Context, p payment.CreateParams) (payment.Session, bool, error)
	// Cancel withdraws a pending session (a paid one is refunded).
	Cancel(ctx context.Context, id uuid.UUID) (payment.Session, error)
}

// Quoter prices extensions; *pricing.PricingStore satisfies it.
type Quoter interface {
	// Quote prices (mode, minutes) for the client, failing with an error wrapping
	// ErrNoTier when no active tier matches.
	Quote(ctx context.Context, clientID uuid.UUID, mode pricing.Mode, minutes int) (pricing.Quote, error)
	// GetTier returns a tier by id, active or not: a manual approval charges the amount
	// frozen at request time in the tier's currency.
	GetTier(ctx context.Context, id uuid.UUID) (pricing.Tier, error)
}

// Settings are the operator-editable runtime settings the Service reads, at
// every call; *curhat.RuntimeConfig satisfies it.
type Settings interface {
	// ExtensionAutoApprove: approve at once when the mitra is reachable (true), or let
	// the mitra decide (false).
	ExtensionAutoApprove(ctx context.Context) bool
	// TargetedTimeout is how long a mitra has to decide on a requested extension.
	TargetedTimeout(ctx context.Context) time.Duration
}

// DefaultSettings serves the runtime defaults; it is what a Service uses when
// Deps.Settings is nil.
type DefaultSettings struct{}

func (DefaultSettings) ExtensionAutoApprove(context.Context) bool {
	return core.DefaultExtensionAutoApprove
}

func (DefaultSettings) TargetedTimeout(context.Context) time.Duration {
	return core.DefaultPairingTargetedTimeout
}

// Deps are the services a Service works with. Sessions, Reachability, Payments and Quoter
// are required; Settings defaults to DefaultSettings, Notifier to dropping events.
type Deps struct {
	Sessions     Sessions
	Reachability Reachability
	Payments     Payments
	Quoter       Quoter
	Settings     Settings
	Notifier     pairing.Notifier
}

package pairing

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// The Pairer's view of the services it works with. Each is a small interface owned here;
// a host wires its availability mirror, payment service, pricing store and runtime config
// in through thin adapters (pairingtest has in-memory fakes of each).

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

// PaymentStatus is the state of a payment session.
type PaymentStatus string

const (
	PaymentPending      PaymentStatus = "pending"
	PaymentPaid         PaymentStatus = "paid"
	PaymentFailed       PaymentStatus = "failed"
	PaymentExpired      PaymentStatus = "expired"
	PaymentCancelled    PaymentStatus = "cancelled"
	PaymentRefunded     PaymentStatus = "refunded"
	PaymentRefundFailed PaymentStatus = "refund_failed"
	// PaymentPartiallyRefunded: paid, and part of it went back (see RefundedAmount).
	PaymentPartiallyRefunded PaymentStatus = "partially_refunded"
)

// Closed reports whether a payment in status s closed without being paid.
func (s PaymentStatus) Closed() bool {
	return s == PaymentFailed || s == PaymentExpired || s == PaymentCancelled
}

// PurposeChatStart is the purpose of every payment the Pairer creates.
const PurposeChatStart = "chat_start"

// Payment is a payment session as the Pairer sees it (and hands back to callers of
// StartBlast and FallbackToBlast, so it carries what an app needs to pay).
type Payment struct {
	ID             uuid.UUID     `json:"id"`
	ClientID       uuid.UUID     `json:"client_id"`
	Purpose        string        `json:"purpose"`
	PairingID      *uuid.UUID    `json:"pairing_id"`
	ChatSessionID  *uuid.UUID    `json:"chat_session_id"`
	TierID         uuid.UUID     `json:"tier_id"`
	Minutes        int           `json:"minutes"`
	BaseAmount     int64         `json:"base_amount"`
	DiscountAmount int64         `json:"discount_amount"`
	Amount         int64         `json:"amount"`
	Currency       string        `json:"currency"`
	Status         PaymentStatus `json:"status"`
	// RefundedAmount is what went back of Amount so far.
	RefundedAmount int64      `json:"refunded_amount"`
	CheckoutURL    string     `json:"checkout_url"`
	ExpiresAt      time.Time  `json:"expires_at"`
	PaidAt         *time.Time `json:"paid_at"`
	CreatedAt      time.Time  `json:"created_at"`
}

// PaymentRequest asks for a new chat_start payment session, priced by a Quote.
type PaymentRequest struct {
	ClientID       uuid.UUID
	Purpose        string
	PairingID      *uuid.UUID
	ChatSessionID  *uuid.UUID
	TierID         uuid.UUID
	Minutes        int
	BaseAmount     int64
	DiscountAmount int64
	Amount         int64
	Currency       string
	// IdempotencyKey (per client): a second Create with the same key returns the first
	// session (replayed = true) and never charges twice.
	IdempotencyKey string
}

// Payments creates, reads, cancels and refunds payment sessions.
type Payments interface {
	// Create opens a payment session. A session whose amount is 0 comes back already paid.
	Create(ctx context.Context, req PaymentRequest) (p Payment, replayed bool, err error)
	Get(ctx context.Context, id uuid.UUID) (Payment, error)
	// FindByIdempotencyKey returns the client's session created with key, or ErrNotFound.
	FindByIdempotencyKey(ctx context.Context, clientID uuid.UUID, key string) (Payment, error)
	// Cancel withdraws a pending session; one that got paid in between is refunded.
	Cancel(ctx context.Context, id uuid.UUID) (Payment, error)
	// Refund gives back all that remains of a paid session. A refund the provider refuses
	// leaves the session refund_failed (returned with or without an error); it is retried.
	Refund(ctx context.Context, id uuid.UUID, reason string) (Payment, error)
	// SettleRefunds sends the refunds recorded under cause that were never attempted (a
	// Store transition recorded them: see PairingTransition.Refund) — and, with
	// retryFailed, those the provider refused, at once — and reports how they stand.
	// *payment.Service's SettleRefunds, adapted.
	SettleRefunds(ctx context.Context, cause string, retryFailed bool) (RefundSummary, error)
}

// Extensions tells what was paid on top of a chat session: its applied extensions. The
// refund of a reroute that finds nobody counts them (SPEC §18). Optional: without it a
// session's value is its chat_start payment alone.
type Extensions interface {
	// PaidExtensions returns the extensions applied to the chat session (paid, its
	// ends_at and minutes grown), oldest first.
	PaidExtensions(ctx context.Context, chatSessionID uuid.UUID) ([]PaidExtension, error)
}

// PaidExtension is one applied extension of a chat session.
type PaidExtension struct {
	// PaymentID is its extension payment; Amount what that payment charged.
	PaymentID uuid.UUID
	Amount    int64
	Minutes   int
}

// PaymentEvent is what the payment service tells the Pairer about a chat_start payment:
// register Pairer.PaymentPaid and Pairer.PaymentClosed as its chat_start handler.
type PaymentEvent struct {
	PaymentID     uuid.UUID
	PairingID     *uuid.UUID
	ChatSessionID *uuid.UUID
	// Status is the payment's status now (paid, or failed / expired / cancelled).
	Status PaymentStatus
	Amount int64
	// PaidAt is when the payment was confirmed (zero: now).
	PaidAt time.Time
}

// QuoteModeSession is the pricing mode of a new chat.
const QuoteModeSession = "session"

// Quote is the frozen price of a chat for one client.
type Quote struct {
	TierID         uuid.UUID
	Minutes        int
	BaseAmount     int64
	DiscountAmount int64
	Amount         int64
	Currency       string
}

// Quoter prices a chat. An adapter over the pricing store must translate "no active tier"
// into ErrNoTier (errors.Is(err, pricing.ErrNoTier) → pairing.ErrNoTier).
type Quoter interface {
	Quote(ctx context.Context, clientID uuid.UUID, mode string, minutes int) (Quote, error)
}

// Settings are the operator-editable runtime settings the Pairer reads (SPEC §7);
// *curhat.RuntimeConfig satisfies it.
type Settings interface {
	BlastTimeout(ctx context.Context) time.Duration
	TargetedTimeout(ctx context.Context) time.Duration
	MitraMaxConcurrentSessions(ctx context.Context) int
}

// Event kinds sent through the Notifier.
const (
	EventPairingOffer        = "pairing_offer"        // to a mitra: a new offer
	EventOfferDismissed      = "offer_dismissed"      // to a mitra: an offer is gone (Data reason: matched, cancelled, expired)
	EventPairingMatched      = "pairing_matched"      // to both parties; a targeted chat's client gets its payment (Data payment)
	EventPairingFailed       = "pairing_failed"       // to the client: a blast failed (refund status in Data)
	EventPairingCancelled    = "pairing_cancelled"    // to the client: the system cancelled the pairing (payment closed, abandoned)
	EventTargetedUnavailable = "targeted_unavailable" // to the client: "Curhat lagi" mitra unavailable, fallback possible
	EventPaymentPaid         = "payment_paid"         // to the client
	EventSessionStarted      = "session_started"      // to both parties
	EventSessionEnded        = "session_ended"        // to both parties (Data reason)
)

// Event is one realtime notification. Its recipients are ClientID and/or MitraID (both set:
// both parties get it). Data repeats the ids as strings so that it stands alone as a payload.
type Event struct {
	Kind          string         `json:"kind"`
	ClientID      *uuid.UUID     `json:"client_id,omitempty"`
	MitraID       *uuid.UUID     `json:"mitra_id,omitempty"`
	PairingID     *uuid.UUID     `json:"pairing_id,omitempty"`
	ChatSessionID *uuid.UUID     `json:"chat_session_id,omitempty"`
	Data          map[string]any `json:"data"`
}

// Notifier delivers events, best effort: an app that misses one re-reads by polling.
type Notifier interface {
	Notify(ctx context.Context, e Event)
}

// Deps are the services a Pairer works with. Availability, Payments and Quoter are
// required; Settings defaults to the documented runtime defaults, Notifier to dropping
// events, Extensions to none.
type Deps struct {
	Availability Availability
	Payments     Payments
	Quoter       Quoter
	Settings     Settings
	Notifier     Notifier
	Extensions   Extensions
}

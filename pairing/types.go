package pairing

import (
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/payment"
)

// Type is the kind of a pairing request (column pairings.type).
type Type string

const (
	// TypeBlast is offered to every available mitra; the first accept wins.
	TypeBlast Type = "blast"
	// TypeTargeted ("Curhat lagi") is offered to one mitra the client has talked to before.
	TypeTargeted Type = "targeted"
)

// Status is the state of a pairing (column pairings.status).
//
//	blast:     awaiting_payment ─paid─▶ searching ─accept─▶ matched
//	               │                      ├─no mitra / deadline─▶ failed (refunded)
//	               │                      ├─no mitra / deadline, queue on─▶ queued ─accept─▶ matched
//	               │                      │                                   ├─max wait─▶ failed (refunded)
//	               │                      │                                   └─cancel─▶ cancelled (refunded)
//	               └─payment closed / cancel─▶ cancelled ◀─cancel─┘
//	targeted:  targeted_waiting ─accept─▶ matched (chat session pending_payment)
//	               └─decline / deadline─▶ targeted_unavailable ─fallback─▶ blast awaiting_payment
//	                                          └─cancel / abandoned─▶ cancelled
type Status string

const (
	StatusAwaitingPayment     Status = "awaiting_payment"
	StatusSearching           Status = "searching"
	StatusMatched             Status = "matched"
	StatusFailed              Status = "failed"
	StatusCancelled           Status = "cancelled"
	StatusTargetedWaiting     Status = "targeted_waiting"
	StatusTargetedUnavailable Status = "targeted_unavailable"
	// StatusQueued: a paid blast waiting in the queue (the pairing policy
	// pairing_queue_enabled) in the order it was paid. Each free slot of an available mitra
	// is offered the head of the queue, one queued pairing at a time; see Pairer.
	StatusQueued Status = "queued"
)

// OpenStatuses are the pre-match states: a client has at most one pairing in them.
var OpenStatuses = []Status{StatusAwaitingPayment, StatusSearching, StatusTargetedWaiting, StatusTargetedUnavailable, StatusQueued}

// Open reports whether s is a pre-match state (see OpenStatuses).
func (s Status) Open() bool {
	switch s {
	case StatusAwaitingPayment, StatusSearching, StatusTargetedWaiting, StatusTargetedUnavailable, StatusQueued:
		return true
	}
	return false
}

// Final reports whether s is a status a pairing never leaves: matched, failed or
// cancelled. Entering one stamps Pairing.ClosedAt.
func (s Status) Final() bool {
	return s == StatusMatched || s == StatusFailed || s == StatusCancelled
}

// Waiting reports whether a pairing in s has live offers and a running deadline that the
// offers share. A queued pairing has a deadline too, but its offers (one at a time) each
// have their own: see Deadlined.
func (s Status) Waiting() bool { return s == StatusSearching || s == StatusTargetedWaiting }

// Deadlined reports whether a pairing in s ends at its ExpiresAt: a waiting pairing, or a
// queued one (its queue deadline).
func (s Status) Deadlined() bool { return s.Waiting() || s == StatusQueued }

// Reason explains why a pairing stopped short of a match (column pairings.failure_reason,
// and pairing_failures.reason for the first four).
type Reason string

const (
	// ReasonNoMitraAvailable: nobody was available when the blast started (failure row).
	ReasonNoMitraAvailable Reason = "no_mitra_available"
	// ReasonTimeout: nobody accepted the blast before its deadline (failure row).
	ReasonTimeout Reason = "timeout"
	// ReasonTargetedDeclined: the mitra declined the "Curhat lagi" offer (failure row).
	ReasonTargetedDeclined Reason = "targeted_declined"
	// ReasonTargetedTimeout: the mitra let the "Curhat lagi" countdown run out (failure row).
	ReasonTargetedTimeout Reason = "targeted_timeout"
	// ReasonQueueTimeout: the blast waited in the queue for pairing_queue_max_wait_seconds
	// from its payment without a match (failure row; refunded).
	ReasonQueueTimeout Reason = "queue_timeout"
	// ReasonMitraUnreachable: the "Curhat lagi" mitra was offline or busy when the client
	// asked, so the pairing started in targeted_unavailable (no failure row: nobody was
	// offered anything and nothing was charged).
	ReasonMitraUnreachable Reason = "mitra_unreachable"
	// ReasonClientCancelled: the client cancelled.
	ReasonClientCancelled Reason = "client_cancelled"
	// ReasonPaymentExpired, ReasonPaymentFailed, ReasonPaymentCancelled: the payment the
	// blast waited for closed unpaid.
	ReasonPaymentExpired   Reason = "payment_expired"
	ReasonPaymentFailed    Reason = "payment_failed"
	ReasonPaymentCancelled Reason = "payment_cancelled"
	// ReasonPaymentNotCreated: the payment session could not be created (or never got
	// attached, see Config.OrphanTTL); nothing was charged.
	ReasonPaymentNotCreated Reason = "payment_not_created"
	// ReasonPaymentDeclined: the payment provider declined the charge as the payment
	// session was created (ErrPaymentDeclined); the failed session stays attached and
	// nothing was charged.
	ReasonPaymentDeclined Reason = "payment_declined"
	// ReasonAbandoned: the client left a targeted_unavailable pairing alone for longer than
	// Config.UnavailableTTL.
	ReasonAbandoned Reason = "abandoned"
)

// FailureReasons are the reasons that write a pairing_failures row.
var FailureReasons = []Reason{ReasonNoMitraAvailable, ReasonTimeout, ReasonTargetedDeclined, ReasonTargetedTimeout, ReasonQueueTimeout}

// Pairing is one pairings row: a client's request to be matched with a mitra.
//
// Optional text columns are plain strings: "" stands for SQL NULL.
type Pairing struct {
	ID       uuid.UUID
	ClientID uuid.UUID
	Type     Type
	// TargetMitraID is the "Curhat lagi" mitra; it stays set after a fallback to a blast.
	TargetMitraID *uuid.UUID
	Status        Status
	Minutes       int
	// PaymentSessionID is the chat_start payment: of the blast, or of the targeted chat
	// once the mitra accepted. Nil for prepaid (rerouted) blasts.
	PaymentSessionID *uuid.UUID
	// Prepaid marks a blast started by a reroute: the minutes were paid for by the
	// original session, nothing is charged.
	Prepaid bool
	// ExpiresAt is the deadline of a searching or targeted_waiting pairing, or of a queued
	// one (PaidAt + pairing_queue_max_wait_seconds); offers never outlive it.
	ExpiresAt      *time.Time
	MatchedMitraID *uuid.UUID
	ChatSessionID  *uuid.UUID
	FailureReason  Reason
	// PaidAt is when the blast was paid (a prepaid one: when it started), the order of
	// the queue. Nil before the payment, and for targeted pairings.
	PaidAt *time.Time
	// QueuedAt is when the blast first entered the queue (nil: it never did).
	QueuedAt *time.Time
	// ClosedAt is when the pairing reached its final status (see Status.Final): when it
	// matched, failed or was cancelled. Nil while it is open. Statistics count by it.
	ClosedAt *time.Time
	// Rings counts the rings of mitras a searching blast was offered to under the ring
	// policy (0: the blast policy, every available mitra at once); NextRingAt is when the
	// next ring joins (nil: no further ring).
	Rings      int
	NextRingAt *time.Time
	// Preferences are what the client asked of the mitra (nil: nothing). RoutingSteps are
	// the steps the blast routes by, copied from pairing_routing_steps when it started
	// searching (nil without preferences: it is offered as the any step). RoutingStep is
	// the 0-based step it is at (without preferences, the index of the last step, any);
	// NextStepAt is when it widens to the next step (nil: at the last step, or not
	// searching). See Pairer (routing).
	Preferences  *Preferences
	RoutingSteps []RoutingStep
	RoutingStep  int
	NextStepAt   *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// OfferStatus is the state of one offer (column pairing_offers.status).
type OfferStatus string

const (
	OfferOffered   OfferStatus = "offered"
	OfferAccepted  OfferStatus = "accepted"
	OfferDeclined  OfferStatus = "declined"
	OfferDismissed OfferStatus = "dismissed" // another mitra won, or the client cancelled
	OfferExpired   OfferStatus = "expired"   // the pairing's deadline passed
)

// Offer is a live offer as a mitra sees it.
type Offer struct {
	PairingID uuid.UUID
	Type      Type
	Minutes   int
	// ExpiresAt is the offer's deadline: its pairing's, or for the offer of a queued
	// pairing its own (sooner).
	ExpiresAt time.Time
	OfferedAt time.Time
	// Queued marks the offer of a queued pairing (it holds one of the mitra's free slots).
	Queued bool
	// ClientID and ClientDisplayName are the pairing's client, as the mitra is shown it
	// (read with the offer: no lookup per offer).
	ClientID          uuid.UUID
	ClientDisplayName string
}

// SessionStatus is the state of a chat session (column chat_sessions.status).
type SessionStatus string

const (
	// SessionPendingPayment: a targeted chat the mitra accepted, waiting for the client's
	// payment; it holds the mitra's capacity.
	SessionPendingPayment SessionStatus = "pending_payment"
	// SessionActive: the chat runs until EndsAt; extensions may be requested and paid.
	SessionActive    SessionStatus = "active"
	SessionEnded     SessionStatus = "ended"
	SessionCancelled SessionStatus = "cancelled"
)

// EndReason says why a chat session ended or was cancelled (column chat_sessions.end_reason).
type EndReason string

const (
	EndExpired          EndReason = "expired"
	EndClientEnded      EndReason = "client_ended"
	EndMitraEnded       EndReason = "mitra_ended"
	EndRerouted         EndReason = "rerouted"
	EndMitraDeactivated EndReason = "mitra_deactivated"
	EndPaymentExpired   EndReason = "payment_expired"
	EndPaymentFailed    EndReason = "payment_failed"
	EndCancelled        EndReason = "cancelled"
	// EndOperatorEnded: an operator ended the active session (Pairer.EndByOperator),
	// with the refund they chose.
	EndOperatorEnded EndReason = "operator_ended"
	// EndMitraNoShow: the mitra showed no activity within mitra_first_reply_seconds of
	// the start (Pairer.SweepNoShows); the client was refunded in full.
	EndMitraNoShow EndReason = "mitra_no_show"
)

// ChatSession is one chat_sessions row: a paid conversation between a client and a mitra.
// The extension service reads and grows the same value.
type ChatSession struct {
	ID       uuid.UUID
	ClientID uuid.UUID
	MitraID  uuid.UUID
	Status   SessionStatus
	// Minutes is the total bought, extensions included.
	Minutes   int
	StartedAt *time.Time
	// EndsAt is when an active session expires; nil before it started.
	EndsAt    *time.Time
	EndedAt   *time.Time
	EndReason EndReason
	PairingID uuid.UUID
	// ReroutedFromID is the session this one continues after a reroute.
	ReroutedFromID *uuid.UUID
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Holds reports whether the session counts towards its mitra's capacity.
func (s ChatSession) Holds() bool {
	return s.Status == SessionActive || s.Status == SessionPendingPayment
}

// RefundStatus says what happened to the money of a failed pairing.
type RefundStatus string

const (
	RefundNotCharged RefundStatus = "not_charged"
	RefundRefunded   RefundStatus = "refunded"
	// RefundFailed: the refund has not (yet) gone through. A failure row is written in the
	// same transaction as the failure and its refund, with this status until the refund
	// went through — sent right after the commit, or by the payment side's retry sweep
	// (then RefundSucceeded or SyncFailureRefunds flips it); operators may retry at once
	// (FailureAction "refund").
	RefundFailed RefundStatus = "refund_failed"
)

// FailureStatus is the operators' view of a failure row.
type FailureStatus string

const (
	FailureOpen     FailureStatus = "open"
	FailureResolved FailureStatus = "resolved"
)

// WithRecordedRefunds is the failure row a Store writes for a transition that recorded
// refunds for intent: its amount is what they add up to, refund_failed (until they went
// through) when that is more than 0, not_charged otherwise. Without intent, f as is.
func (f Failure) WithRecordedRefunds(intent *payment.RefundOrder, recorded []payment.Refund) Failure {
	if intent == nil {
		return f
	}
	f.Amount = 0
	for _, r := range recorded {
		f.Amount += r.Amount
	}
	if f.Amount > 0 {
		f.RefundStatus = RefundFailed
	} else {
		f.RefundStatus = RefundNotCharged
	}
	return f
}

// Failure is one pairing_failures row: a pairing that failed, for operators.
type Failure struct {
	ID            uuid.UUID
	PairingID     uuid.UUID
	ClientID      uuid.UUID
	Type          Type
	TargetMitraID *uuid.UUID
	Reason        Reason
	// OfferedCount is how many mitras were offered the pairing (over its whole life).
	OfferedCount int
	// Amount is what the failure refunds: all of a paid blast's payment, the unused part
	// of a prepaid blast's session (0 when nothing was owed).
	Amount       int64
	RefundStatus RefundStatus
	Status       FailureStatus
	ResolvedBy   string
	ResolvedAt   *time.Time
	Note         string
	CreatedAt    time.Time
}

// Party says who acts on a chat session.
type Party string

const (
	PartyClient Party = "client"
	PartyMitra  Party = "mitra"
)

package core

import (
	"time"

	"github.com/google/uuid"
)

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
)

// ChatSession is one chat_sessions row.
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

// PaidExtension is one extension applied to a chat session: what it added on top of the
// session's chat_start payment.
type PaidExtension struct {
	// PaymentID is its extension payment; Amount what that payment charged.
	PaymentID uuid.UUID
	Amount    int64
	Minutes   int
}

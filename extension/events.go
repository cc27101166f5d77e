package extension

import (
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/pairing"
)

// Event kinds sent through the Notifier (as pairing.Event); each has its payload type
// below, named after it.
const (
	// EventExtensionRequested: to the mitra — decide on this extension (auto-approval off).
	EventExtensionRequested = "extension_requested"
	// EventExtensionApproved: to the mitra when auto-approval decided (its card says
	// "approved automatically"), to the client when the mitra approved (with the payment
	// to pay).
	EventExtensionApproved = "extension_approved"
	// EventExtensionRejected: to the client — the mitra rejected the extension.
	EventExtensionRejected = "extension_rejected"
	// EventExtensionExpired: to the client (and, for an undecided request, to the mitra)
	// — nobody decided in time, the payment failed or expired, or the session ended first.
	EventExtensionExpired = "extension_expired"
	// EventSessionExtended: to both parties — the extension is paid; the session has a
	// new ends_at and total minutes.
	EventSessionExtended = "session_extended"
)

// Summary is what every extension event says of its extension; the events embed it.
type Summary struct {
	ExtensionID   uuid.UUID `json:"extension_id"`
	ChatSessionID uuid.UUID `json:"chat_session_id"`
	// Minutes the extension adds; Amount its price, in the currency's smallest unit.
	Minutes int    `json:"minutes"`
	Amount  int64  `json:"amount"`
	Status  Status `json:"status"`
	// DecidedBy and RejectReason are empty until decided, and rejected.
	DecidedBy    DecidedBy `json:"decided_by,omitempty"`
	RejectReason string    `json:"reject_reason,omitempty"`
	// PaymentID is the extension's payment session, once approved and charged.
	PaymentID *uuid.UUID `json:"payment_id,omitempty"`
}

func summarize(e Extension) Summary {
	return Summary{
		ExtensionID: e.ID, ChatSessionID: e.ChatSessionID, Minutes: e.Minutes, Amount: e.Amount,
		Status: e.Status, DecidedBy: e.DecidedBy, RejectReason: e.RejectReason, PaymentID: e.PaymentSessionID,
	}
}

// ExtensionRequestedEvent asks the mitra to approve or reject before ExpiresAt.
type ExtensionRequestedEvent struct {
	Summary
	ExpiresAt time.Time `json:"expires_at"`
}

// ExtensionApprovedEvent tells the mitra the server approved (DecidedByAuto), or the
// client the mitra approved: then Payment is what the client pays now.
type ExtensionApprovedEvent struct {
	Summary
	Payment *pairing.PaymentToPay `json:"payment,omitempty"`
}

// ExtensionRejectedEvent tells the client the mitra rejected the extension; nothing was
// charged.
type ExtensionRejectedEvent struct {
	Summary
}

// ExtensionExpiredEvent tells the client (and the mitra, for a request it never decided)
// the extension expired. Reason is timeout, session_not_active, session_ended,
// charge_missing, or the closed payment's payment_failed, payment_expired or
// payment_cancelled.
type ExtensionExpiredEvent struct {
	Summary
	Reason string `json:"reason"`
}

// SessionExtendedEvent tells both parties the extension is paid: the chat session now
// ends at EndsAt, TotalMinutes long.
type SessionExtendedEvent struct {
	Summary
	EndsAt       time.Time `json:"ends_at"`
	TotalMinutes int       `json:"total_minutes"`
}

func (ExtensionRequestedEvent) EventKind() string { return EventExtensionRequested }
func (ExtensionApprovedEvent) EventKind() string  { return EventExtensionApproved }
func (ExtensionRejectedEvent) EventKind() string  { return EventExtensionRejected }
func (ExtensionExpiredEvent) EventKind() string   { return EventExtensionExpired }
func (SessionExtendedEvent) EventKind() string    { return EventSessionExtended }

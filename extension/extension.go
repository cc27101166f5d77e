package extension

import (
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// Errors returned by the Service and the stores. The shared ones are the curhat sentinels
// (ErrNoTier too: pricing returns the same value), so errors.Is works with either name. The HTTP layer maps
// each to one error code of the HTTP API.
var (
	// ErrNotFound: no such extension or chat session — or it belongs to somebody else
	// (a client never learns that another client's session exists, a mitra that another
	// mitra's extension does).
	ErrNotFound = core.ErrNotFound
	// ErrInvalidState: the row's status does not allow the operation: the chat session is
	// not active, another extension of the session is still open, or the extension was
	// already decided or has expired (HTTP 409 INVALID_STATE).
	ErrInvalidState = core.ErrInvalidState
	// ErrUnavailable: a dependency cannot be reached; retry later (HTTP 503).
	ErrUnavailable = core.ErrUnavailable
	// ErrNoTier: there is no active extension tier for the minutes asked for, or its price
	// is 0 — extensions are never free (the reference server answers 400 VALIDATION_FAILED,
	// field minutes).
	ErrNoTier = core.ErrNoTier
	// ErrMitraUnavailable: auto-approval found the session's mitra not reachable (offline,
	// deactivated or its heartbeat stale). The extension is stored rejected with
	// reject_reason mitra_offline and nothing is charged (HTTP 409 MITRA_UNAVAILABLE).
	ErrMitraUnavailable = errors.New("mitra is not reachable")
)

// Status is the state of an extension (column extensions.status).
//
//	requested ──mitra approves──▶ approved ──paid──▶ paid
//	    │  └──mitra rejects──▶ rejected      │
//	    └──timeout──▶ expired ◀──payment failed or expired
//
// With auto-approval an extension is stored approved (mitra reachable) or rejected
// (mitra_offline) at once.
type Status string

const (
	// StatusRequested: waiting for the mitra's decision (auto-approval off).
	StatusRequested Status = "requested"
	// StatusApproved: approved; its payment session waits to be paid.
	StatusApproved Status = "approved"
	// StatusRejected: refused — by the mitra, or by the offline safeguard.
	StatusRejected Status = "rejected"
	// StatusPaid: paid; the chat session's ends_at and minutes grew by Minutes.
	StatusPaid Status = "paid"
	// StatusExpired: nobody decided in time, the payment failed or expired, or the chat
	// session ended before the payment arrived (then the payment was refunded).
	StatusExpired Status = "expired"
)

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusRequested, StatusApproved, StatusRejected, StatusPaid, StatusExpired:
		return true
	}
	return false
}

// Open reports whether an extension in status s still holds its session's one open slot.
func (s Status) Open() bool { return s == StatusRequested || s == StatusApproved }

// DecidedBy says who decided an extension (column extensions.decided_by).
type DecidedBy string

const (
	// DecidedByAuto: the extension_auto_approve setting decided (approved, or rejected
	// by the offline safeguard).
	DecidedByAuto DecidedBy = "auto"
	// DecidedByMitra: the session's mitra approved or rejected it.
	DecidedByMitra DecidedBy = "mitra"
)

// Reject reasons written by the Service. A mitra may give its own (Reject).
const (
	// RejectMitraOffline: auto-approval found the mitra not reachable.
	RejectMitraOffline = "mitra_offline"
	// RejectMitraDeclined: the mitra rejected the extension without a reason.
	RejectMitraDeclined = "mitra_declined"
)

// maxRejectReasonLen bounds a mitra's reject reason.
const maxRejectReasonLen = 200

// Extension is one extensions row: a request for more minutes on a chat session.
//
// Optional columns: DecidedBy and RejectReason are "" for SQL NULL; PaymentSessionID and
// DecidedAt are nil until set.
type Extension struct {
	ID            uuid.UUID
	ChatSessionID uuid.UUID
	TierID        uuid.UUID
	Minutes       int
	// Amount is the tier's price when the extension was requested, in the currency's
	// smallest unit; it is what the payment session charges.
	Amount       int64
	Status       Status
	DecidedBy    DecidedBy
	RejectReason string
	// PaymentSessionID is the payment session of an approved extension.
	PaymentSessionID *uuid.UUID
	CreatedAt        time.Time
	DecidedAt        *time.Time
}

// RequestParams asks for more minutes on a chat session.
type RequestParams struct {
	// ClientID is the client asking; a session of another client is ErrNotFound.
	ClientID      uuid.UUID
	ChatSessionID uuid.UUID
	// Minutes selects the extension tier, looked up by (extension, minutes).
	Minutes int
}

// Bounds of RequestParams.Minutes (those of a tier).
const (
	minMinutes = 1
	maxMinutes = 1440
)

func (p RequestParams) validate() error {
	switch {
	case p.ClientID == uuid.Nil:
		return core.Invalid("client_id", "is required")
	case p.ChatSessionID == uuid.Nil:
		return core.Invalid("chat_session_id", "is required")
	case p.Minutes < minMinutes || p.Minutes > maxMinutes:
		return core.Invalid("minutes", "must be between %d and %d, not %d", minMinutes, maxMinutes, p.Minutes)
	}
	return nil
}

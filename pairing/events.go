package pairing

import (
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/payment"
)

// Event kinds sent through the Notifier; each has its payload type below, named after it.
const (
	EventPairingOffer        = "pairing_offer"        // PairingOfferEvent, to a mitra
	EventOfferDismissed      = "offer_dismissed"      // OfferDismissedEvent, to a mitra
	EventPairingMatched      = "pairing_matched"      // PairingMatchedEvent, to both parties
	EventPairingFailed       = "pairing_failed"       // PairingFailedEvent, to the client
	EventPairingCancelled    = "pairing_cancelled"    // PairingCancelledEvent, to the client
	EventTargetedUnavailable = "targeted_unavailable" // TargetedUnavailableEvent, to the client
	EventPaymentPaid         = "payment_paid"         // PaymentPaidEvent, to the client
	EventSessionStarted      = "session_started"      // SessionStartedEvent, to both parties
	EventSessionEnded        = "session_ended"        // SessionEndedEvent, to both parties
	EventQueuePosition       = "queue_position"       // QueuePositionEvent, to the client
	EventMitraAway           = "mitra_away"           // MitraAwayEvent, to a mitra
)

// Event is one realtime notification, from the Pairer or from the extension service: who
// gets it, and what happened. Its recipients are ClientID and/or MitraID (both set: both
// parties get it). Payload is a value (not a pointer) of one of the …Event types of this
// package or of package extension; a host switches on its type:
//
//	switch p := e.Payload.(type) {
//	case pairing.PairingOfferEvent:
//		push(*e.MitraID, "New chat: "+strconv.Itoa(p.Minutes)+" minutes")
//	case extension.SessionExtendedEvent:
//		...
//	}
//
// The payload types carry the JSON names of the event's data, so a host that forwards
// events to apps encodes Payload as it is (the reference server's streams do).
type Event struct {
	ClientID *uuid.UUID
	MitraID  *uuid.UUID
	Payload  EventPayload
}

// Kind is the payload's kind: one of the Event… constants here or in package extension.
func (e Event) Kind() string {
	if e.Payload == nil {
		return ""
	}
	return e.Payload.EventKind()
}

// EventPayload is what an Event says happened. EventKind returns its kind (one of the
// Event… constants); each kind has exactly one payload type.
type EventPayload interface {
	EventKind() string
}

// PairingOfferEvent tells a mitra of a new offer: accept it before ExpiresAt.
type PairingOfferEvent struct {
	PairingID uuid.UUID `json:"pairing_id"`
	Type      Type      `json:"type"`
	Minutes   int       `json:"minutes"`
	// ExpiresAt is nil only for an offer whose pairing has no deadline.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Queued: an offer of a queued pairing, holding one of the mitra's free slots; its
	// ExpiresAt is its own one-to-one countdown.
	Queued bool `json:"queued"`
}

// DismissReason says why an offer went away (OfferDismissedEvent).
type DismissReason string

const (
	DismissMatched   DismissReason = "matched"   // another mitra took it
	DismissCancelled DismissReason = "cancelled" // the client cancelled
	DismissExpired   DismissReason = "expired"   // its deadline passed, or the pairing failed
)

// OfferDismissedEvent tells a mitra an offer is gone.
type OfferDismissedEvent struct {
	PairingID uuid.UUID     `json:"pairing_id"`
	Reason    DismissReason `json:"reason"`
}

// PairingMatchedEvent tells both parties a mitra accepted. A blast's chat session is
// active at once (SessionStartedEvent follows); a targeted one waits in pending_payment,
// and the client's event (only the client's) carries the payment to pay, so the app opens
// its checkout without polling.
type PairingMatchedEvent struct {
	PairingID     uuid.UUID     `json:"pairing_id"`
	ChatSessionID uuid.UUID     `json:"chat_session_id"`
	MitraID       uuid.UUID     `json:"mitra_id"`
	Status        SessionStatus `json:"status"`
	Payment       *PaymentToPay `json:"payment,omitempty"`
}

// PaymentToPay is a payment session the client is to pay now: at CheckoutURL, before
// ExpiresAt.
type PaymentToPay struct {
	ID          uuid.UUID      `json:"id"`
	Status      payment.Status `json:"status"`
	Amount      int64          `json:"amount"`
	Currency    string         `json:"currency"`
	CheckoutURL string         `json:"checkout_url"`
	ExpiresAt   time.Time      `json:"expires_at"`
}

// NewPaymentToPay is what an event says of pay.
func NewPaymentToPay(pay payment.Session) *PaymentToPay {
	return &PaymentToPay{
		ID: pay.ID, Status: pay.Status, Amount: pay.Amount, Currency: pay.Currency,
		CheckoutURL: pay.CheckoutURL, ExpiresAt: pay.ExpiresAt,
	}
}

// PairingFailedEvent tells the client its paid blast found nobody; Amount is refunded
// (RefundFailed: the refund is retried).
type PairingFailedEvent struct {
	PairingID    uuid.UUID    `json:"pairing_id"`
	Reason       Reason       `json:"reason"`
	Amount       int64        `json:"amount"`
	RefundStatus RefundStatus `json:"refund_status"`
}

// PairingCancelledEvent tells the client its pairing was cancelled: by the client, its
// payment closed unpaid, or abandoned.
type PairingCancelledEvent struct {
	PairingID uuid.UUID `json:"pairing_id"`
	Reason    Reason    `json:"reason"`
}

// TargetedUnavailableEvent tells the client its "Curhat lagi" mitra declined, did not
// answer in time or is not reachable; it may fall back to a blast. Nothing was charged.
type TargetedUnavailableEvent struct {
	PairingID uuid.UUID `json:"pairing_id"`
	Reason    Reason    `json:"reason"`
}

// PaymentPaidEvent tells the client its chat_start payment is paid: a blast starts
// searching, a targeted chat session (ChatSessionID) starts.
type PaymentPaidEvent struct {
	PaymentID     uuid.UUID  `json:"payment_id"`
	PairingID     uuid.UUID  `json:"pairing_id"`
	ChatSessionID *uuid.UUID `json:"chat_session_id,omitempty"`
}

// SessionStartedEvent tells both parties the chat session is active until EndsAt.
type SessionStartedEvent struct {
	ChatSessionID uuid.UUID  `json:"chat_session_id"`
	PairingID     uuid.UUID  `json:"pairing_id"`
	Minutes       int        `json:"minutes"`
	EndsAt        *time.Time `json:"ends_at,omitempty"`
}

// SessionEndedEvent tells both parties the chat session ended (SessionEnded) or was
// cancelled before it started (SessionCancelled).
type SessionEndedEvent struct {
	ChatSessionID uuid.UUID     `json:"chat_session_id"`
	PairingID     uuid.UUID     `json:"pairing_id"`
	Status        SessionStatus `json:"status"`
	Reason        EndReason     `json:"reason"`
}

// QueuePositionEvent tells a client whose paid chat waits in the queue its place
// (1-based) and the estimated wait in seconds (nil until known; see WaitSeconds).
type QueuePositionEvent struct {
	PairingID            uuid.UUID `json:"pairing_id"`
	QueuePosition        int       `json:"queue_position"`
	EstimatedWaitSeconds *int64    `json:"estimated_wait_seconds"`
}

// MitraAwayEvent tells a mitra it was taken offline: Reason is AwayMissedOffers, after
// MissedOffers offers in a row lapsed unanswered.
type MitraAwayEvent struct {
	Reason       string `json:"reason"`
	MissedOffers int    `json:"missed_offers"`
}

func (PairingOfferEvent) EventKind() string        { return EventPairingOffer }
func (OfferDismissedEvent) EventKind() string      { return EventOfferDismissed }
func (PairingMatchedEvent) EventKind() string      { return EventPairingMatched }
func (PairingFailedEvent) EventKind() string       { return EventPairingFailed }
func (PairingCancelledEvent) EventKind() string    { return EventPairingCancelled }
func (TargetedUnavailableEvent) EventKind() string { return EventTargetedUnavailable }
func (PaymentPaidEvent) EventKind() string         { return EventPaymentPaid }
func (SessionStartedEvent) EventKind() string      { return EventSessionStarted }
func (SessionEndedEvent) EventKind() string        { return EventSessionEnded }
func (QueuePositionEvent) EventKind() string       { return EventQueuePosition }
func (MitraAwayEvent) EventKind() string           { return EventMitraAway }

package pairing

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// AcceptCheck is what a Store knows once it holds the locks of an accept (the mitra's,
// then the pairing's).
type AcceptCheck struct {
	Pairing Pairing
	MitraID uuid.UUID
	// Offer is the status of the mitra's offer for the pairing (the store reports
	// ErrNotFound itself when there is none).
	Offer OfferStatus
	// OfferExpiresAt is the offer's own deadline (offers of queued pairings); nil: the
	// pairing's deadline is the offer's.
	OfferExpiresAt *time.Time
	// Blocked: the pairing's client and the mitra are blocked (BlockStore).
	Blocked      bool
	MitraActive  bool
	OpenSessions int
	// MaxSessions is the mitra's own maximum, or AcceptParams.DefaultMaxSessions.
	MaxSessions int
	Now         time.Time
}

// CheckAccept is the accept decision shared by every Store implementation (see
// AcceptParams for the order of the checks). replay means the pairing is already matched
// to this mitra: the store returns the existing session and changes nothing.
func CheckAccept(c AcceptCheck) (replay bool, err error) {
	p := c.Pairing
	switch {
	case p.Status == StatusMatched && p.MatchedMitraID != nil && *p.MatchedMitraID == c.MitraID && p.ChatSessionID != nil:
		return true, nil
	case p.Status == StatusMatched:
		return false, ErrAlreadyMatched
	case c.Offer == OfferDeclined:
		return false, fmt.Errorf("the offer was declined: %w", ErrNotFound)
	case c.Blocked:
		return false, fmt.Errorf("client %s and mitra %s: %w", p.ClientID, c.MitraID, ErrBlocked)
	case p.Status == StatusQueued && (c.OfferExpiresAt == nil || !c.Now.Before(*c.OfferExpiresAt)):
		return false, fmt.Errorf("the offer of a queued pairing lapsed: %w", ErrExpired)
	case !p.Status.Deadlined():
		return false, fmt.Errorf("the pairing is %s: %w", p.Status, ErrExpired)
	case c.Offer != OfferOffered:
		return false, fmt.Errorf("the offer is %s: %w", c.Offer, ErrExpired)
	case p.ExpiresAt == nil || !c.Now.Before(*p.ExpiresAt):
		return false, fmt.Errorf("the pairing's deadline passed: %w", ErrExpired)
	case !c.MitraActive:
		return false, ErrDeactivated
	case c.OpenSessions >= c.MaxSessions:
		return false, fmt.Errorf("%d of %d sessions: %w", c.OpenSessions, c.MaxSessions, ErrAtCapacity)
	}
	return false, nil
}

// NewAcceptedSession is the chat session an accept inserts: active from a.Now for a blast
// (ends_at = now + minutes), pending_payment with no start or end yet for a targeted chat.
func NewAcceptedSession(p Pairing, a AcceptParams) ChatSession {
	s := ChatSession{
		ID: a.SessionID, ClientID: p.ClientID, MitraID: a.MitraID, Status: SessionActive, Minutes: p.Minutes,
		PairingID: p.ID, ReroutedFromID: a.ReroutedFromID, CreatedAt: a.Now, UpdatedAt: a.Now,
	}
	if p.Type == TypeTargeted {
		s.Status = SessionPendingPayment
		return s
	}
	s.StartedAt = ptr(a.Now)
	s.EndsAt = ptr(a.Now.Add(time.Duration(p.Minutes) * time.Minute))
	return s
}

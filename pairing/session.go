package pairing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// GetChatSession returns a chat session by id (ownership is the caller's business).
func (p *Pairer) GetChatSession(ctx context.Context, id uuid.UUID) (ChatSession, error) {
	s, err := p.store.GetChatSession(ctx, id)
	if err != nil {
		return ChatSession{}, fmt.Errorf("get chat session %s: %w", id, err)
	}
	return s, nil
}

// ListChatSessions returns chat sessions, newest first.
func (p *Pairer) ListChatSessions(ctx context.Context, q ListSessionsParams) ([]ChatSession, error) {
	ss, err := p.store.ListChatSessions(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list chat sessions: %w", err)
	}
	return ss, nil
}

// CountOpenSessions counts the chat sessions holding capacity, active and pending_payment
// (what an operator's dashboard shows).
func (p *Pairer) CountOpenSessions(ctx context.Context) (OpenSessionCounts, error) {
	n, err := p.store.CountOpenSessions(ctx)
	if err != nil {
		return OpenSessionCounts{}, fmt.Errorf("count open chat sessions: %w", err)
	}
	return n, nil
}

// EndParams ends a chat session on behalf of one of its parties.
type EndParams struct {
	SessionID uuid.UUID
	By        Party
	// CallerID is the client or mitra asking; a session of somebody else is ErrNotFound.
	CallerID uuid.UUID
}

// EndSession ends an active session (end_reason client_ended or mitra_ended). A session
// still waiting for its payment (pending_payment) is cancelled instead, and its payment
// withdrawn. A session already over is ErrInvalidState.
func (p *Pairer) EndSession(ctx context.Context, params EndParams) (ChatSession, error) {
	reason := EndClientEnded
	switch params.By {
	case PartyClient:
	case PartyMitra:
		reason = EndMitraEnded
	default:
		return ChatSession{}, core.Invalid("by", "must be %q or %q, not %q", PartyClient, PartyMitra, params.By)
	}
	s, err := p.store.GetChatSession(ctx, params.SessionID)
	if err != nil {
		return ChatSession{}, fmt.Errorf("end chat session %s: %w", params.SessionID, err)
	}
	owner := s.ClientID
	if params.By == PartyMitra {
		owner = s.MitraID
	}
	if owner != params.CallerID {
		return ChatSession{}, fmt.Errorf("end chat session %s: %w", params.SessionID, ErrNotFound)
	}
	if !s.Holds() {
		return ChatSession{}, fmt.Errorf("end chat session %s: it is %s already: %w", params.SessionID, s.Status, ErrInvalidState)
	}
	to := SessionEnded
	if s.Status == SessionPendingPayment {
		to = SessionCancelled
	}
	now := p.now()
	ended, err := p.store.EndChatSession(ctx, SessionTransition{
		ID: s.ID, From: []SessionStatus{s.Status}, To: to, Reason: reason, Now: now, ClearsAt: p.clearsAt(ctx, now),
	})
	if err != nil {
		return ChatSession{}, fmt.Errorf("end chat session %s: %w", params.SessionID, err)
	}
	if to == SessionCancelled {
		p.withdrawSessionPayment(ctx, ended)
	}
	p.sessionClosed(ctx, ended)
	return ended, nil
}

// withdrawSessionPayment cancels the payment of a targeted session that stopped waiting
// for it (the payment side refunds it if it got paid in between).
func (p *Pairer) withdrawSessionPayment(ctx context.Context, s ChatSession) {
	pr, err := p.store.GetPairing(ctx, s.PairingID)
	if err != nil || pr.PaymentSessionID == nil {
		return
	}
	if _, err := p.payments.Cancel(ctx, *pr.PaymentSessionID); err != nil {
		p.log.WarnContext(ctx, "cancel the payment of a cancelled session", "chat_session_id", s.ID, "err", err)
	}
}

// sessionClosed follows every transition that ends or cancels a session: timer off,
// capacity mirrored, both parties told, the freed slot offered.
func (p *Pairer) sessionClosed(ctx context.Context, s ChatSession) {
	p.unschedule(timerKey{sessionExpiry, s.ID})
	p.notify(ctx, Event{
		ClientID: ptr(s.ClientID), MitraID: ptr(s.MitraID),
		Payload: SessionEndedEvent{ChatSessionID: s.ID, PairingID: s.PairingID, Status: s.Status, Reason: s.EndReason},
	})
	p.sessionFreed(ctx, s) // capacityChanged, or the wrap-up first (wrapup.go)
}

// expireSession ends an active session whose ends_at has come. A session extended
// meanwhile gets its timer re-armed instead. It reports whether it ended the session.
func (p *Pairer) expireSession(ctx context.Context, id uuid.UUID) (bool, error) {
	now := p.now()
	s, err := p.store.EndChatSession(ctx, SessionTransition{
		ID: id, From: []SessionStatus{SessionActive}, To: SessionEnded, Reason: EndExpired, DueBy: &now, Now: now,
		ClearsAt: p.clearsAt(ctx, now),
	})
	if isState(err) {
		cur, gerr := p.store.GetChatSession(ctx, id)
		if gerr != nil {
			return false, gerr
		}
		p.armExpiry(cur) // still active: extended, expire at the new end
		return false, nil
	}
	if err != nil {
		return false, err
	}
	p.sessionClosed(ctx, s)
	return true, nil
}

// SessionExtended is told that a paid extension moved a chat session's ends_at (to endsAt)
// and minutes: the session's expiry timer moves with it. The extension service calls it
// (*Pairer satisfies extension.Sessions). It re-reads the session rather than trusting
// endsAt, and is best effort — a timer that fires early re-arms itself at the stored
// ends_at — so a failure is logged, not returned.
func (p *Pairer) SessionExtended(ctx context.Context, id uuid.UUID, endsAt time.Time, minutes int) {
	s, err := p.store.GetChatSession(ctx, id)
	if err != nil {
		p.log.WarnContext(ctx, "re-arm the expiry of an extended chat session; its old timer re-arms it",
			"chat_session_id", id, "ends_at", endsAt, "minutes", minutes, "err", err)
		return
	}
	p.armExpiry(s)
}

// EndMitraSessions ends every session of a mitra that is being taken off duty, with
// reason mitra_deactivated (operators deactivated it; each active session with a whole
// minute left continues as a prepaid blast, as with Reroute — if nobody takes it, its
// unused minutes are refunded) or mitra_ended. Its
// pending_payment sessions are cancelled and their payments withdrawn. It returns the
// sessions it ended or cancelled.
func (p *Pairer) EndMitraSessions(ctx context.Context, mitraID uuid.UUID, reason EndReason) ([]ChatSession, error) {
	if reason != EndMitraDeactivated && reason != EndMitraEnded {
		return nil, core.Invalid("reason", "must be %q or %q, not %q", EndMitraDeactivated, EndMitraEnded, reason)
	}
	open, err := p.store.ListChatSessions(ctx, ListSessionsParams{
		MitraID: &mitraID, Statuses: []SessionStatus{SessionActive, SessionPendingPayment},
	})
	if err != nil {
		return nil, fmt.Errorf("end sessions of mitra %s: %w", mitraID, err)
	}
	var ended []ChatSession
	var errs []error
	for _, s := range open {
		out, err := p.endForMitra(ctx, s, reason)
		if isState(err) {
			continue // ended by someone else meanwhile
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ended = append(ended, out)
	}
	if err := errors.Join(errs...); err != nil {
		return ended, fmt.Errorf("end sessions of mitra %s: %w", mitraID, err)
	}
	return ended, nil
}

func (p *Pairer) endForMitra(ctx context.Context, s ChatSession, reason EndReason) (ChatSession, error) {
	now := p.now()
	var out ChatSession
	var next *Pairing
	err := p.onSessionAsRead(ctx, s, func(s ChatSession) error {
		out, next = ChatSession{}, nil
		t := SessionTransition{ID: s.ID, From: []SessionStatus{s.Status}, To: SessionEnded, Reason: reason, Now: now,
			ClearsAt: p.clearsAt(ctx, now)}
		switch {
		case s.Status == SessionPendingPayment:
			t.To = SessionCancelled
		case reason == EndMitraDeactivated:
			// Deactivation continues the client's chat elsewhere, like a reroute.
			ended, pr, err := p.rerouteWrite(ctx, s, reason, now)
			if !errors.Is(err, errNothingLeft) {
				out, next = ended, &pr
				return err
			}
			// Less than a whole minute left: the session just ends — unless an extension
			// paid since the read gave it more, which the guard sees.
			t.EndsAt = s.EndsAt
		}
		var err error
		out, err = p.store.EndChatSession(ctx, t)
		return err
	})
	if err != nil {
		return ChatSession{}, err
	}
	if next != nil {
		p.rerouted(ctx, out, *next)
		return out, nil
	}
	if out.Status == SessionCancelled {
		p.withdrawSessionPayment(ctx, out)
	}
	p.sessionClosed(ctx, out)
	return out, nil
}

package pairing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// errNothingLeft: the session has less than a whole minute left, so there is nothing to
// continue elsewhere.
var errNothingLeft = fmt.Errorf("less than a minute of the session is left: %w", ErrInvalidState)

// rerouteID is the id of the prepaid blast continuing session: a session is rerouted at
// most once, and the id leads from the blast back to the session (rerouteOrigin) with no
// extra column.
func rerouteID(sessionID uuid.UUID) uuid.UUID { return uuid.NewSHA1(rerouteNamespace, sessionID[:]) }

// rerouteOrigin finds the session a prepaid blast continues.
func (p *Pairer) rerouteOrigin(ctx context.Context, pr Pairing) (*uuid.UUID, error) {
	ended, err := p.store.ListChatSessions(ctx, ListSessionsParams{
		ClientID: &pr.ClientID, Status: SessionEnded, EndReasons: []EndReason{EndRerouted, EndMitraDeactivated},
	})
	if err != nil {
		return nil, err
	}
	for _, s := range ended {
		if rerouteID(s.ID) == pr.ID {
			return ptr(s.ID), nil
		}
	}
	return nil, nil
}

// Reroute moves the client's active session to another mitra when its mitra is no
// longer reachable: the session ends (rerouted) and a prepaid blast for its remaining
// whole minutes starts searching at once, charging nothing. When a mitra accepts, the new
// session's rerouted_from_id points at the old one.
//
// A reachable mitra, a session that is not active or has less than a whole minute left:
// ErrInvalidState. Another client's session: ErrNotFound.
//
// If the prepaid blast fails (nobody available, nobody accepting before its deadline) or
// the client cancels it, the unused minutes are refunded: floor(what the session was paid
// × the blast's minutes / the session's minutes), extensions included in both, taken from
// the session's payments (refund.go). A failure row carries that amount, refund_failed
// until the refund went through. An extension paid while the reroute is under way is
// counted in both: the end is written only on the session as it was read, and read again
// when an extension moved it (onSessionAsRead).
func (p *Pairer) Reroute(ctx context.Context, clientID, sessionID uuid.UUID) (Pairing, error) {
	s, err := p.store.GetChatSession(ctx, sessionID)
	if err != nil {
		return Pairing{}, fmt.Errorf("reroute chat session %s: %w", sessionID, err)
	}
	if s.ClientID != clientID {
		return Pairing{}, fmt.Errorf("reroute chat session %s: %w", sessionID, ErrNotFound)
	}
	if s.Status != SessionActive {
		return Pairing{}, fmt.Errorf("reroute chat session %s: it is %s: %w", sessionID, s.Status, ErrInvalidState)
	}
	reachable, err := p.avail.IsReachable(ctx, s.MitraID)
	if err != nil {
		return Pairing{}, fmt.Errorf("reroute chat session %s: %w", sessionID, err)
	}
	if reachable {
		return Pairing{}, fmt.Errorf("reroute chat session %s: its mitra is still reachable: %w", sessionID, ErrInvalidState)
	}
	_, pr, err := p.reroute(ctx, s, EndRerouted, p.now())
	if err != nil {
		return Pairing{}, fmt.Errorf("reroute chat session %s: %w", sessionID, err)
	}
	return pr, nil
}

// reroute ends an active session with reason and starts the prepaid blast for its
// remaining minutes (errNothingLeft when there are none).
func (p *Pairer) reroute(ctx context.Context, s ChatSession, reason EndReason, now time.Time) (ChatSession, Pairing, error) {
	var ended ChatSession
	var pr Pairing
	err := p.onSessionAsRead(ctx, s, func(s ChatSession) error {
		var err error
		ended, pr, err = p.rerouteWrite(ctx, s, reason, now)
		return err
	})
	if err != nil {
		return ChatSession{}, Pairing{}, err
	}
	return ended, p.rerouted(ctx, ended, pr), nil
}

// rerouteWrite ends s, an active session as read, and inserts the prepaid blast for the
// whole minutes it has left at now, provided s is still as read (RerouteParams).
func (p *Pairer) rerouteWrite(ctx context.Context, s ChatSession, reason EndReason, now time.Time) (ChatSession, Pairing, error) {
	minutes := remainingMinutes(s, now)
	if minutes < 1 {
		return ChatSession{}, Pairing{}, errNothingLeft
	}
	return p.store.Reroute(ctx, RerouteParams{
		SessionID: s.ID, Reason: reason, Now: now, EndsAt: *s.EndsAt, Minutes: s.Minutes, ClearsAt: p.clearsAt(ctx, now),
		Pairing: Pairing{
			ID: rerouteID(s.ID), ClientID: s.ClientID, Type: TypeBlast, Status: StatusSearching,
			Minutes: minutes, Prepaid: true, ExpiresAt: ptr(now.Add(p.settings.BlastTimeout(ctx))),
			PaidAt: ptr(now), RoutingStep: p.anyStep(ctx), CreatedAt: now, UpdatedAt: now,
		},
	})
}

// rerouted follows a reroute's write: the session closed, the prepaid blast offered. It
// returns the blast as it is now.
func (p *Pairer) rerouted(ctx context.Context, ended ChatSession, pr Pairing) Pairing {
	p.sessionClosed(ctx, ended)
	if err := p.fanOut(ctx, pr); err != nil {
		p.log.WarnContext(ctx, "offer a rerouted blast; its deadline still runs", "pairing_id", pr.ID, "err", err)
	}
	if cur, err := p.store.GetPairing(ctx, pr.ID); err == nil {
		pr = cur
	}
	return pr
}

// maxSessionReads bounds how many times onSessionAsRead reads a session that keeps
// changing under it. Each change is a payment (an extension paid, a pending session
// activated) and a session has one open extension at a time, so a few reads suffice.
const maxSessionReads = 4

// onSessionAsRead runs write, a guarded write decided on s as read. When the store refuses
// it (ErrInvalidState) because the session changed meanwhile — a paid extension moved its
// ends_at and minutes, a payment activated it — while it still holds, write runs again on
// the session read anew, at most maxSessionReads times in all: what the write decides
// (the minutes a reroute carries, whether anything is left) is never decided on a stale
// read. A session that ended meanwhile, or that did not change, keeps the refusal; one
// still changing after the last read is ErrConflict, never taken for ended.
func (p *Pairer) onSessionAsRead(ctx context.Context, s ChatSession, write func(ChatSession) error) error {
	for range maxSessionReads - 1 {
		err := write(s)
		if !isState(err) || errors.Is(err, errNothingLeft) {
			return err
		}
		cur, gerr := p.store.GetChatSession(ctx, s.ID)
		if gerr != nil {
			return fmt.Errorf("%w (reading it again: %w)", err, gerr)
		}
		if !cur.Holds() || sameSessionState(cur, s) {
			return err
		}
		s = cur
	}
	err := write(s)
	if !isState(err) || errors.Is(err, errNothingLeft) {
		return err
	}
	if cur, gerr := p.store.GetChatSession(ctx, s.ID); gerr == nil && cur.Holds() && !sameSessionState(cur, s) {
		// Still changing after every read: not "ended by someone else", which callers
		// skip; the caller must hear that nothing was done.
		return fmt.Errorf("chat session %s changed under each of %d guarded writes: %w", s.ID, maxSessionReads, ErrConflict)
	}
	return err
}

// sameSessionState reports whether a and b agree on what a guarded write of a session
// decides on: its status, ends_at and minutes.
func sameSessionState(a, b ChatSession) bool {
	sameEnd := (a.EndsAt == nil && b.EndsAt == nil) || (a.EndsAt != nil && b.EndsAt != nil && a.EndsAt.Equal(*b.EndsAt))
	return a.Status == b.Status && a.Minutes == b.Minutes && sameEnd
}

// remainingMinutes is how many whole minutes of s are left at now (at most 1440, the
// longest pairing).
func remainingMinutes(s ChatSession, now time.Time) int {
	if s.EndsAt == nil || !s.EndsAt.After(now) {
		return 0
	}
	return min(int(s.EndsAt.Sub(now)/time.Minute), 1440)
}

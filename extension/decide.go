package extension

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
)

// Approve is the mitra's yes to a requested extension (auto-approval off). Only the
// session's mitra may decide (ErrNotFound for anybody else), and only while the
// extension is requested, its decision deadline has not passed and the session is still
// active (ErrInvalidState otherwise; a request found past its deadline, or on a session
// that ended, is expired on the way).
//
// Approval charges: the returned payment session, created with the amount frozen when
// the extension was requested, is what the client pays; the client is told
// (ExtensionApprovedEvent, with the payment to pay).
func (s *Service) Approve(ctx context.Context, mitraID, extensionID uuid.UUID) (Extension, payment.Session, error) {
	e, sess, err := s.loadForMitra(ctx, mitraID, extensionID)
	if err != nil {
		return Extension{}, payment.Session{}, fmt.Errorf("approve extension %s: %w", extensionID, err)
	}
	if e.Status != StatusRequested {
		return Extension{}, payment.Session{}, fmt.Errorf("approve extension %s: it is %s: %w", e.ID, e.Status, ErrInvalidState)
	}
	now := s.now()
	switch {
	case sess.Status != pairing.SessionActive:
		s.expireRequest(ctx, e.ID, "session_not_active")
		return Extension{}, payment.Session{}, fmt.Errorf("approve extension %s: chat session %s is %s: %w",
			e.ID, sess.ID, sess.Status, ErrInvalidState)
	case !now.Before(e.CreatedAt.Add(s.settings.TargetedTimeout(ctx))):
		// Another instance's timer or the sweep will get there too; no late charge.
		s.expireRequest(ctx, e.ID, "timeout")
		return Extension{}, payment.Session{}, fmt.Errorf("approve extension %s: its decision deadline passed: %w", e.ID, ErrInvalidState)
	}
	// Read before the approval, so that a failure here changes nothing.
	tier, err := s.quoter.GetTier(ctx, e.TierID)
	if err != nil {
		return Extension{}, payment.Session{}, fmt.Errorf("approve extension %s: tier %s: %w", e.ID, e.TierID, err)
	}
	approved, changed, err := s.store.Transition(ctx, Transition{
		ID: e.ID, From: []Status{StatusRequested}, To: StatusApproved, DecidedBy: DecidedByMitra, DecidedAt: &now,
	})
	if err != nil {
		return Extension{}, payment.Session{}, fmt.Errorf("approve extension %s: %w", e.ID, err)
	}
	if !changed {
		return Extension{}, payment.Session{}, fmt.Errorf("approve extension %s: it is %s: %w", e.ID, approved.Status, ErrInvalidState)
	}
	s.disarm(e.ID)
	linked, pay, err := s.charge(ctx, approved, sess.ClientID, tier.Currency)
	if err != nil {
		return Extension{}, payment.Session{}, fmt.Errorf("approve extension %s: %w", e.ID, err)
	}
	s.log.InfoContext(ctx, "extension: approved by the mitra", "extension_id", linked.ID, "chat_session_id", sess.ID,
		"payment_id", pay.ID, "minutes", linked.Minutes, "amount", linked.Amount)
	s.notify(ctx, pairing.Event{
		ClientID: ptr(sess.ClientID),
		Payload:  ExtensionApprovedEvent{Summary: summarize(linked), Payment: pairing.NewPaymentToPay(pay)},
	})
	return linked, pay, nil
}

// Reject is the mitra's no to a requested extension. Only the session's mitra may decide
// (ErrNotFound for anybody else), and only while the extension is requested
// (ErrInvalidState otherwise). reason is stored as reject_reason (RejectMitraDeclined when
// empty; at most 200 characters). Nothing was charged; the client is told
// (EventExtensionRejected).
func (s *Service) Reject(ctx context.Context, mitraID, extensionID uuid.UUID, reason string) (Extension, error) {
	if reason == "" {
		reason = RejectMitraDeclined
	}
	if len(reason) > maxRejectReasonLen {
		return Extension{}, core.Invalid("reason", "must be at most %d characters", maxRejectReasonLen)
	}
	e, sess, err := s.loadForMitra(ctx, mitraID, extensionID)
	if err != nil {
		return Extension{}, fmt.Errorf("reject extension %s: %w", extensionID, err)
	}
	if e.Status != StatusRequested {
		return Extension{}, fmt.Errorf("reject extension %s: it is %s: %w", e.ID, e.Status, ErrInvalidState)
	}
	now := s.now()
	rejected, changed, err := s.store.Transition(ctx, Transition{
		ID: e.ID, From: []Status{StatusRequested}, To: StatusRejected,
		DecidedBy: DecidedByMitra, RejectReason: reason, DecidedAt: &now,
	})
	if err != nil {
		return Extension{}, fmt.Errorf("reject extension %s: %w", e.ID, err)
	}
	if !changed {
		return Extension{}, fmt.Errorf("reject extension %s: it is %s: %w", e.ID, rejected.Status, ErrInvalidState)
	}
	s.disarm(e.ID)
	s.log.InfoContext(ctx, "extension: rejected by the mitra", "extension_id", e.ID, "chat_session_id", sess.ID, "reason", reason)
	s.notify(ctx, pairing.Event{
		ClientID: ptr(sess.ClientID),
		Payload:  ExtensionRejectedEvent{Summary: summarize(rejected)},
	})
	return rejected, nil
}

// loadForMitra returns the extension and its session if mitraID is the session's mitra.
func (s *Service) loadForMitra(ctx context.Context, mitraID, extensionID uuid.UUID) (Extension, pairing.ChatSession, error) {
	e, err := s.store.Get(ctx, extensionID)
	if err != nil {
		return Extension{}, pairing.ChatSession{}, err
	}
	sess, err := s.sessions.GetChatSession(ctx, e.ChatSessionID)
	if err != nil {
		return Extension{}, pairing.ChatSession{}, fmt.Errorf("chat session %s: %w", e.ChatSessionID, err)
	}
	if sess.MitraID != mitraID {
		return Extension{}, pairing.ChatSession{}, ErrNotFound
	}
	return e, sess, nil
}

// SweepExpired expires the extensions whose time is up, and returns how many it expired:
// requested ones past their decision deadline (created_at + the targeted timeout — the
// in-process timers do this on time; the sweep covers a restart or another instance), and
// approved ones that never got their payment session (Config.OrphanTTL after approval).
// An approved extension whose payment is pending expires with its payment instead
// (PaymentClosed). It is safe to run on several instances at once; the timeouts sweep
// calls it.
func (s *Service) SweepExpired(ctx context.Context) (int, error) {
	now := s.now()
	q := ExpireQuery{
		RequestedBefore: now.Add(-s.settings.TargetedTimeout(ctx)),
		UnchargedBefore: now.Add(-s.cfg.OrphanTTL),
		Limit:           s.cfg.SweepBatch,
	}
	total := 0
	for {
		rows, err := s.store.ExpireDue(ctx, q)
		if err != nil {
			return total, fmt.Errorf("sweep extensions: %w", err)
		}
		total += len(rows)
		for _, e := range rows {
			s.disarm(e.ID)
			reason := "timeout"
			if e.DecidedBy != "" { // approved, never charged
				reason = "charge_missing"
			}
			s.expired(ctx, e, reason)
		}
		if len(rows) < q.Limit {
			return total, nil
		}
	}
}

// arm schedules the decision deadline of a requested extension.
func (s *Service) arm(id uuid.UUID, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.timers[id] = s.clock.AfterFunc(d, func() { s.deadlinePassed(id) })
}

// disarm cancels a decision deadline (the extension was decided or expired).
func (s *Service) disarm(id uuid.UUID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.timers[id]; ok {
		t.Stop()
		delete(s.timers, id)
	}
}

// deadlinePassed expires a request nobody decided on in time.
func (s *Service) deadlinePassed(id uuid.UUID) {
	s.mu.Lock()
	if _, armed := s.timers[id]; !armed || s.stopped {
		s.mu.Unlock()
		return // disarmed or stopped meanwhile
	}
	delete(s.timers, id)
	s.running.Add()
	s.mu.Unlock()
	defer s.running.Done()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.TimerTimeout)
	defer cancel()
	s.expireRequest(ctx, id, "timeout")
}

// expireRequest moves a requested extension to expired and tells the parties. Failures
// are logged: the sweep retries.
func (s *Service) expireRequest(ctx context.Context, id uuid.UUID, reason string) {
	s.disarm(id)
	e, changed, err := s.store.Transition(ctx, Transition{ID: id, From: []Status{StatusRequested}, To: StatusExpired})
	if err != nil {
		s.log.WarnContext(ctx, "extension: expire an undecided request; the sweep will retry", "extension_id", id, "err", err)
		return
	}
	if changed {
		s.expired(ctx, e, reason)
	}
}

// expired logs and announces an extension that just expired: to the client, and to the
// mitra too when it was still waiting for the mitra's decision (its card goes away).
func (s *Service) expired(ctx context.Context, e Extension, reason string) {
	s.log.InfoContext(ctx, "extension: expired", "extension_id", e.ID, "chat_session_id", e.ChatSessionID, "reason", reason)
	sess, err := s.sessions.GetChatSession(ctx, e.ChatSessionID)
	if err != nil {
		s.log.WarnContext(ctx, "extension: expired, but its chat session could not be read to notify the parties",
			"extension_id", e.ID, "err", err)
		return
	}
	ev := pairing.Event{
		ClientID: ptr(sess.ClientID),
		Payload:  ExtensionExpiredEvent{Summary: summarize(e), Reason: reason},
	}
	if e.DecidedBy == "" {
		ev.MitraID = ptr(sess.MitraID)
	}
	s.notify(ctx, ev)
}

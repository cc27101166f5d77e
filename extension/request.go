package extension

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/pricing"
)

// Request asks for more minutes on the client's active chat session.
//
// The chat session must be the client's own (ErrNotFound otherwise) and active
// (ErrInvalidState otherwise), the minutes must match an active extension tier whose
// price is not 0 (ErrNoTier otherwise), and the session may have one open — requested or
// approved — extension at a time (ErrInvalidState for a second, also when two requests
// race).
//
// What happens next depends on the extension_auto_approve setting:
//
//   - on, mitra reachable: the extension is approved at once (decided_by auto) and
//     charged — the returned payment session is what the client pays; the mitra is told
//     (EventExtensionApproved);
//   - on, mitra not reachable (offline, deactivated or heartbeat stale): the extension is
//     stored rejected (reject_reason mitra_offline), nothing is charged, and Request
//     returns it together with an error wrapping ErrMitraUnavailable;
//   - off: the extension is requested, the mitra is told (EventExtensionRequested) and
//     has the targeted timeout (pairing_targeted_timeout_seconds) to Approve or Reject it
//     before it expires. No payment session yet: the charge comes with the approval.
func (s *Service) Request(ctx context.Context, p RequestParams) (Extension, *payment.Session, error) {
	if err := p.validate(); err != nil {
		return Extension{}, nil, err
	}
	sess, err := s.sessions.GetChatSession(ctx, p.ChatSessionID)
	if err != nil {
		return Extension{}, nil, fmt.Errorf("request extension of chat session %s: %w", p.ChatSessionID, err)
	}
	if sess.ClientID != p.ClientID {
		return Extension{}, nil, fmt.Errorf("request extension of chat session %s: %w", p.ChatSessionID, ErrNotFound)
	}
	if sess.Status != pairing.SessionActive {
		return Extension{}, nil, fmt.Errorf("request extension: chat session %s is %s, not active: %w",
			sess.ID, sess.Status, ErrInvalidState)
	}
	if sess.EndsAt != nil && !s.now().Before(*sess.EndsAt) {
		// Its expiry has not run yet, but a payment now could only be refunded.
		return Extension{}, nil, fmt.Errorf("request extension: chat session %s ended at %s: %w",
			sess.ID, sess.EndsAt.Format(time.RFC3339), ErrInvalidState)
	}
	q, err := s.quoter.Quote(ctx, p.ClientID, pricing.ModeExtension, p.Minutes)
	if err != nil {
		return Extension{}, nil, fmt.Errorf("request extension of %d minutes: %w", p.Minutes, err)
	}
	if q.Amount <= 0 {
		// The pricing rules already refuse free extension tiers; a zero quote would
		// extend a session for nothing, so it is refused here too.
		return Extension{}, nil, fmt.Errorf("request extension of %d minutes: the tier is free, and extensions never are: %w",
			p.Minutes, ErrNoTier)
	}
	// The unique index is the real guard; this read only spares an offline mitra's
	// rejection row and a reachability check when the answer is already known.
	if open, err := s.store.OpenForSession(ctx, sess.ID); err == nil {
		return Extension{}, nil, fmt.Errorf("request extension: chat session %s already has extension %s %s: %w",
			sess.ID, open.ID, open.Status, ErrInvalidState)
	} else if !errors.Is(err, ErrNotFound) {
		return Extension{}, nil, fmt.Errorf("request extension of chat session %s: %w", sess.ID, err)
	}

	now := s.now()
	e := Extension{
		ID: uuid.New(), ChatSessionID: sess.ID, TierID: q.TierID, Minutes: p.Minutes, Amount: q.Amount, CreatedAt: now,
	}
	if !s.settings.ExtensionAutoApprove(ctx) {
		return s.requestDecision(ctx, e, sess)
	}

	reachable, err := s.reach.IsReachable(ctx, sess.MitraID)
	if err != nil {
		return Extension{}, nil, fmt.Errorf("request extension: is mitra %s reachable: %w", sess.MitraID, err)
	}
	e.DecidedBy, e.DecidedAt = DecidedByAuto, &now
	if !reachable {
		// The offline safeguard: never charge for minutes nobody will listen to.
		e.Status, e.RejectReason = StatusRejected, RejectMitraOffline
		stored, err := s.store.Insert(ctx, e)
		if err != nil {
			return Extension{}, nil, fmt.Errorf("request extension of chat session %s: %w", sess.ID, err)
		}
		s.log.InfoContext(ctx, "extension: rejected, mitra not reachable", "extension_id", stored.ID,
			"chat_session_id", sess.ID, "mitra_id", sess.MitraID)
		return stored, nil, fmt.Errorf("extension %s rejected: mitra %s: %w", stored.ID, sess.MitraID, ErrMitraUnavailable)
	}

	e.Status = StatusApproved
	stored, err := s.store.Insert(ctx, e)
	if err != nil {
		return Extension{}, nil, fmt.Errorf("request extension of chat session %s: %w", sess.ID, err)
	}
	linked, pay, err := s.charge(ctx, stored, sess.ClientID, q.Currency)
	if err != nil {
		return Extension{}, nil, err
	}
	s.log.InfoContext(ctx, "extension: approved automatically", "extension_id", linked.ID,
		"chat_session_id", sess.ID, "payment_id", pay.ID, "minutes", linked.Minutes, "amount", linked.Amount)
	s.notify(ctx, pairing.Event{
		MitraID: ptr(sess.MitraID),
		Payload: ExtensionApprovedEvent{Summary: summarize(linked)},
	})
	return linked, &pay, nil
}

// requestDecision stores a requested extension, arms its decision deadline and asks the
// mitra.
func (s *Service) requestDecision(ctx context.Context, e Extension, sess pairing.ChatSession) (Extension, *payment.Session, error) {
	e.Status = StatusRequested
	stored, err := s.store.Insert(ctx, e)
	if err != nil {
		return Extension{}, nil, fmt.Errorf("request extension of chat session %s: %w", sess.ID, err)
	}
	timeout := s.settings.TargetedTimeout(ctx)
	s.arm(stored.ID, timeout)
	s.log.InfoContext(ctx, "extension: requested", "extension_id", stored.ID, "chat_session_id", sess.ID,
		"mitra_id", sess.MitraID, "timeout", timeout)
	s.notify(ctx, pairing.Event{
		MitraID: ptr(sess.MitraID),
		Payload: ExtensionRequestedEvent{Summary: summarize(stored), ExpiresAt: stored.CreatedAt.Add(timeout)},
	})
	return stored, nil, nil
}

// charge creates the payment session of an approved extension, with the amount frozen in
// the extension row, and links it. When there is nothing to pay (the gateway refused the
// charge, or the extension stopped waiting meanwhile) the extension is expired so that
// the session's open slot is free again, and the error says why.
func (s *Service) charge(ctx context.Context, e Extension, clientID uuid.UUID, currency string) (Extension, payment.Session, error) {
	pay, _, err := s.payments.Create(ctx, payment.CreateParams{
		ClientID: clientID, Purpose: payment.PurposeExtension, ChatSessionID: ptr(e.ChatSessionID),
		ExtensionID: ptr(e.ID), TierID: e.TierID, Minutes: e.Minutes,
		BaseAmount: e.Amount, Amount: e.Amount, Currency: currency,
	})
	// From here on the work follows a committed approval (and maybe a charge): finish it
	// even if the caller hangs up.
	dctx, cancel := s.detached(ctx)
	defer cancel()
	if err != nil {
		t := Transition{ID: e.ID, From: []Status{StatusApproved}, To: StatusExpired}
		if pay.ID != uuid.Nil {
			t.PaymentSessionID = ptr(pay.ID)
		}
		if _, _, terr := s.store.Transition(dctx, t); terr != nil {
			s.log.ErrorContext(ctx, "extension: charge failed and expiring the extension failed; the sweep will",
				"extension_id", e.ID, "err", terr)
		}
		return Extension{}, payment.Session{}, fmt.Errorf("charge extension %s: %w", e.ID, err)
	}
	linked, changed, err := s.store.Transition(dctx, Transition{
		ID: e.ID, From: []Status{StatusApproved}, To: StatusApproved, PaymentSessionID: ptr(pay.ID),
	})
	if err != nil {
		s.withdraw(dctx, pay.ID)
		return Extension{}, payment.Session{}, fmt.Errorf("link payment %s to extension %s: %w", pay.ID, e.ID, err)
	}
	if !changed && !samePayment(linked.PaymentSessionID, pay.ID) {
		// The orphan sweep expired it while the gateway was slow.
		s.withdraw(dctx, pay.ID)
		return Extension{}, payment.Session{}, fmt.Errorf("charge extension %s: it is %s: %w", e.ID, linked.Status, ErrInvalidState)
	}
	// !changed with our payment linked: it was paid (and applied) already.
	return linked, pay, nil
}

// withdraw cancels a payment session nothing waits for (one paid meanwhile is refunded).
func (s *Service) withdraw(ctx context.Context, paymentID uuid.UUID) {
	if _, err := s.payments.Cancel(ctx, paymentID); err != nil {
		s.log.WarnContext(ctx, "extension: cancel a payment nothing waits for", "payment_id", paymentID, "err", err)
	}
}

func samePayment(linked *uuid.UUID, id uuid.UUID) bool { return linked != nil && *linked == id }

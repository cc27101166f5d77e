package extension

import (
	"context"
	"errors"
	"fmt"

	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
)

// PaymentPaid applies a paid extension payment; it is the payment.Handler method the
// payment service calls once the provider confirmed the payment (register the Service
// with SetHandler(payment.PurposeExtension, svc)).
//
// In one transaction the extension becomes paid and the chat session's ends_at and
// minutes grow by the extension's minutes; then Sessions.SessionExtended moves the
// session's expiry timer and both parties are told (EventSessionExtended). When the
// session is no longer active (it ended before the payment arrived, or its ends_at passed
// and its expiry has yet to end it) or the extension no longer waits for this payment,
// nothing changes — an extension whose session is over is expired — and PaymentPaid
// answers ErrInvalidState: the payment side refunds the payment
// (payment.Handler's contract), and until that refund is recorded the payment stays
// undelivered and is delivered again, so a crash in between loses nothing. A redelivery
// of a payment already applied changes nothing.
func (s *Service) PaymentPaid(ctx context.Context, p payment.Session) error {
	if p.ExtensionID == nil {
		return s.refund(ctx, p, "no_extension")
	}
	res, err := s.store.ApplyPayment(ctx, ApplyPayment{ExtensionID: *p.ExtensionID, PaymentSessionID: p.ID, At: s.now()})
	if errors.Is(err, ErrNotFound) {
		return s.refund(ctx, p, "no_extension")
	}
	if err != nil {
		return fmt.Errorf("apply payment %s to extension %s: %w", p.ID, *p.ExtensionID, err)
	}
	e := res.Extension
	switch res.Outcome {
	case Applied:
		sess := res.Session
		s.log.InfoContext(ctx, "extension: paid, session extended", "extension_id", e.ID, "chat_session_id", sess.ID,
			"payment_id", p.ID, "minutes", e.Minutes, "ends_at", sess.EndsAt)
		if sess.EndsAt == nil {
			// An applied extension grew an active session, which has an end; without
			// one there is nothing to re-arm nor to announce.
			s.log.WarnContext(ctx, "extension: applied to a session without ends_at", "extension_id", e.ID, "chat_session_id", sess.ID)
			return nil
		}
		s.sessions.SessionExtended(ctx, sess.ID, *sess.EndsAt, sess.Minutes)
		s.notify(ctx, pairing.Event{
			ClientID: ptr(sess.ClientID), MitraID: ptr(sess.MitraID),
			Payload: SessionExtendedEvent{Summary: summarize(e), EndsAt: *sess.EndsAt, TotalMinutes: sess.Minutes},
		})
		return nil
	case AlreadyApplied:
		return nil
	case SessionNotActive:
		expired, changed, err := s.store.Transition(ctx, Transition{
			ID: e.ID, From: []Status{StatusApproved}, To: StatusExpired, PaymentSessionID: ptr(p.ID),
		})
		if err != nil {
			s.log.WarnContext(ctx, "extension: expire the extension of an ended session", "extension_id", e.ID, "err", err)
		} else if changed {
			s.expired(ctx, expired, "session_ended")
		}
		return s.refund(ctx, p, "session_ended")
	default: // NotApproved
		return s.refund(ctx, p, "extension_not_open")
	}
}

// refund says that nothing waits for a payment: the payment side refunds it.
func (s *Service) refund(ctx context.Context, p payment.Session, reason string) error {
	s.log.InfoContext(ctx, "extension: nothing waits for this payment; it is refunded", "payment_id", p.ID, "reason", reason)
	return fmt.Errorf("payment %s: %s: %w", p.ID, reason, ErrInvalidState)
}

// PaymentClosed expires the approved extension of a payment that failed or expired
// unpaid (payment.Handler), and tells the client. Anything else changes nothing.
func (s *Service) PaymentClosed(ctx context.Context, p payment.Session) error {
	if p.ExtensionID == nil {
		return nil
	}
	e, changed, err := s.store.Transition(ctx, Transition{
		ID: *p.ExtensionID, From: []Status{StatusApproved}, To: StatusExpired, PaymentSessionID: ptr(p.ID),
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("expire extension %s of closed payment %s: %w", *p.ExtensionID, p.ID, err)
	}
	if changed {
		s.expired(ctx, e, "payment_"+string(p.Status))
	}
	return nil
}

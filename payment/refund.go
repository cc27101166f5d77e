package payment

import (
	"context"
	"fmt"

	"github.com/google/uuid"
)

// Refund gives a paid session's money back through the gateway.
//
//   - paid: refunded; refund_failed if the gateway refuses;
//   - refund_failed: the refund is retried;
//   - refunded: nothing happens;
//   - any other status (nothing was paid): ErrInvalidState.
//
// The transition is claimed in the store before the gateway is called, so however many
// Refund calls race (a cancel, an operator, a handler), the gateway is asked once. The
// outcome is the returned session's status: a refusal by the gateway is recorded as
// refund_failed and reported through Hooks.RefundFailed, not returned as an error. reason
// goes to the gateway and the log.
//
// A process that dies between the claim and the gateway's answer leaves the session
// refunded without having asked the gateway; the log line "payment: refund claimed"
// precedes every gateway call so that reconciliation with the provider can find it.
func (s *Service) Refund(ctx context.Context, id uuid.UUID, reason string) (Session, error) {
	sess, changed, err := s.store.Transition(ctx, Transition{
		ID: id, From: []Status{StatusPaid, StatusRefundFailed}, To: StatusRefunded, At: s.now(),
	})
	if err != nil {
		return Session{}, fmt.Errorf("refund payment %s: %w", id, err)
	}
	if !changed {
		if sess.Status == StatusRefunded {
			return sess, nil
		}
		return Session{}, fmt.Errorf("refund payment %s: it is %s, not paid: %w", id, sess.Status, ErrInvalidState)
	}
	return s.issueRefund(ctx, sess, reason)
}

// refundLate refunds a payment confirmed for a session that had already closed (failed,
// expired or cancelled). Nothing is started for it.
func (s *Service) refundLate(ctx context.Context, sess Session, providerRef string) (Session, error) {
	claimed, changed, err := s.store.Transition(ctx, Transition{
		ID: sess.ID, From: []Status{StatusFailed, StatusExpired, StatusCancelled}, To: StatusRefunded,
		At: s.now(), ProviderRef: providerRef, SetPaidAt: true,
	})
	if err != nil {
		return Session{}, fmt.Errorf("refund late payment %s: %w", sess.ID, err)
	}
	if !changed {
		return claimed, nil // a duplicate confirmation got here first
	}
	s.cfg.Logger.WarnContext(ctx, "payment: confirmed after the session closed; refunding",
		"payment_id", sess.ID, "purpose", sess.Purpose, "closed_as", sess.Status)
	return s.issueRefund(ctx, claimed, "late_payment")
}

// issueRefund asks the gateway to refund a session this call has just claimed (moved to
// refunded), and records a refusal as refund_failed. The work is detached from ctx's
// cancellation: the claim is committed, so the refund must be attempted.
func (s *Service) issueRefund(ctx context.Context, claimed Session, reason string) (Session, error) {
	if claimed.Amount == 0 {
		s.cfg.Logger.InfoContext(ctx, "payment: free session refunded (no money moved)", "payment_id", claimed.ID)
		return claimed, nil
	}
	dctx, cancel := s.detached(ctx)
	defer cancel()
	s.cfg.Logger.InfoContext(ctx, "payment: refund claimed", "payment_id", claimed.ID,
		"provider_ref", claimed.ProviderRef, "amount", claimed.Amount, "reason", reason)
	gwErr := s.gw.Refund(dctx, RefundRequest{
		PaymentID: claimed.ID, ProviderRef: claimed.ProviderRef, Amount: claimed.Amount,
		Currency: claimed.Currency, Reason: reason,
	})
	if gwErr == nil {
		s.cfg.Logger.InfoContext(ctx, "payment: refunded", "payment_id", claimed.ID, "amount", claimed.Amount)
		if h := s.cfg.Hooks.RefundIssued; h != nil {
			h(ctx, claimed)
		}
		return claimed, nil
	}

	failed, _, err := s.store.Transition(dctx, Transition{
		ID: claimed.ID, From: []Status{StatusRefunded}, To: StatusRefundFailed, At: s.now(),
	})
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "payment: gateway refused the refund and recording it failed; the row says refunded",
			"payment_id", claimed.ID, "gateway_err", gwErr, "err", err)
		return Session{}, fmt.Errorf("payment %s: gateway refused the refund (%w), and recording refund_failed failed: %w", claimed.ID, gwErr, err)
	}
	s.cfg.Logger.WarnContext(ctx, "payment: gateway refused the refund", "payment_id", claimed.ID, "err", gwErr)
	if h := s.cfg.Hooks.RefundFailed; h != nil {
		h(ctx, failed, gwErr)
	}
	return failed, nil
}

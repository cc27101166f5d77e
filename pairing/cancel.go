package pairing

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/curhat/curhat/payment"
)

// GetPairing returns a pairing by id (ownership is the caller's business).
func (p *Pairer) GetPairing(ctx context.Context, id uuid.UUID) (Pairing, error) {
	pr, err := p.store.GetPairing(ctx, id)
	if err != nil {
		return Pairing{}, fmt.Errorf("get pairing %s: %w", id, err)
	}
	return pr, nil
}

// Cancel withdraws the client's pairing in any pre-match state:
//   - awaiting_payment: cancelled, and the payment session cancelled (the payment side
//     refunds it if it got paid in between);
//   - searching or queued: cancelled, its offers dismissed (mitras told), and the refund
//     it owes recorded in the same transaction and sent (see refund.go: all of a paid
//     blast's payment; the unused part of the session a prepaid blast continues);
//     cancellations write no failure row; a queued one leaves its place to those behind;
//   - targeted_waiting, targeted_unavailable: cancelled, nothing was charged.
//
// The client is told (EventPairingCancelled, reason client_cancelled) as when the system
// cancels a pairing: its other devices, and a screen still offering the fallback of a
// targeted_unavailable pairing, learn it from the event.
//
// A matched pairing gives ErrAlreadyMatched, a failed one ErrInvalidState, a cancelled one
// is returned as is; another client's pairing is ErrNotFound. Cancel racing Accept ends in
// exactly one outcome: both are guarded on the pairing row. When what a searching
// pairing owes cannot be read, nothing changes and the error is returned.
func (p *Pairer) Cancel(ctx context.Context, clientID, pairingID uuid.UUID) (Pairing, error) {
	// A pairing can move on between the read and the guarded write (paid, matched):
	// re-read and decide again. It only moves forward, so this ends.
	for {
		pr, err := p.store.GetPairing(ctx, pairingID)
		if err != nil {
			return Pairing{}, fmt.Errorf("cancel pairing %s: %w", pairingID, err)
		}
		if pr.ClientID != clientID {
			return Pairing{}, fmt.Errorf("cancel pairing %s: %w", pairingID, ErrNotFound)
		}
		switch pr.Status {
		case StatusCancelled:
			return pr, nil
		case StatusMatched:
			return Pairing{}, fmt.Errorf("cancel pairing %s: %w", pairingID, ErrAlreadyMatched)
		case StatusFailed:
			return Pairing{}, fmt.Errorf("cancel pairing %s: it failed already: %w", pairingID, ErrInvalidState)
		}
		var intent *payment.RefundOrder
		if pr.Status == StatusSearching || pr.Status == StatusQueued {
			if intent, err = p.refundIntent(ctx, pr, "pairing cancelled by the client"); err != nil {
				return Pairing{}, fmt.Errorf("cancel pairing %s: %w", pairingID, err)
			}
		}
		res, err := p.store.Transition(ctx, PairingTransition{
			ID: pr.ID, From: []Status{pr.Status}, To: StatusCancelled,
			FailureReason: ReasonClientCancelled, OfferStatus: OfferDismissed, Refund: intent, Now: p.now(),
		})
		if isState(err) {
			continue
		}
		if err != nil {
			return Pairing{}, fmt.Errorf("cancel pairing %s: %w", pairingID, err)
		}
		p.stopWaiting(pr.ID)
		p.notifyDismissed(ctx, pr.ID, res.Closed, DismissCancelled)
		p.notify(ctx, Event{
			ClientID: ptr(pr.ClientID),
			Payload:  PairingCancelledEvent{PairingID: pr.ID, Reason: res.Pairing.FailureReason},
		})
		if len(res.Refunds) > 0 {
			p.settleRefunds(ctx, pr.ID)
		}
		if pr.Status == StatusQueued {
			p.leftQueue(ctx, pr, QueueCancelled, res.Closed)
		}
		if pr.Status == StatusAwaitingPayment && pr.PaymentSessionID != nil {
			if _, err := p.payments.Cancel(ctx, *pr.PaymentSessionID); err != nil {
				p.log.WarnContext(ctx, "cancel the payment of a cancelled pairing; it expires unpaid",
					"pairing_id", pr.ID, "payment_id", *pr.PaymentSessionID, "err", err)
			}
		}
		return res.Pairing, nil
	}
}

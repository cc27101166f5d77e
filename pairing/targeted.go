package pairing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/payment"
)

// chargeTargeted creates the chat_start payment of a targeted chat the mitra just
// accepted. If it cannot, the pending session is cancelled (capacity released) and the
// error returned; a free session is activated at once.
func (p *Pairer) chargeTargeted(ctx context.Context, pr Pairing, s ChatSession) (ChatSession, error) {
	pay, err := p.createTargetedPayment(ctx, pr, s)
	if err != nil {
		p.notifyMatched(ctx, pr, s, nil)
		if out, cerr := p.store.EndChatSession(ctx, SessionTransition{
			ID: s.ID, From: []SessionStatus{SessionPendingPayment}, To: SessionCancelled, Reason: EndPaymentFailed, Now: p.now(),
		}); cerr == nil {
			p.sessionClosed(ctx, out)
		}
		return ChatSession{}, fmt.Errorf("accept pairing %s: create payment: %w", pr.ID, err)
	}
	p.notifyMatched(ctx, pr, s, &pay)
	if pay.Status == payment.StatusPaid {
		if err := p.targetedPaid(ctx, pr, pay); err != nil {
			return ChatSession{}, fmt.Errorf("accept pairing %s: free session: %w", pr.ID, err)
		}
		return p.store.GetChatSession(ctx, s.ID)
	}
	return s, nil
}

func (p *Pairer) createTargetedPayment(ctx context.Context, pr Pairing, s ChatSession) (payment.Session, error) {
	q, err := p.quote(ctx, pr.ClientID, pr.Minutes)
	if err != nil {
		return payment.Session{}, err
	}
	req := blastPaymentRequest(pr, q, "curhat:targeted:"+pr.ID.String())
	req.ChatSessionID = ptr(s.ID)
	pay, _, err := p.payments.Create(ctx, req)
	if err != nil {
		return payment.Session{}, err
	}
	if _, err := p.store.AttachPayment(ctx, pr.ID, pay.ID, p.now()); err != nil {
		return payment.Session{}, err
	}
	return pay, nil
}

// targetedPaid activates the pending_payment session of a paid targeted chat:
// ends_at = paid_at + minutes. A session that stopped waiting (cancelled meanwhile) answers
// ErrInvalidState: the payment side refunds the payment.
func (p *Pairer) targetedPaid(ctx context.Context, pr Pairing, pay payment.Session) error {
	if pr.ChatSessionID == nil {
		return fmt.Errorf("payment %s paid: pairing %s has no chat session: %w", pay.ID, pr.ID, ErrInvalidState)
	}
	if pr.PaymentSessionID == nil {
		if _, err := p.store.AttachPayment(ctx, pr.ID, pay.ID, p.now()); err != nil {
			return fmt.Errorf("payment %s paid: %w", pay.ID, err)
		}
	}
	paidAt := p.now()
	if pay.PaidAt != nil {
		paidAt = pay.PaidAt.UTC().Truncate(time.Microsecond)
	}
	cur, err := p.store.GetChatSession(ctx, *pr.ChatSessionID)
	if err != nil {
		return fmt.Errorf("payment %s paid: %w", pay.ID, err)
	}
	s, err := p.store.ActivateChatSession(ctx, cur.ID, paidAt, paidAt.Add(time.Duration(cur.Minutes)*time.Minute), p.now())
	if isState(err) {
		if cur, err = p.store.GetChatSession(ctx, cur.ID); err != nil {
			return fmt.Errorf("payment %s paid: %w", pay.ID, err)
		}
		if cur.Status == SessionCancelled {
			// Nothing waits for the money: the payment side gives it back.
			return fmt.Errorf("chat session %s was cancelled before its payment %s: %w", cur.ID, pay.ID, ErrInvalidState)
		}
		return nil // a duplicate event
	}
	if err != nil {
		return fmt.Errorf("payment %s paid: %w", pay.ID, err)
	}
	p.capacityChanged(ctx, s.MitraID, false)
	p.notify(ctx, Event{
		ClientID: ptr(s.ClientID),
		Payload:  PaymentPaidEvent{PaymentID: pay.ID, PairingID: pr.ID, ChatSessionID: ptr(s.ID)},
	})
	p.sessionStarted(ctx, s)
	return nil
}

// targetedPaymentClosed cancels the pending_payment session of a targeted chat whose
// payment closed unpaid, releasing the mitra's capacity.
func (p *Pairer) targetedPaymentClosed(ctx context.Context, pr Pairing, pay payment.Session) error {
	if pr.ChatSessionID == nil {
		return nil
	}
	reason := EndPaymentExpired
	if pay.Status == payment.StatusFailed {
		reason = EndPaymentFailed
	}
	s, err := p.store.EndChatSession(ctx, SessionTransition{
		ID: *pr.ChatSessionID, From: []SessionStatus{SessionPendingPayment}, To: SessionCancelled, Reason: reason, Now: p.now(),
	})
	if isState(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("payment %s closed: %w", pay.ID, err)
	}
	p.sessionClosed(ctx, s)
	return nil
}

// targetedUnavailable ends a targeted_waiting pairing: declined or timed out. A failure
// row records it (nothing charged) and the client may fall back to a blast or cancel.
func (p *Pairer) targetedUnavailable(ctx context.Context, pr Pairing, reason Reason, dueBy *time.Time) error {
	res, err := p.store.Transition(ctx, PairingTransition{
		ID: pr.ID, From: []Status{StatusTargetedWaiting}, To: StatusTargetedUnavailable, DueBy: dueBy,
		FailureReason: reason, OfferStatus: OfferExpired,
		Failure: &Failure{Reason: reason, RefundStatus: RefundNotCharged}, Now: p.now(),
	})
	if isState(err) {
		return nil
	}
	if err != nil {
		return err
	}
	p.unschedule(timerKey{pairingDeadline, pr.ID})
	p.notifyDismissed(ctx, pr.ID, res.Closed, DismissExpired)
	p.offersMissed(ctx, res.Closed)
	p.notify(ctx, Event{
		ClientID: ptr(pr.ClientID),
		Payload:  TargetedUnavailableEvent{PairingID: pr.ID, Reason: reason},
	})
	return nil
}

// StartTargeted asks a previous mitra for another chat ("Curhat lagi"). Nothing is
// charged until the mitra accepts.
//
// It fails with ErrBlocked when the client or the mitra blocked the other (see Block),
// ErrNoPreviousSession unless the client has an ended chat session with the mitra,
// ErrMitraUnavailable when the mitra has been deactivated, ErrNoTier when no tier has that
// many minutes, ErrClientSuspended when an operator suspended the client, and
// ErrInvalidState when the client already has an open pairing.
// A mitra that is not reachable, at capacity or in its wrap-up gets no offer: the pairing is created
// directly in targeted_unavailable (failure_reason mitra_unreachable, no failure row —
// nobody was offered anything and nothing was charged), and the client may fall back to a
// blast. Otherwise the pairing waits in targeted_waiting for TargetedTimeout.
func (p *Pairer) StartTargeted(ctx context.Context, clientID, mitraID uuid.UUID, minutes int) (Pairing, error) {
	if err := errors.Join(requireID("client_id", clientID), requireID("mitra_id", mitraID), validateMinutes(minutes)); err != nil {
		return Pairing{}, err
	}
	blocked, err := p.store.Blocked(ctx, clientID, mitraID)
	if err != nil {
		return Pairing{}, fmt.Errorf("start targeted: %w", err)
	}
	if blocked {
		return Pairing{}, fmt.Errorf("start targeted with mitra %s: %w", mitraID, ErrBlocked)
	}
	had, err := p.store.HasEndedSession(ctx, clientID, mitraID)
	if err != nil {
		return Pairing{}, fmt.Errorf("start targeted: %w", err)
	}
	if !had {
		return Pairing{}, fmt.Errorf("start targeted with mitra %s: %w", mitraID, ErrNoPreviousSession)
	}
	info, err := p.store.MitraInfo(ctx, mitraID)
	if err != nil {
		return Pairing{}, fmt.Errorf("start targeted with mitra %s: %w", mitraID, err)
	}
	if !info.Active {
		return Pairing{}, fmt.Errorf("start targeted with mitra %s: %w", mitraID, ErrMitraUnavailable)
	}
	if _, err := p.quote(ctx, clientID, minutes); err != nil {
		return Pairing{}, fmt.Errorf("start targeted: %w", err)
	}
	reachable, err := p.avail.IsReachable(ctx, mitraID)
	if err != nil {
		return Pairing{}, fmt.Errorf("start targeted with mitra %s: %w", mitraID, err)
	}
	now := p.now()
	pr := Pairing{
		ID: uuid.New(), ClientID: clientID, Type: TypeTargeted, TargetMitraID: ptr(mitraID),
		Minutes: minutes, CreatedAt: now, UpdatedAt: now,
	}
	free := reachable && info.OpenSessions < p.maxSessions(ctx, info)
	if free {
		resting, err := p.inWrapup(ctx, mitraID) // offered nothing during its wrap-up (wrapup.go)
		if err != nil {
			return Pairing{}, fmt.Errorf("start targeted with mitra %s: %w", mitraID, err)
		}
		free = !resting
	}
	if free {
		pr.Status = StatusTargetedWaiting
		pr.ExpiresAt = ptr(now.Add(p.settings.TargetedTimeout(ctx)))
	} else {
		pr.Status, pr.FailureReason = StatusTargetedUnavailable, ReasonMitraUnreachable
	}
	if pr, err = p.store.CreatePairing(ctx, pr); err != nil {
		return Pairing{}, fmt.Errorf("start targeted: %w", err)
	}
	if pr.Status == StatusTargetedUnavailable {
		p.notify(ctx, Event{
			ClientID: ptr(clientID),
			Payload:  TargetedUnavailableEvent{PairingID: pr.ID, Reason: pr.FailureReason},
		})
		return pr, nil
	}
	p.armDeadline(pr)
	offered, err := p.store.InsertOffers(ctx, pr.ID, []uuid.UUID{mitraID}, now)
	if err != nil {
		// The deadline turns it targeted_unavailable; the client can still fall back.
		return pr, fmt.Errorf("start targeted: offer: %w", err)
	}
	if len(offered) > 0 {
		p.notifyOffer(ctx, pr, mitraID)
	}
	return pr, nil
}

// FallbackToBlast turns the client's targeted_unavailable pairing into a blast in
// awaiting_payment with a new chat_start payment session; paying it starts the blast. The
// mitra that declined is not offered the blast again. A retried call returns the same
// pairing and payment. Other states: ErrInvalidState; another client's pairing: ErrNotFound.
// A charge the provider declines is ErrPaymentDeclined, and cancels the pairing
// (ReasonPaymentDeclined): a retried call answers it again; the client starts a new blast.
// A suspended client gets ErrClientSuspended, and nothing is charged.
func (p *Pairer) FallbackToBlast(ctx context.Context, clientID, pairingID uuid.UUID) (Pairing, payment.Session, error) {
	pr, err := p.store.GetPairing(ctx, pairingID)
	if err != nil {
		return Pairing{}, payment.Session{}, fmt.Errorf("fallback pairing %s: %w", pairingID, err)
	}
	if pr.ClientID != clientID {
		return Pairing{}, payment.Session{}, fmt.Errorf("fallback pairing %s: %w", pairingID, ErrNotFound)
	}
	fellBack := pr.Type == TypeBlast && pr.TargetMitraID != nil
	switch {
	case fellBack && pr.PaymentSessionID != nil && pr.FailureReason == ReasonPaymentDeclined:
		return Pairing{}, payment.Session{}, fmt.Errorf("fallback pairing %s: the provider declined its payment: %w", pairingID, ErrPaymentDeclined)
	case fellBack && pr.PaymentSessionID != nil:
		pay, err := p.payments.Get(ctx, *pr.PaymentSessionID)
		if err != nil {
			return Pairing{}, payment.Session{}, fmt.Errorf("fallback pairing %s: %w", pairingID, err)
		}
		return pr, pay, nil // a retry
	case fellBack && pr.Status == StatusAwaitingPayment:
		// A retry after the payment could not be created: create it now.
	case pr.Status != StatusTargetedUnavailable:
		return Pairing{}, payment.Session{}, fmt.Errorf("fallback pairing %s: it is %s %s: %w", pairingID, pr.Type, pr.Status, ErrInvalidState)
	}
	if err := p.refuseSuspended(ctx, clientID); err != nil {
		return Pairing{}, payment.Session{}, fmt.Errorf("fallback pairing %s: %w", pairingID, err)
	}
	q, err := p.quote(ctx, clientID, pr.Minutes)
	if err != nil {
		return Pairing{}, payment.Session{}, fmt.Errorf("fallback pairing %s: %w", pairingID, err)
	}
	if err := p.checkQueueRoom(ctx); err != nil {
		return Pairing{}, payment.Session{}, fmt.Errorf("fallback pairing %s: %w", pairingID, err)
	}
	if pr.Status == StatusTargetedUnavailable {
		pr, err = p.store.FallbackToBlast(ctx, pr.ID, p.now())
		if isState(err) {
			return p.FallbackToBlast(ctx, clientID, pairingID) // a concurrent call got there first
		}
		if err != nil {
			return Pairing{}, payment.Session{}, fmt.Errorf("fallback pairing %s: %w", pairingID, err)
		}
	}
	pay, _, err := p.payments.Create(ctx, blastPaymentRequest(pr, q, "curhat:fallback:"+pr.ID.String()))
	if errors.Is(err, ErrPaymentDeclined) {
		return p.declineBlast(ctx, pr.ID, pay, fmt.Errorf("fallback pairing %s: create payment: %w", pairingID, err))
	}
	if err != nil {
		// The pairing waits in awaiting_payment: a retry creates the payment, and the
		// timeouts sweep cancels it after Config.OrphanTTL otherwise.
		return Pairing{}, payment.Session{}, fmt.Errorf("fallback pairing %s: create payment: %w", pairingID, err)
	}
	return p.settleBlastPayment(ctx, pr.ID, pay)
}

package pairing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/pricing"
)

// StartParams asks for a paid blast.
type StartParams struct {
	ClientID uuid.UUID
	Minutes  int
	// IdempotencyKey (optional, per client, at most 200 characters): a retried call with
	// the same key returns the same pairing and payment, never a second charge — also when
	// the calls run concurrently.
	IdempotencyKey string
	// Preferences (optional) route the blast first to the mitras that fit them, widening
	// by pairing_routing_steps (see Pairer: routing).
	Preferences *Preferences
}

// maxIdempotencyKeyLen matches the payment side's bound.
const maxIdempotencyKeyLen = 200

// Namespaces of the ids derived from other ids, so that a retried request finds the row
// its first attempt wrote.
var (
	blastNamespace   = uuid.MustParse("6f1f3c1e-1d7a-4d2e-9a53-0c6c8f3f6b10")
	rerouteNamespace = uuid.MustParse("0b9f7a52-8f3e-4f55-b1a6-2f9d8f0e7c21")
)

// blastID is the pairing id of a keyed StartBlast: concurrent identical calls race for
// one row instead of creating two.
func blastID(clientID uuid.UUID, key string) uuid.UUID {
	return uuid.NewSHA1(blastNamespace, append(clientID[:], key...))
}

// StartBlast creates a blast pairing in awaiting_payment and its chat_start payment
// session (the two rows point at each other). Paying it (PaymentPaid) starts the search.
//
// It fails with a validation error for minutes outside 1..1440, ErrNoTier when no session
// tier has that many minutes, and ErrInvalidState when the client already has an open
// pairing (awaiting_payment, searching, targeted_waiting or targeted_unavailable): one
// request at a time, so that a double tap never pays for two blasts. A client an operator
// suspended gets ErrClientSuspended, before anything is charged. A payment that comes
// back already paid (a free, fully discounted session) starts the search at once.
//
// With an IdempotencyKey, a retry returns the pairing and payment of the first call as
// they are now. A key whose first call failed before any payment existed is spent:
// ErrInvalidState, retry with a new key.
//
// A charge the provider declines is ErrPaymentDeclined: the payment session is failed, the
// pairing cancelled (ReasonPaymentDeclined), and a retry with the same key answers the same
// error without a second charge attempt. A new key starts a new attempt.
//
// With the queue on (Policies), a start while QueueMaxLength paid blasts wait fails with
// ErrQueueFull before anything is created or charged.
func (p *Pairer) StartBlast(ctx context.Context, params StartParams) (Pairing, payment.Session, error) {
	if err := errors.Join(requireID("client_id", params.ClientID), validateMinutes(params.Minutes)); err != nil {
		return Pairing{}, payment.Session{}, err
	}
	if len(params.IdempotencyKey) > maxIdempotencyKeyLen {
		return Pairing{}, payment.Session{}, core.Invalid("idempotency_key", "must be at most %d characters", maxIdempotencyKeyLen)
	}
	prefs, err := normalPreferences(params.Preferences)
	if err != nil {
		return Pairing{}, payment.Session{}, err
	}
	id := uuid.New()
	if params.IdempotencyKey != "" {
		id = blastID(params.ClientID, params.IdempotencyKey)
		existing, err := p.store.GetPairing(ctx, id)
		if err == nil {
			return p.replayBlast(ctx, existing, params)
		}
		if !errors.Is(err, ErrNotFound) {
			return Pairing{}, payment.Session{}, fmt.Errorf("start blast: %w", err)
		}
	}
	if err := p.checkQueueRoom(ctx); err != nil {
		return Pairing{}, payment.Session{}, fmt.Errorf("start blast: %w", err)
	}
	q, err := p.quote(ctx, params.ClientID, params.Minutes)
	if err != nil {
		return Pairing{}, payment.Session{}, fmt.Errorf("start blast: %w", err)
	}
	now := p.now()
	pr, err := p.store.CreatePairing(ctx, Pairing{
		ID: id, ClientID: params.ClientID, Type: TypeBlast, Status: StatusAwaitingPayment,
		Minutes: params.Minutes, Preferences: prefs, CreatedAt: now, UpdatedAt: now,
	})
	if errors.Is(err, ErrConflict) && params.IdempotencyKey != "" {
		// An identical call won the race for the row: answer as its replay.
		existing, gerr := p.store.GetPairing(ctx, id)
		if gerr != nil {
			return Pairing{}, payment.Session{}, fmt.Errorf("start blast: %w", gerr)
		}
		return p.replayBlast(ctx, existing, params)
	}
	if err != nil {
		return Pairing{}, payment.Session{}, fmt.Errorf("start blast: %w", err)
	}
	pay, _, err := p.payments.Create(ctx, blastPaymentRequest(pr, q, params.IdempotencyKey))
	if errors.Is(err, ErrPaymentDeclined) {
		return p.declineBlast(ctx, pr.ID, pay, fmt.Errorf("start blast: create payment: %w", err))
	}
	if err != nil {
		p.abandonUnpaid(ctx, pr.ID)
		return Pairing{}, payment.Session{}, fmt.Errorf("start blast: create payment: %w", err)
	}
	return p.settleBlastPayment(ctx, pr.ID, pay)
}

func blastPaymentRequest(pr Pairing, q pricing.Quote, key string) payment.CreateParams {
	return payment.CreateParams{
		ClientID: pr.ClientID, Purpose: payment.PurposeChatStart, PairingID: ptr(pr.ID),
		TierID: q.TierID, Minutes: pr.Minutes, BaseAmount: q.BaseAmount, DiscountAmount: q.DiscountAmount,
		Amount: q.Amount, Currency: q.Currency, IdempotencyKey: key,
	}
}

// replayBlast answers a StartBlast whose key already has a pairing.
func (p *Pairer) replayBlast(ctx context.Context, pr Pairing, params StartParams) (Pairing, payment.Session, error) {
	if pr.PaymentSessionID != nil {
		if pr.FailureReason == ReasonPaymentDeclined {
			return Pairing{}, payment.Session{}, fmt.Errorf("start blast (replay): the provider declined the payment of pairing %s: %w",
				pr.ID, ErrPaymentDeclined)
		}
		pay, err := p.payments.Get(ctx, *pr.PaymentSessionID)
		if err != nil {
			return Pairing{}, payment.Session{}, fmt.Errorf("start blast (replay): %w", err)
		}
		return pr, pay, nil
	}
	if pr.Status != StatusAwaitingPayment {
		return Pairing{}, payment.Session{}, fmt.Errorf("start blast: an earlier request with this idempotency key failed (pairing %s is %s); retry with a new key: %w",
			pr.ID, pr.Status, ErrInvalidState)
	}
	// The first call is still between its pairing and its payment (or died there): finish
	// its work. Create with the same key is the payment side's replay: both calls get one
	// session, a charge still in flight is waited for, and a decline answered as the first
	// call was.
	req, err := p.replayPaymentRequest(ctx, pr, params.IdempotencyKey)
	if err != nil {
		return Pairing{}, payment.Session{}, fmt.Errorf("start blast (replay): %w", err)
	}
	pay, _, err := p.payments.Create(ctx, req)
	if errors.Is(err, ErrPaymentDeclined) {
		return p.declineBlast(ctx, pr.ID, pay, fmt.Errorf("start blast (replay): %w", err))
	}
	if err != nil {
		return Pairing{}, payment.Session{}, fmt.Errorf("start blast (replay): %w", err)
	}
	return p.settleBlastPayment(ctx, pr.ID, pay)
}

// replayPaymentRequest is the payment request of a replayed StartBlast: the first call's,
// with the amounts its session froze, when that session exists (a price changed since must
// not matter); else one at today's quote.
func (p *Pairer) replayPaymentRequest(ctx context.Context, pr Pairing, key string) (payment.CreateParams, error) {
	pay, err := p.payments.FindByIdempotencyKey(ctx, pr.ClientID, key)
	if err == nil {
		return blastPaymentRequest(pr, pricing.Quote{TierID: pay.TierID, BaseAmount: pay.BaseAmount, DiscountAmount: pay.DiscountAmount,
			Amount: pay.Amount, Currency: pay.Currency}, key), nil
	}
	if !errors.Is(err, ErrNotFound) {
		return payment.CreateParams{}, err
	}
	q, err := p.quote(ctx, pr.ClientID, pr.Minutes)
	if err != nil {
		return payment.CreateParams{}, err
	}
	return blastPaymentRequest(pr, q, key), nil
}

// declineBlast records a blast whose charge the provider declined, and returns err (which
// wraps ErrPaymentDeclined): the failed payment session is attached and the pairing
// cancelled with ReasonPaymentDeclined, so that a retry with the same key finds both and
// answers the same decline (replayBlast, FallbackToBlast).
func (p *Pairer) declineBlast(ctx context.Context, pairingID uuid.UUID, pay payment.Session, err error) (Pairing, payment.Session, error) {
	if pay.ID != uuid.Nil {
		if _, aerr := p.store.AttachPayment(ctx, pairingID, pay.ID, p.now()); aerr != nil {
			p.log.WarnContext(ctx, "attach a declined payment to its pairing", "pairing_id", pairingID, "payment_id", pay.ID, "err", aerr)
		}
	}
	res, terr := p.store.Transition(ctx, PairingTransition{
		ID: pairingID, From: []Status{StatusAwaitingPayment}, To: StatusCancelled,
		FailureReason: ReasonPaymentDeclined, Now: p.now(),
	})
	switch {
	case terr == nil:
		p.notify(ctx, Event{
			ClientID: ptr(res.Pairing.ClientID),
			Payload:  PairingCancelledEvent{PairingID: pairingID, Reason: ReasonPaymentDeclined},
		})
	case !isState(terr):
		p.log.WarnContext(ctx, "cancel a pairing whose payment was declined; the stale-payments sweep redelivers the failed payment, which cancels it", "pairing_id", pairingID, "err", terr)
	}
	return Pairing{}, payment.Session{}, err
}

// settleBlastPayment links a blast's payment to it and applies what the payment already
// is: paid (free session) starts the search, closed cancels the pairing, and a pairing
// cancelled meanwhile withdraws the payment.
func (p *Pairer) settleBlastPayment(ctx context.Context, pairingID uuid.UUID, pay payment.Session) (Pairing, payment.Session, error) {
	pr, err := p.store.AttachPayment(ctx, pairingID, pay.ID, p.now())
	if err != nil {
		return Pairing{}, payment.Session{}, fmt.Errorf("start blast: attach payment: %w", err)
	}
	// The pairing as attached is the answer unless the payment moved it (a free session
	// started its search, a closed payment cancelled it): then it is read again.
	moved := pay.Status == payment.StatusPaid || pay.Status.Closed()
	switch {
	case pay.Status == payment.StatusPaid:
		if err := p.blastPaid(ctx, pr, pay); isState(err) {
			// A free session for a pairing cancelled meanwhile: nothing to start.
			if pay, err = p.payments.Refund(ctx, pay.ID, "pairing cancelled"); err != nil {
				return Pairing{}, payment.Session{}, fmt.Errorf("start blast: free session: %w", err)
			}
		} else if err != nil {
			return Pairing{}, payment.Session{}, fmt.Errorf("start blast: free session: %w", err)
		}
	case pay.Status.Closed():
		p.closeBlastPayment(ctx, pr, pay)
	case pay.Status == payment.StatusPending && pr.Status != StatusAwaitingPayment:
		if cancelled, err := p.payments.Cancel(ctx, pay.ID); err == nil {
			pay = cancelled
		}
	}
	if moved {
		if pr, err = p.store.GetPairing(ctx, pairingID); err != nil {
			return Pairing{}, payment.Session{}, fmt.Errorf("start blast: %w", err)
		}
	}
	return pr, pay, nil
}

// abandonUnpaid cancels an awaiting_payment pairing that got no payment session, so that
// it does not hold the client's open-pairing slot.
func (p *Pairer) abandonUnpaid(ctx context.Context, id uuid.UUID) {
	_, err := p.store.Transition(ctx, PairingTransition{
		ID: id, From: []Status{StatusAwaitingPayment}, To: StatusCancelled,
		FailureReason: ReasonPaymentNotCreated, Now: p.now(),
	})
	if err != nil && !isState(err) {
		p.log.WarnContext(ctx, "cancel a pairing without payment; the timeouts sweep will", "pairing_id", id, "err", err)
	}
}

// PaymentPaid is the chat_start "paid" handler (payment.Handler: register the Pairer
// with the payment service for payment.PurposeChatStart): a paid blast starts searching, a
// paid targeted chat becomes active. A payment for a pairing that stopped waiting for it
// (cancelled meanwhile), or that is not the pairing's payment, starts nothing: PaymentPaid
// answers ErrInvalidState and the payment side refunds it (payment.Handler's contract; a
// failure to record that refund leaves the payment undelivered, so it is delivered
// again). Duplicate events are no-ops.
func (p *Pairer) PaymentPaid(ctx context.Context, pay payment.Session) error {
	if pay.PairingID == nil {
		return fmt.Errorf("payment %s paid: no pairing: %w", pay.ID, ErrNotFound)
	}
	pr, err := p.store.GetPairing(ctx, *pay.PairingID)
	if err != nil {
		return fmt.Errorf("payment %s paid: %w", pay.ID, err)
	}
	if pr.PaymentSessionID != nil && *pr.PaymentSessionID != pay.ID {
		// Not the payment this pairing waits for: nothing may start from it.
		p.log.WarnContext(ctx, "paid payment is not the pairing's; it is refunded", "payment_id", pay.ID, "pairing_id", pr.ID)
		return fmt.Errorf("payment %s is not the payment of pairing %s: %w", pay.ID, pr.ID, ErrInvalidState)
	}
	if pr.Type == TypeTargeted && pr.Status == StatusMatched {
		return p.targetedPaid(ctx, pr, pay)
	}
	if pr.PaymentSessionID == nil {
		if pr, err = p.store.AttachPayment(ctx, pr.ID, pay.ID, p.now()); err != nil {
			return fmt.Errorf("payment %s paid: %w", pay.ID, err)
		}
	}
	return p.blastPaid(ctx, pr, pay)
}

// blastPaid moves a paid blast to searching (paid at the payment's time, its place in the
// queue should it wait there) and offers it.
func (p *Pairer) blastPaid(ctx context.Context, pr Pairing, pay payment.Session) error {
	paymentID := pay.ID
	now := p.now()
	paidAt := now
	if pay.PaidAt != nil {
		paidAt = pay.PaidAt.UTC().Truncate(time.Microsecond)
	}
	res, err := p.store.Transition(ctx, PairingTransition{
		ID: pr.ID, From: []Status{StatusAwaitingPayment}, To: StatusSearching,
		ExpiresAt: ptr(now.Add(p.settings.BlastTimeout(ctx))), PaidAt: &paidAt, Routing: p.startRouting(ctx, pr, now), Now: now,
	})
	if isState(err) {
		cur, gerr := p.store.GetPairing(ctx, pr.ID)
		if gerr != nil {
			return gerr
		}
		if cur.Status == StatusCancelled {
			// Cancelled while the payment was on its way: nothing waits for the money, the
			// payment side gives it back.
			return fmt.Errorf("pairing %s was cancelled before its payment %s: %w", pr.ID, paymentID, ErrInvalidState)
		}
		return nil // a duplicate event: the search started already
	}
	if err != nil {
		return err
	}
	pr = res.Pairing
	p.notify(ctx, Event{
		ClientID: ptr(pr.ClientID),
		Payload:  PaymentPaidEvent{PaymentID: paymentID, PairingID: pr.ID},
	})
	return p.fanOut(ctx, pr)
}

// fanOut starts a searching blast: its deadline and routing timers, then offers to every
// available mitra fitting its routing step and not blocked with its client (up to
// FanoutCap), or to its first ring under the ring policy. Nobody available at any step
// fails it at once — or, with the queue on, queues it; so does a queue where others wait.
func (p *Pairer) fanOut(ctx context.Context, pr Pairing) error {
	p.armDeadline(pr)
	p.armStep(pr)
	if p.queueFirst(ctx) {
		return p.nobodyAvailable(ctx, pr)
	}
	if p.ringPolicy(ctx) {
		n, claimed, err := p.offerRing(ctx, pr)
		if err != nil {
			return err // the deadline still runs, and the next ring
		}
		if claimed && n == 0 && pr.Rings == 0 {
			return p.nobodyAvailable(ctx, pr)
		}
		return nil
	}
	// An error leaves the deadline running: the blast fails (and refunds) then if nobody
	// joins.
	pr, n, err := p.offerBlastTo(ctx, pr)
	if errors.Is(err, errStepMoved) {
		return nil // another instance widened it and offers the step
	}
	if err != nil {
		return err
	}
	if n == 0 {
		return p.nobodyAvailable(ctx, pr)
	}
	return nil
}

// nobodyAvailable queues a blast that found nobody (queue on) or fails it.
func (p *Pairer) nobodyAvailable(ctx context.Context, pr Pairing) error {
	if queued, err := p.enqueue(ctx, pr, nil); queued || err != nil {
		return err
	}
	return p.failBlast(ctx, pr, ReasonNoMitraAvailable, nil)
}

func (p *Pairer) notifyOffer(ctx context.Context, pr Pairing, mitraID uuid.UUID) {
	p.notifyOffers(ctx, pr, []uuid.UUID{mitraID})
}

// notifyOffers tells each of mitras of its new offer of pr: one event for them all.
func (p *Pairer) notifyOffers(ctx context.Context, pr Pairing, mitras []uuid.UUID) {
	p.notifyMitras(ctx, Event{Payload: PairingOfferEvent{
		PairingID: pr.ID, Type: pr.Type, Minutes: pr.Minutes, ExpiresAt: pr.ExpiresAt, Queued: pr.Status == StatusQueued,
	}}, mitras)
}

func (p *Pairer) notifyDismissed(ctx context.Context, pairingID uuid.UUID, mitras []uuid.UUID, reason DismissReason) {
	p.notifyMitras(ctx, Event{Payload: OfferDismissedEvent{PairingID: pairingID, Reason: reason}}, mitras)
}

// failBlast fails a searching (or queued) blast: its offers expire, and in the same
// transaction a failure row records it and the refund it owes is recorded (see
// refund.go: all of a paid blast's payment, the unused part of a prepaid blast's
// session); then the refund is sent. The failure row carries the amount, refund_failed
// until the refund went through. dueBy guards a timeout against a moved deadline. When
// what is owed cannot be read, the pairing stays as it is (past its deadline nobody can
// accept it) and the error makes the caller (a timer, the sweep) try again.
func (p *Pairer) failBlast(ctx context.Context, pr Pairing, reason Reason, dueBy *time.Time) error {
	intent, err := p.refundIntent(ctx, pr, "pairing "+string(reason))
	if err != nil {
		return fmt.Errorf("fail blast %s: %w", pr.ID, err)
	}
	from := StatusSearching
	if pr.Status == StatusQueued {
		from = StatusQueued
	}
	res, err := p.store.Transition(ctx, PairingTransition{
		ID: pr.ID, From: []Status{from}, To: StatusFailed, DueBy: dueBy,
		FailureReason: reason, OfferStatus: OfferExpired, Now: p.now(),
		Failure: &Failure{Reason: reason, RefundStatus: RefundNotCharged}, Refund: intent,
	})
	if isState(err) {
		return nil // matched, cancelled, queued or failed by someone else meanwhile
	}
	if err != nil {
		return fmt.Errorf("fail blast %s: %w", pr.ID, err)
	}
	p.stopWaiting(pr.ID)
	failure := *res.Failure
	if len(res.Refunds) > 0 && p.settleRefunds(ctx, pr.ID) {
		failure = p.markRefunded(ctx, failure)
	}
	p.notifyDismissed(ctx, pr.ID, res.Closed, DismissExpired)
	p.offersMissed(ctx, res.Closed)
	if from == StatusQueued {
		defer p.leftQueue(ctx, pr, QueueTimedOut, res.Closed)
	}
	p.notify(ctx, Event{
		ClientID: ptr(pr.ClientID),
		Payload: PairingFailedEvent{
			PairingID: pr.ID, Reason: reason, Amount: failure.Amount, RefundStatus: failure.RefundStatus,
		},
	})
	return nil
}

// PaymentClosed is the chat_start "closed unpaid" handler (failed or expired; see
// PaymentPaid): the blast waiting for it is cancelled, or the targeted chat waiting for it
// (pending_payment) is cancelled and the mitra's capacity released. Nothing was charged.
func (p *Pairer) PaymentClosed(ctx context.Context, pay payment.Session) error {
	if pay.PairingID == nil {
		return fmt.Errorf("payment %s closed: no pairing: %w", pay.ID, ErrNotFound)
	}
	pr, err := p.store.GetPairing(ctx, *pay.PairingID)
	if err != nil {
		return fmt.Errorf("payment %s closed: %w", pay.ID, err)
	}
	if pr.PaymentSessionID != nil && *pr.PaymentSessionID != pay.ID {
		return nil // not the payment this pairing waits for
	}
	if pr.Type == TypeTargeted && pr.Status == StatusMatched {
		return p.targetedPaymentClosed(ctx, pr, pay)
	}
	p.closeBlastPayment(ctx, pr, pay)
	return nil
}

func (p *Pairer) closeBlastPayment(ctx context.Context, pr Pairing, pay payment.Session) {
	reason := ReasonPaymentExpired
	switch {
	case pay.Declined():
		// A decline whose cancel did not happen at once (declineBlast failed or died)
		// arrives here through the payment's redelivery: a replay of its key must still
		// answer the decline.
		reason = ReasonPaymentDeclined
	case pay.Status == payment.StatusFailed:
		reason = ReasonPaymentFailed
	case pay.Status == payment.StatusCancelled:
		reason = ReasonPaymentCancelled
	}
	res, err := p.store.Transition(ctx, PairingTransition{
		ID: pr.ID, From: []Status{StatusAwaitingPayment}, To: StatusCancelled, FailureReason: reason, Now: p.now(),
	})
	if err != nil {
		if !isState(err) {
			p.log.WarnContext(ctx, "cancel a pairing whose payment closed", "pairing_id", pr.ID, "err", err)
		}
		return
	}
	p.notify(ctx, Event{
		ClientID: ptr(pr.ClientID),
		Payload:  PairingCancelledEvent{PairingID: pr.ID, Reason: res.Pairing.FailureReason},
	})
}

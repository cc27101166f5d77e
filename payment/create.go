package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/core"
)

// Create stores a new session with the amounts of p frozen and expires_at = now + TTL,
// then asks the gateway for the charge and records its reference and checkout URL.
//
// With an idempotency key, a retried Create by the same client returns the first call's
// session with replayed=true and never charges again, also when identical calls race (the
// store's unique key decides). A replay that arrives while the first call is still waiting
// for the gateway waits for it (Config.ReplayWait, then ErrConflict). The parameters of a
// replay are ignored — the key names the request — except its purpose: a key the client
// already used for the other purpose is refused with ErrConflict.
//
// A session of amount 0 is created paid (paid_at = now) without a gateway call. Create
// never calls the Handler: the caller sees Status paid and starts the next step itself.
//
// When the gateway fails, the session is marked failed (so nothing can pay it without a
// provider reference) and no Handler is called: the caller learns it here, from an error
// that wraps the gateway's. Two kinds of failure differ in what a retry gets:
//   - a decline (the gateway's error wraps ErrPaymentDeclined) is the provider's answer
//     about this request: the error wraps ErrPaymentDeclined, never ErrUnavailable, and
//     the idempotency key stays on the failed session, so that a retry with the same key
//     replays the decline without asking the provider again. A new key is a new attempt.
//   - any other error is an outage: the error wraps ErrUnavailable, and the key is
//     released so that a retry with the same key starts afresh.
func (s *Service) Create(ctx context.Context, p CreateParams) (sess Session, replayed bool, err error) {
	return s.create(ctx, s.store, p)
}

// CreateTx is Create with the session written in tx, the caller's transaction: it exists
// when tx commits, and not at all if tx rolls back (a host recording its own order in the
// same transaction). The gateway is still asked for the charge during the call, with the
// session id as its idempotency key: if tx rolls back, that charge has no session, and a
// confirmation of it answers ErrNotFound (nothing can be paid for it through the SDK). It
// needs a TxStore (else ErrNoTx).
func (s *Service) CreateTx(ctx context.Context, tx pgx.Tx, p CreateParams) (sess Session, replayed bool, err error) {
	ts, ok := s.store.(TxStore)
	if !ok {
		return Session{}, false, fmt.Errorf("create payment: a store of type %T: %w", s.store, core.ErrNoTx)
	}
	return s.create(ctx, ts.WithTx(tx), p)
}

// create is Create over store (the Service's own, or what its TxStore's WithTx returned).
func (s *Service) create(ctx context.Context, store Store, p CreateParams) (sess Session, replayed bool, err error) {
	if err := p.Validate(); err != nil {
		return Session{}, false, err
	}
	now := s.now()
	row := Session{
		ID:             p.ID,
		ClientID:       p.ClientID,
		Purpose:        p.Purpose,
		PairingID:      cloneID(p.PairingID),
		ChatSessionID:  cloneID(p.ChatSessionID),
		ExtensionID:    cloneID(p.ExtensionID),
		TierID:         p.TierID,
		Minutes:        p.Minutes,
		BaseAmount:     p.BaseAmount,
		DiscountAmount: p.DiscountAmount,
		Amount:         p.Amount,
		Currency:       p.Currency,
		Status:         StatusPending,
		IdempotencyKey: p.IdempotencyKey,
		ExpiresAt:      now.Add(s.ttl(ctx)).Truncate(time.Microsecond),
		CreatedAt:      now,
		UpdatedAt:      now,
	}
	if row.ID == uuid.Nil {
		row.ID = uuid.New()
	}
	if row.Amount == 0 {
		row.Status = StatusPaid
		row.PaidAt = &now
		row.PlatformFeePercent = s.feePercent(ctx)
	}

	stored, inserted, err := store.Insert(ctx, row)
	if err != nil {
		return Session{}, false, fmt.Errorf("create payment: %w", err)
	}
	if !inserted {
		if stored.Purpose != p.Purpose {
			return Session{}, false, fmt.Errorf("idempotency key %q already names a %s payment, not a %s one: %w",
				p.IdempotencyKey, stored.Purpose, p.Purpose, ErrConflict)
		}
		stored, err = s.awaitCharge(ctx, store, stored)
		return stored, true, err
	}
	if stored.Amount == 0 {
		s.cfg.Logger.InfoContext(ctx, "payment: free session created paid", "payment_id", stored.ID, "purpose", stored.Purpose)
		return stored, false, nil
	}

	charge, gwErr := s.gw.CreateCharge(ctx, ChargeRequest{
		PaymentID: stored.ID, ClientID: stored.ClientID, Amount: stored.Amount, Currency: stored.Currency,
		ExpiresAt: stored.ExpiresAt,
	})
	cctx, cancel := s.detached(ctx)
	defer cancel()
	if gwErr != nil {
		return s.chargeFailed(ctx, cctx, store, stored, gwErr)
	}
	stored, err = store.SetCharge(cctx, stored.ID, charge, s.now())
	if err != nil {
		return Session{}, false, fmt.Errorf("record charge of payment %s: %w", stored.ID, err)
	}
	s.cfg.Logger.InfoContext(ctx, "payment: session created", "payment_id", stored.ID, "purpose", stored.Purpose,
		"amount", stored.Amount, "currency", stored.Currency, "expires_at", stored.ExpiresAt)
	return stored, false, nil
}

// chargeFailed marks a session failed after the gateway's error gwErr, and returns what
// Create answers: a decline with its key kept (a replay finds it), an outage with its key
// released (a retry starts afresh).
func (s *Service) chargeFailed(ctx, cctx context.Context, store Store, sess Session, gwErr error) (Session, bool, error) {
	declined := errors.Is(gwErr, ErrPaymentDeclined)
	cause := fmt.Errorf("create charge for payment %s: %w", sess.ID, gwErr)
	if declined {
		s.cfg.Logger.InfoContext(ctx, "payment: the provider declined the charge; session marked failed", "payment_id", sess.ID, "err", gwErr)
	} else {
		s.cfg.Logger.WarnContext(ctx, "payment: gateway unavailable; session marked failed", "payment_id", sess.ID, "err", gwErr)
		cause = fmt.Errorf("create charge for payment %s: %w (%w)", sess.ID, ErrUnavailable, gwErr)
	}
	failed, _, err := store.Transition(cctx, Transition{
		ID: sess.ID, From: []Status{StatusPending}, To: StatusFailed, At: s.now(), ClearIdempotencyKey: !declined,
	})
	if err != nil {
		return Session{}, false, fmt.Errorf("%w; marking it failed: %w", cause, err)
	}
	return failed, false, cause
}

// awaitCharge returns a replayed session once the first Create has recorded its charge
// (or given up on it), polling the store for at most Config.ReplayWait.
func (s *Service) awaitCharge(ctx context.Context, store Store, sess Session) (Session, error) {
	charging := func(x Session) bool { return x.Status == StatusPending && x.ProviderRef == "" && x.Amount > 0 }
	if !charging(sess) {
		return s.replayOutcome(sess)
	}
	waitCtx, cancel := context.WithTimeout(ctx, s.cfg.ReplayWait)
	defer cancel()
	delay := 5 * time.Millisecond
	for {
		t := time.NewTimer(delay)
		select {
		case <-waitCtx.Done():
			t.Stop()
			if err := ctx.Err(); err != nil {
				return Session{}, fmt.Errorf("replay payment %s: %w", sess.ID, err)
			}
			return Session{}, fmt.Errorf("payment %s: a request with the same idempotency key is still charging: %w", sess.ID, ErrConflict)
		case <-t.C:
		}
		cur, err := store.Get(waitCtx, sess.ID)
		if err != nil {
			if waitCtx.Err() != nil {
				continue // the wait is over: the select above reports why
			}
			return Session{}, fmt.Errorf("replay payment %s: %w", sess.ID, err)
		}
		if !charging(cur) {
			return s.replayOutcome(cur)
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// replayOutcome is what a replayed Create reports: the session, unless the first call's
// charge failed (failed without a provider reference) — then the kind of error the first
// call got. The key tells them apart: a decline keeps it on the session, an outage
// releases it (a replay waiting for that first call sees it go).
func (s *Service) replayOutcome(sess Session) (Session, error) {
	if sess.Status != StatusFailed || sess.ProviderRef != "" || sess.Amount == 0 {
		return sess, nil
	}
	if sess.Declined() {
		return sess, fmt.Errorf("create charge for payment %s: the provider declined the first request: %w", sess.ID, ErrPaymentDeclined)
	}
	return sess, fmt.Errorf("create charge for payment %s: %w (the gateway failed the first request)", sess.ID, ErrUnavailable)
}

func cloneID(id *uuid.UUID) *uuid.UUID {
	if id == nil {
		return nil
	}
	c := *id
	return &c
}

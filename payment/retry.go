package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/curhat/curhat/internal/core"
	"github.com/google/uuid"
)

// RetryReport says what one RetryRefunds pass did.
type RetryReport struct {
	// Attempted counts the refunds sent to the gateway.
	Attempted int
	// Succeeded and Failed split them by the gateway's answer.
	Succeeded, Failed int
	// GaveUp counts the refused refunds that used up Config.RefundMaxAttempts: they stay
	// failed until an operator retries them (RetryRefund).
	GaveUp int
	// Processing counts the refunds the provider accepted to settle later; Manual those
	// it can never make (paid by hand: SettleManually).
	Processing, Manual int
	// Errors counts the attempts whose outcome could not be recorded (they are attempted
	// again when their lease ends).
	Errors int
	// Duration is the wall-clock time the pass took.
	Duration time.Duration
}

// RetryRefunds sends every refund that is due, whatever decided it (a cancelled search, a
// late payment, a failed blast, an extension, a reroute): refunds the gateway refused,
// once their backoff is over (Config.RefundRetryBase·2^(attempts-1), at most an hour
// apart, up to Config.RefundMaxAttempts attempts); refunds never attempted
// Config.RefundLease after they were recorded (their recorder died before sending them);
// and attempts that showed no outcome when their lease ends. Run it every
// PAYMENT_REFUND_RETRY_SECONDS. Safe on several instances at once: each refund is claimed
// (FOR UPDATE SKIP LOCKED) by one of them per attempt.
func (s *Service) RetryRefunds(ctx context.Context) (RetryReport, error) {
	start := time.Now()
	var rep RetryReport
	var firstErr error
	now := s.now()
	for ctx.Err() == nil {
		// A claim that committed must be followed by its sends: it is not cut short by
		// ctx (a sweep's per-run timeout), or the claimed refunds would wait out their
		// lease.
		cctx, cancel := s.detached(ctx)
		due, err := s.store.ClaimDueRefunds(cctx, now, s.cfg.RefundLease, s.cfg.RefundBatchSize)
		cancel()
		if err != nil {
			rep.Duration = time.Since(start)
			return rep, fmt.Errorf("retry refunds: %w", err)
		}
		for _, r := range due {
			rep.Attempted++
			done, err := s.send(ctx, r)
			switch {
			case err != nil:
				rep.Errors++
				if firstErr == nil {
					firstErr = err
				}
			case done.Status == RefundSucceeded:
				rep.Succeeded++
			case done.Status == RefundProcessing:
				rep.Processing++
			case done.Status == RefundManual:
				rep.Manual++
			default:
				rep.Failed++
				if done.NextAttemptAt == nil {
					rep.GaveUp++
				}
			}
		}
		if len(due) < s.cfg.RefundBatchSize || ctx.Err() != nil {
			break
		}
	}
	rep.Duration = time.Since(start)
	if firstErr != nil {
		return rep, fmt.Errorf("retry refunds: %d outcome(s) not recorded, first: %w", rep.Errors, firstErr)
	}
	return rep, nil
}

// RetryRefund attempts one refund now, whatever its backoff or attempts (an operator's
// retry), and returns it as it stands after the attempt: succeeded, or failed with the
// gateway's answer in LastError. It claims the refund as every sender does, so of
// concurrent retries, on any instance, at most one attempt is in flight: while it is,
// RetryRefund is ErrRefundInFlight (an ErrConflict) — also when its process died, until
// the attempt's lease (Config.RefundLease) is over. A refund that succeeded already is
// ErrInvalidState; an unknown one ErrNotFound.
func (s *Service) RetryRefund(ctx context.Context, id uuid.UUID) (Refund, error) {
	cctx, cancel := s.detached(ctx) // a committed claim is followed by its send (see RetryRefunds)
	r, claimed, err := s.store.ClaimRefund(cctx, RefundClaim{ID: id, Mode: ClaimNow, At: s.now(), Lease: s.cfg.RefundLease})
	cancel()
	switch {
	case errors.Is(err, ErrRefundInFlight):
		return Refund{}, fmt.Errorf("retry refund %s (leased until %s): %w", id, fmtTime(r.NextAttemptAt), err)
	case err != nil:
		return Refund{}, fmt.Errorf("retry refund %s: %w", id, err)
	case claimed:
		return s.send(ctx, r)
	case r.Status == RefundSucceeded:
		return Refund{}, fmt.Errorf("retry refund %s: it succeeded already: %w", id, ErrInvalidState)
	}
	// A ClaimNow refuses only a succeeded refund and one in flight.
	return Refund{}, fmt.Errorf("retry refund %s (leased until %s): %w", id, fmtTime(r.NextAttemptAt), ErrRefundInFlight)
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// SetRefundListener registers fn, called after a refund's success was recorded, on the
// instance that recorded it (nil removes it). It is best effort: a crash between the two
// skips the call. Register it at wiring time.
func (s *Service) SetRefundListener(fn func(ctx context.Context, r Refund)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refundListener = fn
}

func (s *Service) listener() func(ctx context.Context, r Refund) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.refundListener
}

// attempt claims a refund as mode allows and, if claimed, sends it. A refund this call
// may not claim — in flight elsewhere, succeeded, or (ClaimFirst) attempted already — is
// returned as it is: its sender, or the retry sweep, sees it through.
func (s *Service) attempt(ctx context.Context, id uuid.UUID, mode ClaimMode) (Refund, error) {
	cctx, cancel := s.detached(ctx) // a committed claim is followed by its send (see RetryRefunds)
	r, claimed, err := s.store.ClaimRefund(cctx, RefundClaim{ID: id, Mode: mode, At: s.now(), Lease: s.cfg.RefundLease})
	cancel()
	if errors.Is(err, ErrRefundInFlight) {
		return r, nil
	}
	if err != nil {
		return Refund{}, fmt.Errorf("claim refund %s: %w", id, err)
	}
	if !claimed {
		return r, nil
	}
	return s.send(ctx, r)
}

// send asks the gateway for a refund this call claimed, and records the answer (with the
// payment's refunded_amount and status) in one transaction. The work is detached from
// ctx's cancellation: the claim is committed, so the attempt must finish. If recording the
// answer fails, the refund is attempted again when the claim's lease ends; the gateway
// gets the same RefundID then, so a refund that did go through is not made twice.
func (s *Service) send(ctx context.Context, r Refund) (Refund, error) {
	dctx, cancel := s.detached(ctx)
	defer cancel()
	s.cfg.Logger.InfoContext(ctx, "payment: refund claimed", "refund_id", r.ID, "payment_id", r.PaymentID,
		"provider_ref", r.ChargeRef, "amount", r.Amount, "attempt", r.Attempts, "reason", r.Reason)
	receipt, gwErr := s.gw.Refund(dctx, RefundRequest{
		RefundID: r.ID, PaymentID: r.PaymentID, ProviderRef: r.ChargeRef, Amount: r.Amount,
		Currency: r.Currency, Reason: r.Reason, IdempotencyKey: r.IdempotencyKey(),
	})
	now := s.now()
	o := RefundAttempt{ID: r.ID, Attempt: r.Attempts, At: now}
	switch {
	case gwErr == nil && receipt.Status == RefundProcessing:
		o.Processing, o.ProviderRef = true, receipt.ProviderRef
	case gwErr == nil:
		o.Succeeded, o.ProviderRef = true, receipt.ProviderRef
	case errors.Is(gwErr, ErrRefundNotPossible):
		o.NotPossible, o.Error = true, truncateText(gwErr.Error(), maxErrorLen)
	default:
		o.Error = truncateText(gwErr.Error(), maxErrorLen)
		// A refusal is final for its key; an outage leaves the outcome unknown, and the
		// same key finds a refund the provider did make.
		o.NewKey = !errors.Is(gwErr, ErrUnavailable)
		if r.Attempts < s.cfg.RefundMaxAttempts {
			next := now.Add(s.backoff(r.Attempts))
			o.NextAttemptAt = &next
		}
	}
	done, changed, err := s.store.FinishRefund(dctx, o)
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "payment: recording a refund's outcome failed; it is attempted again when its lease ends",
			"refund_id", r.ID, "payment_id", r.PaymentID, "gateway_err", gwErr, "err", err)
		return r, fmt.Errorf("refund %s of payment %s: recording the gateway's answer (%v): %w", r.ID, r.PaymentID, gwErr, err)
	}
	if !changed {
		return done, nil // a later attempt decided meanwhile
	}
	return s.refundDecided(ctx, dctx, done, gwErr)
}

// refundDecided reports a refund's recorded outcome: logs, hooks and the listener.
func (s *Service) refundDecided(ctx, dctx context.Context, done Refund, gwErr error) (Refund, error) {
	r := done
	switch done.Status {
	case RefundProcessing:
		s.cfg.Logger.InfoContext(ctx, "payment: refund accepted, the provider settles it later", "refund_id", r.ID, "payment_id", r.PaymentID)
		return done, nil
	case RefundManual:
		s.cfg.Logger.WarnContext(ctx, "payment: the provider cannot make the refund; it must be paid by hand", "refund_id", r.ID,
			"payment_id", r.PaymentID, "err", gwErr)
		if h := s.cfg.Hooks.RefundFailed; h != nil {
			h(ctx, done, gwErr)
		}
		return done, nil
	}
	if done.Status == RefundSucceeded {
		s.cfg.Logger.InfoContext(ctx, "payment: refunded", "refund_id", r.ID, "payment_id", r.PaymentID, "amount", r.Amount)
		if h := s.cfg.Hooks.RefundIssued; h != nil {
			h(ctx, done)
		}
		if l := s.listener(); l != nil {
			l(dctx, done)
		}
		return done, nil
	}
	if gwErr == nil {
		gwErr = errors.New(done.LastError)
	}
	s.cfg.Logger.WarnContext(ctx, "payment: gateway refused the refund", "refund_id", r.ID, "payment_id", r.PaymentID,
		"attempt", r.Attempts, "next_attempt_at", fmtTime(done.NextAttemptAt), "err", gwErr)
	if h := s.cfg.Hooks.RefundFailed; h != nil {
		h(ctx, done, gwErr)
	}
	return done, nil
}

// RefundOutcome is a provider's later word on a refund it accepted (its callback).
type RefundOutcome struct {
	RefundID  uuid.UUID
	Succeeded bool
	// ProviderRef is the provider's reference of the refund.
	ProviderRef string
	// Reason is why it failed; NotPossible: the provider can never make it (manual).
	Reason      string
	NotPossible bool
}

// RefundOutcome records what the provider says of a refund it accepted (processing) — or
// of one whose answer was lost (pending, failed): a success records it and posts it; a
// failure makes it failed (retried with a new key) or, NotPossible, manual. A duplicate or
// a word on a refund already decided changes nothing and returns it as it is. An unknown
// refund is ErrNotFound.
func (s *Service) RefundOutcome(ctx context.Context, o RefundOutcome) (Refund, error) {
	r, err := s.store.GetRefund(ctx, o.RefundID)
	if err != nil {
		return Refund{}, fmt.Errorf("refund outcome %s: %w", o.RefundID, err)
	}
	now := s.now()
	a := RefundAttempt{ID: r.ID, Attempt: r.Attempts, At: now, ProviderRef: o.ProviderRef}
	var gwErr error
	switch {
	case o.Succeeded:
		a.Succeeded = true
	case o.NotPossible:
		a.NotPossible, a.Error = true, truncateText(o.Reason, maxErrorLen)
		gwErr = fmt.Errorf("%s: %w", o.Reason, ErrRefundNotPossible)
	default:
		a.Error, a.NewKey = truncateText(o.Reason, maxErrorLen), true
		gwErr = errors.New(o.Reason)
		if r.Attempts < s.cfg.RefundMaxAttempts {
			next := now.Add(s.backoff(r.Attempts))
			a.NextAttemptAt = &next
		}
	}
	dctx, cancel := s.detached(ctx)
	defer cancel()
	done, changed, err := s.store.FinishRefund(dctx, a)
	if err != nil {
		return Refund{}, fmt.Errorf("refund outcome %s: %w", o.RefundID, err)
	}
	if !changed {
		return done, nil
	}
	return s.refundDecided(ctx, dctx, done, gwErr)
}

// SettleManually records that an operator paid a manual refund by hand (note says how),
// and posts it to the ledger like a refund the provider made. Any other status is
// ErrInvalidState; an unknown refund ErrNotFound.
func (s *Service) SettleManually(ctx context.Context, id uuid.UUID, note string) (Refund, error) {
	if len(note) > MaxRefundReasonLen || !validText(note) {
		return Refund{}, core.Invalid("note", "must be at most %d bytes of UTF-8 text", MaxRefundReasonLen)
	}
	dctx, cancel := s.detached(ctx)
	defer cancel()
	done, changed, err := s.store.FinishRefund(dctx, RefundAttempt{ID: id, Succeeded: true, Manual: true, Note: note,
		ProviderRef: "manual", At: s.now()})
	if err != nil {
		return Refund{}, fmt.Errorf("settle refund %s by hand: %w", id, err)
	}
	if !changed {
		return done, fmt.Errorf("settle refund %s by hand: it is %s, not manual: %w", id, done.Status, ErrInvalidState)
	}
	return s.refundDecided(ctx, dctx, done, nil)
}

// backoff is the wait after the attempts-th refused attempt:
// RefundRetryBase·2^(attempts-1), at most MaxRefundBackoff.
func (s *Service) backoff(attempts int) time.Duration {
	d := s.cfg.RefundRetryBase
	for i := 1; i < attempts && d < MaxRefundBackoff; i++ {
		d *= 2
	}
	return min(d, MaxRefundBackoff)
}

// truncateText cuts s to at most n bytes on a rune boundary.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

package payment

import (
	"context"
	"fmt"
	"time"

	"github.com/curhat/curhat/internal/core"
)

// Unsettled is a charged payment whose money has no outcome (Reconcile).
type Unsettled struct {
	Payment Session
	// Delivered: what it paid for happened — a chat session of its pairing started (a
	// chat_start), or the extension was applied to its session (an extension).
	Delivered bool
	// FailedRefunds and StuckRefunds count its refunds recorded before the grace that have
	// not gone through: refused (failed) or to be paid by hand (manual), or still pending
	// or processing at the provider.
	FailedRefunds, StuckRefunds int
}

// Reconcile returns the paid money that has no outcome after a grace of olderThan, oldest
// payment first:
//
//   - a payment paid more than olderThan ago that delivered nothing (no chat session of its
//     pairing started; its extension not applied) and whose succeeded refunds do not add
//     up to its amount;
//   - a payment with a refund recorded more than olderThan ago that has not gone through
//     (failed, or still pending).
//
// An empty answer means every paid amount ended in what it paid for or in a refund. The
// Postgres store answers in one query that also reads pairings, chat_sessions and
// extensions; the in-memory one asks its Delivered hook. It reads every charged payment
// not refunded in full, so a dashboard should not call it more often than every few
// seconds. Dashboards call it with a grace longer than a blast's search and a few refund
// retries (the reference server: 10 minutes); a test at rest may call it with 0.
func (s *Service) Reconcile(ctx context.Context, olderThan time.Duration) ([]Unsettled, error) {
	if olderThan < 0 {
		return nil, core.Invalid("older_than", "must not be negative, not %s", olderThan)
	}
	out, err := s.store.Reconcile(ctx, s.now().Add(-olderThan))
	if err != nil {
		return nil, fmt.Errorf("reconcile payments: %w", err)
	}
	return out, nil
}

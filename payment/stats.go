package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/curhat/curhat/internal/core"
)

// Stats are the money of a window of the operators' statistics (SPEC §24), counted by
// when it moved: after From, at or before To. Amounts are in the smallest unit of the
// payments' currency (one currency per deployment).
type Stats struct {
	// GrossPaid sums the payments of every purpose (chat start, extension) paid in the
	// window (Session.PaidAt), whatever happened to them since: a late payment refunded at
	// once is paid, then refunded.
	GrossPaid int64
	// Refunded sums the refunds that went through in the window (succeeded; a succeeded
	// refund never changes again, so its UpdatedAt is when it went through).
	Refunded int64
}

// StatsStore reads the money of a window from the durable rows. PostgresStore and
// MemoryStore implement it; the Service finds it on its Store.
type StatsStore interface {
	// MoneyStats returns the money of the window (from, to].
	MoneyStats(ctx context.Context, from, to time.Time) (Stats, error)
}

// ErrNoStats is returned by Service.Stats when its Store does not implement StatsStore
// (a host's own store, or a wrapper of one of ours).
var ErrNoStats = errors.New("payment: the store does not implement StatsStore")

// Stats returns the money of the window (from, to] (see Stats).
func (s *Service) Stats(ctx context.Context, from, to time.Time) (Stats, error) {
	st, ok := s.store.(StatsStore)
	if !ok {
		return Stats{}, fmt.Errorf("payment stats: %w", ErrNoStats)
	}
	if !from.Before(to) {
		return Stats{}, fmt.Errorf("payment stats: %w", &core.ValidationError{Field: "window", Reason: "must end after it starts"})
	}
	out, err := st.MoneyStats(ctx, from, to)
	if err != nil {
		return Stats{}, fmt.Errorf("payment stats: %w", err)
	}
	return out, nil
}

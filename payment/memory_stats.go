package payment

import (
	"context"
	"time"
)

var _ StatsStore = (*MemoryStore)(nil)

func (s *MemoryStore) MoneyStats(_ context.Context, from, to time.Time) (Stats, error) {
	defer s.db.Begin().End()
	within := func(t time.Time) bool { return t.After(from) && !t.After(to) }
	var st Stats
	for _, p := range s.sessions {
		if p.PaidAt != nil && within(*p.PaidAt) {
			st.GrossPaid += p.Amount
		}
	}
	for _, r := range s.refunds {
		if r.Status == RefundSucceeded && within(r.UpdatedAt) {
			st.Refunded += r.Amount
		}
	}
	return st, nil
}

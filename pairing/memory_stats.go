package pairing

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// The statistics of the in-memory store: the definitions of StatsStore, read from every
// row (the Postgres store reaches the same rows through indexes).

var _ StatsStore = (*MemoryStore)(nil)

// within reports whether t is in the window: after From, at or before To.
func (w StatsWindow) within(t time.Time) bool { return t.After(w.From) && !t.After(w.To) }

func (w StatsWindow) withinPtr(t *time.Time) bool { return t != nil && w.within(*t) }

func (s *MemoryStore) Stats(_ context.Context, w StatsWindow) (Stats, error) {
	defer s.db.Begin().End()
	var st Stats
	var answers []time.Duration
	for _, p := range s.pairings {
		if w.withinPtr(p.PaidAt) {
			st.PaidPairings++
		}
		if !w.withinPtr(p.ClosedAt) {
			continue
		}
		switch {
		case p.Status == StatusMatched:
			st.Matched++
			if p.PaidAt != nil {
				answers = append(answers, p.ClosedAt.Sub(*p.PaidAt))
			}
		case p.Status == StatusFailed:
			st.Failed++
		case p.Status == StatusCancelled && p.FailureReason == ReasonClientCancelled:
			st.Abandoned++
		}
	}
	st.Answer = durationsOf(answers)
	for _, o := range s.offers {
		c := offerCounts(o, w)
		st.OffersSent += c.sent
		st.OffersAccepted += c.accepted
		st.OffersDeclined += c.declined
		st.OffersLapsed += c.lapsed
	}
	st.Waiting = s.waiting(w.To)
	for _, c := range s.sessions {
		if c.Status == SessionActive {
			st.SessionsActive++
		}
		if c.Status == SessionEnded && w.withinPtr(c.EndedAt) && completedEnd(c.EndReason) {
			st.SessionsCompleted++
		}
	}
	return st, nil
}

// completedEnd reports whether a session that ended for reason counts as completed.
func completedEnd(reason EndReason) bool {
	return reason == EndExpired || reason == EndClientEnded || reason == EndMitraEnded
}

// offerTally is what one offer adds to the counts of a window.
type offerTally struct{ sent, accepted, declined, lapsed int }

func offerCounts(o offer, w StatsWindow) offerTally {
	var c offerTally
	if w.within(o.createdAt) {
		c.sent = 1
	}
	if w.within(o.updatedAt) {
		switch o.status {
		case OfferAccepted:
			c.accepted = 1
		case OfferDeclined:
			c.declined = 1
		case OfferExpired:
			c.lapsed = 1
		}
	}
	return c
}

func (s *MemoryStore) MitraStats(_ context.Context, mitraID uuid.UUID, w StatsWindow) (MitraStats, error) {
	tx := s.db.Begin()
	defer tx.End()
	if _, ok := memoryMitra(tx, mitraID); !ok {
		return MitraStats{}, notFound("mitra", mitraID)
	}
	var st MitraStats
	for k, o := range s.offers {
		if k.mitraID != mitraID {
			continue
		}
		c := offerCounts(o, w)
		st.OffersReceived += c.sent
		st.Accepted += c.accepted
		st.Declined += c.declined
		st.Lapsed += c.lapsed
	}
	for _, c := range s.sessions {
		if c.MitraID != mitraID || c.StartedAt == nil || c.EndsAt == nil {
			continue
		}
		if w.within(*c.StartedAt) {
			st.Sessions++
		}
		end := earliest(*c.EndsAt, w.To)
		if c.EndedAt != nil {
			end = earliest(end, *c.EndedAt)
		}
		if served := end.Sub(latest(*c.StartedAt, w.From)); served > 0 {
			st.Served += served
		}
	}
	return st, nil
}

func (s *MemoryStore) Waiting(_ context.Context, now time.Time) (Waiting, error) {
	defer s.db.Begin().End()
	return s.waiting(now), nil
}

// waiting counts the paid blasts looking for a mitra and finds the one paid first.
func (s *MemoryStore) waiting(now time.Time) Waiting {
	var w Waiting
	var oldest *time.Time
	for _, p := range s.pairings {
		if p.Status != StatusSearching && p.Status != StatusQueued {
			continue
		}
		w.Count++
		if at := paidOrCreated(p); oldest == nil || at.Before(*oldest) {
			oldest = &at
		}
	}
	w.Longest = waitedSince(oldest, now)
	return w
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

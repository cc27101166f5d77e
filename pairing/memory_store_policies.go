package pairing

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
)

// The pairing policies of the in-memory MemoryStore (PolicyStore).

// queueOrder sorts queued pairings as the queue does: paid first, then by id.
func queueOrder(a, b Pairing) int {
	return cmp.Or(timeOf(a.PaidAt).Compare(timeOf(b.PaidAt)), compareIDs(a.ID, b.ID))
}

func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// paidOrCreated is when p was paid, or created if it was not (yet).
func paidOrCreated(p Pairing) time.Time {
	if p.PaidAt != nil {
		return *p.PaidAt
	}
	return p.CreatedAt
}

// queue returns the queued pairings in queue order.
func (s *MemoryStore) queue() []Pairing {
	var out []Pairing
	for _, p := range s.pairings {
		if p.Status == StatusQueued {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, queueOrder)
	return out
}

func (s *MemoryStore) QueueLength(context.Context) (int, error) {
	defer s.db.Begin().End()
	return len(s.queue()), nil
}

func (s *MemoryStore) QueuePosition(_ context.Context, id uuid.UUID) (int, error) {
	defer s.db.Begin().End()
	p, ok := s.pairings[id]
	if !ok {
		return 0, notFound("pairing", id)
	}
	if p.Status != StatusQueued {
		return 0, fmt.Errorf("pairing %s is %s, not queued: %w", id, p.Status, ErrInvalidState)
	}
	n := 1
	for _, q := range s.pairings {
		if q.Status == StatusQueued && queueOrder(q, p) < 0 {
			n++
		}
	}
	return n, nil
}

func (s *MemoryStore) ListQueue(_ context.Context, n int) ([]Pairing, error) {
	defer s.db.Begin().End()
	return limit(s.queue(), n), nil
}

// held reports whether a live offer holds the queued pairing.
func (s *MemoryStore) held(p Pairing, now time.Time) bool {
	for _, k := range s.offerKeys(p.ID) {
		if o := s.offers[k]; o.status == OfferOffered {
			if _, live := offerDeadline(p, o, now); live {
				return true
			}
		}
	}
	return false
}

func (s *MemoryStore) OfferQueued(_ context.Context, q OfferQueuedParams) (OfferQueuedResult, error) {
	tx := s.db.Begin()
	defer tx.End()
	m, ok := memoryMitra(tx, q.MitraID)
	if !ok {
		return OfferQueuedResult{}, notFound("mitra", q.MitraID)
	}
	var res OfferQueuedResult
	queue := s.queue()
	if m.Active {
		maxSessions := q.DefaultMaxSessions
		if m.MaxConcurrentSessions > 0 {
			maxSessions = m.MaxConcurrentSessions
		}
		free := maxSessions - s.openSessions(q.MitraID) - len(s.heldQueuedOffers(q.MitraID, q.Now))
		for _, p := range queue {
			if free <= 0 {
				break
			}
			if p.ExpiresAt == nil || !p.ExpiresAt.After(q.Now) || s.held(p, q.Now) || s.blocked(p.ClientID, q.MitraID) {
				continue
			}
			k := offerKey{p.ID, q.MitraID}
			o, exists := s.offers[k]
			if exists && o.status != OfferExpired && o.status != OfferDismissed {
				continue // declined, accepted, or a lapse not yet processed
			}
			deadline := q.Now.Add(q.OfferTTL)
			if p.ExpiresAt.Before(deadline) {
				deadline = *p.ExpiresAt
			}
			if !exists {
				o.createdAt = q.Now
			}
			o.status, o.updatedAt, o.expiresAt = OfferOffered, q.Now, &deadline
			s.offers[k] = o
			res.Offered = append(res.Offered, QueuedOffer{Pairing: p, ExpiresAt: deadline})
			free--
		}
		res.FreeSlots = max(free, 0)
	}
	for _, p := range queue {
		if p.ExpiresAt != nil && p.ExpiresAt.After(q.Now) && !s.held(p, q.Now) {
			res.Waiting = true
			break
		}
	}
	return res, nil
}

func (s *MemoryStore) ExpireLapsedOffers(_ context.Context, q LapsedOffersParams) ([]OfferRef, error) {
	defer s.db.Begin().End()
	var keys []offerKey
	for k, o := range s.offers {
		if o.status != OfferOffered || o.expiresAt == nil || o.expiresAt.After(q.Now) {
			continue
		}
		if q.PairingID != nil && k.pairingID != *q.PairingID {
			continue
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b offerKey) int {
		return cmp.Or(s.offers[a].expiresAt.Compare(*s.offers[b].expiresAt), compareIDs(a.pairingID, b.pairingID), compareIDs(a.mitraID, b.mitraID))
	})
	keys = limit(keys, q.Limit)
	out := make([]OfferRef, 0, len(keys))
	for _, k := range keys {
		o := s.offers[k]
		o.status, o.updatedAt = OfferExpired, q.Now
		s.offers[k] = o
		s.countAnswer(k.mitraID, OfferExpired)
		out = append(out, OfferRef{PairingID: k.pairingID, MitraID: k.mitraID})
	}
	return out, nil
}

func (s *MemoryStore) LockQueueEntries(_ context.Context, ids []uuid.UUID, fn func([]QueueEntry) error) error {
	defer s.db.Begin().End()
	var entries []QueueEntry
	for _, id := range ids {
		if p, ok := s.pairings[id]; ok {
			entries = append(entries, QueueEntry{ID: id, Queued: p.Status == StatusQueued, PaidAt: paidOrCreated(p)})
		}
	}
	return fn(entries)
}

func (s *MemoryStore) SnapshotQueue(_ context.Context, fn func([]QueueEntry) error) error {
	defer s.db.Begin().End()
	queue := s.queue()
	entries := make([]QueueEntry, len(queue))
	for i, p := range queue {
		entries[i] = QueueEntry{ID: p.ID, Queued: true, PaidAt: paidOrCreated(p)}
	}
	return fn(entries)
}

func (s *MemoryStore) AdvanceRing(_ context.Context, r RingParams) (Pairing, error) {
	defer s.db.Begin().End()
	p, ok := s.pairings[r.ID]
	if !ok {
		return Pairing{}, notFound("pairing", r.ID)
	}
	if p.Status != StatusSearching || p.Rings != r.From {
		return Pairing{}, fmt.Errorf("pairing %s is %s at ring %d: %w", r.ID, p.Status, p.Rings, ErrInvalidState)
	}
	p.Rings, p.NextRingAt, p.UpdatedAt = r.From+1, r.NextRingAt, r.Now
	s.pairings[p.ID] = p
	return p, nil
}

func (s *MemoryStore) RecordMissedOffers(_ context.Context, mitraIDs []uuid.UUID, _ time.Time) ([]MissedOffers, error) {
	tx := s.db.Begin()
	defer tx.End()
	for _, id := range mitraIDs {
		if tx.Missing("mitras", id) {
			return nil, notFound("mitra", id)
		}
	}
	var out []MissedOffers
	seen := map[uuid.UUID]int{}
	for _, id := range mitraIDs {
		st := s.stats[id]
		st.missed++
		s.stats[id] = st
		if i, ok := seen[id]; ok {
			out[i].Missed = st.missed
			continue
		}
		seen[id] = len(out)
		out = append(out, MissedOffers{MitraID: id, Missed: st.missed})
	}
	return out, nil
}

func (s *MemoryStore) ResetMissedOffers(_ context.Context, mitraID uuid.UUID, _ time.Time) error {
	defer s.db.Begin().End()
	if st, ok := s.stats[mitraID]; ok {
		st.missed = 0
		s.stats[mitraID] = st
	}
	return nil
}

func (s *MemoryStore) MarkIdle(_ context.Context, mitraID uuid.UUID, at time.Time) error {
	tx := s.db.Begin()
	defer tx.End()
	if tx.Missing("mitras", mitraID) {
		return notFound("mitra", mitraID)
	}
	st := s.stats[mitraID]
	if st.idleSince == nil || st.idleSince.Before(at) {
		st.idleSince = &at
	}
	s.stats[mitraID] = st
	return nil
}

func (s *MemoryStore) IdleOrder(_ context.Context, mitraIDs []uuid.UUID, n int) ([]uuid.UUID, error) {
	defer s.db.Begin().End()
	out := slices.Clone(mitraIDs)
	slices.SortFunc(out, func(a, b uuid.UUID) int {
		sa, sb := s.stats[a].idleSince, s.stats[b].idleSince
		switch {
		case sa == nil && sb != nil:
			return -1
		case sa != nil && sb == nil:
			return 1
		case sa != nil && !sa.Equal(*sb):
			return sa.Compare(*sb)
		}
		return compareIDs(a, b)
	})
	return limit(slices.Compact(out), n), nil
}

func (s *MemoryStore) RecordQueueWait(_ context.Context, wait time.Duration, _ time.Time) (time.Duration, error) {
	defer s.db.Begin().End()
	w := max(wait, 0).Seconds()
	e := s.estimate[true]
	if e.samples == 0 {
		e.seconds = w
	} else {
		e.seconds = 0.9*e.seconds + 0.1*w
	}
	e.samples++
	s.estimate[true] = e
	return seconds(e.seconds), nil
}

func (s *MemoryStore) QueueWaitEstimate(context.Context) (time.Duration, bool, error) {
	defer s.db.Begin().End()
	e := s.estimate[true]
	return seconds(e.seconds), e.samples > 0, nil
}

// seconds is a duration of s seconds, to the microsecond (what Postgres keeps).
func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(time.Microsecond)
}

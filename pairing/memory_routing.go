package pairing

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"
)

// countAnswer counts a decided offer of the mitra (inside a transaction of s.db).
func (s *MemoryStore) countAnswer(mitraID uuid.UUID, status OfferStatus) {
	st := s.stats[mitraID]
	switch status {
	case OfferAccepted:
		st.answers.Accepted++
		st.missed = 0 // an answer: the offers missed in a row start again
	case OfferDeclined:
		st.answers.Declined++
		st.missed = 0
	case OfferExpired:
		st.answers.Lapsed++
	default:
		return // dismissed: not the mitra's decision
	}
	s.stats[mitraID] = st
}

func (s *MemoryStore) AdvanceStep(_ context.Context, r StepParams) (Pairing, error) {
	defer s.db.Begin().End()
	p, ok := s.pairings[r.ID]
	if !ok {
		return Pairing{}, notFound("pairing", r.ID)
	}
	if p.Status != StatusSearching || p.RoutingStep != r.From {
		return Pairing{}, fmt.Errorf("pairing %s is %s at routing step %d: %w", r.ID, p.Status, p.RoutingStep, ErrInvalidState)
	}
	p.RoutingStep, p.NextStepAt, p.UpdatedAt = r.To, r.NextStepAt, r.Now
	s.pairings[p.ID] = p
	return p, nil
}

func (s *MemoryStore) OfferAnswers(_ context.Context, mitraIDs []uuid.UUID) (map[uuid.UUID]OfferAnswers, error) {
	defer s.db.Begin().End()
	out := map[uuid.UUID]OfferAnswers{}
	for _, id := range mitraIDs {
		if st, ok := s.stats[id]; ok && st.answers != (OfferAnswers{}) {
			out[id] = st.answers
		}
	}
	return out, nil
}

// clonePreferences is a copy of p that shares no slice with it.
func clonePreferences(p *Preferences) *Preferences {
	if p == nil {
		return nil
	}
	c := *p
	c.Topics = slices.Clone(p.Topics)
	return &c
}

package pairing

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/google/uuid"
)

func (s *MemoryStore) PairingsOfClient(_ context.Context, clientID uuid.UUID, n int) ([]Pairing, error) {
	defer s.db.Begin().End()
	if n <= 0 {
		return nil, nil
	}
	var out []Pairing
	for _, p := range s.pairings {
		if p.ClientID == clientID {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b Pairing) int { return oldestPairingFirst(b, a) })
	return limit(out, n), nil
}

func (s *MemoryStore) OfferWaves(_ context.Context, pairingIDs []uuid.UUID) ([]OfferWave, error) {
	defer s.db.Begin().End()
	type waveKey struct {
		pairingID uuid.UUID
		at        time.Time
	}
	counts := map[waveKey]int{}
	for k, o := range s.offers {
		if slices.Contains(pairingIDs, k.pairingID) {
			counts[waveKey{k.pairingID, o.createdAt}]++
		}
	}
	out := make([]OfferWave, 0, len(counts))
	for k, n := range counts {
		out = append(out, OfferWave{PairingID: k.pairingID, At: k.at, Count: n})
	}
	slices.SortFunc(out, func(a, b OfferWave) int {
		return cmp.Or(a.At.Compare(b.At), compareIDs(a.PairingID, b.PairingID))
	})
	return out, nil
}

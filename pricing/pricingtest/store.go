// Package pricingtest provides an in-memory pricing.Store for tests and demos. It keeps
// the same rules as the Postgres store — unique (mode, minutes), compare-and-swap on
// updated_at at microsecond precision, all-or-nothing multi-row writes, one history row
// per write — so code tested against it behaves the same on Postgres.
//
// RunStoreContract is the conformance suite of pricing.Store that pins those rules: the
// Postgres store and this one pass it, and a host with its own Store can run it from its
// tests. It uses no assertion library.
package pricingtest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/pricing"
)

// Store is an in-memory pricing.Store. The zero value is not usable; call NewStore.
type Store struct {
	// HasPaidChatStart answers ClientHasPaidChatStart (whether the client has a paid
	// chat_start payment). Nil means no client has paid yet. Set it before use.
	HasPaidChatStart func(ctx context.Context, clientID uuid.UUID) (bool, error)

	mu               sync.Mutex
	tiers            map[uuid.UUID]pricing.Tier
	tierHistory      []pricing.HistoryEntry
	promotions       map[pricing.PromotionKind]pricing.Promotion
	promotionHistory []pricing.HistoryEntry
}

var _ pricing.Store = (*Store)(nil)

// NewStore returns an empty store holding, like a freshly migrated database, the
// disabled first-session discount row.
func NewStore() *Store {
	return &Store{
		tiers: map[uuid.UUID]pricing.Tier{},
		promotions: map[pricing.PromotionKind]pricing.Promotion{
			pricing.KindFirstSessionDiscount: {
				ID:              uuid.New(),
				Kind:            pricing.KindFirstSessionDiscount,
				EligibleMinutes: []int{},
				UpdatedAt:       pricing.Token(time.Now()),
			},
		},
	}
}

func (s *Store) ListTiers(_ context.Context, params pricing.ListTiersParams) ([]pricing.Tier, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []pricing.Tier{}
	for _, t := range s.tiers {
		if (params.Mode == "" || t.Mode == params.Mode) && (params.IncludeInactive || t.IsActive) {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, compareTiers)
	return out, nil
}

// compareTiers is the Postgres ORDER BY: session first, sort_order, minutes, id.
func compareTiers(a, b pricing.Tier) int {
	rank := func(m pricing.Mode) int {
		if m == pricing.ModeSession {
			return 0
		}
		return 1
	}
	return cmp.Or(
		cmp.Compare(rank(a.Mode), rank(b.Mode)),
		cmp.Compare(a.SortOrder, b.SortOrder),
		cmp.Compare(a.Minutes, b.Minutes),
		bytes.Compare(a.ID[:], b.ID[:]),
	)
}

func (s *Store) GetTier(_ context.Context, id uuid.UUID) (pricing.Tier, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tiers[id]
	if !ok {
		return pricing.Tier{}, pricing.ErrNotFound
	}
	return t, nil
}

func (s *Store) ActiveTier(_ context.Context, mode pricing.Mode, minutes int) (pricing.Tier, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tiers {
		if t.Mode == mode && t.Minutes == minutes && t.IsActive {
			return t, nil
		}
	}
	return pricing.Tier{}, pricing.ErrNotFound
}

func (s *Store) InsertTier(_ context.Context, w pricing.TierWrite) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := normaliseTier(w.Tier)
	if _, ok := s.tiers[t.ID]; ok {
		return pricing.ErrDuplicateTier
	}
	for _, other := range s.tiers {
		if other.Mode == t.Mode && other.Minutes == t.Minutes {
			return pricing.ErrDuplicateTier
		}
	}
	if err := s.checkTiers(w.Moved); err != nil {
		return err
	}
	s.tiers[t.ID] = t
	s.tierHistory = append(s.tierHistory, copyHistory(w.History, t.ID, uuid.Nil))
	s.writeTiers(w.Moved)
	return nil
}

func (s *Store) UpdateTiers(_ context.Context, ws []pricing.TierWrite) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkTiers(ws); err != nil {
		return err
	}
	s.writeTiers(ws)
	return nil
}

// checkTiers tells whether every row of ws still carries its expected token.
func (s *Store) checkTiers(ws []pricing.TierWrite) error {
	// Check every row first: all or nothing.
	for _, w := range ws {
		cur, ok := s.tiers[w.Tier.ID]
		if !ok {
			return pricing.ErrNotFound
		}
		if !cur.UpdatedAt.Equal(pricing.Token(w.ExpectedUpdatedAt)) {
			return &pricing.StaleWriteError{Current: cur}
		}
	}
	return nil
}

// writeTiers applies ws, checked.
func (s *Store) writeTiers(ws []pricing.TierWrite) {
	for _, w := range ws {
		cur := s.tiers[w.Tier.ID]
		next := normaliseTier(w.Tier)
		// Mode, minutes, currency and created_at are never rewritten, as in Postgres.
		cur.Price, cur.Label, cur.SortOrder, cur.IsActive, cur.UpdatedAt = next.Price, next.Label, next.SortOrder, next.IsActive, next.UpdatedAt
		s.tiers[cur.ID] = cur
		s.tierHistory = append(s.tierHistory, copyHistory(w.History, cur.ID, uuid.Nil))
	}
}

func (s *Store) TierHistory(_ context.Context, tierID uuid.UUID) ([]pricing.HistoryEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return newestFirst(s.tierHistory, func(h pricing.HistoryEntry) bool { return h.TierID == tierID }), nil
}

func (s *Store) Promotion(_ context.Context, kind pricing.PromotionKind) (pricing.Promotion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr, ok := s.promotions[kind]
	if !ok {
		return pricing.Promotion{}, pricing.ErrNotFound
	}
	return copyPromotion(pr), nil
}

func (s *Store) SavePromotion(_ context.Context, w pricing.PromotionWrite) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := copyPromotion(w.Promotion)
	next.UpdatedAt = pricing.Token(next.UpdatedAt)
	cur, exists := s.promotions[next.Kind]
	expected := pricing.Token(w.ExpectedUpdatedAt)
	switch {
	case expected.IsZero() && exists,
		!expected.IsZero() && exists && (cur.ID != next.ID || !cur.UpdatedAt.Equal(expected)):
		return &pricing.StaleWriteError{Current: copyPromotion(cur)}
	case !expected.IsZero() && !exists:
		return pricing.ErrNotFound
	}
	s.promotions[next.Kind] = next
	s.promotionHistory = append(s.promotionHistory, copyHistory(w.History, uuid.Nil, next.ID))
	return nil
}

func (s *Store) PromotionHistory(_ context.Context, kind pricing.PromotionKind) ([]pricing.HistoryEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr, ok := s.promotions[kind]
	if !ok {
		return []pricing.HistoryEntry{}, nil
	}
	return newestFirst(s.promotionHistory, func(h pricing.HistoryEntry) bool { return h.PromotionID == pr.ID }), nil
}

func (s *Store) ClientHasPaidChatStart(ctx context.Context, clientID uuid.UUID) (bool, error) {
	if s.HasPaidChatStart == nil {
		return false, nil
	}
	return s.HasPaidChatStart(ctx, clientID)
}

// normaliseTier stores times the way Postgres does: UTC, microsecond precision.
func normaliseTier(t pricing.Tier) pricing.Tier {
	t.CreatedAt, t.UpdatedAt = pricing.Token(t.CreatedAt), pricing.Token(t.UpdatedAt)
	return t
}

func copyPromotion(pr pricing.Promotion) pricing.Promotion {
	pr.EligibleMinutes = append([]int{}, pr.EligibleMinutes...)
	if pr.MaxDiscountAmount != nil {
		v := *pr.MaxDiscountAmount
		pr.MaxDiscountAmount = &v
	}
	return pr
}

func copyHistory(h pricing.HistoryEntry, tierID, promotionID uuid.UUID) pricing.HistoryEntry {
	h.TierID, h.PromotionID = tierID, promotionID
	h.ChangedAt = pricing.Token(h.ChangedAt)
	h.Before = cloneJSON(h.Before)
	h.After = cloneJSON(h.After)
	return h
}

func cloneJSON(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return slices.Clone(b)
}

// newestFirst returns the matching entries by changed_at descending (later insert first on
// a tie), as copies.
func newestFirst(all []pricing.HistoryEntry, match func(pricing.HistoryEntry) bool) []pricing.HistoryEntry {
	out := []pricing.HistoryEntry{}
	for i := len(all) - 1; i >= 0; i-- {
		if match(all[i]) {
			out = append(out, copyHistory(all[i], all[i].TierID, all[i].PromotionID))
		}
	}
	slices.SortStableFunc(out, func(a, b pricing.HistoryEntry) int { return b.ChangedAt.Compare(a.ChangedAt) })
	return out
}

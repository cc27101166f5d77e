package pricing

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
)

// MemoryStore is an in-memory Store. The zero value is not usable; call NewMemoryStore.
type MemoryStore struct {
	// HasPaidChatStart answers ClientHasPaidChatStart (whether the client has a paid
	// chat_start payment). Nil means no client has paid yet. Set it before use.
	HasPaidChatStart func(ctx context.Context, clientID uuid.UUID) (bool, error)

	mu               sync.Mutex
	tiers            map[uuid.UUID]Tier
	tierHistory      []HistoryEntry
	promotions       map[PromotionKind]Promotion
	promotionHistory []HistoryEntry
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store holding, like a freshly migrated database, the
// disabled first-session discount row.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		tiers: map[uuid.UUID]Tier{},
		promotions: map[PromotionKind]Promotion{
			KindFirstSessionDiscount: {
				ID:              uuid.New(),
				Kind:            KindFirstSessionDiscount,
				EligibleMinutes: []int{},
				UpdatedAt:       Token(time.Now()),
			},
		},
	}
}

func (s *MemoryStore) ListTiers(_ context.Context, params ListTiersParams) ([]Tier, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Tier{}
	for _, t := range s.tiers {
		if (params.Mode == "" || t.Mode == params.Mode) && (params.IncludeInactive || t.IsActive) {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, compareTiers)
	return out, nil
}

// compareTiers is the Postgres ORDER BY: session first, sort_order, minutes, id.
func compareTiers(a, b Tier) int {
	rank := func(m Mode) int {
		if m == ModeSession {
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

func (s *MemoryStore) GetTier(_ context.Context, id uuid.UUID) (Tier, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tiers[id]
	if !ok {
		return Tier{}, ErrNotFound
	}
	return t, nil
}

func (s *MemoryStore) ActiveTier(_ context.Context, mode Mode, minutes int) (Tier, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tiers {
		if t.Mode == mode && t.Minutes == minutes && t.IsActive {
			return t, nil
		}
	}
	return Tier{}, ErrNotFound
}

func (s *MemoryStore) InsertTier(_ context.Context, w TierWrite) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := normaliseTier(w.Tier)
	if _, ok := s.tiers[t.ID]; ok {
		return ErrDuplicateTier
	}
	for _, other := range s.tiers {
		if other.Mode == t.Mode && other.Minutes == t.Minutes {
			return ErrDuplicateTier
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

func (s *MemoryStore) UpdateTiers(_ context.Context, ws []TierWrite) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkTiers(ws); err != nil {
		return err
	}
	s.writeTiers(ws)
	return nil
}

// checkTiers tells whether every row of ws still carries its expected token.
func (s *MemoryStore) checkTiers(ws []TierWrite) error {
	// Check every row first: all or nothing.
	for _, w := range ws {
		cur, ok := s.tiers[w.Tier.ID]
		if !ok {
			return ErrNotFound
		}
		if !cur.UpdatedAt.Equal(Token(w.ExpectedUpdatedAt)) {
			return &StaleWriteError{Current: cur}
		}
	}
	return nil
}

// writeTiers applies ws, checked.
func (s *MemoryStore) writeTiers(ws []TierWrite) {
	for _, w := range ws {
		cur := s.tiers[w.Tier.ID]
		next := normaliseTier(w.Tier)
		// Mode, minutes, currency and created_at are never rewritten, as in Postgres.
		cur.Price, cur.Label, cur.SortOrder, cur.IsActive, cur.UpdatedAt = next.Price, next.Label, next.SortOrder, next.IsActive, next.UpdatedAt
		s.tiers[cur.ID] = cur
		s.tierHistory = append(s.tierHistory, copyHistory(w.History, cur.ID, uuid.Nil))
	}
}

func (s *MemoryStore) TierHistory(_ context.Context, tierID uuid.UUID) ([]HistoryEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return newestFirst(s.tierHistory, func(h HistoryEntry) bool { return h.TierID == tierID }), nil
}

func (s *MemoryStore) Promotion(_ context.Context, kind PromotionKind) (Promotion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr, ok := s.promotions[kind]
	if !ok {
		return Promotion{}, ErrNotFound
	}
	return copyPromotion(pr), nil
}

func (s *MemoryStore) SavePromotion(_ context.Context, w PromotionWrite) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := copyPromotion(w.Promotion)
	next.UpdatedAt = Token(next.UpdatedAt)
	cur, exists := s.promotions[next.Kind]
	expected := Token(w.ExpectedUpdatedAt)
	switch {
	case expected.IsZero() && exists,
		!expected.IsZero() && exists && (cur.ID != next.ID || !cur.UpdatedAt.Equal(expected)):
		return &StaleWriteError{Current: copyPromotion(cur)}
	case !expected.IsZero() && !exists:
		return ErrNotFound
	}
	s.promotions[next.Kind] = next
	s.promotionHistory = append(s.promotionHistory, copyHistory(w.History, uuid.Nil, next.ID))
	return nil
}

func (s *MemoryStore) PromotionHistory(_ context.Context, kind PromotionKind) ([]HistoryEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr, ok := s.promotions[kind]
	if !ok {
		return []HistoryEntry{}, nil
	}
	return newestFirst(s.promotionHistory, func(h HistoryEntry) bool { return h.PromotionID == pr.ID }), nil
}

func (s *MemoryStore) ClientHasPaidChatStart(ctx context.Context, clientID uuid.UUID) (bool, error) {
	if s.HasPaidChatStart == nil {
		return false, nil
	}
	return s.HasPaidChatStart(ctx, clientID)
}

// normaliseTier stores times the way Postgres does: UTC, microsecond precision.
func normaliseTier(t Tier) Tier {
	t.CreatedAt, t.UpdatedAt = Token(t.CreatedAt), Token(t.UpdatedAt)
	return t
}

func copyPromotion(pr Promotion) Promotion {
	pr.EligibleMinutes = append([]int{}, pr.EligibleMinutes...)
	if pr.MaxDiscountAmount != nil {
		v := *pr.MaxDiscountAmount
		pr.MaxDiscountAmount = &v
	}
	return pr
}

func copyHistory(h HistoryEntry, tierID, promotionID uuid.UUID) HistoryEntry {
	h.TierID, h.PromotionID = tierID, promotionID
	h.ChangedAt = Token(h.ChangedAt)
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
func newestFirst(all []HistoryEntry, match func(HistoryEntry) bool) []HistoryEntry {
	out := []HistoryEntry{}
	for i := len(all) - 1; i >= 0; i-- {
		if match(all[i]) {
			out = append(out, copyHistory(all[i], all[i].TierID, all[i].PromotionID))
		}
	}
	slices.SortStableFunc(out, func(a, b HistoryEntry) int { return b.ChangedAt.Compare(a.ChangedAt) })
	return out
}

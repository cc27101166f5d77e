package pricing

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/memdb"
)

// MemoryStore is an in-memory Store over a memdb database: its tables (pricing_tiers,
// pricing_promotions and their histories) and, in the same transaction, the payment
// tables that ClientHasPaidChatStart reads as its Postgres twin does. Every method is one
// transaction.
//
// Over the database curhat.NewMemoryClient shares, the payment tables are the payment
// store's. A store built alone (NewMemoryStore) has none: ClientHasPaidChatStart asks
// HasPaidChatStart.
type MemoryStore struct {
	// HasPaidChatStart answers ClientHasPaidChatStart (whether the client has a paid
	// chat_start payment) when the store's database has no payment tables (a store built
	// alone). Nil means no client has paid yet.
	HasPaidChatStart func(ctx context.Context, clientID uuid.UUID) (bool, error)

	db    *memdb.DB
	tiers memdb.Table[uuid.UUID, Tier]
	// The histories are keyed by their order of insertion: 0, 1, 2, …
	tierHistory      memdb.Table[int, HistoryEntry]
	promotions       memdb.Table[PromotionKind, Promotion]
	promotionHistory memdb.Table[int, HistoryEntry]
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store over a database of its own, holding, like a
// freshly migrated database, the disabled first-session discount row.
func NewMemoryStore() *MemoryStore { return NewMemoryStoreIn(memdb.New()) }

// NewMemoryStoreIn returns a MemoryStore over db, whose tables it shares with the stores of
// the other domains built over it (curhat.NewMemoryClient builds them all over one), and
// with any other pricing MemoryStore over db (a second instance). The first store over db
// writes the disabled first-session discount row, as the migration does. Hosts call
// NewMemoryStore, or curhat.NewMemoryClient for the whole product.
func NewMemoryStoreIn(db *memdb.DB) *MemoryStore {
	s := &MemoryStore{
		db:               db,
		tiers:            memdb.NewTable[uuid.UUID, Tier](db, "pricing_tiers", nil),
		tierHistory:      memdb.NewTable[int, HistoryEntry](db, "pricing_tiers_history", nil),
		promotions:       memdb.NewTable[PromotionKind, Promotion](db, "pricing_promotions", nil),
		promotionHistory: memdb.NewTable[int, HistoryEntry](db, "pricing_promotions_history", nil),
	}
	defer db.Begin().End()
	if _, ok := s.promotions[KindFirstSessionDiscount]; !ok {
		s.promotions[KindFirstSessionDiscount] = Promotion{
			ID: uuid.New(), Kind: KindFirstSessionDiscount, EligibleMinutes: []int{}, UpdatedAt: Token(time.Now()),
		}
	}
	return s
}

func (s *MemoryStore) ListTiers(_ context.Context, params ListTiersParams) ([]Tier, error) {
	defer s.db.Begin().End()
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
	defer s.db.Begin().End()
	t, ok := s.tiers[id]
	if !ok {
		return Tier{}, ErrNotFound
	}
	return t, nil
}

func (s *MemoryStore) ActiveTier(_ context.Context, mode Mode, minutes int) (Tier, error) {
	defer s.db.Begin().End()
	for _, t := range s.tiers {
		if t.Mode == mode && t.Minutes == minutes && t.IsActive {
			return t, nil
		}
	}
	return Tier{}, ErrNotFound
}

func (s *MemoryStore) InsertTier(_ context.Context, w TierWrite) error {
	defer s.db.Begin().End()
	t := normaliseTier(w.Tier)
	if err := checkTier(t); err != nil {
		return err
	}
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
	s.tierHistory[len(s.tierHistory)] = copyHistory(w.History, t.ID, uuid.Nil)
	s.writeTiers(w.Moved)
	return nil
}

func (s *MemoryStore) UpdateTiers(_ context.Context, ws []TierWrite) error {
	defer s.db.Begin().End()
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
		next := cur
		next.Price, next.Label = w.Tier.Price, w.Tier.Label
		if err := checkTier(next); err != nil {
			return err
		}
	}
	return nil
}

// checkTier applies the checks of pricing_tiers to a row, as Postgres reports them
// (pgutil.Translate).
func checkTier(t Tier) error {
	check := func(name string) error {
		return &core.ValidationError{Field: "pricing_tiers_" + name, Reason: "violates a database check"}
	}
	switch {
	case t.Mode != ModeSession && t.Mode != ModeExtension:
		return check("mode_check")
	case t.Minutes < 1 || t.Minutes > 1440:
		return check("minutes_check")
	case t.Price < 0 || t.Price > 1_000_000_000:
		return check("price_check")
	case utf8.RuneCountInString(t.Label) > 100:
		return check("label_check")
	case t.Mode == ModeExtension && t.Price <= 0:
		return check("check")
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
		s.tierHistory[len(s.tierHistory)] = copyHistory(w.History, cur.ID, uuid.Nil)
	}
}

func (s *MemoryStore) TierHistory(_ context.Context, tierID uuid.UUID) ([]HistoryEntry, error) {
	defer s.db.Begin().End()
	return newestFirst(s.tierHistory, func(h HistoryEntry) bool { return h.TierID == tierID }), nil
}

func (s *MemoryStore) Promotion(_ context.Context, kind PromotionKind) (Promotion, error) {
	defer s.db.Begin().End()
	pr, ok := s.promotions[kind]
	if !ok {
		return Promotion{}, ErrNotFound
	}
	return copyPromotion(pr), nil
}

func (s *MemoryStore) SavePromotion(_ context.Context, w PromotionWrite) error {
	defer s.db.Begin().End()
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
	s.promotionHistory[len(s.promotionHistory)] = copyHistory(w.History, uuid.Nil, next.ID)
	return nil
}

func (s *MemoryStore) PromotionHistory(_ context.Context, kind PromotionKind) ([]HistoryEntry, error) {
	defer s.db.Begin().End()
	pr, ok := s.promotions[kind]
	if !ok {
		return []HistoryEntry{}, nil
	}
	return newestFirst(s.promotionHistory, func(h HistoryEntry) bool { return h.PromotionID == pr.ID }), nil
}

func (s *MemoryStore) ClientHasPaidChatStart(ctx context.Context, clientID uuid.UUID) (bool, error) {
	tx := s.db.Begin()
	if !tx.Has("payment_sessions") {
		tx.End()
		if s.HasPaidChatStart == nil {
			return false, nil
		}
		return s.HasPaidChatStart(ctx, clientID)
	}
	defer tx.End()
	// The payment side's rule, as the Postgres statement reads it: a chat_start that was
	// paid and is not (being) given back in full — a free one included.
	var paid []memdb.Row
	for p := range tx.Rows("payment_sessions") {
		if memdb.Col[uuid.UUID](p, "client_id") != clientID || memdb.Col[string](p, "purpose") != "chat_start" {
			continue
		}
		switch memdb.Col[string](p, "status") {
		case "paid", "partially_refunded", "refund_failed":
			paid = append(paid, p)
		}
	}
	for _, p := range paid {
		amount := memdb.Col[int64](p, "amount")
		if amount == 0 {
			return true, nil
		}
		var refunded int64
		for r := range tx.Rows("payment_refunds") {
			if memdb.Col[uuid.UUID](r, "payment_id") == memdb.Col[uuid.UUID](p, "id") {
				refunded += memdb.Col[int64](r, "amount")
			}
		}
		if amount > refunded {
			return true, nil
		}
	}
	return false, nil
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
func newestFirst(all memdb.Table[int, HistoryEntry], match func(HistoryEntry) bool) []HistoryEntry {
	out := []HistoryEntry{}
	for i := len(all) - 1; i >= 0; i-- {
		if match(all[i]) {
			out = append(out, copyHistory(all[i], all[i].TierID, all[i].PromotionID))
		}
	}
	slices.SortStableFunc(out, func(a, b HistoryEntry) int { return b.ChangedAt.Compare(a.ChangedAt) })
	return out
}

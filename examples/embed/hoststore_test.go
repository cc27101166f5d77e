package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/pricing"
	"github.com/curhat/curhat/pricing/pricingtest"
)

// docStore is a pricing.Store the way a host team might write one over its own storage:
// the whole pricing catalog is one document, and every write builds the next version of
// it and swaps it in (compare-and-swap on the catalog's version), so a multi-row write is
// all-or-nothing by construction. It is not the SDK's in-memory store: it is here to show
// that a host's own Store passes the SDK's contract suite.
type docStore struct {
	mu      sync.Mutex
	version int
	doc     catalog
	// paid answers ClientHasPaidChatStart: the host's payments know who paid.
	paid map[uuid.UUID]bool
}

// catalog is one version of the document.
type catalog struct {
	Tiers            []pricing.Tier
	TierHistory      []pricing.HistoryEntry
	Promotions       []pricing.Promotion
	PromotionHistory []pricing.HistoryEntry
}

func (c catalog) clone() catalog {
	return catalog{
		Tiers:            slices.Clone(c.Tiers),
		TierHistory:      slices.Clone(c.TierHistory),
		Promotions:       slices.Clone(c.Promotions),
		PromotionHistory: slices.Clone(c.PromotionHistory),
	}
}

var _ pricing.Store = (*docStore)(nil)

func newDocStore() *docStore {
	first := pricing.Promotion{ID: uuid.New(), Kind: pricing.KindFirstSessionDiscount, EligibleMinutes: []int{},
		UpdatedAt: pricing.Token(time.Now())}
	return &docStore{doc: catalog{Promotions: []pricing.Promotion{first}}, paid: map[uuid.UUID]bool{}}
}

// read returns the current version; update applies fn to a copy and swaps it in.
func (s *docStore) read() catalog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.doc
}

func (s *docStore) update(fn func(next *catalog) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.doc.clone()
	if err := fn(&next); err != nil {
		return err
	}
	s.doc, s.version = next, s.version+1
	return nil
}

func (s *docStore) ListTiers(_ context.Context, p pricing.ListTiersParams) ([]pricing.Tier, error) {
	out := []pricing.Tier{}
	for _, t := range s.read().Tiers {
		if (p.Mode == "" || t.Mode == p.Mode) && (p.IncludeInactive || t.IsActive) {
			out = append(out, t)
		}
	}
	modeRank := map[pricing.Mode]int{pricing.ModeSession: 0, pricing.ModeExtension: 1}
	slices.SortFunc(out, func(a, b pricing.Tier) int {
		return cmp.Or(cmp.Compare(modeRank[a.Mode], modeRank[b.Mode]), cmp.Compare(a.SortOrder, b.SortOrder),
			cmp.Compare(a.Minutes, b.Minutes), bytes.Compare(a.ID[:], b.ID[:]))
	})
	return out, nil
}

func (s *docStore) GetTier(_ context.Context, id uuid.UUID) (pricing.Tier, error) {
	for _, t := range s.read().Tiers {
		if t.ID == id {
			return t, nil
		}
	}
	return pricing.Tier{}, fmt.Errorf("tier %s: %w", id, pricing.ErrNotFound)
}

func (s *docStore) ActiveTier(_ context.Context, mode pricing.Mode, minutes int) (pricing.Tier, error) {
	for _, t := range s.read().Tiers {
		if t.Mode == mode && t.Minutes == minutes && t.IsActive {
			return t, nil
		}
	}
	return pricing.Tier{}, fmt.Errorf("%s tier of %d minutes: %w", mode, minutes, pricing.ErrNotFound)
}

// checkTier refuses what the SDK's schema refuses (the checks of pricing_tiers), with the
// error Postgres gives: the contract holds every Store to it.
func checkTier(t pricing.Tier) error {
	check := func(name string) error { return curhat.Invalid("pricing_tiers_"+name, "violates a database check") }
	switch {
	case t.Mode != pricing.ModeSession && t.Mode != pricing.ModeExtension:
		return check("mode_check")
	case t.Minutes < 1 || t.Minutes > 1440:
		return check("minutes_check")
	case t.Price < 0 || t.Price > pricing.MaxPrice:
		return check("price_check")
	case utf8.RuneCountInString(t.Label) > 100:
		return check("label_check")
	case t.Mode == pricing.ModeExtension && t.Price == 0:
		return check("check")
	}
	return nil
}

func (s *docStore) InsertTier(_ context.Context, w pricing.TierWrite) error {
	if err := checkTier(w.Tier); err != nil {
		return err
	}
	return s.update(func(next *catalog) error {
		for _, t := range next.Tiers {
			if t.Mode == w.Tier.Mode && t.Minutes == w.Tier.Minutes {
				return pricing.ErrDuplicateTier
			}
		}
		next.Tiers = append(next.Tiers, w.Tier)
		next.TierHistory = append(next.TierHistory, w.History)
		return applyTierWrites(next, w.Moved)
	})
}

func (s *docStore) UpdateTiers(_ context.Context, ws []pricing.TierWrite) error {
	return s.update(func(next *catalog) error { return applyTierWrites(next, ws) })
}

// applyTierWrites compares and swaps each row of ws in next; the first mismatch fails the
// whole version.
func applyTierWrites(next *catalog, ws []pricing.TierWrite) error {
	for _, w := range ws {
		i := slices.IndexFunc(next.Tiers, func(t pricing.Tier) bool { return t.ID == w.Tier.ID })
		if i < 0 {
			return fmt.Errorf("tier %s: %w", w.Tier.ID, pricing.ErrNotFound)
		}
		cur := next.Tiers[i]
		if !cur.UpdatedAt.Equal(w.ExpectedUpdatedAt) {
			return &pricing.StaleWriteError{Current: cur}
		}
		cur.Price, cur.Label, cur.SortOrder, cur.IsActive, cur.UpdatedAt =
			w.Tier.Price, w.Tier.Label, w.Tier.SortOrder, w.Tier.IsActive, w.Tier.UpdatedAt
		if err := checkTier(cur); err != nil {
			return err
		}
		next.Tiers[i] = cur
		next.TierHistory = append(next.TierHistory, w.History)
	}
	return nil
}

func (s *docStore) TierHistory(_ context.Context, tierID uuid.UUID) ([]pricing.HistoryEntry, error) {
	return newestFirst(s.read().TierHistory, func(h pricing.HistoryEntry) bool { return h.TierID == tierID }), nil
}

func (s *docStore) Promotion(_ context.Context, kind pricing.PromotionKind) (pricing.Promotion, error) {
	for _, p := range s.read().Promotions {
		if p.Kind == kind {
			return p, nil
		}
	}
	return pricing.Promotion{}, fmt.Errorf("promotion %s: %w", kind, pricing.ErrNotFound)
}

func (s *docStore) SavePromotion(_ context.Context, w pricing.PromotionWrite) error {
	return s.update(func(next *catalog) error {
		i := slices.IndexFunc(next.Promotions, func(p pricing.Promotion) bool { return p.Kind == w.Promotion.Kind })
		switch {
		case i < 0 && !w.ExpectedUpdatedAt.IsZero():
			return fmt.Errorf("promotion %s: %w", w.Promotion.Kind, pricing.ErrNotFound)
		case i >= 0 && !next.Promotions[i].UpdatedAt.Equal(w.ExpectedUpdatedAt):
			return &pricing.StaleWriteError{Current: next.Promotions[i]}
		case i < 0:
			next.Promotions = append(next.Promotions, w.Promotion)
		default:
			next.Promotions[i] = w.Promotion
		}
		next.PromotionHistory = append(next.PromotionHistory, w.History)
		return nil
	})
}

func (s *docStore) PromotionHistory(_ context.Context, kind pricing.PromotionKind) ([]pricing.HistoryEntry, error) {
	cur, err := s.Promotion(context.Background(), kind)
	if err != nil {
		return []pricing.HistoryEntry{}, nil
	}
	return newestFirst(s.read().PromotionHistory, func(h pricing.HistoryEntry) bool { return h.PromotionID == cur.ID }), nil
}

func (s *docStore) ClientHasPaidChatStart(_ context.Context, clientID uuid.UUID) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paid[clientID], nil
}

// newestFirst keeps the entries of all that match, the latest write first.
func newestFirst(all []pricing.HistoryEntry, match func(pricing.HistoryEntry) bool) []pricing.HistoryEntry {
	out := []pricing.HistoryEntry{}
	for i := len(all) - 1; i >= 0; i-- {
		if match(all[i]) {
			out = append(out, all[i])
		}
	}
	return out
}

// TestHostStore_PassesThePricingContract runs the SDK's public contract suite against a
// Store the host wrote itself, as a host team would from its own tests.
func TestHostStore_PassesThePricingContract(t *testing.T) {
	pricingtest.RunStoreContract(t, func(t *testing.T) pricingtest.StoreHarness {
		s := newDocStore()
		return pricingtest.StoreHarness{
			Store: s,
			AddPayment: func(t *testing.T, clientID, _ uuid.UUID, purpose, status string) {
				s.mu.Lock()
				defer s.mu.Unlock()
				if purpose == "chat_start" && status == "paid" {
					s.paid[clientID] = true
				}
			},
		}
	})
}

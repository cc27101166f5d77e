package pricing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// PromotionKind names a row of pricing_promotions.
type PromotionKind string

// KindFirstSessionDiscount is the discount on a client's first paid chat session.
const KindFirstSessionDiscount PromotionKind = "first_session_discount"

// Promotion is a price promotion. For the first-session discount: when Enabled, a client
// with no paid chat_start payment yet gets DiscountPercent off an eligible session tier,
// capped at MaxDiscountAmount when set.
type Promotion struct {
	ID                uuid.UUID
	Kind              PromotionKind
	Enabled           bool
	DiscountPercent   int
	MaxDiscountAmount *int64 // nil: no cap
	// EligibleMinutes lists the session durations the discount applies to; empty means
	// every session tier. Sorted, without duplicates.
	EligibleMinutes []int
	Label           string
	// UpdatedAt is the optimistic-lock token (zero when the row does not exist yet).
	UpdatedAt time.Time
}

// AppliesTo reports whether the promotion discounts a tier of (mode, minutes), for a
// client who qualifies. Extension tiers are never discounted.
func (pr Promotion) AppliesTo(mode Mode, minutes int) bool {
	if !pr.Enabled || mode != ModeSession {
		return false
	}
	return len(pr.EligibleMinutes) == 0 || slices.Contains(pr.EligibleMinutes, minutes)
}

// Discount returns the discount on price for a tier of (mode, minutes), for a client who
// qualifies: min(price * percent / 100 rounded down, MaxDiscountAmount), or 0 when the
// promotion does not apply to the tier.
func (pr Promotion) Discount(mode Mode, minutes int, price int64) int64 {
	if !pr.AppliesTo(mode, minutes) || price <= 0 {
		return 0
	}
	d := price * int64(pr.DiscountPercent) / 100 // price ≤ 1e9: no overflow
	if pr.MaxDiscountAmount != nil {
		d = min(d, *pr.MaxDiscountAmount)
	}
	return max(d, 0)
}

// UpdatePromotionParams replaces the first-session discount settings.
type UpdatePromotionParams struct {
	// ExpectedUpdatedAt is the token last read. It may be zero only when the promotion row
	// does not exist yet (GetFirstSessionDiscount then returned a zero UpdatedAt): the
	// write creates it.
	ExpectedUpdatedAt time.Time
	Enabled           bool
	DiscountPercent   int
	MaxDiscountAmount *int64
	EligibleMinutes   []int
	Label             string
	ChangedBy         string
}

// GetFirstSessionDiscount returns the first-session discount. If its row is missing (the
// migration creates it) a disabled promotion with a zero ID and UpdatedAt is returned.
func (p *PricingStore) GetFirstSessionDiscount(ctx context.Context) (Promotion, error) {
	pr, err := p.store.Promotion(ctx, KindFirstSessionDiscount)
	if errors.Is(err, ErrNotFound) {
		return Promotion{Kind: KindFirstSessionDiscount, EligibleMinutes: []int{}}, nil
	}
	if err != nil {
		return Promotion{}, fmt.Errorf("get first-session discount: %w", err)
	}
	return pr, nil
}

// UpdateFirstSessionDiscount replaces the first-session discount settings if the row
// still carries ExpectedUpdatedAt; otherwise nothing is written and the error is a
// *StaleWriteError with the current Promotion. It takes effect on the very next quote.
// An update that changes nothing writes nothing.
func (p *PricingStore) UpdateFirstSessionDiscount(ctx context.Context, params UpdatePromotionParams) (Promotion, error) {
	eligible, err := validatePromotion(params)
	if err != nil {
		return Promotion{}, err
	}
	cur, err := p.GetFirstSessionDiscount(ctx)
	if err != nil {
		return Promotion{}, err
	}
	expected := Token(params.ExpectedUpdatedAt)
	exists := !cur.UpdatedAt.IsZero()
	if exists && expected.IsZero() {
		return Promotion{}, core.Invalid(fieldExpectedUpdatedAt, "is required (the updated_at last read)")
	}
	if !cur.UpdatedAt.Equal(expected) {
		return Promotion{}, fmt.Errorf("update first-session discount: %w", &StaleWriteError{Current: cur})
	}

	next := cur
	next.Enabled = params.Enabled
	next.DiscountPercent = params.DiscountPercent
	next.MaxDiscountAmount = params.MaxDiscountAmount
	next.EligibleMinutes = eligible
	next.Label = params.Label
	if exists && samePromotion(cur, next) {
		return cur, nil
	}
	kind := ChangeUpdate
	var before *Promotion
	if exists {
		before = &cur
	} else {
		kind = ChangeCreate
		next.ID = uuid.New()
	}
	next.UpdatedAt = nextToken(p.now(), cur.UpdatedAt)
	if next.MaxDiscountAmount != nil {
		v := *next.MaxDiscountAmount // do not alias the caller's pointer
		next.MaxDiscountAmount = &v
	}

	h := HistoryEntry{ID: uuid.New(), PromotionID: next.ID, ChangeKind: kind, ChangedBy: params.ChangedBy, ChangedAt: next.UpdatedAt}
	if before != nil {
		if h.Before, err = snapshot(promotionRow(*before)); err != nil {
			return Promotion{}, err
		}
	}
	if h.After, err = snapshot(promotionRow(next)); err != nil {
		return Promotion{}, err
	}
	if err := p.store.SavePromotion(ctx, PromotionWrite{Promotion: next, ExpectedUpdatedAt: expected, History: h}); err != nil {
		return Promotion{}, fmt.Errorf("update first-session discount: %w", err)
	}
	p.cfg.Logger.InfoContext(ctx, "first-session discount changed", "enabled", next.Enabled,
		"discount_percent", next.DiscountPercent, "changed_by", params.ChangedBy)
	return next, nil
}

// PromotionHistory returns the audit trail of the first-session discount, newest first.
func (p *PricingStore) PromotionHistory(ctx context.Context) ([]HistoryEntry, error) {
	hs, err := p.store.PromotionHistory(ctx, KindFirstSessionDiscount)
	if err != nil {
		return nil, fmt.Errorf("first-session discount history: %w", err)
	}
	return hs, nil
}

// validatePromotion checks params and returns the eligible minutes sorted and deduplicated.
func validatePromotion(params UpdatePromotionParams) ([]int, error) {
	if params.DiscountPercent < 0 || params.DiscountPercent > 100 {
		return nil, core.Invalid(fieldDiscountPercent, "must be between 0 and 100")
	}
	if params.MaxDiscountAmount != nil && *params.MaxDiscountAmount < 0 {
		return nil, core.Invalid(fieldMaxDiscountAmount, "must be 0 or more, or null for no cap")
	}
	for _, m := range params.EligibleMinutes {
		if err := validateMinutes(fieldEligibleMinutes, m); err != nil {
			return nil, err
		}
	}
	if err := core.FirstError(validateLabel(params.Label), validateChangedBy(params.ChangedBy)); err != nil {
		return nil, err
	}
	eligible := slices.Clone(params.EligibleMinutes)
	slices.Sort(eligible)
	return append([]int{}, slices.Compact(eligible)...), nil
}

func samePromotion(a, b Promotion) bool {
	sameCap := (a.MaxDiscountAmount == nil) == (b.MaxDiscountAmount == nil) &&
		(a.MaxDiscountAmount == nil || *a.MaxDiscountAmount == *b.MaxDiscountAmount)
	return a.Enabled == b.Enabled && a.DiscountPercent == b.DiscountPercent && sameCap &&
		slices.Equal(a.EligibleMinutes, b.EligibleMinutes) && a.Label == b.Label
}

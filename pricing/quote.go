package pricing

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// Quote is the price of a session or extension for one client, ready to be frozen into a
// payment session (payment.CreateParams).
type Quote struct {
	TierID         uuid.UUID
	Mode           Mode
	Minutes        int
	BaseAmount     int64
	DiscountAmount int64
	// Amount is BaseAmount - DiscountAmount.
	Amount   int64
	Currency string
}

// Quote prices (mode, minutes) for a client from the current rows (no cache: an operator
// edit applies to the very next quote). The first-session discount applies to an eligible
// session tier when the client has no paid chat_start payment yet. It fails with ErrNoTier
// when no active tier matches, and with a validation error for a bad mode or minutes.
func (p *PricingStore) Quote(ctx context.Context, clientID uuid.UUID, mode Mode, minutes int) (Quote, error) {
	if err := core.FirstError(validateMode(mode), validateMinutes(fieldMinutes, minutes)); err != nil {
		return Quote{}, err
	}
	tier, err := p.store.ActiveTier(ctx, mode, minutes)
	if errors.Is(err, ErrNotFound) {
		return Quote{}, fmt.Errorf("quote %s of %d minutes: %w", mode, minutes, ErrNoTier)
	}
	if err != nil {
		return Quote{}, fmt.Errorf("quote %s of %d minutes: %w", mode, minutes, err)
	}
	q := Quote{TierID: tier.ID, Mode: mode, Minutes: minutes, BaseAmount: tier.Price, Amount: tier.Price, Currency: tier.Currency}
	if mode != ModeSession {
		return q, nil
	}
	promo, err := p.GetFirstSessionDiscount(ctx)
	if err != nil {
		return Quote{}, fmt.Errorf("quote %s of %d minutes: %w", mode, minutes, err)
	}
	discount := promo.Discount(mode, minutes, tier.Price)
	if discount == 0 {
		return q, nil
	}
	paid, err := p.store.ClientHasPaidChatStart(ctx, clientID)
	if err != nil {
		return Quote{}, fmt.Errorf("quote %s of %d minutes: first-session check: %w", mode, minutes, err)
	}
	if !paid {
		q.DiscountAmount = discount
		q.Amount = tier.Price - discount
	}
	return q, nil
}

// FirstSessionEligible reports whether the client would get the first-session discount
// on an eligible session tier now: the promotion is enabled, gives a discount, and the
// client has no paid chat_start payment yet.
func (p *PricingStore) FirstSessionEligible(ctx context.Context, clientID uuid.UUID) (bool, error) {
	promo, err := p.GetFirstSessionDiscount(ctx)
	if err != nil {
		return false, err
	}
	if !promo.offersDiscount() {
		return false, nil
	}
	paid, err := p.store.ClientHasPaidChatStart(ctx, clientID)
	if err != nil {
		return false, fmt.Errorf("first-session check for client %s: %w", clientID, err)
	}
	return !paid, nil
}

// offersDiscount reports whether the promotion can discount anything at all.
func (pr Promotion) offersDiscount() bool {
	return pr.Enabled && pr.DiscountPercent > 0 && (pr.MaxDiscountAmount == nil || *pr.MaxDiscountAmount > 0)
}

// Catalog is what a client sees before starting a chat: the active tiers by sort order
// and, per session tier, the price after the first-session discount when it applies.
type Catalog struct {
	Currency             string
	SessionTiers         []CatalogTier
	ExtensionTiers       []Tier
	FirstSessionDiscount Promotion
	// Eligible reports whether this client gets the first-session discount.
	Eligible bool
}

// CatalogTier is a session tier with the client's price.
type CatalogTier struct {
	Tier
	// DiscountedPrice is the price after the first-session discount, or nil when no
	// discount applies to this client and tier.
	DiscountedPrice *int64
}

// Catalog returns the client's price list (GET /api/client/chat/pricing of the reference server).
func (p *PricingStore) Catalog(ctx context.Context, clientID uuid.UUID) (Catalog, error) {
	tiers, err := p.store.ListTiers(ctx, ListTiersParams{})
	if err != nil {
		return Catalog{}, fmt.Errorf("catalog: %w", err)
	}
	promo, err := p.GetFirstSessionDiscount(ctx)
	if err != nil {
		return Catalog{}, fmt.Errorf("catalog: %w", err)
	}
	c := Catalog{Currency: p.cfg.Currency, SessionTiers: []CatalogTier{}, ExtensionTiers: []Tier{}, FirstSessionDiscount: promo}
	if promo.offersDiscount() {
		paid, err := p.store.ClientHasPaidChatStart(ctx, clientID)
		if err != nil {
			return Catalog{}, fmt.Errorf("catalog: first-session check: %w", err)
		}
		c.Eligible = !paid
	}
	for _, t := range tiers {
		if t.Mode == ModeExtension {
			c.ExtensionTiers = append(c.ExtensionTiers, t)
			continue
		}
		ct := CatalogTier{Tier: t}
		if d := promo.Discount(t.Mode, t.Minutes, t.Price); c.Eligible && d > 0 {
			price := t.Price - d
			ct.DiscountedPrice = &price
		}
		c.SessionTiers = append(c.SessionTiers, ct)
	}
	return c, nil
}

package pricing_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/pricing"
)

func TestValidation_EveryBadInputNamesItsField(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, err := pricing.NewPricingStore(pricing.NewMemoryStore(), nil)
	require.NoError(t, err)
	session, err := svc.CreateTier(ctx, pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 30, Price: 25000, ChangedBy: operator})
	require.NoError(t, err)
	ext, err := svc.CreateTier(ctx, pricing.CreateTierParams{Mode: pricing.ModeExtension, Minutes: 10, Price: 8000, ChangedBy: operator})
	require.NoError(t, err)
	promo, err := svc.GetFirstSessionDiscount(ctx)
	require.NoError(t, err)

	create := func(mut func(*pricing.CreateTierParams)) func() error {
		return func() error {
			p := pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 45, Price: 30000, Label: "ok", ChangedBy: operator}
			mut(&p)
			_, err := svc.CreateTier(ctx, p)
			return err
		}
	}
	update := func(id pricing.Tier, mut func(*pricing.UpdateTierParams)) func() error {
		return func() error {
			p := pricing.UpdateTierParams{ID: id.ID, ExpectedUpdatedAt: id.UpdatedAt, Price: ptr[int64](1000), ChangedBy: operator}
			mut(&p)
			_, err := svc.UpdateTier(ctx, p)
			return err
		}
	}
	promotion := func(mut func(*pricing.UpdatePromotionParams)) func() error {
		return func() error {
			p := pricing.UpdatePromotionParams{ExpectedUpdatedAt: promo.UpdatedAt, Enabled: true, DiscountPercent: 10, ChangedBy: operator}
			mut(&p)
			_, err := svc.UpdateFirstSessionDiscount(ctx, p)
			return err
		}
	}
	reorder := func(p pricing.ReorderParams) func() error {
		return func() error {
			p.ChangedBy = operator
			_, err := svc.ReorderTiers(ctx, p)
			return err
		}
	}
	longLabel := strings.Repeat("é", 101)

	tests := []struct {
		name  string
		call  func() error
		field string
	}{
		{"create: unknown mode", create(func(p *pricing.CreateTierParams) { p.Mode = "gift" }), "mode"},
		{"create: empty mode", create(func(p *pricing.CreateTierParams) { p.Mode = "" }), "mode"},
		{"create: zero minutes", create(func(p *pricing.CreateTierParams) { p.Minutes = 0 }), "minutes"},
		{"create: negative minutes", create(func(p *pricing.CreateTierParams) { p.Minutes = -5 }), "minutes"},
		{"create: more than a day", create(func(p *pricing.CreateTierParams) { p.Minutes = 1441 }), "minutes"},
		{"create: negative price", create(func(p *pricing.CreateTierParams) { p.Price = -1 }), "price"},
		{"create: price above the limit", create(func(p *pricing.CreateTierParams) { p.Price = 1_000_000_001 }), "price"},
		{"create: free extension", create(func(p *pricing.CreateTierParams) { p.Mode, p.Price = pricing.ModeExtension, 0 }), "price"},
		{"create: label of 101 characters", create(func(p *pricing.CreateTierParams) { p.Label = longLabel }), "label"},
		{"create: label not UTF-8", create(func(p *pricing.CreateTierParams) { p.Label = "\xff" }), "label"},
		{"create: label with NUL", create(func(p *pricing.CreateTierParams) { p.Label = "a\x00b" }), "label"},
		{"create: no operator", create(func(p *pricing.CreateTierParams) { p.ChangedBy = " " }), "changed_by"},
		{"update: mode is read-only", update(session, func(p *pricing.UpdateTierParams) { p.Mode = ptr(pricing.ModeExtension) }), "mode"},
		{"update: minutes is read-only", update(session, func(p *pricing.UpdateTierParams) { p.Minutes = ptr(60) }), "minutes"},
		{"update: no token", update(session, func(p *pricing.UpdateTierParams) { p.ExpectedUpdatedAt = zeroTime }), "expected_updated_at"},
		{"update: negative price", update(session, func(p *pricing.UpdateTierParams) { p.Price = ptr[int64](-1) }), "price"},
		{"update: price above the limit", update(session, func(p *pricing.UpdateTierParams) { p.Price = ptr[int64](1_000_000_001) }), "price"},
		{"update: free extension", update(ext, func(p *pricing.UpdateTierParams) { p.Price = ptr[int64](0) }), "price"},
		{"update: long label", update(session, func(p *pricing.UpdateTierParams) { p.Label = &longLabel }), "label"},
		{"deactivate: no token", func() error { _, err := svc.DeactivateTier(ctx, session.ID, zeroTime, operator); return err }, "expected_updated_at"},
		{"reactivate: no token", func() error { _, err := svc.ReactivateTier(ctx, session.ID, zeroTime, operator); return err }, "expected_updated_at"},
		{"reorder: unknown mode", reorder(pricing.ReorderParams{Mode: "x", Tiers: []pricing.ReorderItem{{ID: session.ID, ExpectedUpdatedAt: session.UpdatedAt}}}), "mode"},
		{"reorder: empty list", reorder(pricing.ReorderParams{Mode: pricing.ModeSession}), "tiers"},
		{"reorder: tier of another mode", reorder(pricing.ReorderParams{Mode: pricing.ModeSession, Tiers: []pricing.ReorderItem{
			{ID: session.ID, ExpectedUpdatedAt: session.UpdatedAt}, {ID: ext.ID, ExpectedUpdatedAt: ext.UpdatedAt}}}), "tiers"},
		{"reorder: no token", reorder(pricing.ReorderParams{Mode: pricing.ModeSession, Tiers: []pricing.ReorderItem{{ID: session.ID}}}), "expected_updated_at"},
		{"list: unknown mode", func() error { _, err := svc.ListTiers(ctx, pricing.ListTiersParams{Mode: "x"}); return err }, "mode"},
		{"promotion: negative percent", promotion(func(p *pricing.UpdatePromotionParams) { p.DiscountPercent = -1 }), "discount_percent"},
		{"promotion: percent above 100", promotion(func(p *pricing.UpdatePromotionParams) { p.DiscountPercent = 101 }), "discount_percent"},
		{"promotion: negative cap", promotion(func(p *pricing.UpdatePromotionParams) { p.MaxDiscountAmount = ptr[int64](-1) }), "max_discount_amount"},
		{"promotion: eligible zero minutes", promotion(func(p *pricing.UpdatePromotionParams) { p.EligibleMinutes = []int{30, 0} }), "eligible_minutes"},
		{"promotion: eligible more than a day", promotion(func(p *pricing.UpdatePromotionParams) { p.EligibleMinutes = []int{1441} }), "eligible_minutes"},
		{"promotion: long label", promotion(func(p *pricing.UpdatePromotionParams) { p.Label = longLabel }), "label"},
		{"promotion: no token", promotion(func(p *pricing.UpdatePromotionParams) { p.ExpectedUpdatedAt = zeroTime }), "expected_updated_at"},
		{"quote: unknown mode", func() error { _, err := svc.Quote(ctx, session.ID, "x", 30); return err }, "mode"},
		{"quote: minutes out of range", func() error { _, err := svc.Quote(ctx, session.ID, pricing.ModeSession, 1441); return err }, "minutes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check.Invalid(t, tt.call(), tt.field)
		})
	}

	// Nothing above was written.
	all, err := svc.ListTiers(ctx, pricing.ListTiersParams{IncludeInactive: true})
	require.NoError(t, err)
	require.Equal(t, []pricing.Tier{session, ext}, all)
	hs, err := svc.PromotionHistory(ctx)
	require.NoError(t, err)
	require.Empty(t, hs)

	// The limits themselves are accepted.
	for _, p := range []pricing.CreateTierParams{
		{Mode: pricing.ModeSession, Minutes: 1, Price: 0, Label: strings.Repeat("é", 100), ChangedBy: operator},
		{Mode: pricing.ModeExtension, Minutes: 1440, Price: 1_000_000_000, ChangedBy: operator},
	} {
		_, err := svc.CreateTier(ctx, p)
		require.NoError(t, err)
	}
}

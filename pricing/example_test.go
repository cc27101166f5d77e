package pricing_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/curhat/curhat/pricing"
)

func Example() {
	ctx := context.Background()
	store := pricing.NewMemoryStore() // pricing.NewPostgresStore(pool) in production
	prices, err := pricing.NewPricingStore(store, nil)
	if err != nil {
		fmt.Println(err)
		return
	}

	tier, _ := prices.CreateTier(ctx, pricing.CreateTierParams{
		Mode: pricing.ModeSession, Minutes: 30, Price: 25000, Label: "30 menit", ChangedBy: "op-1",
	})

	// Operators edit with the updated_at they last read; a second edit with the same
	// token is refused instead of silently overwriting the first.
	edited, _ := prices.UpdateTier(ctx, pricing.UpdateTierParams{
		ID: tier.ID, ExpectedUpdatedAt: tier.UpdatedAt, Price: new(int64(20000)), ChangedBy: "op-1",
	})
	_, err = prices.UpdateTier(ctx, pricing.UpdateTierParams{
		ID: tier.ID, ExpectedUpdatedAt: tier.UpdatedAt, Price: new(int64(1)), ChangedBy: "op-2",
	})
	var stale *pricing.StaleWriteError
	if errors.As(err, &stale) {
		fmt.Println("stale write; current price:", stale.Current.(pricing.Tier).Price)
	}

	// 25% off a client's first session, at most 4000.
	promo, _ := prices.GetFirstSessionDiscount(ctx)
	_, _ = prices.UpdateFirstSessionDiscount(ctx, pricing.UpdatePromotionParams{
		ExpectedUpdatedAt: promo.UpdatedAt, Enabled: true, DiscountPercent: 25,
		MaxDiscountAmount: new(int64(4000)), ChangedBy: "op-1",
	})

	newcomer, regular := uuid.New(), uuid.New()
	store.HasPaidChatStart = func(_ context.Context, client uuid.UUID) (bool, error) {
		return client == regular, nil
	}
	for _, client := range []uuid.UUID{newcomer, regular} {
		q, _ := prices.Quote(ctx, client, pricing.ModeSession, 30)
		fmt.Println(q.BaseAmount, "-", q.DiscountAmount, "=", q.Amount, q.Currency)
	}

	history, _ := prices.TierHistory(ctx, edited.ID)
	for _, h := range history {
		fmt.Println(h.ChangeKind, "by", h.ChangedBy)
	}
	// Output:
	// stale write; current price: 20000
	// 20000 - 4000 = 16000 IDR
	// 20000 - 0 = 20000 IDR
	// update by op-1
	// create by op-1
}

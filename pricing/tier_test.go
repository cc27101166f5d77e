package pricing_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/pricing"
)

func TestUpdateTier_NoChangeWritesNothing(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tier := e.mustCreate(t, pricing.ModeSession, 30, 25000)
		e.clock.Advance(time.Second)
		same, err := e.svc.UpdateTier(ctx, pricing.UpdateTierParams{ID: tier.ID, ExpectedUpdatedAt: tier.UpdatedAt, Price: ptr(tier.Price), ChangedBy: operator})
		require.NoError(t, err)
		require.Equal(t, tier, same)
		hs, err := e.svc.TierHistory(ctx, tier.ID)
		require.NoError(t, err)
		require.Len(t, hs, 1)
	})
}

func TestUpdateTier_FreeExtensionRefused(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ext := e.mustCreate(t, pricing.ModeExtension, 10, 8000)
		_, err := e.svc.UpdateTier(ctx, pricing.UpdateTierParams{ID: ext.ID, ExpectedUpdatedAt: ext.UpdatedAt, Price: ptr[int64](0), ChangedBy: operator})
		check.Invalid(t, err, "price")

		// A free session tier is allowed (a free trial).
		s := e.mustCreate(t, pricing.ModeSession, 5, 1000)
		free, err := e.svc.UpdateTier(ctx, pricing.UpdateTierParams{ID: s.ID, ExpectedUpdatedAt: s.UpdatedAt, Price: ptr[int64](0), ChangedBy: operator})
		require.NoError(t, err)
		require.Zero(t, free.Price)
	})
}

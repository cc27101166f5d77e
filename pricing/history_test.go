package pricing_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/pricing"
)

// The history tables keep JSON images of the rows; their key names are stored data, so
// they must not follow the Go field names of Tier and Promotion.
func TestHistory_SnapshotsKeepTheStoredKeyNames(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tier := e.mustCreate(t, pricing.ModeSession, 30, 25000)
		hs, err := e.svc.TierHistory(ctx, tier.ID)
		require.NoError(t, err)
		require.Len(t, hs, 1)
		require.Equal(t, []string{"created_at", "currency", "id", "is_active", "label", "minutes", "mode", "price",
			"sort_order", "updated_at"}, keys(t, hs[0].After))
		got, err := pricing.TierSnapshot(hs[0].After)
		require.NoError(t, err)
		require.Equal(t, tier, got)

		cur, err := e.svc.GetFirstSessionDiscount(ctx)
		require.NoError(t, err)
		promo, err := e.svc.UpdateFirstSessionDiscount(ctx, pricing.UpdatePromotionParams{
			ExpectedUpdatedAt: cur.UpdatedAt, Enabled: true, DiscountPercent: 50, EligibleMinutes: []int{30}, ChangedBy: operator,
		})
		require.NoError(t, err)
		ph, err := e.svc.PromotionHistory(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"discount_percent", "eligible_minutes", "enabled", "id", "kind", "label",
			"max_discount_amount", "updated_at"}, keys(t, ph[0].After))
		gotPromo, err := pricing.PromotionSnapshot(ph[0].After)
		require.NoError(t, err)
		require.Equal(t, promo, gotPromo)
	})
}

func keys(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	return slices.Sorted(maps.Keys(m))
}

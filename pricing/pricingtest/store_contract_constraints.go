package pricingtest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/pricing"
)

// runConstraintContract is the part of RunStoreContract that pins what the schema refuses
// below the service's own validation: a tier outside the checks of pricing_tiers is a
// *ValidationError naming the check, and nothing is written. An in-memory store must
// refuse it as Postgres does.
func runConstraintContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("InsertAndUpdateRefuseTiersOutsideTheChecks", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, newHarness)
		ctx := check.Context(t)
		tier := func(mode pricing.Mode, minutes int, price int64) pricing.Tier {
			return pricing.Tier{
				ID: uuid.New(), Mode: mode, Minutes: minutes, Price: price, Currency: "IDR", IsActive: true,
				CreatedAt: t0, UpdatedAt: t0,
			}
		}
		write := func(tr pricing.Tier) pricing.TierWrite {
			return pricing.TierWrite{Tier: tr, History: pricing.HistoryEntry{
				ID: uuid.New(), TierID: tr.ID, ChangeKind: pricing.ChangeCreate, ChangedBy: operator, ChangedAt: t0, After: json.RawMessage(`{}`),
			}}
		}
		for _, tc := range []struct {
			check string
			tier  pricing.Tier
		}{
			{"pricing_tiers_mode_check", tier("gift", 30, 25000)},
			{"pricing_tiers_minutes_check", tier(pricing.ModeSession, 0, 25000)},
			{"pricing_tiers_minutes_check", tier(pricing.ModeSession, 1441, 25000)},
			{"pricing_tiers_price_check", tier(pricing.ModeSession, 30, -1)},
			{"pricing_tiers_check", tier(pricing.ModeExtension, 15, 0)},
		} {
			check.Invalid(t, e.Store.InsertTier(ctx, write(tc.tier)), tc.check)
			_, err := e.Store.GetTier(ctx, tc.tier.ID)
			check.ErrorIs(t, err, pricing.ErrNotFound, "nothing was written (%s)", tc.check)
		}

		ext := e.mustCreate(t, pricing.ModeExtension, 15, 10000)
		free, long := ext, ext
		free.Price, long.Label = 0, strings.Repeat("x", 101)
		for name, tr := range map[string]pricing.Tier{"pricing_tiers_check": free, "pricing_tiers_label_check": long} {
			w := write(tr)
			w.ExpectedUpdatedAt = ext.UpdatedAt
			check.Invalid(t, e.Store.UpdateTiers(ctx, []pricing.TierWrite{w}), name)
		}
		got, err := e.Store.GetTier(ctx, ext.ID)
		check.NoError(t, err)
		check.Equal(t, ext, got, "unchanged")
	})
}

package pairing_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pairing/pairingtest"
)

// TestStatsContract runs the statistics suite against both stores: the in-memory one must
// count what the Postgres one counts. The Postgres store finds the offers of a window one
// of two ways, depending on how many pairings the window holds; each is also run alone.
func TestStatsContract(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		pairingtest.RunStatsContract(t, func(t *testing.T) pairingtest.StoreHarness {
			s, fx := b.open(t)
			return pairingtest.StoreHarness{Store: s, Client: fx.client, Mitra: fx.mitra, SetActive: fx.setActive}
		})
	})
	for name, readAll := range map[string]bool{"reading_every_offer": true, "looking_up_offers": false} {
		t.Run("postgres/"+name, func(t *testing.T) {
			t.Parallel()
			pairingtest.RunStatsContract(t, func(t *testing.T) pairingtest.StoreHarness {
				s, fx := backends[1].open(t)
				pg := s.(*pairing.PostgresStore)
				return pairingtest.StoreHarness{Store: forcedStats{pg, pairing.PostgresStatsFindingOffers(pg, readAll)},
					Client: fx.client, Mitra: fx.mitra, SetActive: fx.setActive}
			})
		})
	}
}

// forcedStats is a Postgres store whose statistics find the offers one way.
type forcedStats struct {
	*pairing.PostgresStore
	stats pairing.StatsStore
}

func (s forcedStats) Stats(ctx context.Context, w pairing.StatsWindow) (pairing.Stats, error) {
	return s.stats.Stats(ctx, w)
}

func (s forcedStats) MitraStats(ctx context.Context, id uuid.UUID, w pairing.StatsWindow) (pairing.MitraStats, error) {
	return s.stats.MitraStats(ctx, id, w)
}

func (s forcedStats) Waiting(ctx context.Context, now time.Time) (pairing.Waiting, error) {
	return s.stats.Waiting(ctx, now)
}

package pairing

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// PostgresStatsFindingOffers is s's StatsStore with the offers of a window found one way
// whatever the sizes (every offer read, or those of the pairings open in the window looked
// up): the contract holds both to the same figures.
func PostgresStatsFindingOffers(s *PostgresStore, readAll bool) StatsStore {
	of := offerScanLive
	if readAll {
		of = offerScanAll
	}
	return forcedOfferScan{s, of}
}

type forcedOfferScan struct {
	s  *PostgresStore
	of offerScan
}

func (f forcedOfferScan) Stats(ctx context.Context, w StatsWindow) (Stats, error) {
	return f.s.stats(ctx, w, f.of)
}

func (f forcedOfferScan) MitraStats(ctx context.Context, id uuid.UUID, w StatsWindow) (MitraStats, error) {
	return f.s.mitraStats(ctx, id, w, f.of)
}

func (f forcedOfferScan) Waiting(ctx context.Context, now time.Time) (Waiting, error) {
	return f.s.Waiting(ctx, now)
}

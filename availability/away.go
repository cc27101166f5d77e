package availability

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// AwayMissedOffers: the mitra let too many offers in a row lapse (the pairing policy
// mitra_missed_offers_before_away) and was taken offline until it goes online again.
const AwayMissedOffers = "missed_offers"

// AwayReasons are the reasons SetAway takes.
var AwayReasons = []string{AwayMissedOffers}

// ValidAwayReason reports a reason that is not one of AwayReasons.
func ValidAwayReason(reason string) error {
	if !slices.Contains(AwayReasons, reason) {
		return core.Invalid("reason", "must be one of %v, not %q", AwayReasons, reason)
	}
	return nil
}

// SetAway takes an online mitra offline because the system decided so (reason, one of
// AwayReasons): Postgres first (is_online false and away_reason, in one statement), then
// Valkey, as SetOffline. The reason shows in GetMitra and Status until the mitra goes
// online again. A mitra that is offline already keeps its state (and reason): changed
// is false.
func (m *Mirror) SetAway(ctx context.Context, id uuid.UUID, reason string) (changed bool, err error) {
	if err := ValidAwayReason(reason); err != nil {
		return false, err
	}
	_, changed, err = m.store.SetAway(ctx, id, reason)
	if err != nil {
		return false, fmt.Errorf("set mitra %s away (%s): %w", id, reason, err)
	}
	if changed {
		m.afterCommit(ctx, "set_away", id)
	}
	return changed, nil
}

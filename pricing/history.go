package pricing

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// ChangeKind names what a mutation did, as stored in the history tables.
type ChangeKind string

const (
	ChangeCreate     ChangeKind = "create"
	ChangeUpdate     ChangeKind = "update"
	ChangeDeactivate ChangeKind = "deactivate"
	ChangeReactivate ChangeKind = "reactivate"
	ChangeReorder    ChangeKind = "reorder" // tiers only
)

// HistoryEntry is one audit row: who changed what, when, and the row before and after
// (Before is null for a create). Before and After are the JSON the history tables keep:
// TierSnapshot and PromotionSnapshot decode them.
//
// ChangedAt equals the row's new updated_at, which always moves forward, so the history
// of one row has a strict order even when several writes share a microsecond.
type HistoryEntry struct {
	ID uuid.UUID
	// TierID is set for tier history, PromotionID for promotion history.
	TierID      uuid.UUID
	PromotionID uuid.UUID
	ChangeKind  ChangeKind
	ChangedBy   string
	ChangedAt   time.Time
	Before      json.RawMessage
	After       json.RawMessage
}

// tierRow and promotionRow are the JSON of a tier and a promotion in the history tables.
// The key names are stored: they never change with the Go types.
type tierRow struct {
	ID        uuid.UUID `json:"id"`
	Mode      Mode      `json:"mode"`
	Minutes   int       `json:"minutes"`
	Price     int64     `json:"price"`
	Currency  string    `json:"currency"`
	Label     string    `json:"label"`
	SortOrder int       `json:"sort_order"`
	IsActive  bool      `json:"is_active"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type promotionRow struct {
	ID                uuid.UUID     `json:"id"`
	Kind              PromotionKind `json:"kind"`
	Enabled           bool          `json:"enabled"`
	DiscountPercent   int           `json:"discount_percent"`
	MaxDiscountAmount *int64        `json:"max_discount_amount"`
	EligibleMinutes   []int         `json:"eligible_minutes"`
	Label             string        `json:"label"`
	UpdatedAt         time.Time     `json:"updated_at"`
}

// TierSnapshot decodes the Before or After of a tier's history entry.
func TierSnapshot(raw json.RawMessage) (Tier, error) {
	var r tierRow
	if err := json.Unmarshal(raw, &r); err != nil {
		return Tier{}, fmt.Errorf("decode tier snapshot: %w", err)
	}
	return Tier(r), nil
}

// PromotionSnapshot decodes the Before or After of a promotion's history entry.
func PromotionSnapshot(raw json.RawMessage) (Promotion, error) {
	var r promotionRow
	if err := json.Unmarshal(raw, &r); err != nil {
		return Promotion{}, fmt.Errorf("decode promotion snapshot: %w", err)
	}
	return Promotion(r), nil
}

// snapshot is the JSON image of a row (a tierRow or a promotionRow) for the history tables.
func snapshot(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode history snapshot: %w", err)
	}
	return b, nil
}

// tierHistory builds the audit row of a tier write; before is nil for a create.
func tierHistory(kind ChangeKind, by string, before *Tier, after Tier) (HistoryEntry, error) {
	h := HistoryEntry{ID: uuid.New(), TierID: after.ID, ChangeKind: kind, ChangedBy: by, ChangedAt: after.UpdatedAt}
	var err error
	if before != nil {
		if h.Before, err = snapshot(tierRow(*before)); err != nil {
			return HistoryEntry{}, err
		}
	}
	h.After, err = snapshot(tierRow(after))
	return h, err
}

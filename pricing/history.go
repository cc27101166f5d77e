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
// (JSON of Tier or Promotion; Before is null for a create).
//
// ChangedAt equals the row's new updated_at, which always moves forward, so the history
// of one row has a strict order even when several writes share a microsecond.
type HistoryEntry struct {
	ID uuid.UUID `json:"id"`
	// TierID is set for tier history, PromotionID for promotion history.
	TierID      uuid.UUID       `json:"tier_id,omitzero"`
	PromotionID uuid.UUID       `json:"promotion_id,omitzero"`
	ChangeKind  ChangeKind      `json:"change_kind"`
	ChangedBy   string          `json:"changed_by"`
	ChangedAt   time.Time       `json:"changed_at"`
	Before      json.RawMessage `json:"before"`
	After       json.RawMessage `json:"after"`
}

// snapshot is the JSON image of a row for the history tables.
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
		if h.Before, err = snapshot(*before); err != nil {
			return HistoryEntry{}, err
		}
	}
	h.After, err = snapshot(after)
	return h, err
}

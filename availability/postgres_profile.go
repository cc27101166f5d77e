package availability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// storedLabels is the JSON of mitras.labels: every key optional, {} for none.
type storedLabels struct {
	Languages []string `json:"languages,omitempty"`
	Topics    []string `json:"topics,omitempty"`
	Gender    string   `json:"gender,omitempty"`
}

// decodeLabels reads mitras.labels. Most mitras have none: "{}" costs no decoding, so
// the presence writes that return the row stay as cheap as before labels existed.
func decodeLabels(raw []byte) (Labels, error) {
	if len(raw) == 0 || string(raw) == "{}" {
		return Labels{}, nil
	}
	var s storedLabels
	if err := json.Unmarshal(raw, &s); err != nil {
		return Labels{}, fmt.Errorf("decode labels: %w", err)
	}
	return Labels(s), nil
}

func encodeLabels(l Labels) ([]byte, error) { return json.Marshal(storedLabels(l)) }

func (s *PostgresStore) UpdateProfile(ctx context.Context, p ProfileUpdate) (Mitra, error) {
	var labels []byte
	if p.Labels != nil {
		var err error
		if labels, err = encodeLabels(*p.Labels); err != nil {
			return Mitra{}, err
		}
	}
	m, err := scanMitra(s.db.QueryRow(ctx, `UPDATE mitras SET
			display_name = COALESCE($3, display_name),
			max_concurrent_sessions = CASE WHEN $4 THEN $5 ELSE max_concurrent_sessions END,
			labels = COALESCE($6::jsonb, labels),
			profile_updated_at = GREATEST(now(), profile_updated_at + interval '1 microsecond'),
			`+bumpUpdatedAt+`
		WHERE id = $1 AND profile_updated_at = $2 RETURNING `+mitraColumns,
		p.ID, p.ExpectedProfileUpdatedAt, p.DisplayName, p.ChangeMax, p.MaxConcurrentSessions, labels))
	if !errors.Is(err, ErrNotFound) {
		return m, err
	}
	// Unknown, or edited since the caller read it: tell which.
	cur, err := s.GetMitra(ctx, p.ID)
	if err != nil {
		return Mitra{}, err
	}
	return Mitra{}, &StaleProfileError{Current: cur}
}

package availability

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
)

// LabelsChangedSince reads the labels of the mitras whose profile changed at or after
// since (index mitras_profile_updated_idx), or of every labelled mitra for the zero time,
// with the database's clock.
func (s *PostgresStore) LabelsChangedSince(ctx context.Context, since time.Time) ([]MitraLabels, time.Time, error) {
	var rows pgx.Rows
	var err error
	if since.IsZero() {
		rows, err = s.db.Query(ctx, `SELECT id, labels, now() FROM mitras WHERE labels <> '{}'::jsonb`)
	} else {
		rows, err = s.db.Query(ctx, `SELECT id, labels, now() FROM mitras WHERE profile_updated_at >= $1`, since)
	}
	if err != nil {
		return nil, time.Time{}, pgutil.Translate(err)
	}
	defer rows.Close()
	var out []MitraLabels
	now := time.Time{}
	for rows.Next() {
		var id uuid.UUID
		var raw []byte
		if err := rows.Scan(&id, &raw, &now); err != nil {
			return nil, time.Time{}, pgutil.Translate(err)
		}
		l, err := decodeLabels(raw)
		if err != nil {
			return nil, time.Time{}, err
		}
		out = append(out, MitraLabels{ID: id, Labels: l})
	}
	if err := rows.Err(); err != nil {
		return nil, time.Time{}, pgutil.Translate(err)
	}
	if now.IsZero() { // no row: read the clock alone
		if err := s.db.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
			return nil, time.Time{}, pgutil.Translate(err)
		}
	}
	return out, now.UTC(), nil
}

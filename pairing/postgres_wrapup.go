package pairing

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
)

// LastSessionEnd probes chat_sessions_mitra_ended_idx (the ended sessions by mitra and end)
// backwards: one index entry.
func (s *PostgresStore) LastSessionEnd(ctx context.Context, mitraID uuid.UUID) (time.Time, error) {
	var at *time.Time
	err := s.db.QueryRow(ctx, `SELECT max(ended_at) FROM chat_sessions WHERE mitra_id = $1 AND status = 'ended'`,
		mitraID).Scan(&at)
	if err != nil || at == nil {
		return time.Time{}, pgutil.Translate(err)
	}
	return at.UTC(), nil
}

// SessionEndsBetween reads the sessions ended after after through chat_sessions_ended_idx
// (those of the last wrap-up and lookback), grouped by mitra.
func (s *PostgresStore) SessionEndsBetween(ctx context.Context, after, until time.Time, limit int) ([]SessionEnd, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	rows, err := s.db.Query(ctx, `SELECT mitra_id, max(ended_at) AS last FROM chat_sessions
		WHERE status = 'ended' AND ended_at > $1
		GROUP BY mitra_id HAVING max(ended_at) <= $2
		ORDER BY last, mitra_id LIMIT $3`, after, until, lim)
	if err != nil {
		return nil, pgutil.Translate(err)
	}
	ends, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (SessionEnd, error) {
		var e SessionEnd
		err := row.Scan(&e.MitraID, &e.EndedAt)
		e.EndedAt = e.EndedAt.UTC()
		return e, err
	})
	return ends, pgutil.Translate(err)
}

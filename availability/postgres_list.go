package availability

import (
	"context"
	"fmt"

	"github.com/curhat/curhat/internal/pgutil"
)

// listWhere filters ListMitras ($1 query, $2 is_active, $3 online, $4 at capacity, $5
// default maximum); a NULL parameter matches every mitra.
const listWhere = `($1 = '' OR strpos(lower(m.display_name), lower($1)) > 0 OR m.id::text = lower($1))
	AND ($2::bool IS NULL OR m.is_active = $2)
	AND ($3::bool IS NULL OR (m.is_online AND m.is_active) = $3)
	AND ($4::bool IS NULL OR (COALESCE(s.n, 0) >= COALESCE(m.max_concurrent_sessions, $5)) = $4)`

// ListMitras reads the page and the total in one statement (count(*) OVER ()); a page past
// the end has no row to carry the total, so only then a second statement counts.
func (s *PostgresStore) ListMitras(ctx context.Context, q MitraListQuery) ([]ListedMitra, int, error) {
	args := []any{q.Query, q.IsActive, q.Online, q.AtCapacity, q.DefaultMax}
	rows, err := s.db.Query(ctx, `SELECT m.id, m.display_name, m.is_active, m.is_online, m.last_heartbeat_at,
			m.max_concurrent_sessions, m.away_reason, m.labels, m.profile_updated_at, m.created_at, m.updated_at,
			COALESCE(s.n, 0), count(*) OVER ()
		FROM mitras m `+openSessionsJoin+`
		WHERE `+listWhere+`
		ORDER BY m.created_at DESC, m.id DESC LIMIT $6 OFFSET $7`, append(args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, 0, pgutil.Translate(err)
	}
	defer rows.Close()
	out := []ListedMitra{}
	total := 0
	for rows.Next() {
		var r ListedMitra
		var open int64
		var away *string
		var labels []byte
		if err := rows.Scan(&r.ID, &r.DisplayName, &r.IsActive, &r.IsOnline, &r.LastHeartbeatAt,
			&r.MaxConcurrentSessions, &away, &labels, &r.ProfileUpdatedAt, &r.CreatedAt, &r.UpdatedAt, &open, &total); err != nil {
			return nil, 0, pgutil.Translate(err)
		}
		var err error
		if r.Labels, err = decodeLabels(labels); err != nil {
			return nil, 0, fmt.Errorf("mitra %s: %w", r.ID, err)
		}
		r.AwayReason = pgutil.Deref(away)
		utcPtr(r.LastHeartbeatAt)
		r.ProfileUpdatedAt, r.CreatedAt, r.UpdatedAt = r.ProfileUpdatedAt.UTC(), r.CreatedAt.UTC(), r.UpdatedAt.UTC()
		r.OpenSessions = int(open)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, pgutil.Translate(err)
	}
	if len(out) == 0 && q.Offset > 0 {
		err := s.db.QueryRow(ctx, `SELECT count(*) FROM mitras m `+openSessionsJoin+` WHERE `+listWhere, args...).Scan(&total)
		if err != nil {
			return nil, 0, pgutil.Translate(err)
		}
	}
	return out, total, nil
}

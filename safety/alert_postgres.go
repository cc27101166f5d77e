package safety

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
)

// PostgresAlertStore is the AlertStore over the safety_alerts table.
type PostgresAlertStore struct {
	db DB
}

var _ AlertStore = (*PostgresAlertStore)(nil)

// NewPostgresAlertStore returns an AlertStore over db: a *pgxpool.Pool, or a pgx.Tx whose
// commit or rollback decides its writes. The schema comes from curhat.Migrate.
func NewPostgresAlertStore(db DB) *PostgresAlertStore { return &PostgresAlertStore{db: db} }

const alertColumns = "id, message_id, chat_session_id, client_id, mitra_id, terms, status, created_at, acknowledged_at, acknowledged_by"

// raiseSQL inserts the alert unless its message has one, and returns the row either way:
// the inserted one (created), or the one before — in one round trip. Two raises of one
// message that race: the second waits on the unique index, inserts nothing, and its
// snapshot cannot see the first's row, so it finds no row and reads it again (Raise).
const raiseSQL = `
WITH ins AS (
    INSERT INTO safety_alerts (id, message_id, chat_session_id, client_id, mitra_id, terms, status, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, 'open', $7)
    ON CONFLICT (message_id) DO NOTHING
    RETURNING ` + alertColumns + `
)
SELECT true, ` + alertColumns + ` FROM ins
UNION ALL
SELECT false, ` + alertColumns + ` FROM safety_alerts WHERE message_id = $2 AND NOT EXISTS (SELECT FROM ins)`

func (p *PostgresAlertStore) Raise(ctx context.Context, a Alert) (Alert, bool, error) {
	for attempt := 0; ; attempt++ {
		var created bool
		var out alertRow
		err := p.db.QueryRow(ctx, raiseSQL, a.ID, a.MessageID, a.ChatSessionID, a.ClientID, a.MitraID, termsOrEmpty(a.Terms),
			a.CreatedAt).Scan(append([]any{&created}, out.targets()...)...)
		if errors.Is(err, pgx.ErrNoRows) && attempt == 0 {
			continue // the race above: the other raise's row is committed now
		}
		if err != nil {
			return Alert{}, false, fmt.Errorf("raise safety alert: %w", pgutil.Translate(err))
		}
		return out.alert(), created, nil
	}
}

func (p *PostgresAlertStore) Get(ctx context.Context, id uuid.UUID) (Alert, error) {
	var out alertRow
	err := p.db.QueryRow(ctx, "SELECT "+alertColumns+" FROM safety_alerts WHERE id = $1", id).Scan(out.targets()...)
	if err != nil {
		return Alert{}, fmt.Errorf("get safety alert %s: %w", id, pgutil.Translate(err))
	}
	return out.alert(), nil
}

func (p *PostgresAlertStore) List(ctx context.Context, q AlertQuery) ([]Alert, int, error) {
	var status *string
	if q.Status != "" {
		status = new(string(q.Status))
	}
	size := max(q.PageSize, 1)
	offset := (max(q.Page, 1) - 1) * size
	rows, err := p.db.Query(ctx, `SELECT count(*) OVER (), `+alertColumns+` FROM safety_alerts
		WHERE $1::text IS NULL OR status = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3`, status, size, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("list safety alerts: %w", pgutil.Translate(err))
	}
	defer rows.Close()
	items, total := []Alert{}, 0
	for rows.Next() {
		var a alertRow
		if err := rows.Scan(append([]any{&total}, a.targets()...)...); err != nil {
			return nil, 0, fmt.Errorf("list safety alerts: %w", pgutil.Translate(err))
		}
		items = append(items, a.alert())
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list safety alerts: %w", pgutil.Translate(err))
	}
	if len(items) == 0 && offset > 0 {
		// A page past the last one has no row to carry the count.
		if err := p.db.QueryRow(ctx, `SELECT count(*) FROM safety_alerts WHERE $1::text IS NULL OR status = $1`,
			status).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("count safety alerts: %w", pgutil.Translate(err))
		}
	}
	return items, total, nil
}

// ackSQL acknowledges an open alert; an acknowledged one comes back unchanged (from the
// statement's snapshot: see Ack).
const ackSQL = `
WITH upd AS (
    UPDATE safety_alerts SET status = 'acknowledged', acknowledged_at = $2, acknowledged_by = $3
     WHERE id = $1 AND status = 'open'
    RETURNING ` + alertColumns + `
)
SELECT true, ` + alertColumns + ` FROM upd
UNION ALL
SELECT false, ` + alertColumns + ` FROM safety_alerts WHERE id = $1 AND NOT EXISTS (SELECT FROM upd)`

func (p *PostgresAlertStore) Ack(ctx context.Context, id uuid.UUID, by string, at time.Time) (Alert, bool, error) {
	var changed bool
	var out alertRow
	err := p.db.QueryRow(ctx, ackSQL, id, at, by).Scan(append([]any{&changed}, out.targets()...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		// Not found — or acknowledged by a concurrent call whose row this snapshot did not
		// see yet: read it again.
		a, gerr := p.Get(ctx, id)
		if gerr != nil {
			return Alert{}, false, gerr
		}
		return a, false, nil
	}
	if err != nil {
		return Alert{}, false, fmt.Errorf("acknowledge safety alert %s: %w", id, pgutil.Translate(err))
	}
	if !changed && out.Status == AlertOpen {
		// A concurrent acknowledgement committed while this one waited for the row: the
		// update skipped it, and this statement's snapshot still shows it open.
		a, err := p.Get(ctx, id)
		return a, false, err
	}
	return out.alert(), changed, nil
}

// alertRow is a scanned row of alertColumns.
type alertRow struct {
	Alert
	by *string
}

func (r *alertRow) targets() []any {
	return []any{&r.ID, &r.MessageID, &r.ChatSessionID, &r.ClientID, &r.MitraID, &r.Terms, &r.Status, &r.CreatedAt,
		&r.AcknowledgedAt, &r.by}
}

func (r *alertRow) alert() Alert {
	a := r.Alert
	a.AcknowledgedBy = pgutil.Deref(r.by)
	a.Terms = termsOrEmpty(a.Terms)
	a.CreatedAt, a.AcknowledgedAt = a.CreatedAt.UTC(), pgutil.UTCPtr(a.AcknowledgedAt)
	return a
}

func termsOrEmpty(t []string) []string {
	if t == nil {
		return []string{}
	}
	return t
}

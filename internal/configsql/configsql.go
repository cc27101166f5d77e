// Package configsql reads and writes the app_config table, where the runtime settings live:
// the SQL behind curhat.NewPostgresConfigStore, which keeps the root package free of SQL.
package configsql

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/pgutil"
)

// Row is one row of app_config. Value is JSON.
type Row struct {
	Key       string
	Value     []byte
	UpdatedAt time.Time
	UpdatedBy string
}

const (
	sqlList = `SELECT key, value, updated_at, updated_by FROM app_config ORDER BY key`
	sqlGet  = `SELECT key, value, updated_at, updated_by FROM app_config WHERE key = $1`
	// updated_at moves forward on every write, even two in the same microsecond, so that a
	// reader can order writes by it.
	sqlPut = `
INSERT INTO app_config (key, value, updated_at, updated_by)
VALUES ($1, $2::jsonb, clock_timestamp(), $3)
ON CONFLICT (key) DO UPDATE
   SET value      = EXCLUDED.value,
       updated_at = greatest(EXCLUDED.updated_at, app_config.updated_at + interval '1 microsecond'),
       updated_by = EXCLUDED.updated_by
RETURNING key, value, updated_at, updated_by`
)

// List returns every row, ordered by key.
func List(ctx context.Context, db pgutil.DB) ([]Row, error) {
	rows, err := db.Query(ctx, sqlList)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, scan)
	return out, translate(err)
}

// Get returns the row of key (core.ErrNotFound when there is none).
func Get(ctx context.Context, db pgutil.DB, key string) (Row, error) {
	rows, _ := db.Query(ctx, sqlGet, key)
	r, err := pgx.CollectExactlyOneRow(rows, scan)
	return r, translate(err)
}

// Put inserts or replaces the row of r.Key and returns it as stored, with UpdatedAt set by
// Postgres. A value Postgres cannot read as JSON is a *core.ValidationError on "value".
func Put(ctx context.Context, db pgutil.DB, r Row) (Row, error) {
	rows, _ := db.Query(ctx, sqlPut, r.Key, string(r.Value), r.UpdatedBy)
	out, err := pgx.CollectExactlyOneRow(rows, scan)
	return out, translate(err)
}

func scan(row pgx.CollectableRow) (Row, error) {
	var r Row
	if err := row.Scan(&r.Key, &r.Value, &r.UpdatedAt, &r.UpdatedBy); err != nil {
		return Row{}, err
	}
	return r, nil
}

// translate is pgutil.Translate, except that a value Postgres cannot read as JSON is the
// caller's "value" that is not JSON.
func translate(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "22P02" { // invalid_text_representation
		return core.Invalid("value", "must be JSON")
	}
	return pgutil.Translate(err)
}

package pairing

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
)

const clientColumns = "id, display_name, is_active, created_at, erased_at"

func scanClient(row pgx.Row) (Client, error) {
	var c Client
	err := row.Scan(&c.ID, &c.DisplayName, &c.IsActive, &c.CreatedAt, &c.ErasedAt)
	c.CreatedAt, c.ErasedAt = c.CreatedAt.UTC(), pgutil.UTCPtr(c.ErasedAt)
	return c, err
}

func (s *PostgresStore) CreateClient(ctx context.Context, c Client) (Client, error) {
	// ON CONFLICT DO NOTHING, then the row as it is: of two identical registrations racing,
	// both answer the stored client.
	got, err := scanClient(s.db.QueryRow(ctx, `INSERT INTO clients (id, display_name, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO NOTHING RETURNING `+clientColumns, c.ID, c.DisplayName, c.CreatedAt))
	if !errors.Is(err, pgx.ErrNoRows) {
		return got, pgutil.Translate(err)
	}
	got, err = s.GetClient(ctx, c.ID)
	if err != nil {
		return Client{}, err
	}
	if got.DisplayName != c.DisplayName {
		return Client{}, fmt.Errorf("client %s is registered with another display name: %w", c.ID, ErrConflict)
	}
	return got, nil
}

func (s *PostgresStore) GetClient(ctx context.Context, id uuid.UUID) (Client, error) {
	c, err := scanClient(s.db.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Client{}, fmt.Errorf("client %s: %w", id, ErrNotFound)
	}
	return c, pgutil.Translate(err)
}

func (s *PostgresStore) SetClientActive(ctx context.Context, id uuid.UUID, active bool) (Client, error) {
	var c Client
	err := pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		// An erased client stays closed.
		c, err = scanClient(tx.QueryRow(ctx, `UPDATE clients SET is_active = $2 WHERE id = $1 AND (erased_at IS NULL OR NOT $2)
			RETURNING `+clientColumns, id, active))
		if errors.Is(err, pgx.ErrNoRows) {
			var erased bool
			if err := tx.QueryRow(ctx, `SELECT erased_at IS NOT NULL FROM clients WHERE id = $1`, id).Scan(&erased); err == nil && erased {
				return fmt.Errorf("client %s was erased: %w", id, ErrInvalidState)
			}
			return fmt.Errorf("client %s: %w", id, ErrNotFound)
		}
		if err != nil || active {
			return err
		}
		// Revoked with the suspension: no instance can verify one of its tokens afresh once
		// it committed (a token already cached is dropped by the host's broadcast).
		_, err = tx.Exec(ctx, `UPDATE auth_sessions SET revoked_at = now()
			WHERE subject_kind = 'client' AND subject_id = $1 AND revoked_at IS NULL`, id)
		return err
	})
	if err != nil {
		return Client{}, pgutil.Translate(err)
	}
	return c, nil
}

// clientsWhere filters ListClients ($1: the query, "" for every client).
const clientsWhere = `($1 = '' OR strpos(lower(display_name), lower($1)) > 0 OR id::text = lower($1))`

// ListClients reads the page and the total in one statement (count(*) OVER ()); a page
// past the end has no row to carry the total, so only then a second statement counts.
func (s *PostgresStore) ListClients(ctx context.Context, q ClientQuery) ([]Client, int, error) {
	page, size := max(q.Page, 1), q.PageSize
	if size <= 0 {
		size = DefaultFailurePageSize
	}
	rows, err := s.db.Query(ctx, `SELECT `+clientColumns+`, count(*) OVER () FROM clients WHERE `+clientsWhere+`
		ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3`, q.Query, size, (page-1)*size)
	if err != nil {
		return nil, 0, pgutil.Translate(err)
	}
	defer rows.Close()
	out := []Client{}
	total := 0
	for rows.Next() {
		var c Client
		if err := rows.Scan(&c.ID, &c.DisplayName, &c.IsActive, &c.CreatedAt, &c.ErasedAt, &total); err != nil {
			return nil, 0, pgutil.Translate(err)
		}
		c.CreatedAt, c.ErasedAt = c.CreatedAt.UTC(), pgutil.UTCPtr(c.ErasedAt)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, pgutil.Translate(err)
	}
	if len(out) == 0 && page > 1 {
		if err := s.db.QueryRow(ctx, `SELECT count(*) FROM clients WHERE `+clientsWhere, q.Query).Scan(&total); err != nil {
			return nil, 0, pgutil.Translate(err)
		}
	}
	return out, total, nil
}

package pairing

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
)

func scanClient(row pgx.Row) (Client, error) {
	var c Client
	err := row.Scan(&c.ID, &c.DisplayName, &c.CreatedAt)
	c.CreatedAt = c.CreatedAt.UTC()
	return c, err
}

func (s *PostgresStore) CreateClient(ctx context.Context, c Client) (Client, error) {
	// ON CONFLICT DO NOTHING, then the row as it is: of two identical registrations racing,
	// both answer the stored client.
	got, err := scanClient(s.db.QueryRow(ctx, `INSERT INTO clients (id, display_name, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO NOTHING RETURNING id, display_name, created_at`, c.ID, c.DisplayName, c.CreatedAt))
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
	c, err := scanClient(s.db.QueryRow(ctx, `SELECT id, display_name, created_at FROM clients WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Client{}, fmt.Errorf("client %s: %w", id, ErrNotFound)
	}
	return c, pgutil.Translate(err)
}

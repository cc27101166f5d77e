package pairing

import (
	"context"
	"errors"
	"fmt"
	"time"

	sq "github.com/Masterminds/squirrel"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
)

// EraseClient locks the client's row first (FOR NO KEY UPDATE, as CreatePairing does: one
// holding it commits before, and the inserts that only refer to the client are not
// blocked), then checks what is in flight with statements that see that commit, then
// scrubs the row and revokes the client's tokens.
func (s *PostgresStore) EraseClient(ctx context.Context, id uuid.UUID, at time.Time) (Client, error) {
	var c Client
	err := pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		c, err = scanClient(tx.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1 FOR NO KEY UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("client %s: %w", id, ErrNotFound)
		}
		if err != nil || c.ErasedAt != nil {
			return err
		}
		var open uuid.UUID
		var status string
		err = tx.QueryRow(ctx, `SELECT id, status FROM pairings WHERE client_id = $1 AND status = ANY($2) LIMIT 1`,
			id, statusStrings(OpenStatuses)).Scan(&open, &status)
		if err == nil {
			return erasureBlocked(id, "an open pairing", open, status)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		// chat_sessions_client_idx, then each of the client's sessions.
		err = tx.QueryRow(ctx, `SELECT id, status FROM chat_sessions WHERE client_id = $1 AND status IN ('active', 'pending_payment')
			LIMIT 1`, id).Scan(&open, &status)
		if err == nil {
			return erasureBlocked(id, "a chat session", open, status)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		c, err = scanClient(tx.QueryRow(ctx, `UPDATE clients SET display_name = $2, is_active = false, erased_at = $3
			WHERE id = $1 RETURNING `+clientColumns, id, ErasedClientName, at))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE auth_sessions SET revoked_at = $2
			WHERE subject_kind = 'client' AND subject_id = $1 AND revoked_at IS NULL`, id, at)
		if err != nil {
			return err
		}
		return eraseRatingComments(ctx, tx, id)
	})
	if err != nil {
		return Client{}, pgutil.Translate(err)
	}
	return c, nil
}

// ClientPairings reads pairings_client_idx (client_id, created_at DESC) from the cursor on.
func (s *PostgresStore) ClientPairings(ctx context.Context, q ClientPairingsQuery) ([]Pairing, error) {
	b := pgutil.SQL.Select(pairingColumns).From("pairings").Where(sq.Eq{"client_id": q.ClientID}).
		OrderBy("created_at DESC", "id DESC").Limit(uint64(max(q.Limit, 0)))
	if q.After != nil {
		b = b.Where("(created_at, id) < (?, ?)", q.After.CreatedAt, q.After.ID)
	}
	out, err := queryAll(ctx, s.db, b, scanPairing)
	return out, pgutil.Translate(err)
}

package pairing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
)

// The ratings of the Postgres store (RatingStore), on chat_ratings (one row per rated
// session: its unique chat_session_id refuses a second) and mitra_rating_totals (a
// mitra's count and sum of stars, written in the transaction of each rating).

const ratingColumns = "id, chat_session_id, client_id, mitra_id, stars, comment, comment_hidden_at, hidden_by, created_at"

func scanRating(row pgx.Row) (Rating, error) {
	var r Rating
	var stars int16
	err := row.Scan(&r.ID, &r.ChatSessionID, &r.ClientID, &r.MitraID, &stars, &r.Comment, &r.CommentHiddenAt, &r.HiddenBy, &r.CreatedAt)
	r.Stars, r.CreatedAt = int(stars), r.CreatedAt.UTC()
	if r.CommentHiddenAt != nil {
		r.CommentHiddenAt = new(r.CommentHiddenAt.UTC())
	}
	return r, err
}

// InsertRating reads the session (and whether it is rated) in the transaction that writes
// the rating: a session's client, status and ended_at never change once it ended, and the
// insert itself is guarded by the unique chat_session_id — a concurrent rating of the same
// session waits for the first to commit, then inserts nothing (ErrAlreadyRated).
func (s *PostgresStore) InsertRating(ctx context.Context, nr NewRating) (Rating, error) {
	var r Rating
	err := pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var client, mitra uuid.UUID
		var status string
		var endedAt *time.Time
		var rated bool
		err := tx.QueryRow(ctx, `SELECT client_id, mitra_id, status, ended_at,
				EXISTS (SELECT 1 FROM chat_ratings WHERE chat_session_id = cs.id)
			FROM chat_sessions cs WHERE id = $1`, nr.ChatSessionID).Scan(&client, &mitra, &status, &endedAt, &rated)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && client != nr.ClientID {
			return fmt.Errorf("chat session %s of client %s: %w", nr.ChatSessionID, nr.ClientID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if rated {
			return fmt.Errorf("chat session %s: %w", nr.ChatSessionID, ErrAlreadyRated)
		}
		if err := ratingRefused(nr.ChatSessionID, SessionStatus(status), endedAt, nr.Now); err != nil {
			return err
		}
		r, err = scanRating(tx.QueryRow(ctx, `INSERT INTO chat_ratings (id, chat_session_id, client_id, mitra_id, stars, comment, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (chat_session_id) DO NOTHING RETURNING `+ratingColumns,
			nr.ID, nr.ChatSessionID, client, mitra, nr.Stars, nr.Comment, nr.Now))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("chat session %s: %w", nr.ChatSessionID, ErrAlreadyRated) // a concurrent rating won
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO mitra_rating_totals (mitra_id, ratings, stars_sum) VALUES ($1, 1, $2)
			ON CONFLICT (mitra_id) DO UPDATE SET ratings = mitra_rating_totals.ratings + 1,
				stars_sum = mitra_rating_totals.stars_sum + EXCLUDED.stars_sum`, mitra, nr.Stars)
		return err
	})
	if err != nil {
		return Rating{}, pgutil.Translate(err)
	}
	return r, nil
}

// ListRatings reads the page (chat_ratings_mitra_idx) and the mitra's total in one
// statement, so that the page and the count are of one instant; no row at all means no
// such mitra.
func (s *PostgresStore) ListRatings(ctx context.Context, q RatingQuery) ([]Rating, int, error) {
	rows, err := s.db.Query(ctx, `SELECT coalesce(t.ratings, 0), r.id, r.chat_session_id, r.client_id, r.mitra_id, r.stars,
			r.comment, r.comment_hidden_at, r.hidden_by, r.created_at
		FROM mitras m
		LEFT JOIN mitra_rating_totals t ON t.mitra_id = m.id
		LEFT JOIN LATERAL (SELECT `+ratingColumns+` FROM chat_ratings
			WHERE mitra_id = m.id ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3) r ON true
		WHERE m.id = $1
		ORDER BY r.created_at DESC, r.id DESC`, q.MitraID, q.PageSize, (q.Page-1)*q.PageSize)
	if err != nil {
		return nil, 0, pgutil.Translate(err)
	}
	defer rows.Close()
	var items []Rating
	total, found := 0, false
	for rows.Next() {
		found = true
		var id *uuid.UUID
		var r Rating
		var stars *int16
		var createdAt *time.Time
		var session, client, mitra *uuid.UUID
		if err := rows.Scan(&total, &id, &session, &client, &mitra, &stars, &r.Comment, &r.CommentHiddenAt, &r.HiddenBy, &createdAt); err != nil {
			return nil, 0, pgutil.Translate(err)
		}
		if id == nil {
			continue // the mitra has no rating on this page
		}
		r.ID, r.ChatSessionID, r.ClientID, r.MitraID, r.Stars, r.CreatedAt = *id, *session, *client, *mitra, int(*stars), createdAt.UTC()
		if r.CommentHiddenAt != nil {
			r.CommentHiddenAt = new(r.CommentHiddenAt.UTC())
		}
		items = append(items, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, pgutil.Translate(err)
	}
	if !found {
		return nil, 0, fmt.Errorf("mitra %s: %w", q.MitraID, ErrNotFound)
	}
	return items, total, nil
}

func (s *PostgresStore) HideRatingComment(ctx context.Context, id uuid.UUID, by *uuid.UUID, at time.Time) (Rating, bool, error) {
	r, err := scanRating(s.db.QueryRow(ctx, `UPDATE chat_ratings SET comment_hidden_at = $2, hidden_by = $3
		WHERE id = $1 AND comment IS NOT NULL AND comment_hidden_at IS NULL RETURNING `+ratingColumns, id, at, by))
	if err == nil {
		return r, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Rating{}, false, pgutil.Translate(err)
	}
	// Hidden already, without a comment, or no such rating.
	r, err = scanRating(s.db.QueryRow(ctx, `SELECT `+ratingColumns+` FROM chat_ratings WHERE id = $1`, id))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return Rating{}, false, fmt.Errorf("rating %s: %w", id, ErrNotFound)
	case err != nil:
		return Rating{}, false, pgutil.Translate(err)
	case r.Comment == nil && !r.CommentHidden():
		return Rating{}, false, fmt.Errorf("rating %s has no comment to hide: %w", id, ErrInvalidState)
	}
	return r, false, nil
}

func (s *PostgresStore) RatingSummaries(ctx context.Context, mitraIDs []uuid.UUID) (map[uuid.UUID]RatingSummary, error) {
	out := make(map[uuid.UUID]RatingSummary, len(mitraIDs))
	for _, id := range mitraIDs {
		out[id] = SummaryOf(0, 0)
	}
	if len(mitraIDs) == 0 {
		return out, nil
	}
	rows, err := s.db.Query(ctx, "SELECT mitra_id, ratings, stars_sum FROM mitra_rating_totals WHERE mitra_id = ANY($1)", uuidArray(mitraIDs))
	if err != nil {
		return nil, pgutil.Translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var n int
		var sum int64
		if err := rows.Scan(&id, &n, &sum); err != nil {
			return nil, pgutil.Translate(err)
		}
		out[id] = SummaryOf(n, sum)
	}
	if err := rows.Err(); err != nil {
		return nil, pgutil.Translate(err)
	}
	return out, nil
}

// eraseRatingComments clears the comments of the client's ratings (chat_ratings_client_idx),
// in the transaction of its erasure: the words were the client's, the stars stay.
func eraseRatingComments(ctx context.Context, tx pgx.Tx, clientID uuid.UUID) error {
	_, err := tx.Exec(ctx, "UPDATE chat_ratings SET comment = NULL WHERE client_id = $1 AND comment IS NOT NULL", clientID)
	return err
}

package pairing

import (
	"context"

	sq "github.com/Masterminds/squirrel"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
)

// PairingsOfClient reads the index pairings_client_idx (client_id, created_at DESC).
func (s *PostgresStore) PairingsOfClient(ctx context.Context, clientID uuid.UUID, limit int) ([]Pairing, error) {
	out, err := queryAll(ctx, s.db, pgutil.SQL.Select(pairingColumns).From("pairings").
		Where(sq.Eq{"client_id": clientID}).OrderBy("created_at DESC", "id DESC").Limit(uint64(max(limit, 0))), scanPairing)
	return out, pgutil.Translate(err)
}

// OfferWaves reads the offers through their primary key (pairing_id, mitra_id).
func (s *PostgresStore) OfferWaves(ctx context.Context, pairingIDs []uuid.UUID) ([]OfferWave, error) {
	out, err := queryAll(ctx, s.db, pgutil.SQL.Select("pairing_id", "created_at", "count(*)").From("pairing_offers").
		Where("pairing_id = ANY(?)", pairingIDs).GroupBy("pairing_id", "created_at").OrderBy("created_at", "pairing_id"),
		func(row pgx.Row) (OfferWave, error) {
			var w OfferWave
			err := row.Scan(&w.PairingID, &w.At, &w.Count)
			w.At = w.At.UTC()
			return w, err
		})
	return out, pgutil.Translate(err)
}

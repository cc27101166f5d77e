package pairing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	sq "github.com/Masterminds/squirrel"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
)

// The blocks of the Postgres store (BlockStore), on pairing_blocks: one row per side that
// blocked a pair, keyed (client_id, mitra_id, blocked_by). The offers and the accept read
// the key in the statements they run anyway (InsertOffers, PairingsToOffer, OfferQueued,
// AcceptOffer), and a blast reads the client's blocked mitras with the mitras it offered
// (ExcludedMitras): a block costs no statement on those paths.

const blockColumns = "client_id, mitra_id, blocked_by, created_at"

func scanBlock(row pgx.Row) (Block, error) {
	var b Block
	var by string
	err := row.Scan(&b.ClientID, &b.MitraID, &by, &b.CreatedAt)
	b.BlockedBy, b.CreatedAt = Party(by), b.CreatedAt.UTC()
	return b, err
}

// PutBlock serialises with every write that could offer the pair, so that once it
// committed no offer between the pair is live and none is made: it locks the client's row
// (as CreatePairing does: no new pairing meanwhile), its active chat sessions (as Reroute
// does before it inserts the prepaid blast that continues one) and its open pairings (as
// InsertOffers, OfferQueued and AcceptOffer do), then inserts the block and dismisses the
// pair's live offers. An offer made before the lock is dismissed; one made after it sees
// the block.
func (s *PostgresStore) PutBlock(ctx context.Context, b Block) (BlockResult, error) {
	if err := validParty("blocked_by", b.BlockedBy); err != nil {
		return BlockResult{}, err
	}
	var res BlockResult
	err := pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, "SELECT 1 FROM clients WHERE id = $1 FOR NO KEY UPDATE", b.ClientID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("client %s: %w", b.ClientID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SELECT 1 FROM chat_sessions WHERE client_id = $1 AND status = 'active' FOR SHARE", b.ClientID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SELECT 1 FROM pairings WHERE client_id = $1 AND status = ANY($2) ORDER BY id FOR UPDATE",
			b.ClientID, openStatusStrings()); err != nil {
			return err
		}
		res.Block, err = queryOne(ctx, tx, pgutil.SQL.Insert("pairing_blocks").Columns("client_id", "mitra_id", "blocked_by", "created_at").
			Values(b.ClientID, b.MitraID, string(b.BlockedBy), b.CreatedAt).
			Suffix("ON CONFLICT (client_id, mitra_id, blocked_by) DO NOTHING RETURNING "+blockColumns), scanBlock)
		if errors.Is(err, pgx.ErrNoRows) {
			// That side blocked the pair before: its offers were dismissed then.
			res.Block, err = queryOne(ctx, tx, pgutil.SQL.Select(blockColumns).From("pairing_blocks").
				Where(sq.Eq{"client_id": b.ClientID, "mitra_id": b.MitraID, "blocked_by": string(b.BlockedBy)}), scanBlock)
			return err
		}
		if err != nil {
			return err
		}
		res.Created = true
		res.Dismissed, err = queryAll(ctx, tx, pgutil.SQL.Update("pairing_offers o").
			Set("status", string(OfferDismissed)).Set("updated_at", b.CreatedAt).
			From("pairings p").
			Where("p.id = o.pairing_id").
			Where(sq.Eq{"p.client_id": b.ClientID, "o.mitra_id": b.MitraID, "o.status": string(OfferOffered)}).
			Suffix("RETURNING "+pgutil.Qualified("p", strings.Split(pairingColumns, ", "))), scanPairing)
		return err
	})
	if err != nil {
		return BlockResult{}, pgutil.Translate(err)
	}
	slices.SortFunc(res.Dismissed, oldestPairingFirst)
	return res, nil
}

func (s *PostgresStore) DeleteBlock(ctx context.Context, by Party, clientID, mitraID uuid.UUID) (bool, error) {
	tag, err := s.db.Exec(ctx, "DELETE FROM pairing_blocks WHERE client_id = $1 AND mitra_id = $2 AND blocked_by = $3",
		clientID, mitraID, string(by))
	if err != nil {
		return false, pgutil.Translate(err)
	}
	return tag.RowsAffected() > 0, nil
}

func (s *PostgresStore) ListBlocks(ctx context.Context, by Party, id uuid.UUID, limit int) ([]Block, error) {
	owner := "client_id"
	if by == PartyMitra {
		owner = "mitra_id"
	}
	b := pgutil.SQL.Select(blockColumns).From("pairing_blocks").
		Where(sq.Eq{owner: id, "blocked_by": string(by)}).
		OrderBy("created_at DESC", "client_id DESC", "mitra_id DESC")
	if limit > 0 {
		b = b.Limit(uint64(limit))
	}
	blocks, err := queryAll(ctx, s.db, b, scanBlock)
	return blocks, pgutil.Translate(err)
}

func (s *PostgresStore) Blocked(ctx context.Context, clientID, mitraID uuid.UUID) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pairing_blocks WHERE client_id = $1 AND mitra_id = $2)",
		clientID, mitraID).Scan(&ok)
	return ok, pgutil.Translate(err)
}

func (s *PostgresStore) ExcludedMitras(ctx context.Context, pairingID, clientID uuid.UUID) ([]uuid.UUID, error) {
	rows, err := s.db.Query(ctx, `SELECT mitra_id FROM pairing_offers WHERE pairing_id = $1
		UNION SELECT mitra_id FROM pairing_blocks WHERE client_id = $2`, pairingID, clientID)
	if err != nil {
		return nil, pgutil.Translate(err)
	}
	ids, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (uuid.UUID, error) { return scanUUID(r) })
	return ids, pgutil.Translate(err)
}

func (s *PostgresStore) HadSession(ctx context.Context, clientID, mitraID uuid.UUID) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM chat_sessions WHERE client_id = $1 AND mitra_id = $2)",
		clientID, mitraID).Scan(&ok)
	return ok, pgutil.Translate(err)
}

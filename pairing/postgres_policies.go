package pairing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	sq "github.com/Masterminds/squirrel"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
)

// The pairing policies of the Postgres store (PolicyStore): the queue is read through
// pairings_queue_idx (paid_at, id WHERE status = 'queued'), per-mitra counts live in
// pairing_mitra_stats, the wait estimate in the one row of pairing_queue_estimate.

// queueLockKey is the advisory lock that orders the mirroring of queue changes
// (LockQueueEntries, shared) against a rebuild (SnapshotQueue, exclusive): "pq" + 1.
const queueLockKey int64 = 0x7071_0001

// liveQueuedOffer is a live offer of a queued pairing (the alias o for pairing_offers): it
// holds a slot until its own deadline.
const liveQueuedOffer = "o.status = 'offered' AND o.expires_at > $1"

func (s *PostgresStore) QueueLength(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, "SELECT count(*) FROM pairings WHERE status = 'queued'").Scan(&n)
	return n, pgutil.Translate(err)
}

func (s *PostgresStore) QueuePosition(ctx context.Context, id uuid.UUID) (int, error) {
	var status string
	var ahead int
	err := s.db.QueryRow(ctx, `SELECT p.status, (SELECT count(*) FROM pairings q
			WHERE q.status = 'queued' AND (q.paid_at, q.id) < (p.paid_at, p.id))
		FROM pairings p WHERE p.id = $1`, id).Scan(&status, &ahead)
	if err != nil {
		return 0, pgutil.Translate(err)
	}
	if Status(status) != StatusQueued {
		return 0, fmt.Errorf("pairing %s is %s, not queued: %w", id, status, ErrInvalidState)
	}
	return ahead + 1, nil
}

func (s *PostgresStore) ListQueue(ctx context.Context, limit int) ([]Pairing, error) {
	b := pgutil.SQL.Select(pairingColumns).From("pairings").Where(sq.Eq{"status": string(StatusQueued)}).
		OrderBy("paid_at", "id")
	if limit > 0 {
		b = b.Limit(uint64(limit))
	}
	ps, err := queryAll(ctx, s.db, b, scanPairing)
	return ps, pgutil.Translate(err)
}

func (s *PostgresStore) OfferQueued(ctx context.Context, q OfferQueuedParams) (OfferQueuedResult, error) {
	var res OfferQueuedResult
	err := pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
		// The lock of the mitra's accepts: its free slots cannot change meanwhile.
		var active bool
		var own *int
		err := tx.QueryRow(ctx, "SELECT is_active, max_concurrent_sessions FROM mitras WHERE id = $1 FOR NO KEY UPDATE",
			q.MitraID).Scan(&active, &own)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("mitra %s: %w", q.MitraID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if active {
			maxSessions := q.DefaultMaxSessions
			if own != nil {
				maxSessions = *own
			}
			var used int
			if err := tx.QueryRow(ctx, `SELECT
					(SELECT count(*) FROM chat_sessions WHERE mitra_id = $2 AND status IN ('active', 'pending_payment')) +
					(SELECT count(*) FROM pairing_offers o JOIN pairings p ON p.id = o.pairing_id
						WHERE o.mitra_id = $2 AND p.status = 'queued' AND `+liveQueuedOffer+`)`,
				q.Now, q.MitraID).Scan(&used); err != nil {
				return err
			}
			free := maxSessions - used
			if free > 0 {
				// The head of the queue that nobody holds and this mitra may take. SKIP
				// LOCKED: a pairing another instance is offering (or accepting, or
				// cancelling) right now is passed over, never offered twice at once.
				heads, err := queryAll(ctx, tx, pgutil.SQL.Select(pgutil.Qualified("p", strings.Split(pairingColumns, ", "))).From("pairings p").
					Where("p.status = 'queued' AND p.expires_at > ?", q.Now).
					Where("NOT EXISTS (SELECT 1 FROM pairing_offers o WHERE o.pairing_id = p.id AND o.status = 'offered' AND o.expires_at > ?)", q.Now).
					Where(`NOT EXISTS (SELECT 1 FROM pairing_offers o WHERE o.pairing_id = p.id AND o.mitra_id = ?
						AND o.status IN ('offered', 'declined', 'accepted'))`, q.MitraID).
					Where("NOT EXISTS (SELECT 1 FROM pairing_blocks b WHERE b.client_id = p.client_id AND b.mitra_id = ?)", q.MitraID).
					OrderBy("p.paid_at", "p.id").Limit(uint64(free)).Suffix("FOR UPDATE OF p SKIP LOCKED"), scanPairing)
				if err != nil {
					return err
				}
				for _, p := range heads {
					deadline := q.Now.Add(q.OfferTTL)
					if p.ExpiresAt.Before(deadline) {
						deadline = *p.ExpiresAt
					}
					// The read above saw the offers as they were when it began; another
					// instance's offer of this pairing may have committed before its row
					// lock was taken here. This statement begins after the lock: it sees
					// that offer, and then offers nothing.
					tag, err := tx.Exec(ctx, `INSERT INTO pairing_offers (pairing_id, mitra_id, status, expires_at, created_at, updated_at)
						SELECT $1, $2, 'offered', $3, $4, $4
						WHERE NOT EXISTS (SELECT 1 FROM pairing_offers o WHERE o.pairing_id = $1 AND o.status = 'offered' AND o.expires_at > $4)
						ON CONFLICT (pairing_id, mitra_id) DO UPDATE SET status = 'offered', expires_at = $3, updated_at = $4`,
						p.ID, q.MitraID, deadline, q.Now)
					if err != nil {
						return err
					}
					if tag.RowsAffected() > 0 {
						res.Offered = append(res.Offered, QueuedOffer{Pairing: p, ExpiresAt: deadline})
					}
				}
				res.FreeSlots = free - len(res.Offered)
			}
		}
		return tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pairings p
			WHERE p.status = 'queued' AND p.expires_at > $1
			AND NOT EXISTS (SELECT 1 FROM pairing_offers o WHERE o.pairing_id = p.id AND `+liveQueuedOffer+`))`,
			q.Now).Scan(&res.Waiting)
	})
	if err != nil {
		return OfferQueuedResult{}, pgutil.Translate(err)
	}
	return res, nil
}

func scanOfferRef(row pgx.CollectableRow) (OfferRef, error) {
	var r OfferRef
	err := row.Scan(&r.PairingID, &r.MitraID)
	return r, err
}

func (s *PostgresStore) ExpireLapsedOffers(ctx context.Context, q LapsedOffersParams) ([]OfferRef, error) {
	// Row locks skipped, not waited for: each lapse is taken by exactly one caller, and
	// the status guard of the UPDATE drops one accepted or declined meanwhile.
	var limit *int
	if q.Limit > 0 {
		limit = &q.Limit
	}
	rows, err := s.db.Query(ctx, `WITH d AS (UPDATE pairing_offers SET status = 'expired', updated_at = $1
		WHERE status = 'offered' AND (pairing_id, mitra_id) IN (
			SELECT pairing_id, mitra_id FROM pairing_offers
			WHERE status = 'offered' AND expires_at IS NOT NULL AND expires_at <= $1
				AND ($2::uuid IS NULL OR pairing_id = $2)
			ORDER BY expires_at, pairing_id, mitra_id LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING pairing_id, mitra_id) `+countAnswers("offers_lapsed", "$1")+` SELECT pairing_id, mitra_id FROM d`,
		q.Now, q.PairingID, limit)
	if err != nil {
		return nil, pgutil.Translate(err)
	}
	refs, err := pgx.CollectRows(rows, scanOfferRef)
	return refs, pgutil.Translate(err)
}

func (s *PostgresStore) LockQueueEntries(ctx context.Context, ids []uuid.UUID, fn func([]QueueEntry) error) error {
	return pgutil.Translate(pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock_shared($1)", queueLockKey); err != nil {
			return err
		}
		// FOR SHARE holds back the transitions of these pairings (they update the row)
		// until fn mirrored what this read.
		rows, err := tx.Query(ctx, `SELECT id, status = 'queued', COALESCE(paid_at, created_at) FROM pairings
			WHERE id = ANY($1) ORDER BY id FOR SHARE`, ids)
		if err != nil {
			return err
		}
		entries, err := pgx.CollectRows(rows, scanQueueEntry)
		if err != nil {
			return err
		}
		return fn(entries)
	}))
}

func scanQueueEntry(row pgx.CollectableRow) (QueueEntry, error) {
	var e QueueEntry
	err := row.Scan(&e.ID, &e.Queued, &e.PaidAt)
	e.PaidAt = e.PaidAt.UTC()
	return e, err
}

func (s *PostgresStore) SnapshotQueue(ctx context.Context, fn func([]QueueEntry) error) error {
	return pgutil.Translate(pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", queueLockKey); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, true, COALESCE(paid_at, created_at) FROM pairings
			WHERE status = 'queued' ORDER BY paid_at, id`)
		if err != nil {
			return err
		}
		entries, err := pgx.CollectRows(rows, scanQueueEntry)
		if err != nil {
			return err
		}
		return fn(entries)
	}))
}

func (s *PostgresStore) AdvanceRing(ctx context.Context, r RingParams) (Pairing, error) {
	p, err := queryOne(ctx, s.db, pgutil.SQL.Update("pairings").
		Set("rings", r.From+1).Set("next_ring_at", r.NextRingAt).Set("updated_at", r.Now).
		Where(sq.Eq{"id": r.ID, "status": string(StatusSearching), "rings": r.From}).
		Suffix("RETURNING "+pairingColumns), scanPairing)
	if errors.Is(err, pgx.ErrNoRows) {
		cur, gerr := s.GetPairing(ctx, r.ID)
		if gerr != nil {
			return Pairing{}, gerr
		}
		return Pairing{}, fmt.Errorf("pairing %s is %s at ring %d: %w", r.ID, cur.Status, cur.Rings, ErrInvalidState)
	}
	return p, pgutil.Translate(err)
}

func (s *PostgresStore) RecordMissedOffers(ctx context.Context, mitraIDs []uuid.UUID, now time.Time) ([]MissedOffers, error) {
	if len(mitraIDs) == 0 {
		return nil, nil
	}
	// One statement: the additions per mitra, upserted in id order (two callers counting
	// the same mitras lock their rows in the same order).
	rows, err := s.db.Query(ctx, `INSERT INTO pairing_mitra_stats (mitra_id, missed_offers, updated_at)
		SELECT m, count(*), $2 FROM unnest($1::uuid[]) AS m GROUP BY m ORDER BY m
		ON CONFLICT (mitra_id) DO UPDATE SET missed_offers = pairing_mitra_stats.missed_offers + EXCLUDED.missed_offers,
			updated_at = EXCLUDED.updated_at
		RETURNING mitra_id, missed_offers`, uuidArray(mitraIDs), now)
	if err != nil {
		return nil, pgutil.Translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (MissedOffers, error) {
		var m MissedOffers
		err := r.Scan(&m.MitraID, &m.Missed)
		return m, err
	})
	return out, pgutil.Translate(err)
}

func (s *PostgresStore) ResetMissedOffers(ctx context.Context, mitraID uuid.UUID, now time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE pairing_mitra_stats SET missed_offers = 0, updated_at = $2
		WHERE mitra_id = $1 AND missed_offers > 0`, mitraID, now)
	return pgutil.Translate(err)
}

func (s *PostgresStore) MarkIdle(ctx context.Context, mitraID uuid.UUID, at time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO pairing_mitra_stats (mitra_id, idle_since, updated_at) VALUES ($1, $2, $2)
		ON CONFLICT (mitra_id) DO UPDATE SET idle_since = GREATEST(pairing_mitra_stats.idle_since, EXCLUDED.idle_since),
			updated_at = EXCLUDED.updated_at`, mitraID, at)
	return pgutil.Translate(err)
}

func (s *PostgresStore) IdleOrder(ctx context.Context, mitraIDs []uuid.UUID, limit int) ([]uuid.UUID, error) {
	if len(mitraIDs) == 0 {
		return nil, nil
	}
	sql := `SELECT m FROM (SELECT DISTINCT m FROM unnest($1::uuid[]) AS m) ids
		LEFT JOIN pairing_mitra_stats s ON s.mitra_id = ids.m
		ORDER BY s.idle_since NULLS FIRST, m`
	args := []any{uuidArray(mitraIDs)}
	if limit > 0 {
		sql += " LIMIT $2"
		args = append(args, limit)
	}
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, pgutil.Translate(err)
	}
	ids, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (uuid.UUID, error) { return scanUUID(r) })
	return ids, pgutil.Translate(err)
}

func (s *PostgresStore) RecordQueueWait(ctx context.Context, wait time.Duration, at time.Time) (time.Duration, error) {
	var e float64
	err := s.db.QueryRow(ctx, `INSERT INTO pairing_queue_estimate (id, wait_seconds, samples, updated_at) VALUES (true, $1, 1, $2)
		ON CONFLICT (id) DO UPDATE SET wait_seconds = 0.9 * pairing_queue_estimate.wait_seconds + 0.1 * EXCLUDED.wait_seconds,
			samples = pairing_queue_estimate.samples + 1, updated_at = EXCLUDED.updated_at
		RETURNING wait_seconds`, max(wait, 0).Seconds(), at).Scan(&e)
	if err != nil {
		return 0, pgutil.Translate(err)
	}
	return secondsDuration(e), nil
}

func (s *PostgresStore) QueueWaitEstimate(ctx context.Context) (time.Duration, bool, error) {
	var e float64
	err := s.db.QueryRow(ctx, "SELECT wait_seconds FROM pairing_queue_estimate WHERE id").Scan(&e)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, pgutil.Translate(err)
	}
	return secondsDuration(e), true, nil
}

// secondsDuration is a duration of s seconds, to the microsecond.
func secondsDuration(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(time.Microsecond)
}

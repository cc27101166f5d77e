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
	"github.com/curhat/curhat/internal/sessionsql"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/ledger"
)

// PostgresStore is the Store on the pairings, pairing_offers, chat_sessions and
// pairing_failures tables (pgx + squirrel). It reads mitras (is_active,
// max_concurrent_sessions) and locks rows of mitras and clients to serialise accepts per
// mitra and new pairings per client. A transition that owes a refund records it in its own
// transaction with payment.RecordRefundTx (payment_refunds, locking the payment rows).
type PostgresStore struct {
	db DB
}

var _ Store = (*PostgresStore)(nil)

// NewPostgresStore returns a Store on db (a *pgxpool.Pool, or a pgx.Tx whose commit or
// rollback decides the store's writes), whose schema must be migrated (curhat.Migrate).
func NewPostgresStore(db DB) *PostgresStore { return &PostgresStore{db: db} }

// WithTx returns a copy of s whose every statement runs in tx, the caller's transaction.
func (s *PostgresStore) WithTx(tx pgx.Tx) *PostgresStore { return &PostgresStore{db: tx} }

const (
	pairingColumns = "id, client_id, type, target_mitra_id, status, minutes, payment_session_id, prepaid, expires_at, " +
		"matched_mitra_id, chat_session_id, failure_reason, paid_at, queued_at, rings, next_ring_at, created_at, updated_at, closed_at, " +
		"preferences, routing_steps, routing_step, next_step_at"
	sessionColumns = sessionsql.Columns
	failureColumns = "id, pairing_id, client_id, type, target_mitra_id, reason, offered_count, amount, refund_status, " +
		"status, resolved_by, resolved_at, note, created_at"
)

func scanPairing(row pgx.Row) (Pairing, error) {
	var p Pairing
	var typ, status string
	var reason *string
	var prefs, steps []byte
	var step int16
	if err := row.Scan(&p.ID, &p.ClientID, &typ, &p.TargetMitraID, &status, &p.Minutes, &p.PaymentSessionID, &p.Prepaid,
		&p.ExpiresAt, &p.MatchedMitraID, &p.ChatSessionID, &reason, &p.PaidAt, &p.QueuedAt, &p.Rings, &p.NextRingAt,
		&p.CreatedAt, &p.UpdatedAt, &p.ClosedAt, &prefs, &steps, &step, &p.NextStepAt); err != nil {
		return Pairing{}, err
	}
	if err := decodeRouting(&p, prefs, steps); err != nil {
		return Pairing{}, err
	}
	p.RoutingStep = int(step)
	p.NextStepAt = pgutil.UTCPtr(p.NextStepAt)
	p.Type, p.Status, p.FailureReason = Type(typ), Status(status), Reason(pgutil.Deref(reason))
	p.ExpiresAt, p.PaidAt, p.QueuedAt, p.NextRingAt = pgutil.UTCPtr(p.ExpiresAt), pgutil.UTCPtr(p.PaidAt),
		pgutil.UTCPtr(p.QueuedAt), pgutil.UTCPtr(p.NextRingAt)
	p.ClosedAt = pgutil.UTCPtr(p.ClosedAt)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, nil
}

func scanSession(row pgx.Row) (ChatSession, error) {
	s, err := sessionsql.Scan[SessionStatus, EndReason](row)
	return ChatSession(s), err
}

func scanFailure(row pgx.Row) (Failure, error) {
	var f Failure
	var typ, reason, refund, status string
	var by, note *string
	if err := row.Scan(&f.ID, &f.PairingID, &f.ClientID, &typ, &f.TargetMitraID, &reason, &f.OfferedCount, &f.Amount,
		&refund, &status, &by, &f.ResolvedAt, &note, &f.CreatedAt); err != nil {
		return Failure{}, err
	}
	f.Type, f.Reason, f.RefundStatus, f.Status = Type(typ), Reason(reason), RefundStatus(refund), FailureStatus(status)
	f.ResolvedBy, f.Note = pgutil.Deref(by), pgutil.Deref(note)
	f.ResolvedAt = pgutil.UTCPtr(f.ResolvedAt)
	f.CreatedAt = f.CreatedAt.UTC()
	return f, nil
}

func statusStrings[T ~string](ss []T) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

func openStatusStrings() []string { return statusStrings(OpenStatuses) }

// queryOne runs a built statement returning at most one row.
func queryOne[T any](ctx context.Context, db pgutil.DB, b sq.Sqlizer, scan func(pgx.Row) (T, error)) (T, error) {
	sql, args, err := b.ToSql()
	if err != nil {
		var zero T
		return zero, err
	}
	return scan(db.QueryRow(ctx, sql, args...))
}

func queryAll[T any](ctx context.Context, db pgutil.DB, b sq.Sqlizer, scan func(pgx.Row) (T, error)) ([]T, error) {
	sql, args, err := b.ToSql()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
}

func scanUUID(row pgx.Row) (uuid.UUID, error) {
	var id uuid.UUID
	err := row.Scan(&id)
	return id, err
}

func (s *PostgresStore) getPairing(ctx context.Context, db pgutil.DB, id uuid.UUID, lock string) (Pairing, error) {
	q := pgutil.SQL.Select(pairingColumns).From("pairings").Where(sq.Eq{"id": id})
	if lock != "" {
		q = q.Suffix(lock)
	}
	return queryOne(ctx, db, q, scanPairing)
}

func (s *PostgresStore) CreatePairing(ctx context.Context, p Pairing) (Pairing, error) {
	var out Pairing
	err := pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
		// Serialise the open-pairing check per client (NO KEY UPDATE: foreign-key checks
		// of other inserts that reference the client are not blocked). The lock reads the
		// suspension too: a suspension that commits first is seen, one that commits after
		// waits for this pairing (an operator ends it separately).
		var active bool
		if err := tx.QueryRow(ctx, "SELECT is_active FROM clients WHERE id = $1 FOR NO KEY UPDATE", p.ClientID).Scan(&active); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("client %s: %w", p.ClientID, ErrNotFound)
			}
			return err
		}
		if !active {
			return fmt.Errorf("client %s: %w", p.ClientID, ErrClientSuspended)
		}
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pairings WHERE id = $1)", p.ID).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return fmt.Errorf("pairing %s exists: %w", p.ID, ErrConflict)
		}
		var open uuid.UUID
		err := tx.QueryRow(ctx, "SELECT id FROM pairings WHERE client_id = $1 AND status = ANY($2) LIMIT 1",
			p.ClientID, openStatusStrings()).Scan(&open)
		if err == nil {
			return fmt.Errorf("client %s already has an open pairing %s: %w", p.ClientID, open, ErrInvalidState)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		out, err = insertPairing(ctx, tx, p)
		return err
	})
	return out, err
}

func insertPairing(ctx context.Context, db pgutil.DB, p Pairing) (Pairing, error) {
	return queryOne(ctx, db, pgutil.SQL.Insert("pairings").
		Columns("id", "client_id", "type", "target_mitra_id", "status", "minutes", "payment_session_id", "prepaid",
			"expires_at", "matched_mitra_id", "chat_session_id", "failure_reason", "paid_at", "queued_at", "rings",
			"next_ring_at", "created_at", "updated_at", "closed_at", "preferences", "routing_steps", "routing_step", "next_step_at").
		Values(p.ID, p.ClientID, string(p.Type), p.TargetMitraID, string(p.Status), p.Minutes, p.PaymentSessionID, p.Prepaid,
			p.ExpiresAt, p.MatchedMitraID, p.ChatSessionID, pgutil.Nullable(string(p.FailureReason)), p.PaidAt, p.QueuedAt,
			p.Rings, p.NextRingAt, p.CreatedAt, p.UpdatedAt, p.ClosedAt, jsonOrNull(p.Preferences), jsonOrNull(p.RoutingSteps),
			p.RoutingStep, p.NextStepAt).
		Suffix("RETURNING "+pairingColumns), scanPairing)
}

func (s *PostgresStore) GetPairing(ctx context.Context, id uuid.UUID) (Pairing, error) {
	p, err := s.getPairing(ctx, s.db, id, "")
	return p, pgutil.Translate(err)
}

func (s *PostgresStore) ListPairings(ctx context.Context, q PairingQuery) ([]Pairing, error) {
	b := pgutil.SQL.Select(pairingColumns).From("pairings").OrderBy("created_at", "id")
	if len(q.Statuses) > 0 {
		b = b.Where(sq.Eq{"status": statusStrings(q.Statuses)})
	}
	if q.DueBy != nil {
		b = b.Where(sq.LtOrEq{"expires_at": *q.DueBy})
	}
	if q.UpdatedBefore != nil {
		b = b.Where(sq.Lt{"updated_at": *q.UpdatedBefore})
	}
	if q.WithoutPayment {
		b = b.Where(sq.Eq{"payment_session_id": nil})
	}
	if q.RingDueBy != nil {
		b = b.Where(sq.LtOrEq{"next_ring_at": *q.RingDueBy})
	}
	if q.StepDueBy != nil {
		b = b.Where(sq.LtOrEq{"next_step_at": *q.StepDueBy})
	}
	if q.Limit > 0 {
		b = b.Limit(uint64(q.Limit))
	}
	ps, err := queryAll(ctx, s.db, b, scanPairing)
	return ps, pgutil.Translate(err)
}

func (s *PostgresStore) AttachPayment(ctx context.Context, pairingID, paymentID uuid.UUID, now time.Time) (Pairing, error) {
	p, err := queryOne(ctx, s.db, pgutil.SQL.Update("pairings").
		Set("payment_session_id", paymentID).Set("updated_at", now).
		Where(sq.Eq{"id": pairingID}).
		Where(sq.Or{sq.Eq{"payment_session_id": nil}, sq.Eq{"payment_session_id": paymentID}}).
		Suffix("RETURNING "+pairingColumns), scanPairing)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, gerr := s.GetPairing(ctx, pairingID); gerr != nil {
			return Pairing{}, gerr
		}
		return Pairing{}, fmt.Errorf("pairing %s has another payment: %w", pairingID, ErrInvalidState)
	}
	return p, pgutil.Translate(err)
}

func (s *PostgresStore) Transition(ctx context.Context, t PairingTransition) (TransitionResult, error) {
	var res TransitionResult
	err := pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
		b := pgutil.SQL.Update("pairings").Set("status", string(t.To)).Set("updated_at", t.Now).
			Where(sq.Eq{"id": t.ID, "status": statusStrings(t.From)})
		if t.DueBy != nil {
			b = b.Where(sq.LtOrEq{"expires_at": *t.DueBy})
		}
		if t.ExpiresAt != nil {
			b = b.Set("expires_at", *t.ExpiresAt)
		}
		if t.FailureReason != "" {
			b = b.Set("failure_reason", string(t.FailureReason))
		}
		if t.PaidAt != nil {
			b = b.Set("paid_at", *t.PaidAt)
		}
		if t.To == StatusQueued {
			b = b.Set("queued_at", sq.Expr("COALESCE(queued_at, ?::timestamptz)", t.Now))
			if t.PaidAt == nil {
				b = b.Set("paid_at", sq.Expr("COALESCE(paid_at, ?::timestamptz)", t.Now))
			}
		}
		if t.To != StatusSearching {
			b = b.Set("next_ring_at", nil).Set("next_step_at", nil)
		}
		if r := t.Routing; r != nil {
			b = b.Set("routing_steps", jsonOrNull(r.Steps)).Set("routing_step", r.Step).Set("next_step_at", r.NextStepAt)
		}
		if t.To.Final() {
			b = b.Set("closed_at", t.Now)
		}
		p, err := queryOne(ctx, tx, b.Suffix("RETURNING "+pairingColumns), scanPairing)
		if errors.Is(err, pgx.ErrNoRows) {
			cur, gerr := s.getPairing(ctx, tx, t.ID, "")
			if gerr != nil {
				return gerr
			}
			return fmt.Errorf("pairing %s is %s: %w", t.ID, cur.Status, ErrInvalidState)
		}
		if err != nil {
			return err
		}
		res.Pairing = p
		if t.Refund != nil {
			rec := payment.RefundRecord{RefundOrder: *t.Refund, At: t.Now}
			if res.Refunds, err = payment.RecordRefundTx(ctx, tx, rec); err != nil {
				return fmt.Errorf("record the refund of pairing %s: %w", t.ID, err)
			}
		}
		if t.OfferStatus != "" {
			q := pgutil.SQL.Update("pairing_offers").
				Set("status", string(t.OfferStatus)).Set("updated_at", t.Now).
				Where(sq.Eq{"pairing_id": t.ID, "status": string(OfferOffered)}).
				Suffix("RETURNING mitra_id")
			if t.OfferStatus == OfferExpired {
				q = q.Prefix("WITH d AS (").Suffix(") "+countAnswers("offers_lapsed", "?::timestamptz")+
					" SELECT mitra_id FROM d", t.Now)
			}
			if res.Closed, err = queryAll(ctx, tx, q, scanUUID); err != nil {
				return err
			}
		}
		if t.Failure != nil {
			f := t.Failure.WithRecordedRefunds(t.Refund, res.Refunds)
			if f.ID == uuid.Nil {
				f.ID = uuid.New()
			}
			f, err = queryOne(ctx, tx, pgutil.SQL.Insert("pairing_failures").
				Columns("id", "pairing_id", "client_id", "type", "target_mitra_id", "reason", "offered_count", "amount",
					"refund_status", "status", "created_at").
				Select(pgutil.SQL.Select().
					Column("?::uuid, ?::uuid, ?::uuid, ?, ?::uuid, ?", f.ID, p.ID, p.ClientID, string(p.Type), p.TargetMitraID, string(f.Reason)).
					Column("(SELECT count(*) FROM pairing_offers WHERE pairing_id = ?)", p.ID).
					Column("?::bigint, ?, 'open', ?::timestamptz", f.Amount, string(f.RefundStatus), t.Now)).
				Suffix("RETURNING "+failureColumns), scanFailure)
			if err != nil {
				return err
			}
			res.Failure = &f
		}
		return nil
	})
	return res, err
}

func (s *PostgresStore) FallbackToBlast(ctx context.Context, id uuid.UUID, now time.Time) (Pairing, error) {
	p, err := queryOne(ctx, s.db, pgutil.SQL.Update("pairings").
		Set("type", string(TypeBlast)).Set("status", string(StatusAwaitingPayment)).
		Set("payment_session_id", nil).Set("expires_at", nil).Set("failure_reason", nil).Set("updated_at", now).
		Where(sq.Eq{"id": id, "status": string(StatusTargetedUnavailable)}).
		Suffix("RETURNING "+pairingColumns), scanPairing)
	if errors.Is(err, pgx.ErrNoRows) {
		cur, gerr := s.GetPairing(ctx, id)
		if gerr != nil {
			return Pairing{}, gerr
		}
		return Pairing{}, fmt.Errorf("pairing %s is %s: %w", id, cur.Status, ErrInvalidState)
	}
	return p, pgutil.Translate(err)
}

func (s *PostgresStore) InsertOffers(ctx context.Context, pairingID uuid.UUID, mitraIDs []uuid.UUID, now time.Time) ([]uuid.UUID, error) {
	if len(mitraIDs) == 0 {
		return nil, nil
	}
	var offered []uuid.UUID
	err := pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
		// FOR SHARE waits for an accept or a transition holding the row, then sees its
		// outcome: offers are never added to a pairing that stopped waiting.
		p, err := s.getPairing(ctx, tx, pairingID, "FOR SHARE")
		if err != nil {
			return err
		}
		if !p.Status.Waiting() || p.ExpiresAt == nil || !p.ExpiresAt.After(now) {
			return nil
		}
		// A mitra blocked with the client is left out: a block that committed after the
		// caller chose the mitras still wins (PutBlock waits for this row lock).
		rows, err := tx.Query(ctx, `
			INSERT INTO pairing_offers (pairing_id, mitra_id, status, created_at, updated_at)
			SELECT $1, m, 'offered', $3, $3 FROM unnest($2::uuid[]) AS m
			WHERE NOT EXISTS (SELECT 1 FROM pairing_blocks b WHERE b.client_id = $4 AND b.mitra_id = m)
			ON CONFLICT (pairing_id, mitra_id) DO NOTHING
			RETURNING mitra_id`, pairingID, mitraIDs, now, p.ClientID)
		if err != nil {
			return err
		}
		offered, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (uuid.UUID, error) { return scanUUID(r) })
		return err
	})
	return offered, err
}

func (s *PostgresStore) OfferedMitras(ctx context.Context, pairingID uuid.UUID) ([]uuid.UUID, error) {
	ids, err := queryAll(ctx, s.db, pgutil.SQL.Select("mitra_id").From("pairing_offers").
		Where(sq.Eq{"pairing_id": pairingID}).OrderBy("created_at", "mitra_id"), scanUUID)
	return ids, pgutil.Translate(err)
}

func (s *PostgresStore) ListOffers(ctx context.Context, mitraID uuid.UUID, now time.Time) ([]Offer, error) {
	// An offer of a queued pairing ends at its own deadline; every other one at its
	// pairing's.
	const deadline = "LEAST(COALESCE(o.expires_at, p.expires_at), p.expires_at)"
	offers, err := queryAll(ctx, s.db, pgutil.SQL.
		Select("o.pairing_id", "p.type", "p.minutes", deadline, "o.created_at", "p.status = 'queued'", "c.id", "c.display_name").
		From("pairing_offers o").Join("pairings p ON p.id = o.pairing_id").Join("clients c ON c.id = p.client_id").
		Where(sq.Eq{"o.mitra_id": mitraID, "o.status": string(OfferOffered)}).
		Where(sq.Or{
			sq.Eq{"p.status": []string{string(StatusSearching), string(StatusTargetedWaiting)}},
			sq.And{sq.Eq{"p.status": string(StatusQueued)}, sq.NotEq{"o.expires_at": nil}},
		}).
		Where(deadline+" > ?", now).
		OrderBy(deadline, "p.created_at", "o.pairing_id"),
		func(row pgx.Row) (Offer, error) {
			var o Offer
			var typ string
			err := row.Scan(&o.PairingID, &typ, &o.Minutes, &o.ExpiresAt, &o.OfferedAt, &o.Queued, &o.ClientID, &o.ClientDisplayName)
			o.Type, o.ExpiresAt, o.OfferedAt = Type(typ), o.ExpiresAt.UTC(), o.OfferedAt.UTC()
			return o, err
		})
	return offers, pgutil.Translate(err)
}

func (s *PostgresStore) DeclineOffer(ctx context.Context, mitraID, pairingID uuid.UUID, now time.Time) (Pairing, error) {
	tag, err := s.db.Exec(ctx, `WITH d AS (UPDATE pairing_offers SET status = 'declined', updated_at = $3
		WHERE pairing_id = $1 AND mitra_id = $2 AND status = 'offered' RETURNING mitra_id) `+
		countAnswers("offers_declined", "$3")+` SELECT mitra_id FROM d`, pairingID, mitraID, now)
	if err != nil {
		return Pairing{}, pgutil.Translate(err)
	}
	if tag.RowsAffected() == 0 {
		return Pairing{}, fmt.Errorf("no live offer of pairing %s for mitra %s: %w", pairingID, mitraID, ErrNotFound)
	}
	return s.GetPairing(ctx, pairingID)
}

func (s *PostgresStore) PairingsToOffer(ctx context.Context, mitraID uuid.UUID, now time.Time, limit int) ([]Pairing, error) {
	b := pgutil.SQL.Select(pairingColumns).From("pairings p").
		Where(sq.Eq{"p.status": string(StatusSearching), "p.type": string(TypeBlast), "p.rings": 0}).
		Where(sq.Gt{"p.expires_at": now}).
		Where("NOT EXISTS (SELECT 1 FROM pairing_offers o WHERE o.pairing_id = p.id AND o.mitra_id = ?)", mitraID).
		Where("NOT EXISTS (SELECT 1 FROM pairing_blocks b WHERE b.client_id = p.client_id AND b.mitra_id = ?)", mitraID).
		OrderBy("p.created_at", "p.id")
	if limit > 0 {
		b = b.Limit(uint64(limit))
	}
	ps, err := queryAll(ctx, s.db, b, scanPairing)
	return ps, pgutil.Translate(err)
}

func (s *PostgresStore) AcceptOffer(ctx context.Context, a AcceptParams) (AcceptResult, error) {
	var res AcceptResult
	err := pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
		// One accept at a time per mitra: the capacity count below cannot be raced. The
		// lock also waits for an operator's deactivation in flight.
		var active bool
		var max *int
		err := tx.QueryRow(ctx, "SELECT is_active, max_concurrent_sessions FROM mitras WHERE id = $1 FOR NO KEY UPDATE",
			a.MitraID).Scan(&active, &max)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("mitra %s: %w", a.MitraID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		// Then the pairing: concurrent accepts of it, and its cancel or timeout, queue here.
		p, err := s.getPairing(ctx, tx, a.PairingID, "FOR UPDATE")
		if err != nil {
			return err
		}
		var offer string
		var offerExpires *time.Time
		var blocked bool
		err = tx.QueryRow(ctx, `SELECT status, expires_at,
				EXISTS (SELECT 1 FROM pairing_blocks WHERE client_id = $3 AND mitra_id = $2)
			FROM pairing_offers WHERE pairing_id = $1 AND mitra_id = $2`,
			a.PairingID, a.MitraID, p.ClientID).Scan(&offer, &offerExpires, &blocked)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("no offer for mitra %s: %w", a.MitraID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		var open int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM chat_sessions WHERE mitra_id = $1 AND status IN ('active', 'pending_payment')",
			a.MitraID).Scan(&open); err != nil {
			return err
		}
		limit := a.DefaultMaxSessions
		if max != nil {
			limit = *max
		}
		replay, err := CheckAccept(AcceptCheck{
			Pairing: p, MitraID: a.MitraID, Offer: OfferStatus(offer), OfferExpiresAt: offerExpires, Blocked: blocked,
			MitraActive: active, OpenSessions: open, MaxSessions: limit, Now: a.Now,
		})
		if err != nil {
			return err
		}
		if replay {
			sess, err := queryOne(ctx, tx, pgutil.SQL.Select(sessionColumns).From("chat_sessions").
				Where(sq.Eq{"id": *p.ChatSessionID}), scanSession)
			if err != nil {
				return err
			}
			res = AcceptResult{Pairing: p, Session: sess, Replayed: true}
			return nil
		}
		sess := NewAcceptedSession(p, a)
		if sess, err = queryOne(ctx, tx, pgutil.SQL.Insert("chat_sessions").
			Columns("id", "client_id", "mitra_id", "status", "minutes", "started_at", "ends_at", "pairing_id",
				"rerouted_from_id", "created_at", "updated_at").
			Values(sess.ID, sess.ClientID, sess.MitraID, string(sess.Status), sess.Minutes, sess.StartedAt, sess.EndsAt,
				sess.PairingID, sess.ReroutedFromID, sess.CreatedAt, sess.UpdatedAt).
			Suffix("RETURNING "+sessionColumns), scanSession); err != nil {
			return err
		}
		if p, err = queryOne(ctx, tx, pgutil.SQL.Update("pairings").
			Set("status", string(StatusMatched)).Set("matched_mitra_id", a.MitraID).Set("chat_session_id", sess.ID).
			Set("updated_at", a.Now).Set("closed_at", a.Now).Where(sq.Eq{"id": p.ID}).
			Suffix("RETURNING "+pairingColumns), scanPairing); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `WITH d AS (UPDATE pairing_offers SET status = 'accepted', updated_at = $3
			WHERE pairing_id = $1 AND mitra_id = $2 RETURNING mitra_id) `+countAnswers("offers_accepted", "$3")+
			` SELECT mitra_id FROM d`, p.ID, a.MitraID, a.Now); err != nil {
			return err
		}
		dismissed, err := queryAll(ctx, tx, pgutil.SQL.Update("pairing_offers").
			Set("status", string(OfferDismissed)).Set("updated_at", a.Now).
			Where(sq.Eq{"pairing_id": p.ID, "status": string(OfferOffered)}).
			Suffix("RETURNING mitra_id"), scanUUID)
		if err != nil {
			return err
		}
		res = AcceptResult{Pairing: p, Session: sess, Dismissed: dismissed}
		res.Released, err = releaseQueuedOffers(ctx, tx, a.MitraID, limit-open-1, a.Now)
		return err
	})
	return res, err
}

func (s *PostgresStore) MitraInfo(ctx context.Context, mitraID uuid.UUID) (MitraInfo, error) {
	var info MitraInfo
	var max *int
	err := s.db.QueryRow(ctx, `SELECT m.is_active, m.max_concurrent_sessions,
			(SELECT count(*) FROM chat_sessions c WHERE c.mitra_id = m.id AND c.status IN ('active', 'pending_payment'))
		FROM mitras m WHERE m.id = $1`, mitraID).Scan(&info.Active, &max, &info.OpenSessions)
	if err != nil {
		return MitraInfo{}, pgutil.Translate(err)
	}
	if max != nil {
		info.MaxConcurrentSessions = *max
	}
	return info, nil
}

func (s *PostgresStore) GetChatSession(ctx context.Context, id uuid.UUID) (ChatSession, error) {
	sess, err := queryOne(ctx, s.db, pgutil.SQL.Select(sessionColumns).From("chat_sessions").Where(sq.Eq{"id": id}), scanSession)
	return sess, pgutil.Translate(err)
}

func (s *PostgresStore) ListChatSessions(ctx context.Context, q ListSessionsParams) ([]ChatSession, error) {
	b := pgutil.SQL.Select(sessionColumns).From("chat_sessions").OrderBy("created_at DESC", "id DESC")
	if q.ClientID != nil {
		b = b.Where(sq.Eq{"client_id": *q.ClientID})
	}
	if q.MitraID != nil {
		b = b.Where(sq.Eq{"mitra_id": *q.MitraID})
	}
	if statuses := sessionStatuses(q); len(statuses) > 0 {
		b = b.Where(sq.Eq{"status": statusStrings(statuses)})
	}
	if len(q.EndReasons) > 0 {
		b = b.Where(sq.Eq{"end_reason": statusStrings(q.EndReasons)})
	}
	if q.EndsBy != nil {
		b = b.Where(sq.LtOrEq{"ends_at": *q.EndsBy})
	}
	if q.Limit > 0 {
		b = b.Limit(uint64(q.Limit))
	}
	ss, err := queryAll(ctx, s.db, b, scanSession)
	return ss, pgutil.Translate(err)
}

// sessionStatuses merges Status and Statuses of q.
func sessionStatuses(q ListSessionsParams) []SessionStatus {
	if q.Status == "" {
		return q.Statuses
	}
	return append([]SessionStatus{q.Status}, q.Statuses...)
}

func (s *PostgresStore) HasEndedSession(ctx context.Context, clientID, mitraID uuid.UUID) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM chat_sessions
		WHERE client_id = $1 AND mitra_id = $2 AND status = 'ended')`, clientID, mitraID).Scan(&ok)
	return ok, pgutil.Translate(err)
}

func (s *PostgresStore) CountOpenSessions(ctx context.Context) (OpenSessionCounts, error) {
	var n OpenSessionCounts
	err := s.db.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE status = 'active'), count(*) FILTER (WHERE status = 'pending_payment')
		FROM chat_sessions WHERE status IN ('active', 'pending_payment')`).Scan(&n.Active, &n.PendingPayment)
	return n, pgutil.Translate(err)
}

func (s *PostgresStore) ActivateChatSession(ctx context.Context, id uuid.UUID, startedAt, endsAt, now time.Time) (ChatSession, error) {
	return guardedSessionUpdate(ctx, s.db, id, pgutil.SQL.Update("chat_sessions").
		Set("status", string(SessionActive)).Set("started_at", startedAt).Set("ends_at", endsAt).Set("updated_at", now).
		Where(sq.Eq{"id": id, "status": string(SessionPendingPayment)}))
}

func (s *PostgresStore) EndChatSession(ctx context.Context, t SessionTransition) (ChatSession, error) {
	b := pgutil.SQL.Update("chat_sessions").
		Set("status", string(t.To)).Set("end_reason", pgutil.Nullable(string(t.Reason))).
		Set("ended_at", t.Now).Set("updated_at", t.Now).
		Where(sq.Eq{"id": t.ID, "status": statusStrings(t.From)})
	if t.DueBy != nil {
		b = b.Where(sq.LtOrEq{"ends_at": *t.DueBy})
	}
	if t.EndsAt != nil {
		b = b.Where(sq.Eq{"ends_at": *t.EndsAt})
	}
	if t.To != SessionEnded {
		return guardedSessionUpdate(ctx, s.db, t.ID, b)
	}
	// The value is posted to the ledger in the same statement (one round trip).
	query, args, err := b.Suffix("RETURNING " + sessionColumns).ToSql()
	if err != nil {
		return ChatSession{}, fmt.Errorf("build chat session update: %w", err)
	}
	n := len(args)
	clears := t.ClearsAt
	if clears.IsZero() {
		clears = t.Now
	}
	args = append(args, ledger.TxnID(ledger.KindSessionValue, t.ID), t.Now, clears)
	query = fmt.Sprintf(`WITH s AS (%s) SELECT %s FROM s
		WHERE ledger_post_session_value($%d, 'session_value', s.id, s.mitra_id, s.pairing_id, NULL, 0, s.minutes, $%d, $%d) IS NOT NULL`,
		query, sessionColumns, n+1, n+2, n+3)
	sess, err := scanSession(s.db.QueryRow(ctx, query, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return guardedSessionUpdate(ctx, s.db, t.ID, b) // matches nothing: says why
	}
	return sess, pgutil.Translate(err)
}

func (s *PostgresStore) CarryOver(ctx context.Context, pairingID uuid.UUID) ([]ledger.Part, bool, error) {
	parts, err := ledger.NewPostgresStore(s.db).CarryOver(ctx, pairingID)
	return parts, err == nil, err
}

// clearsAt is a transition's ClearsAt, or now when it has none.
func clearsAt(at, now time.Time) time.Time {
	if at.IsZero() {
		return now
	}
	return at
}

// guardedSessionUpdate runs a guarded session update: no row means ErrNotFound or
// ErrInvalidState.
func guardedSessionUpdate(ctx context.Context, db pgutil.DB, id uuid.UUID, b sq.UpdateBuilder) (ChatSession, error) {
	sess, err := queryOne(ctx, db, b.Suffix("RETURNING "+sessionColumns), scanSession)
	if errors.Is(err, pgx.ErrNoRows) {
		cur, gerr := queryOne(ctx, db, pgutil.SQL.Select(sessionColumns).From("chat_sessions").Where(sq.Eq{"id": id}), scanSession)
		if gerr != nil {
			return ChatSession{}, pgutil.Translate(gerr)
		}
		return ChatSession{}, sessionStateError(cur)
	}
	return sess, pgutil.Translate(err)
}

// sessionStateError says why a guarded session update matched nothing: the session as it
// is now.
func sessionStateError(cur ChatSession) error {
	if cur.EndsAt == nil {
		return fmt.Errorf("chat session %s is %s: %w", cur.ID, cur.Status, ErrInvalidState)
	}
	return fmt.Errorf("chat session %s is %s, %d minutes ending at %s: %w", cur.ID, cur.Status, cur.Minutes,
		cur.EndsAt.Format(time.RFC3339Nano), ErrInvalidState)
}

func (s *PostgresStore) Reroute(ctx context.Context, r RerouteParams) (ChatSession, Pairing, error) {
	var sess ChatSession
	var p Pairing
	err := pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		sess, err = guardedSessionUpdate(ctx, tx, r.SessionID, pgutil.SQL.Update("chat_sessions").
			Set("status", string(SessionEnded)).Set("end_reason", string(r.Reason)).
			Set("ended_at", r.Now).Set("updated_at", r.Now).
			Where(sq.Eq{"id": r.SessionID, "status": string(SessionActive), "ends_at": r.EndsAt, "minutes": r.Minutes}))
		if err != nil {
			return err
		}
		if p, err = insertPairing(ctx, tx, r.Pairing); err != nil {
			return err
		}
		return ledger.PostSessionValueTx(ctx, tx, ledger.SessionEnd{
			SessionID: sess.ID, MitraID: sess.MitraID, PairingID: sess.PairingID, CarryTo: &p.ID,
			CarryMinutes: p.Minutes, Minutes: sess.Minutes, At: r.Now, ClearsAt: clearsAt(r.ClearsAt, r.Now),
		})
	})
	return sess, p, err
}

func (s *PostgresStore) ListFailures(ctx context.Context, f FailureFilter) ([]Failure, int, error) {
	where := sq.And{}
	if f.Reason != "" {
		where = append(where, sq.Eq{"reason": f.Reason})
	}
	if f.Status != "" {
		where = append(where, sq.Eq{"status": f.Status})
	}
	if f.Type != "" {
		where = append(where, sq.Eq{"type": f.Type})
	}
	if f.PairingID != nil {
		where = append(where, sq.Eq{"pairing_id": *f.PairingID})
	}
	if f.RefundStatus != "" {
		where = append(where, sq.Eq{"refund_status": string(f.RefundStatus)})
	}
	if f.From != nil {
		where = append(where, sq.GtOrEq{"created_at": *f.From})
	}
	if f.To != nil {
		where = append(where, sq.Lt{"created_at": *f.To})
	}
	page, size := max(f.Page, 1), f.PageSize
	if size <= 0 {
		size = DefaultFailurePageSize
	}
	var total int
	sql, args, err := pgutil.SQL.Select("count(*)").From("pairing_failures").Where(where).ToSql()
	if err != nil {
		return nil, 0, err
	}
	if err := s.db.QueryRow(ctx, sql, args...).Scan(&total); err != nil {
		return nil, 0, pgutil.Translate(err)
	}
	items, err := queryAll(ctx, s.db, pgutil.SQL.Select(failureColumns).From("pairing_failures").Where(where).
		OrderBy("created_at DESC", "id DESC").Limit(uint64(size)).Offset(uint64((page-1)*size)), scanFailure)
	if err != nil {
		return nil, 0, pgutil.Translate(err)
	}
	return items, total, nil
}

func (s *PostgresStore) GetFailure(ctx context.Context, id uuid.UUID) (Failure, error) {
	f, err := queryOne(ctx, s.db, pgutil.SQL.Select(failureColumns).From("pairing_failures").Where(sq.Eq{"id": id}), scanFailure)
	return f, pgutil.Translate(err)
}

func (s *PostgresStore) SetFailureRefunded(ctx context.Context, id uuid.UUID) (Failure, error) {
	return s.guardedFailureUpdate(ctx, id, pgutil.SQL.Update("pairing_failures").
		Set("refund_status", string(RefundRefunded)).
		Where(sq.Eq{"id": id, "refund_status": string(RefundFailed)}))
}

func (s *PostgresStore) ResolveFailure(ctx context.Context, id uuid.UUID, by, note string, at time.Time) (Failure, error) {
	return s.guardedFailureUpdate(ctx, id, pgutil.SQL.Update("pairing_failures").
		Set("status", string(FailureResolved)).Set("resolved_by", by).Set("resolved_at", at).Set("note", pgutil.Nullable(note)).
		Where(sq.Eq{"id": id, "status": string(FailureOpen)}))
}

func (s *PostgresStore) guardedFailureUpdate(ctx context.Context, id uuid.UUID, b sq.UpdateBuilder) (Failure, error) {
	f, err := queryOne(ctx, s.db, b.Suffix("RETURNING "+failureColumns), scanFailure)
	if errors.Is(err, pgx.ErrNoRows) {
		cur, gerr := s.GetFailure(ctx, id)
		if gerr != nil {
			return Failure{}, gerr
		}
		return Failure{}, fmt.Errorf("failure %s is %s (%s): %w", id, cur.Status, cur.RefundStatus, ErrInvalidState)
	}
	return f, pgutil.Translate(err)
}

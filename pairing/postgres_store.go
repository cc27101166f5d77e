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

// uuidArray is ids as pgx sends them straight in binary. A []uuid.UUID goes through
// uuid.UUID's driver.Valuer, which formats each id as text for pgx to parse back: about 4
// µs an id, 4 ms for a blast offered to 1,000 mitras, before its offers can be written.
func uuidArray(ids []uuid.UUID) [][16]byte {
	out := make([][16]byte, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// distinct returns ids without their repeats, in the order of their first appearance.
func distinct(ids []uuid.UUID) []uuid.UUID {
	seen := make(map[uuid.UUID]struct{}, len(ids))
	out := make([]uuid.UUID, 0, len(ids))
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
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

// createPairingSQL inserts a pairing ($1 … $23, in the order of insertPairing's columns)
// in one statement: the client's row is read FOR NO KEY UPDATE as the pairing is inserted
// (a suspension that commits first is seen, one that commits after waits for this pairing:
// an operator ends it separately), a prepaid blast still open refuses it, and
// pairings_one_open_per_client_uidx refuses a second open pairing of any other kind.
const createPairingSQL = `INSERT INTO pairings (id, client_id, type, target_mitra_id, status, minutes, payment_session_id,
		prepaid, expires_at, matched_mitra_id, chat_session_id, failure_reason, paid_at, queued_at, rings, next_ring_at,
		created_at, updated_at, closed_at, preferences, routing_steps, routing_step, next_step_at)
	SELECT $1::uuid, c.id, $3::text, $4::uuid, $5::text, $6::integer, $7::uuid, $8::boolean, $9::timestamptz, $10::uuid,
		$11::uuid, $12::text, $13::timestamptz, $14::timestamptz, $15::integer, $16::timestamptz, $17::timestamptz,
		$18::timestamptz, $19::timestamptz, $20::jsonb, $21::jsonb, $22::smallint, $23::timestamptz
	FROM clients c
	WHERE c.id = $2::uuid AND c.is_active
		AND NOT EXISTS (SELECT 1 FROM pairings o WHERE o.client_id = c.id AND o.prepaid AND o.status = ANY($24))
	FOR NO KEY UPDATE OF c
	RETURNING ` + pairingColumns

// openPairingIndex is the partial unique index of one open pairing per client (migration
// 0022).
const openPairingIndex = "pairings_one_open_per_client_uidx"

func (s *PostgresStore) CreatePairing(ctx context.Context, p Pairing) (Pairing, error) {
	out, err := scanPairing(s.db.QueryRow(ctx, createPairingSQL,
		p.ID, p.ClientID, string(p.Type), p.TargetMitraID, string(p.Status), p.Minutes, p.PaymentSessionID, p.Prepaid,
		p.ExpiresAt, p.MatchedMitraID, p.ChatSessionID, pgutil.Nullable(string(p.FailureReason)), p.PaidAt, p.QueuedAt,
		p.Rings, p.NextRingAt, p.CreatedAt, p.UpdatedAt, p.ClosedAt, jsonOrNull(p.Preferences), jsonOrNull(p.RoutingSteps),
		p.RoutingStep, p.NextStepAt, openStatusStrings()))
	constraint, unique := pgutil.IsUniqueViolation(err)
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, pgx.ErrNoRows), unique && constraint == openPairingIndex:
		return Pairing{}, s.whyNotCreated(ctx, p)
	case unique:
		return Pairing{}, fmt.Errorf("pairing %s exists: %w", p.ID, ErrConflict)
	}
	return Pairing{}, pgutil.Translate(err)
}

// whyNotCreated says why CreatePairing inserted nothing, or hit the open-pairing index:
// in the order of the checks of the memory store (the client, the id, the open pairing).
func (s *PostgresStore) whyNotCreated(ctx context.Context, p Pairing) error {
	var active, exists bool
	var open *uuid.UUID
	err := s.db.QueryRow(ctx, `SELECT c.is_active, EXISTS (SELECT 1 FROM pairings WHERE id = $2),
			(SELECT id FROM pairings WHERE client_id = c.id AND status = ANY($3) LIMIT 1)
		FROM clients c WHERE c.id = $1`, p.ClientID, p.ID, openStatusStrings()).Scan(&active, &exists, &open)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("client %s: %w", p.ClientID, ErrNotFound)
	case err != nil:
		return pgutil.Translate(err)
	case !active:
		return fmt.Errorf("client %s: %w", p.ClientID, ErrClientSuspended)
	case exists:
		return fmt.Errorf("pairing %s exists: %w", p.ID, ErrConflict)
	case open != nil:
		return fmt.Errorf("client %s already has an open pairing %s: %w", p.ClientID, *open, ErrInvalidState)
	}
	// The open pairing that refused this one closed meanwhile: the caller may try again.
	return fmt.Errorf("client %s had an open pairing: %w", p.ClientID, ErrInvalidState)
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
	if t.Refund == nil && t.OfferStatus == "" && t.Failure == nil {
		// The guarded update alone: one statement needs no transaction around it.
		p, err := s.transitionRow(ctx, s.db, t)
		return TransitionResult{Pairing: p}, pgutil.Translate(err)
	}
	var res TransitionResult
	err := pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
		p, err := s.transitionRow(ctx, tx, t)
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

// transitionRow is the guarded update of a Transition: ErrInvalidState, saying what the
// pairing is now, when it is not in one of t.From.
func (s *PostgresStore) transitionRow(ctx context.Context, db pgutil.DB, t PairingTransition) (Pairing, error) {
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
	p, err := queryOne(ctx, db, b.Suffix("RETURNING "+pairingColumns), scanPairing)
	if errors.Is(err, pgx.ErrNoRows) {
		cur, gerr := s.getPairing(ctx, db, t.ID, "")
		if gerr != nil {
			return Pairing{}, gerr
		}
		return Pairing{}, fmt.Errorf("pairing %s is %s: %w", t.ID, cur.Status, ErrInvalidState)
	}
	return p, err
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

// The two statements of InsertOffers, sent at once (one round trip, one implicit
// transaction). The first locks the pairing's row: it waits for an accept, a transition or
// a block (PutBlock) holding it, keeps it until the offers are in, and orders the offers
// of one pairing (every writer of offers locks the pairing first). The second begins
// after it, so it sees what those committed: it offers a pairing still waiting to the
// mitras given (each once: InsertOffers drops repeats), in their order, that have no
// offer of it yet and are not blocked with its client. No ON CONFLICT: no offer of the
// pairing can appear meanwhile, and a speculative insertion costs about a tenth of an
// insert of 1,000 offers. It also returns what refused the offers: no such pairing, or
// (for a waiting pairing) a mitra that does not exist, which writes nothing — what the
// foreign keys of pairing_offers did before migration 0023, at the cost of one index
// probe per mitra instead of a trigger call and a row lock.
const (
	lockOfferedPairingSQL = "SELECT 1 FROM pairings WHERE id = $1 FOR NO KEY UPDATE"
	insertOffersSQL       = `WITH p AS (
			SELECT id, client_id, status IN ('searching', 'targeted_waiting') AND expires_at > $3::timestamptz AS waiting
			FROM pairings WHERE id = $1),
		unknown AS (
			SELECT x.id FROM unnest($2::uuid[]) AS x (id) WHERE NOT EXISTS (SELECT 1 FROM mitras m WHERE m.id = x.id) LIMIT 1),
		ins AS (
			INSERT INTO pairing_offers (pairing_id, mitra_id, status, created_at, updated_at)
			SELECT p.id, m.id, 'offered', $3::timestamptz, $3::timestamptz
			FROM p, unnest($2::uuid[]) WITH ORDINALITY AS m (id, n)
			WHERE p.waiting AND NOT EXISTS (SELECT 1 FROM unknown)
				AND NOT EXISTS (SELECT 1 FROM pairing_offers o WHERE o.pairing_id = p.id AND o.mitra_id = m.id)
				AND NOT EXISTS (SELECT 1 FROM pairing_blocks b WHERE b.client_id = p.client_id AND b.mitra_id = m.id)
			ORDER BY m.n
			RETURNING mitra_id)
		SELECT mitra_id, NULL FROM ins
		UNION ALL SELECT NULL, 'pairing' WHERE NOT EXISTS (SELECT 1 FROM p)
		UNION ALL SELECT u.id, 'mitra' FROM p, unknown u WHERE p.waiting`
)

func (s *PostgresStore) InsertOffers(ctx context.Context, pairingID uuid.UUID, mitraIDs []uuid.UUID, now time.Time) ([]uuid.UUID, error) {
	if len(mitraIDs) == 0 {
		return nil, nil
	}
	args := []any{pairingID, uuidArray(distinct(mitraIDs)), now}
	db, ok := s.db.(batchSender)
	if !ok {
		var offered []uuid.UUID
		err := pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, lockOfferedPairingSQL, pairingID); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, insertOffersSQL, args...)
			if err != nil {
				return err
			}
			offered, err = readInsertedOffers(rows, pairingID)
			return err
		})
		return offered, err
	}
	b := &pgx.Batch{}
	b.Queue(lockOfferedPairingSQL, pairingID)
	b.Queue(insertOffersSQL, args...)
	res := db.SendBatch(ctx, b)
	_, err := res.Exec()
	var offered []uuid.UUID
	if err == nil {
		var rows pgx.Rows
		if rows, err = res.Query(); err == nil {
			offered, err = readInsertedOffers(rows, pairingID)
		}
	}
	if cerr := res.Close(); err == nil {
		err = cerr
	}
	return offered, pgutil.Translate(err)
}

// batchSender is a DB that sends several statements in one round trip, in one implicit
// transaction outside a transaction of its own: *pgxpool.Pool and pgx.Tx are. The store
// runs them in a transaction of its own over a DB that is not (a host's wrapper).
type batchSender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// readInsertedOffers reads the answer of insertOffersSQL: the mitras offered, or what
// refused them.
func readInsertedOffers(rows pgx.Rows, pairingID uuid.UUID) ([]uuid.UUID, error) {
	var offered []uuid.UUID
	var id *uuid.UUID
	var refused *string
	_, err := pgx.ForEachRow(rows, []any{&id, &refused}, func() error {
		switch {
		case refused == nil:
			offered = append(offered, *id)
		case *refused == "pairing":
			return fmt.Errorf("pairing %s: %w", pairingID, ErrNotFound)
		default:
			return fmt.Errorf("mitra %s: %w", *id, ErrNotFound)
		}
		return nil
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

// acceptWriteSQL is an accept's write, one statement once the checks passed: the chat
// session inserted, the pairing matched, the mitra's offer accepted (and counted) and the
// other live offers dismissed in one update, and the live offers of queued pairings the
// mitra holds beyond its free slots ($11) released. It returns the dismissed offers
// (pairing_id NULL) and the released ones. Parameters: $1 now, $2 the mitra, $3 the
// pairing, $4 … $10 the session's id, client, status, minutes, start, end and origin.
var acceptWriteSQL = `WITH session AS (
		INSERT INTO chat_sessions (id, client_id, mitra_id, status, minutes, started_at, ends_at, pairing_id,
			rerouted_from_id, created_at, updated_at)
		VALUES ($4, $5, $2, $6, $7, $8, $9, $3, $10, $1, $1)),
	matched AS (UPDATE pairings SET status = 'matched', matched_mitra_id = $2, chat_session_id = $4, updated_at = $1,
			closed_at = $1
		WHERE id = $3),
	closed AS (UPDATE pairing_offers SET status = CASE WHEN mitra_id = $2 THEN 'accepted' ELSE 'dismissed' END,
			updated_at = $1
		WHERE pairing_id = $3 AND (mitra_id = $2 OR status = 'offered') RETURNING mitra_id, status),
	d AS (SELECT mitra_id FROM closed WHERE status = 'accepted')` + countAnswers("offers_accepted", "$1") + `,
	released AS (UPDATE pairing_offers SET status = 'dismissed', updated_at = $1
		WHERE (pairing_id, mitra_id) IN (
			SELECT o.pairing_id, o.mitra_id FROM pairing_offers o JOIN pairings p ON p.id = o.pairing_id
			WHERE o.mitra_id = $2 AND o.pairing_id <> $3 AND p.status = 'queued' AND ` + liveQueuedOffer + `
			ORDER BY p.paid_at, p.id OFFSET $11)
		RETURNING pairing_id, mitra_id)
	SELECT NULL::uuid, mitra_id FROM closed WHERE status = 'dismissed'
	UNION ALL SELECT pairing_id, mitra_id FROM released`

func (s *PostgresStore) AcceptOffer(ctx context.Context, a AcceptParams) (AcceptResult, error) {
	a.Now = a.Now.UTC().Truncate(time.Microsecond) // as stored: the rows below are not read back
	var res AcceptResult
	err := pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
		// One accept at a time per mitra: the capacity count below cannot be raced, and the
		// lock waits for an operator's deactivation in flight. Then the pairing: concurrent
		// accepts of it, and its cancel or timeout, queue here. Both in one statement, the
		// mitra's row locked first.
		var active bool
		var own *int
		p, err := scanPairing(rowWith{tx.QueryRow(ctx, `SELECT `+pgutil.Qualified("p", strings.Split(pairingColumns, ", "))+`,
				m.is_active, m.max_concurrent_sessions
			FROM mitras m, pairings p WHERE m.id = $1 AND p.id = $2
			FOR NO KEY UPDATE OF m FOR UPDATE OF p`, a.MitraID, a.PairingID), []any{&active, &own}})
		if errors.Is(err, pgx.ErrNoRows) {
			return s.whatIsMissing(ctx, tx, a)
		}
		if err != nil {
			return err
		}
		// A statement of its own, begun once the locks are held: it sees what they waited
		// for (the sessions of an accept of this mitra that committed meanwhile).
		var offer string
		var offerExpires *time.Time
		var blocked bool
		var open int
		err = tx.QueryRow(ctx, `SELECT status, expires_at,
				EXISTS (SELECT 1 FROM pairing_blocks WHERE client_id = $3 AND mitra_id = $2),
				(SELECT count(*) FROM chat_sessions WHERE mitra_id = $2 AND status IN ('active', 'pending_payment')),
				(SELECT display_name FROM clients WHERE id = $3)
			FROM pairing_offers WHERE pairing_id = $1 AND mitra_id = $2`,
			a.PairingID, a.MitraID, p.ClientID).Scan(&offer, &offerExpires, &blocked, &open, &res.ClientDisplayName)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("no offer for mitra %s: %w", a.MitraID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		limit := a.DefaultMaxSessions
		if own != nil {
			limit = *own
		}
		replay, err := CheckAccept(AcceptCheck{
			Pairing: p, MitraID: a.MitraID, Offer: OfferStatus(offer), OfferExpiresAt: offerExpires, Blocked: blocked,
			MitraActive: active, OpenSessions: open, MaxSessions: limit, Now: a.Now,
		})
		if err != nil {
			return err
		}
		if replay {
			res.Pairing, res.Replayed = p, true
			res.Session, err = queryOne(ctx, tx, pgutil.SQL.Select(sessionColumns).From("chat_sessions").
				Where(sq.Eq{"id": *p.ChatSessionID}), scanSession)
			return err
		}
		sess := NewAcceptedSession(p, a)
		rows, err := tx.Query(ctx, acceptWriteSQL, a.Now, a.MitraID, p.ID, sess.ID, sess.ClientID, string(sess.Status),
			sess.Minutes, sess.StartedAt, sess.EndsAt, sess.ReroutedFromID, max(limit-open-1, 0))
		if err != nil {
			return err
		}
		var pairingID *uuid.UUID
		var mitraID uuid.UUID
		_, err = pgx.ForEachRow(rows, []any{&pairingID, &mitraID}, func() error {
			if pairingID == nil {
				res.Dismissed = append(res.Dismissed, mitraID)
			} else {
				res.Released = append(res.Released, OfferRef{PairingID: *pairingID, MitraID: mitraID})
			}
			return nil
		})
		if err != nil {
			return err
		}
		p.Status, p.MatchedMitraID, p.ChatSessionID, p.UpdatedAt, p.ClosedAt = StatusMatched, &a.MitraID, &sess.ID, a.Now, &a.Now
		res.Pairing, res.Session = p, sess
		return nil
	})
	return res, err
}

// whatIsMissing says which of an accept's mitra and pairing does not exist.
func (s *PostgresStore) whatIsMissing(ctx context.Context, db pgutil.DB, a AcceptParams) error {
	var mitra, pairing bool
	if err := db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM mitras WHERE id = $1), EXISTS (SELECT 1 FROM pairings WHERE id = $2)",
		a.MitraID, a.PairingID).Scan(&mitra, &pairing); err != nil {
		return err
	}
	if !mitra {
		return fmt.Errorf("mitra %s: %w", a.MitraID, ErrNotFound)
	}
	return fmt.Errorf("pairing %s: %w", a.PairingID, ErrNotFound)
}

// rowWith is a row of the columns its scanner reads, followed by those of extra.
type rowWith struct {
	pgx.Row
	extra []any
}

func (r rowWith) Scan(dest ...any) error { return r.Row.Scan(append(dest, r.extra...)...) }

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

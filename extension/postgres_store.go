package extension

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	sq "github.com/Masterminds/squirrel"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/internal/sessionsql"
	"github.com/curhat/curhat/pairing"
)

// PostgresStore is the Store over the extensions table (and chat_sessions, for
// ApplyPayment).
type PostgresStore struct {
	db DB
}

var _ Store = (*PostgresStore)(nil)

// NewPostgresStore returns a Store over db: a *pgxpool.Pool, or a pgx.Tx whose commit or
// rollback decides the store's writes. The schema comes from curhat.Migrate.
func NewPostgresStore(db DB) *PostgresStore { return &PostgresStore{db: db} }

// WithTx returns a copy of p whose every statement runs in tx, the caller's transaction.
func (p *PostgresStore) WithTx(tx pgx.Tx) *PostgresStore { return &PostgresStore{db: tx} }

// openIndex is the partial unique index allowing one open extension per chat session.
const openIndex = "extensions_open_uidx"

var extensionColumns = []string{
	"id", "chat_session_id", "tier_id", "minutes", "amount", "status", "decided_by", "reject_reason",
	"payment_session_id", "created_at", "decided_at",
}

var (
	selectColumns    = strings.Join(extensionColumns, ", ")
	returningColumns = "RETURNING " + selectColumns
	openStatuses     = []string{string(StatusRequested), string(StatusApproved)}
)

func scanExtension(row pgx.Row) (Extension, error) {
	var (
		e                       Extension
		decidedBy, rejectReason *string
	)
	err := row.Scan(&e.ID, &e.ChatSessionID, &e.TierID, &e.Minutes, &e.Amount, &e.Status, &decidedBy, &rejectReason,
		&e.PaymentSessionID, &e.CreatedAt, &e.DecidedAt)
	if err != nil {
		return Extension{}, err
	}
	if decidedBy != nil {
		e.DecidedBy = DecidedBy(*decidedBy)
	}
	if rejectReason != nil {
		e.RejectReason = *rejectReason
	}
	e.CreatedAt = e.CreatedAt.UTC()
	if e.DecidedAt != nil {
		t := e.DecidedAt.UTC()
		e.DecidedAt = &t
	}
	return e, nil
}

// nullable maps "" to SQL NULL.
func nullable[T ~string](s T) *string {
	if s == "" {
		return nil
	}
	v := string(s)
	return &v
}

// translate maps driver errors to domain errors; a second open extension of a session is
// ErrInvalidState.
func translate(err error) error {
	if name, ok := pgutil.IsUniqueViolation(err); ok && name == openIndex {
		return fmt.Errorf("the chat session already has an open extension: %w", ErrInvalidState)
	}
	return pgutil.Translate(err)
}

func queryOne(ctx context.Context, db pgutil.DB, b sq.Sqlizer) (Extension, error) {
	query, args, err := b.ToSql()
	if err != nil {
		return Extension{}, fmt.Errorf("build extension query: %w", err)
	}
	e, err := scanExtension(db.QueryRow(ctx, query, args...))
	return e, translate(err)
}

func queryMany(ctx context.Context, db pgutil.DB, b sq.Sqlizer) ([]Extension, error) {
	query, args, err := b.ToSql()
	if err != nil {
		return nil, fmt.Errorf("build extension query: %w", err)
	}
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Extension, error) { return scanExtension(r) })
	if err != nil {
		return nil, translate(err)
	}
	if out == nil {
		out = []Extension{}
	}
	return out, nil
}

func (p *PostgresStore) Insert(ctx context.Context, e Extension) (Extension, error) {
	stored, err := queryOne(ctx, p.db, pgutil.SQL.Insert("extensions").Columns(extensionColumns...).Values(
		e.ID, e.ChatSessionID, e.TierID, e.Minutes, e.Amount, e.Status, nullable(e.DecidedBy), nullable(e.RejectReason),
		e.PaymentSessionID, e.CreatedAt, e.DecidedAt,
	).Suffix(returningColumns))
	if err != nil {
		return Extension{}, fmt.Errorf("insert extension: %w", err)
	}
	return stored, nil
}

func (p *PostgresStore) Get(ctx context.Context, id uuid.UUID) (Extension, error) {
	return queryOne(ctx, p.db, pgutil.SQL.Select(extensionColumns...).From("extensions").Where(sq.Eq{"id": id}))
}

func (p *PostgresStore) ListForSession(ctx context.Context, chatSessionID uuid.UUID) ([]Extension, error) {
	return queryMany(ctx, p.db, pgutil.SQL.Select(extensionColumns...).From("extensions").
		Where(sq.Eq{"chat_session_id": chatSessionID}).OrderBy("created_at", "id"))
}

func (p *PostgresStore) OpenForSession(ctx context.Context, chatSessionID uuid.UUID) (Extension, error) {
	return queryOne(ctx, p.db, pgutil.SQL.Select(extensionColumns...).From("extensions").
		Where(sq.Eq{"chat_session_id": chatSessionID, "status": openStatuses}))
}

func (p *PostgresStore) Transition(ctx context.Context, t Transition) (Extension, bool, error) {
	return transition(ctx, p.db, t)
}

// transition runs one guarded UPDATE; when it matches nothing it reads the row to tell
// "not found" from "guard failed".
func transition(ctx context.Context, db pgutil.DB, t Transition) (Extension, bool, error) {
	from := make([]string, len(t.From))
	for i, s := range t.From {
		from[i] = string(s)
	}
	upd := pgutil.SQL.Update("extensions").Set("status", t.To).Where(sq.Eq{"id": t.ID, "status": from})
	if t.PaymentSessionID != nil {
		upd = upd.Set("payment_session_id", *t.PaymentSessionID).
			Where(sq.Or{sq.Eq{"payment_session_id": nil}, sq.Eq{"payment_session_id": *t.PaymentSessionID}})
	}
	if t.DecidedBy != "" {
		upd = upd.Set("decided_by", t.DecidedBy)
	}
	if t.RejectReason != "" {
		upd = upd.Set("reject_reason", t.RejectReason)
	}
	if t.DecidedAt != nil {
		upd = upd.Set("decided_at", *t.DecidedAt)
	}
	query, args, err := upd.Suffix(returningColumns).ToSql()
	if err != nil {
		return Extension{}, false, fmt.Errorf("build extension query: %w", err)
	}
	// No row back (pgx.ErrNoRows, before translation: a payment that does not exist is
	// ErrNotFound too) means the guard did not hold.
	e, err := scanExtension(db.QueryRow(ctx, query, args...))
	if err == nil {
		return e, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Extension{}, false, fmt.Errorf("update extension %s: %w", t.ID, translate(err))
	}
	cur, err := queryOne(ctx, db, pgutil.SQL.Select(extensionColumns...).From("extensions").Where(sq.Eq{"id": t.ID}))
	if err != nil {
		return Extension{}, false, fmt.Errorf("read extension %s: %w", t.ID, err)
	}
	return cur, false, nil
}

func (p *PostgresStore) ApplyPayment(ctx context.Context, a ApplyPayment) (ApplyResult, error) {
	var res ApplyResult
	err := pgx.BeginFunc(ctx, p.db, func(tx pgx.Tx) error {
		// The row lock orders this against a concurrent transition of the extension
		// (a payment closing, the sweep), so the checks below stay true until commit.
		e, err := queryOne(ctx, tx, pgutil.SQL.Select(extensionColumns...).From("extensions").
			Where(sq.Eq{"id": a.ExtensionID}).Suffix("FOR UPDATE"))
		if err != nil {
			return err
		}
		res.Extension = e
		switch {
		case e.Status == StatusPaid && samePayment(e.PaymentSessionID, a.PaymentSessionID):
			res.Outcome = AlreadyApplied
			return nil
		case e.Status != StatusApproved || (e.PaymentSessionID != nil && *e.PaymentSessionID != a.PaymentSessionID):
			res.Outcome = NotApproved
			return nil
		}
		sess, err := extendSession(ctx, tx, e.ChatSessionID, e.Minutes, a.At)
		if errors.Is(err, ErrNotFound) {
			res.Outcome = SessionNotActive
			return nil
		}
		if err != nil {
			return fmt.Errorf("extend chat session %s: %w", e.ChatSessionID, err)
		}
		paid, err := queryOne(ctx, tx, pgutil.SQL.Update("extensions").
			Set("status", StatusPaid).Set("payment_session_id", a.PaymentSessionID).
			Where(sq.Eq{"id": e.ID, "status": string(StatusApproved)}).Suffix(returningColumns))
		if err != nil {
			return fmt.Errorf("mark extension %s paid: %w", e.ID, err)
		}
		res = ApplyResult{Outcome: Applied, Extension: paid, Session: sess}
		return nil
	})
	if err != nil {
		return ApplyResult{}, fmt.Errorf("apply payment %s to extension %s: %w", a.PaymentSessionID, a.ExtensionID, translate(err))
	}
	return res, nil
}

// extendSession grows the ends_at and minutes of a chat session that is active and ends
// after at; ErrNotFound otherwise. A session past its ends_at is over even while its
// expiry has not ended it yet: an extension must not revive it.
func extendSession(ctx context.Context, tx pgx.Tx, id uuid.UUID, minutes int, at time.Time) (pairing.ChatSession, error) {
	s, err := sessionsql.Scan[pairing.SessionStatus, pairing.EndReason](tx.QueryRow(ctx, `
		UPDATE chat_sessions
		   SET ends_at = ends_at + $2::int * interval '1 minute', minutes = minutes + $2::int, updated_at = $3
		 WHERE id = $1 AND status = 'active' AND ends_at > $3
		RETURNING `+sessionsql.Columns, id, minutes, at))
	if err != nil {
		return pairing.ChatSession{}, translate(err)
	}
	return pairing.ChatSession(s), nil
}

func (p *PostgresStore) ExpireDue(ctx context.Context, q ExpireQuery) ([]Extension, error) {
	// "status IN (open)" lets the planner read the small partial unique index of open
	// extensions instead of the whole table. The row locks re-check the condition against
	// concurrent writers, and SKIP LOCKED lets concurrent sweeps split the rows instead
	// of queueing on them.
	query := `
		UPDATE extensions e SET status = 'expired'
		  FROM (SELECT id FROM extensions
		         WHERE status IN ('requested', 'approved')
		           AND ((status = 'requested' AND created_at <= $1)
		             OR (status = 'approved' AND payment_session_id IS NULL AND decided_at <= $2))
		         ORDER BY created_at, id
		         LIMIT $3
		           FOR UPDATE SKIP LOCKED) due
		 WHERE e.id = due.id AND e.status IN ('requested', 'approved')
		RETURNING ` + pgutil.Qualified("e", extensionColumns)
	out, err := queryMany(ctx, p.db, sq.Expr(query, q.RequestedBefore, q.UnchargedBefore, q.Limit))
	if err != nil {
		return nil, fmt.Errorf("expire due extensions: %w", err)
	}
	// RETURNING keeps no order.
	slices.SortFunc(out, func(a, b Extension) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID.String(), b.ID.String()))
	})
	return out, nil
}

package payment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	sq "github.com/Masterminds/squirrel"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/payment/ledger"
)

// PostgresStore is the Store over the payment_sessions table.
type PostgresStore struct {
	db DB
}

var _ TxStore = (*PostgresStore)(nil)

// NewPostgresStore returns a Store over db: a *pgxpool.Pool, or a pgx.Tx whose commit or
// rollback decides the store's writes. The schema comes from curhat.Migrate.
func NewPostgresStore(db DB) *PostgresStore { return &PostgresStore{db: db} }

// WithTx returns a copy of p whose every statement runs in tx, the caller's transaction.
func (p *PostgresStore) WithTx(tx pgx.Tx) Store { return &PostgresStore{db: tx} }

var sessionColumns = []string{
	"id", "client_id", "purpose", "pairing_id", "chat_session_id", "extension_id", "tier_id", "minutes",
	"base_amount", "discount_amount", "amount", "currency", "status", "provider_ref", "checkout_url",
	"idempotency_key", "expires_at", "paid_at", "created_at", "updated_at", "handled_at", "refunded_amount",
	"platform_fee_percent",
}

var returningSession = "RETURNING " + strings.Join(sessionColumns, ", ")

// scanSession reads one row of sessionColumns.
func scanSession(row pgx.Row) (Session, error) {
	var (
		s                                    Session
		providerRef, checkoutURL, idempotent *string
	)
	err := row.Scan(&s.ID, &s.ClientID, &s.Purpose, &s.PairingID, &s.ChatSessionID, &s.ExtensionID, &s.TierID,
		&s.Minutes, &s.BaseAmount, &s.DiscountAmount, &s.Amount, &s.Currency, &s.Status, &providerRef,
		&checkoutURL, &idempotent, &s.ExpiresAt, &s.PaidAt, &s.CreatedAt, &s.UpdatedAt, &s.HandledAt, &s.RefundedAmount,
		&s.PlatformFeePercent)
	if err != nil {
		return Session{}, err
	}
	s.ProviderRef, s.CheckoutURL, s.IdempotencyKey = pgutil.Deref(providerRef), pgutil.Deref(checkoutURL), pgutil.Deref(idempotent)
	return normalizeScanned(s), nil
}

// normalizeScanned puts the times of a scanned row in UTC.
func normalizeScanned(s Session) Session {
	s.ExpiresAt, s.CreatedAt, s.UpdatedAt = s.ExpiresAt.UTC(), s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	s.PaidAt, s.HandledAt = pgutil.UTCPtr(s.PaidAt), pgutil.UTCPtr(s.HandledAt)
	return s
}

func (p *PostgresStore) queryOne(ctx context.Context, b sq.Sqlizer) (Session, error) {
	query, args, err := b.ToSql()
	if err != nil {
		return Session{}, fmt.Errorf("build payment query: %w", err)
	}
	s, err := scanSession(p.db.QueryRow(ctx, query, args...))
	return s, translate(err)
}

func (p *PostgresStore) Insert(ctx context.Context, s Session) (Session, bool, error) {
	insert := pgutil.SQL.Insert("payment_sessions").Columns(sessionColumns...).Values(
		s.ID, s.ClientID, s.Purpose, s.PairingID, s.ChatSessionID, s.ExtensionID, s.TierID, s.Minutes,
		s.BaseAmount, s.DiscountAmount, s.Amount, s.Currency, s.Status, pgutil.Nullable(s.ProviderRef),
		pgutil.Nullable(s.CheckoutURL), pgutil.Nullable(s.IdempotencyKey), s.ExpiresAt, s.PaidAt, s.CreatedAt, s.UpdatedAt,
		s.HandledAt, s.RefundedAmount, s.PlatformFeePercent,
	)
	if s.IdempotencyKey == "" {
		stored, err := p.queryOne(ctx, insert.Suffix(returningSession))
		if err != nil {
			return Session{}, false, fmt.Errorf("insert payment session: %w", err)
		}
		return stored, true, nil
	}
	insert = insert.Suffix("ON CONFLICT (client_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING " + returningSession)
	// The conflicting row may lose its key (a failed charge releases it) between our
	// insert and the reselect; then the insert can succeed on the next round.
	query, args, err := insert.ToSql()
	if err != nil {
		return Session{}, false, fmt.Errorf("build payment query: %w", err)
	}
	for range 3 {
		// No row back (pgx.ErrNoRows, before translation: an unknown client is
		// ErrNotFound too) means the key is taken.
		stored, err := scanSession(p.db.QueryRow(ctx, query, args...))
		if err == nil {
			return stored, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return Session{}, false, fmt.Errorf("insert payment session: %w", translate(err))
		}
		existing, err := p.FindByIdempotencyKey(ctx, s.ClientID, s.IdempotencyKey)
		if err == nil {
			return existing, false, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return Session{}, false, err
		}
	}
	return Session{}, false, fmt.Errorf("insert payment session: idempotency key kept changing hands: %w", core.ErrStaleWrite)
}

func (p *PostgresStore) Get(ctx context.Context, id uuid.UUID) (Session, error) {
	s, err := p.queryOne(ctx, pgutil.SQL.Select(sessionColumns...).From("payment_sessions").Where(sq.Eq{"id": id}))
	if err != nil {
		return Session{}, fmt.Errorf("get payment session %s: %w", id, err)
	}
	return s, nil
}

func (p *PostgresStore) FindByIdempotencyKey(ctx context.Context, clientID uuid.UUID, key string) (Session, error) {
	s, err := p.queryOne(ctx, pgutil.SQL.Select(sessionColumns...).From("payment_sessions").
		Where(sq.Eq{"client_id": clientID, "idempotency_key": key}))
	if err != nil {
		return Session{}, fmt.Errorf("find payment session by idempotency key: %w", err)
	}
	return s, nil
}

func (p *PostgresStore) SetCharge(ctx context.Context, id uuid.UUID, charge Charge, at time.Time) (Session, error) {
	s, err := p.queryOne(ctx, pgutil.SQL.Update("payment_sessions").
		Set("provider_ref", pgutil.Nullable(charge.ProviderRef)).
		Set("checkout_url", pgutil.Nullable(charge.CheckoutURL)).
		Set("updated_at", at).
		Where(sq.Eq{"id": id, "provider_ref": nil}).
		Suffix(returningSession))
	if errors.Is(err, ErrNotFound) {
		return p.Get(ctx, id)
	}
	if err != nil {
		return Session{}, fmt.Errorf("record charge of payment session %s: %w", id, err)
	}
	return s, nil
}

func (p *PostgresStore) Transition(ctx context.Context, t Transition) (Session, bool, error) {
	from := make([]string, len(t.From))
	for i, st := range t.From {
		from[i] = string(st)
	}
	update := pgutil.SQL.Update("payment_sessions").
		Set("status", t.To).
		Set("updated_at", t.At).
		Where(sq.Eq{"id": t.ID, "status": from})
	if t.ProviderRef != "" {
		update = update.Set("provider_ref", sq.Expr("COALESCE(provider_ref, ?)", t.ProviderRef))
		if t.MatchProviderRef {
			update = update.Where(sq.Or{sq.Eq{"provider_ref": nil}, sq.Eq{"provider_ref": t.ProviderRef}})
		}
	}
	if t.SetPaidAt {
		update = update.Set("paid_at", t.At)
	}
	if t.FeePercent != nil {
		update = update.Set("platform_fee_percent", *t.FeePercent)
	}
	if t.ClearIdempotencyKey {
		update = update.Set("idempotency_key", nil)
	}
	switch t.Expiry {
	case BeforeExpiry:
		update = update.Where(sq.Gt{"expires_at": t.At})
	case AfterExpiry:
		update = update.Where(sq.LtOrEq{"expires_at": t.At})
	}
	var s Session
	var err error
	if t.To == StatusPaid {
		s, err = p.transitionPaid(ctx, update, t)
	} else {
		s, err = p.queryOne(ctx, update.Suffix(returningSession))
	}
	if errors.Is(err, ErrNotFound) {
		// The guard did not hold (or there is no such row): report the row as it is.
		cur, err := p.Get(ctx, t.ID)
		return cur, false, err
	}
	if err != nil {
		return Session{}, false, fmt.Errorf("payment session %s to %s: %w", t.ID, t.To, err)
	}
	return s, true, nil
}

// transitionPaid runs update, a transition to paid, and posts the payment to the ledger
// (gateway +amount, client_funds −amount) in the same statement.
func (p *PostgresStore) transitionPaid(ctx context.Context, update sq.UpdateBuilder, t Transition) (Session, error) {
	query, args, err := update.Suffix(returningSession).ToSql()
	if err != nil {
		return Session{}, fmt.Errorf("build payment query: %w", err)
	}
	n := len(args)
	args = append(args, ledger.TxnID(ledger.KindPaymentPaid, t.ID), t.At.UTC().Truncate(time.Microsecond))
	query = fmt.Sprintf(`WITH u AS (%[1]s),
	t AS (INSERT INTO ledger_txns (id, kind, created_at) SELECT $%[2]d, 'payment_paid', $%[3]d FROM u WHERE u.amount > 0
	      ON CONFLICT (id) DO NOTHING RETURNING id),
	e AS (INSERT INTO ledger_entries (txn_id, kind, account, payment_id, amount, currency, created_at)
	      SELECT t.id, 'payment_paid', v.account, u.id, v.sign * u.amount, u.currency, $%[3]d
	      FROM t, u, (VALUES ('gateway', 1), ('client_funds', -1)) AS v(account, sign))
	SELECT %[4]s FROM u`, query, n+1, n+2, strings.Join(sessionColumns, ", "))
	s, err := scanSession(p.db.QueryRow(ctx, query, args...))
	return s, translate(err)
}

// expirePendingSQL claims a batch with SKIP LOCKED so that concurrent sweeps split the
// work instead of queueing behind each other, and the status guard keeps each transition
// exactly-once even so. The batch is a materialized CTE: as an IN (subquery) the planner
// may rescan it per row and exceed the limit.
var expirePendingSQL = `WITH due AS MATERIALIZED (
    SELECT id FROM payment_sessions
    WHERE status = 'pending' AND expires_at <= $1
    ORDER BY expires_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE payment_sessions AS p SET status = 'expired', updated_at = $1
FROM due
WHERE p.id = due.id AND p.status = 'pending'
RETURNING ` + pgutil.Qualified("p", sessionColumns)

func (p *PostgresStore) ExpirePending(ctx context.Context, now time.Time, limit int) ([]Session, error) {
	rows, err := p.db.Query(ctx, expirePendingSQL, now, limit)
	if err != nil {
		return nil, fmt.Errorf("expire pending payment sessions: %w", translate(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Session, error) { return scanSession(r) })
	if err != nil {
		return nil, fmt.Errorf("expire pending payment sessions: %w", translate(err))
	}
	slices.SortFunc(out, func(a, b Session) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
	return out, nil
}

func (p *PostgresStore) CountPending(ctx context.Context, at time.Time) (int, error) {
	var n int
	err := p.db.QueryRow(ctx, `SELECT count(*) FROM payment_sessions WHERE status = 'pending' AND expires_at > $1`, at).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count pending payment sessions: %w", translate(err))
	}
	return n, nil
}

// hasPaidChatStartSQL: a chat_start that was paid and is not (being) given back in full.
// A free session (amount 0) that is paid counts. pricing's Postgres store asks the same.
const hasPaidChatStartSQL = `SELECT EXISTS (SELECT 1 FROM payment_sessions p
WHERE p.client_id = $1 AND p.purpose = 'chat_start' AND p.status IN ('paid', 'partially_refunded', 'refund_failed')
AND (p.amount = 0 OR p.amount > (SELECT COALESCE(sum(r.amount), 0) FROM payment_refunds r WHERE r.payment_id = p.id)))`

func (p *PostgresStore) HasPaidChatStart(ctx context.Context, clientID uuid.UUID) (bool, error) {
	var paid bool
	err := p.db.QueryRow(ctx, hasPaidChatStartSQL, clientID).Scan(&paid)
	if err != nil {
		return false, fmt.Errorf("has paid chat start: %w", translate(err))
	}
	return paid, nil
}

func (p *PostgresStore) MarkHandled(ctx context.Context, id uuid.UUID, status Status, at time.Time) error {
	_, err := p.db.Exec(ctx, `UPDATE payment_sessions SET handled_at = $3
WHERE id = $1 AND status = $2 AND handled_at IS NULL`, id, status, at)
	if err != nil {
		return fmt.Errorf("mark payment session %s handled: %w", id, translate(err))
	}
	return nil
}

func (p *PostgresStore) ListUndelivered(ctx context.Context, changedBefore time.Time, limit int) ([]Session, error) {
	rows, err := p.db.Query(ctx, `SELECT `+strings.Join(sessionColumns, ", ")+` FROM payment_sessions
WHERE handled_at IS NULL AND status IN ('paid', 'failed', 'expired') AND updated_at <= $1
ORDER BY updated_at LIMIT $2`, changedBefore, limit)
	if err != nil {
		return nil, fmt.Errorf("list undelivered payment sessions: %w", translate(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Session, error) { return scanSession(r) })
	if err != nil {
		return nil, fmt.Errorf("list undelivered payment sessions: %w", translate(err))
	}
	return out, nil
}

// foreignKeyFields names the input behind each foreign key of payment_sessions.
var foreignKeyFields = map[string]string{
	"payment_sessions_tier_id_fkey":         "tier_id",
	"payment_sessions_pairing_id_fkey":      "pairing_id",
	"payment_sessions_chat_session_id_fkey": "chat_session_id",
	"payment_sessions_extension_id_fkey":    "extension_id",
}

// translate is pgutil.Translate plus foreign-key violations, which mean that a referenced
// client, tier, pairing, chat session or extension does not exist: an unknown client is
// ErrNotFound, as it is for a pairing (nobody to charge), any other row a
// *ValidationError naming the field that refers to it.
func translate(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		if pgErr.ConstraintName == "payment_sessions_client_id_fkey" {
			return fmt.Errorf("client: %w", ErrNotFound)
		}
		field, ok := foreignKeyFields[pgErr.ConstraintName]
		if !ok {
			field = pgErr.ConstraintName
		}
		return &core.ValidationError{Field: field, Reason: "refers to a row that does not exist"}
	}
	return pgutil.Translate(err)
}

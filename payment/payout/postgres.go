package payout

import (
	"context"
	"errors"
	"fmt"
	"time"

	sq "github.com/Masterminds/squirrel"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/payment/ledger"
)

// DB is what NewPostgresStore takes: a *pgxpool.Pool, or a pgx.Tx (curhat.DB). Its methods
// are pgx's: Exec, Query and QueryRow run a statement; Begin starts a transaction (a
// savepoint inside a pgx.Tx).
type DB = pgutil.DB

// PostgresStore is the Postgres Store.
type PostgresStore struct{ db DB }

var _ Store = (*PostgresStore)(nil)

// NewPostgresStore returns a Store over db.
func NewPostgresStore(db DB) *PostgresStore { return &PostgresStore{db: db} }

const payoutColumns = `id, mitra_id, amount, currency, status, channel_code, account_number, account_holder_name,
provider_ref, failure_reason, attempts, created_at, updated_at`

func scanPayout(row pgx.Row) (Payout, error) {
	var p Payout
	var ref, reason *string
	err := row.Scan(&p.ID, &p.MitraID, &p.Amount, &p.Currency, &p.Status, &p.ChannelCode, &p.AccountNumber,
		&p.AccountHolderName, &ref, &reason, &p.Attempts, &p.CreatedAt, &p.UpdatedAt)
	p.ProviderRef, p.FailureReason = pgutil.Deref(ref), pgutil.Deref(reason)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, err
}

func (s *PostgresStore) PutDestination(ctx context.Context, d Destination) (Destination, error) {
	if err := d.Validate(); err != nil {
		return Destination{}, err
	}
	d.UpdatedAt = d.UpdatedAt.UTC().Truncate(time.Microsecond)
	_, err := s.db.Exec(ctx, `INSERT INTO payout_destinations (mitra_id, channel_code, account_number, account_holder_name, updated_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (mitra_id) DO UPDATE SET channel_code = EXCLUDED.channel_code, account_number = EXCLUDED.account_number,
			account_holder_name = EXCLUDED.account_holder_name, updated_at = EXCLUDED.updated_at`,
		d.MitraID, d.ChannelCode, d.AccountNumber, d.AccountHolderName, d.UpdatedAt)
	if err != nil {
		return Destination{}, fmt.Errorf("payout destination of mitra %s: %w", d.MitraID, pgutil.Translate(err))
	}
	return d, nil
}

func (s *PostgresStore) GetDestination(ctx context.Context, mitraID uuid.UUID) (Destination, error) {
	d := Destination{MitraID: mitraID}
	err := s.db.QueryRow(ctx, `SELECT channel_code, account_number, account_holder_name, updated_at
		FROM payout_destinations WHERE mitra_id = $1`, mitraID).Scan(&d.ChannelCode, &d.AccountNumber, &d.AccountHolderName, &d.UpdatedAt)
	if err != nil {
		return Destination{}, fmt.Errorf("payout destination of mitra %s: %w", mitraID, pgutil.Translate(err))
	}
	d.UpdatedAt = d.UpdatedAt.UTC()
	return d, nil
}

// availableSQL is a mitra's available balance ($1).
const availableSQL = `SELECT COALESCE(-sum(amount), 0) FROM ledger_entries WHERE mitra_id = $1 AND account = 'mitra_available'`

func (s *PostgresStore) Eligible(ctx context.Context, minimum int64, limit int) ([]uuid.UUID, error) {
	rows, err := s.db.Query(ctx, `
		SELECT d.mitra_id FROM payout_destinations d
		CROSS JOIN LATERAL (SELECT COALESCE(-sum(amount), 0) AS available FROM ledger_entries
		                    WHERE mitra_id = d.mitra_id AND account = 'mitra_available') a
		WHERE a.available > 0 AND a.available >= $1
		  AND NOT EXISTS (SELECT 1 FROM payouts p WHERE p.mitra_id = d.mitra_id AND p.status IN ('pending', 'processing'))
		ORDER BY d.mitra_id LIMIT $2`, minimum, limit)
	if err != nil {
		return nil, fmt.Errorf("mitras to pay: %w", pgutil.Translate(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("mitras to pay: %w", pgutil.Translate(err))
	}
	return ids, nil
}

func (s *PostgresStore) Create(ctx context.Context, c CreateParams) (Payout, error) {
	at := c.At.UTC().Truncate(time.Microsecond)
	var out Payout
	err := pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
		if err := ledger.LockMitraTx(ctx, tx, c.MitraID); err != nil {
			return err
		}
		var available int64
		if err := tx.QueryRow(ctx, availableSQL, c.MitraID).Scan(&available); err != nil {
			return err
		}
		d, err := s.inTx(tx).GetDestination(ctx, c.MitraID)
		if errors.Is(err, ErrNotFound) {
			return &NotEligibleError{MitraID: c.MitraID, Reason: ReasonNoDestination}
		}
		if err != nil {
			return err
		}
		var open bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM payouts WHERE mitra_id = $1 AND status IN ('pending', 'processing'))`,
			c.MitraID).Scan(&open); err != nil {
			return err
		}
		if err := eligible(c, available, open); err != nil {
			return err
		}
		p := Payout{ID: c.ID, MitraID: c.MitraID, Amount: available, Currency: c.Currency, Status: StatusPending,
			ChannelCode: d.ChannelCode, AccountNumber: d.AccountNumber, AccountHolderName: d.AccountHolderName,
			CreatedAt: at, UpdatedAt: at}
		out, err = scanPayout(tx.QueryRow(ctx, `INSERT INTO payouts (id, mitra_id, amount, currency, status, channel_code,
			account_number, account_holder_name, created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $8)
			RETURNING `+payoutColumns, p.ID, p.MitraID, p.Amount, p.Currency, p.ChannelCode, p.AccountNumber, p.AccountHolderName, at))
		if err != nil {
			return err
		}
		txn, _ := posting(out, StatusPending, at)
		_, err = ledger.PostTx(ctx, tx, txn)
		return err
	})
	if err != nil {
		return Payout{}, fmt.Errorf("create the payout of mitra %s: %w", c.MitraID, pgutil.Translate(err))
	}
	return out, nil
}

// eligible says why a mitra with available and an open payout (or not) gets no payout.
func eligible(c CreateParams, available int64, open bool) error {
	switch {
	case open:
		return &NotEligibleError{MitraID: c.MitraID, Reason: ReasonOpenPayout}
	case available <= 0:
		return &NotEligibleError{MitraID: c.MitraID, Reason: ReasonNoBalance, Available: available, Minimum: c.Minimum}
	case available < c.Minimum:
		return &NotEligibleError{MitraID: c.MitraID, Reason: ReasonBelowMinimum, Available: available, Minimum: c.Minimum}
	}
	return nil
}

func (s *PostgresStore) inTx(tx pgx.Tx) *PostgresStore { return &PostgresStore{db: tx} }

func (s *PostgresStore) Claim(ctx context.Context, id uuid.UUID, attempts int, at time.Time) (Payout, bool, error) {
	p, err := scanPayout(s.db.QueryRow(ctx, `UPDATE payouts SET attempts = attempts + 1, updated_at = $3
		WHERE id = $1 AND status = 'pending' AND attempts = $2 RETURNING `+payoutColumns, id, attempts, at.UTC().Truncate(time.Microsecond)))
	if errors.Is(err, pgx.ErrNoRows) {
		cur, err := s.Get(ctx, id)
		return cur, false, err
	}
	if err != nil {
		return Payout{}, false, fmt.Errorf("claim payout %s: %w", id, pgutil.Translate(err))
	}
	return p, true, nil
}

func (s *PostgresStore) Transition(ctx context.Context, t Transition) (Payout, bool, error) {
	at := t.At.UTC().Truncate(time.Microsecond)
	from := make([]string, len(t.From))
	for i, f := range t.From {
		from[i] = string(f)
	}
	var out Payout
	changed := false
	err := pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
		b := pgutil.SQL.Update("payouts").Set("status", string(t.To)).Set("updated_at", at).
			Where(sq.Eq{"id": t.ID, "status": from})
		if t.ProviderRef != "" {
			b = b.Set("provider_ref", t.ProviderRef)
		}
		if t.FailureReason != "" {
			b = b.Set("failure_reason", t.FailureReason)
		}
		q, args, err := b.Suffix("RETURNING " + payoutColumns).ToSql()
		if err != nil {
			return err
		}
		p, err := scanPayout(tx.QueryRow(ctx, q, args...))
		if errors.Is(err, pgx.ErrNoRows) {
			out, err = s.inTx(tx).Get(ctx, t.ID)
			return err
		}
		if err != nil {
			return err
		}
		out, changed = p, true
		if txn, ok := posting(p, t.To, at); ok {
			_, err = ledger.PostTx(ctx, tx, txn)
		}
		return err
	})
	if err != nil {
		return Payout{}, false, fmt.Errorf("payout %s to %s: %w", t.ID, t.To, pgutil.Translate(err))
	}
	return out, changed, nil
}

func (s *PostgresStore) Get(ctx context.Context, id uuid.UUID) (Payout, error) {
	p, err := scanPayout(s.db.QueryRow(ctx, `SELECT `+payoutColumns+` FROM payouts WHERE id = $1`, id))
	if err != nil {
		return Payout{}, fmt.Errorf("payout %s: %w", id, pgutil.Translate(err))
	}
	return p, nil
}

func (s *PostgresStore) List(ctx context.Context, f Filter) ([]Payout, int, error) {
	f, err := f.normalize()
	if err != nil {
		return nil, 0, err
	}
	where := sq.And{}
	if f.Status != "" {
		where = append(where, sq.Eq{"status": string(f.Status)})
	}
	if f.MitraID != nil {
		where = append(where, sq.Eq{"mitra_id": *f.MitraID})
	}
	var total int
	q, args, err := pgutil.SQL.Select("count(*)").From("payouts").Where(where).ToSql()
	if err != nil {
		return nil, 0, err
	}
	if err := s.db.QueryRow(ctx, q, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("list payouts: %w", pgutil.Translate(err))
	}
	q, args, err = pgutil.SQL.Select(payoutColumns).From("payouts").Where(where).OrderBy("created_at DESC", "id DESC").
		Limit(uint64(f.PageSize)).Offset(uint64((f.Page - 1) * f.PageSize)).ToSql()
	if err != nil {
		return nil, 0, err
	}
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list payouts: %w", pgutil.Translate(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Payout, error) { return scanPayout(r) })
	if err != nil {
		return nil, 0, fmt.Errorf("list payouts: %w", pgutil.Translate(err))
	}
	return out, total, nil
}

func (s *PostgresStore) DuePending(ctx context.Context, before time.Time, limit int) ([]Payout, error) {
	rows, err := s.db.Query(ctx, `SELECT `+payoutColumns+` FROM payouts WHERE status = 'pending' AND updated_at <= $1
		ORDER BY updated_at, id LIMIT $2`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("pending payouts: %w", pgutil.Translate(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Payout, error) { return scanPayout(r) })
	if err != nil {
		return nil, fmt.Errorf("pending payouts: %w", pgutil.Translate(err))
	}
	return out, nil
}

func (s *PostgresStore) Stats(ctx context.Context) (Stats, error) {
	st := Stats{ByStatus: map[Status]int{}}
	rows, err := s.db.Query(ctx, `SELECT status, count(*), COALESCE(sum(amount), 0) FROM payouts GROUP BY status`)
	if err != nil {
		return st, fmt.Errorf("payout stats: %w", pgutil.Translate(err))
	}
	defer rows.Close()
	for rows.Next() {
		var status string
		var n int
		var sum int64
		if err := rows.Scan(&status, &n, &sum); err != nil {
			return st, fmt.Errorf("payout stats: %w", pgutil.Translate(err))
		}
		st.ByStatus[Status(status)] = n
		if Status(status) == StatusSucceeded {
			st.PaidOut = sum
		}
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("payout stats: %w", pgutil.Translate(err))
	}
	return st, nil
}

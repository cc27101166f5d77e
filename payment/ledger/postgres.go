package ledger

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
)

// DB is what NewPostgresStore and the …Tx functions take: a *pgxpool.Pool, or a pgx.Tx
// (curhat.DB). Its methods are pgx's: Exec, Query and QueryRow run a statement; Begin
// starts a transaction (a savepoint inside a pgx.Tx).
type DB = pgutil.DB

// PostgresStore is the Postgres Store.
type PostgresStore struct{ db DB }

var _ Store = (*PostgresStore)(nil)

// NewPostgresStore returns a Store over db.
func NewPostgresStore(db DB) *PostgresStore { return &PostgresStore{db: db} }

// PostTx posts t in db, the caller's transaction (or alone over a pool), and reports
// whether it did (false: its id was posted before). Lines that do not sum to zero are
// refused before anything is sent, and by the database at commit.
func PostTx(ctx context.Context, db DB, t Txn) (bool, error) {
	if err := t.Validate(); err != nil {
		return false, err
	}
	at := t.At.UTC().Truncate(time.Microsecond)
	var b strings.Builder
	args := []any{t.ID, string(t.Kind), at}
	b.WriteString(`WITH t AS (INSERT INTO ledger_txns (id, kind, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO NOTHING RETURNING id),
	v (account, mitra_id, payment_id, chat_session_id, payout_id, amount, currency, clears_at) AS (VALUES `)
	for i, l := range t.Lines {
		if i > 0 {
			b.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&b, "($%d::text, $%d::uuid, $%d::uuid, $%d::uuid, $%d::uuid, $%d::bigint, $%d::text, $%d::timestamptz)",
			n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8)
		args = append(args, string(l.Account), l.MitraID, l.PaymentID, l.ChatSessionID, l.PayoutID, l.Amount, l.Currency, l.ClearsAt)
	}
	b.WriteString(`),
	e AS (INSERT INTO ledger_entries (txn_id, kind, account, mitra_id, payment_id, chat_session_id, payout_id, amount, currency,
		clears_at, created_at)
		SELECT t.id, $2, v.account, v.mitra_id, v.payment_id, v.chat_session_id, v.payout_id, v.amount, v.currency, v.clears_at, $3
		FROM t, v),
	d AS (INSERT INTO ledger_clearance_due (chat_session_id, mitra_id, clears_at)
		SELECT v.chat_session_id, v.mitra_id, v.clears_at FROM t, v
		WHERE v.account = 'mitra_pending' AND v.clears_at IS NOT NULL AND v.chat_session_id IS NOT NULL
		ON CONFLICT (chat_session_id) DO NOTHING)
	SELECT count(*) FROM t`)
	var posted int
	if err := db.QueryRow(ctx, b.String(), args...).Scan(&posted); err != nil {
		return false, fmt.Errorf("post ledger %s %s: %w", t.Kind, t.ID, pgutil.Translate(err))
	}
	return posted > 0, nil
}

// PostSessionValueTx posts the value of a chat session that ends now in tx, the
// transaction of its end (the SQL function ledger_post_session_value; PostSessionValueIn
// is its in-memory twin).
func PostSessionValueTx(ctx context.Context, tx DB, e SessionEnd) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, SessionValueSQL, SessionValueArgs(e)...); err != nil {
		return fmt.Errorf("post the value of chat session %s: %w", e.SessionID, pgutil.Translate(err))
	}
	return nil
}

// SessionValueSQL calls ledger_post_session_value with SessionValueArgs ($1..$10): a store
// may run it in the statement that ends the session (SELECT … FROM the update).
const SessionValueSQL = `SELECT ledger_post_session_value($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

// SessionValueArgs are the arguments of SessionValueSQL for e.
func SessionValueArgs(e SessionEnd) []any {
	return []any{TxnID(KindSessionValue, e.SessionID), string(KindSessionValue), e.SessionID, e.MitraID, e.PairingID,
		e.CarryTo, e.CarryMinutes, e.Minutes, e.At.UTC().Truncate(time.Microsecond), e.ClearsAt.UTC().Truncate(time.Microsecond)}
}

// lockPayment takes a payment's ledger lock in tx (the session value takes it too).
func lockPayment(ctx context.Context, tx DB, paymentID uuid.UUID) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('ledger:' || $1::text, 0))`, paymentID)
	return err
}

// LockMitraTx takes a mitra's ledger lock in tx, until tx ends: reversals, clearances and
// payouts of one mitra read its balances under it, so that two of them never decide on the
// same balance.
func LockMitraTx(ctx context.Context, tx DB, mitraID uuid.UUID) error {
	return lockMitra(ctx, tx, mitraID)
}

func lockMitra(ctx context.Context, tx DB, mitraID uuid.UUID) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('ledger:mitra:' || $1::text, 0))`, mitraID)
	return err
}

// PostRefundTx posts a refund that went through in tx, the transaction that records it,
// and when the payment's client_funds no longer cover it the reversal of the earnings it
// had become (PostRefundIn is the in-memory twin).
func PostRefundTx(ctx context.Context, tx DB, r RefundPosting) error {
	return pgutil.InTx(ctx, tx, func(tx pgx.Tx) error {
		if err := lockPayment(ctx, tx, r.PaymentID); err != nil {
			return err
		}
		posted, err := PostTx(ctx, tx, RefundSucceeded(r.RefundID, r.PaymentID, r.Amount, r.Currency, r.At))
		if err != nil || !posted {
			return err
		}
		var short int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(sum(amount), 0) FROM ledger_entries
			WHERE account = 'client_funds' AND payment_id = $1`, r.PaymentID).Scan(&short); err != nil {
			return err
		}
		if short <= 0 {
			return nil
		}
		consumed, err := pgConsumed(ctx, tx, r.PaymentID)
		if err != nil {
			return err
		}
		available := map[uuid.UUID]int64{}
		for _, c := range consumed {
			if _, ok := available[c.MitraID]; ok || c.MitraID == uuid.Nil {
				continue
			}
			if err := lockMitra(ctx, tx, c.MitraID); err != nil {
				return err
			}
			var a int64
			if err := tx.QueryRow(ctx, `SELECT COALESCE(-sum(amount), 0) FROM ledger_entries
				WHERE mitra_id = $1 AND account = 'mitra_available'`, c.MitraID).Scan(&a); err != nil {
				return err
			}
			available[c.MitraID] = a
		}
		// What is left of each session's own earning is read under its mitra's lock.
		if consumed, err = pgConsumed(ctx, tx, r.PaymentID); err != nil {
			return err
		}
		t, ok := reversal(r.RefundID, r.PaymentID, short, r.FeePercent, r.Currency, r.At, consumed, available)
		if !ok {
			return nil
		}
		_, err = PostTx(ctx, tx, t)
		return err
	})
}

// unclearedSQL is what is left in mitra_pending of the earning of the session $1 (0 once
// it cleared).
const unclearedSQL = `(SELECT CASE WHEN bool_or(u.kind = 'earning_cleared') THEN 0 ELSE GREATEST(-COALESCE(sum(u.amount), 0), 0) END
	FROM ledger_entries u WHERE u.chat_session_id = %s AND u.account = 'mitra_pending')`

// pgConsumed lists the session values that took money of a payment, newest first.
func pgConsumed(ctx context.Context, tx DB, paymentID uuid.UUID) ([]Consumed, error) {
	rows, err := tx.Query(ctx, `
		SELECT e.chat_session_id, m.mitra_id,
		       COALESCE(sum(e.amount) FILTER (WHERE e.kind IN ('session_value', 'backfill')), 0),
		       COALESCE(-sum(e.amount) FILTER (WHERE e.kind = 'earning_reversed'), 0),
		       `+fmt.Sprintf(unclearedSQL, "e.chat_session_id")+`
		FROM ledger_entries e
		LEFT JOIN LATERAL (SELECT mitra_id FROM ledger_entries x
		              WHERE x.chat_session_id = e.chat_session_id AND x.account = 'mitra_pending'
		                AND x.kind IN ('session_value', 'backfill') LIMIT 1) m ON true
		WHERE e.account = 'client_funds' AND e.payment_id = $1 AND e.chat_session_id IS NOT NULL
		GROUP BY e.chat_session_id, m.mitra_id
		HAVING COALESCE(sum(e.amount) FILTER (WHERE e.kind IN ('session_value', 'backfill')), 0) > 0
		ORDER BY max(e.seq) FILTER (WHERE e.kind IN ('session_value', 'backfill')) DESC`, paymentID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Consumed, error) {
		var c Consumed
		var mitra *uuid.UUID
		err := row.Scan(&c.ChatSessionID, &mitra, &c.Value, &c.Reversed, &c.Pending)
		if mitra != nil {
			c.MitraID = *mitra
		}
		return c, err
	})
}

func (s *PostgresStore) Post(ctx context.Context, t Txn) (bool, error) { return PostTx(ctx, s.db, t) }

func (s *PostgresStore) Balance(ctx context.Context) (Balance, error) {
	b := Balance{Accounts: map[Account]int64{}}
	rows, err := s.db.Query(ctx, `SELECT account, sum(amount), min(currency) FROM ledger_entries GROUP BY account`)
	if err != nil {
		return b, fmt.Errorf("ledger balance: %w", pgutil.Translate(err))
	}
	sums := map[Account]int64{}
	for rows.Next() {
		var a string
		var sum int64
		var cur string
		if err := rows.Scan(&a, &sum, &cur); err != nil {
			rows.Close()
			return b, fmt.Errorf("ledger balance: %w", pgutil.Translate(err))
		}
		sums[Account(a)] = sum
		b.Imbalance += sum
		b.Currency = cur
	}
	if err := rows.Err(); err != nil {
		return b, fmt.Errorf("ledger balance: %w", pgutil.Translate(err))
	}
	for _, a := range Accounts {
		b.Accounts[a] = a.Held(sums[a])
	}
	return b, nil
}

func (s *PostgresStore) Earnings(ctx context.Context, mitraID uuid.UUID) (Earnings, error) {
	var e Earnings
	var cur *string
	err := s.db.QueryRow(ctx, `
		SELECT min(currency),
		       COALESCE(-sum(amount) FILTER (WHERE account = 'mitra_pending'), 0),
		       COALESCE(-sum(amount) FILTER (WHERE account = 'mitra_available'), 0),
		       COALESCE(-sum(amount) FILTER (WHERE account = 'payouts_in_flight'), 0),
		       COALESCE(sum(amount) FILTER (WHERE account = 'mitra_receivable'), 0),
		       COALESCE(sum(amount) FILTER (WHERE (kind = 'payout_succeeded' AND account = 'payouts_in_flight')
		                                       OR (kind = 'payout_reversed' AND account = 'mitra_available')), 0),
		       (SELECT min(d.clears_at) FROM ledger_clearance_due d WHERE d.mitra_id = $1
		           AND `+fmt.Sprintf(unclearedSQL, "d.chat_session_id")+` > 0)
		FROM ledger_entries WHERE mitra_id = $1`, mitraID).
		Scan(&cur, &e.Pending, &e.Available, &e.InFlight, &e.Receivable, &e.PaidOut, &e.NextClearanceAt)
	if err != nil {
		return e, fmt.Errorf("earnings of mitra %s: %w", mitraID, pgutil.Translate(err))
	}
	if cur != nil {
		e.Currency = *cur
	}
	return e, nil
}

const entryColumns = `id, txn_id, kind, account, mitra_id, payment_id, chat_session_id, payout_id, amount, currency, clears_at, created_at`

func scanEntry(row pgx.CollectableRow) (Entry, error) {
	var e Entry
	var kind, account string
	err := row.Scan(&e.ID, &e.TxnID, &kind, &account, &e.MitraID, &e.PaymentID, &e.ChatSessionID, &e.PayoutID,
		&e.Amount, &e.Currency, &e.ClearsAt, &e.CreatedAt)
	e.Kind, e.Account = Kind(kind), Account(account)
	return e, err
}

func (s *PostgresStore) Entries(ctx context.Context, f EntryFilter) ([]Entry, int, error) {
	f, err := f.normalize()
	if err != nil {
		return nil, 0, err
	}
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM ledger_entries WHERE mitra_id = $1`, f.MitraID).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("entries of mitra %s: %w", f.MitraID, pgutil.Translate(err))
	}
	rows, err := s.db.Query(ctx, `SELECT `+entryColumns+` FROM ledger_entries WHERE mitra_id = $1
		ORDER BY created_at DESC, seq DESC LIMIT $2 OFFSET $3`, f.MitraID, f.PageSize, (f.Page-1)*f.PageSize)
	if err != nil {
		return nil, 0, fmt.Errorf("entries of mitra %s: %w", f.MitraID, pgutil.Translate(err))
	}
	out, err := pgx.CollectRows(rows, scanEntry)
	if err != nil {
		return nil, 0, fmt.Errorf("entries of mitra %s: %w", f.MitraID, pgutil.Translate(err))
	}
	return out, total, nil
}

// dueSQL lists earnings due for clearance from the work list ledger_clearance_due, with
// what is left in mitra_pending of each (its value or its backfill, less what reversals
// took back). Clear removes the rows with nothing left before it reads a batch.
var dueSQL = `
SELECT d.chat_session_id, d.mitra_id, ` + fmt.Sprintf(unclearedSQL, "d.chat_session_id") + `,
       (SELECT min(currency) FROM ledger_entries c WHERE c.chat_session_id = d.chat_session_id AND c.account = 'mitra_pending')
FROM ledger_clearance_due d
WHERE d.clears_at <= $1
ORDER BY d.clears_at, d.chat_session_id
LIMIT $2`

func (s *PostgresStore) Clear(ctx context.Context, at time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	// Earnings that reversals took back entirely have nothing to clear: off the list first,
	// so that they never take a place in the batch.
	if _, err := s.db.Exec(ctx, `DELETE FROM ledger_clearance_due d WHERE d.clears_at <= $1 AND `+
		fmt.Sprintf(unclearedSQL, "d.chat_session_id")+` = 0`, at); err != nil {
		return 0, fmt.Errorf("earnings due: %w", pgutil.Translate(err))
	}
	rows, err := s.db.Query(ctx, dueSQL, at, limit)
	if err != nil {
		return 0, fmt.Errorf("earnings due: %w", pgutil.Translate(err))
	}
	due, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (dueEarning, error) {
		var d dueEarning
		var cur *string
		err := row.Scan(&d.sessionID, &d.mitraID, &d.earning, &cur)
		if cur != nil {
			d.currency = *cur
		}
		return d, err
	})
	if err != nil {
		return 0, fmt.Errorf("earnings due: %w", pgutil.Translate(err))
	}
	n := 0
	for _, d := range due {
		var posted bool
		err := pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
			if err := lockMitra(ctx, tx, d.mitraID); err != nil {
				return err
			}
			// Read again under the lock: a reversal or another instance may have moved it.
			var pending, receivable, left int64
			if err := tx.QueryRow(ctx, `SELECT
				COALESCE(-sum(amount) FILTER (WHERE account = 'mitra_pending'), 0),
				COALESCE(sum(amount) FILTER (WHERE account = 'mitra_receivable'), 0),
				`+fmt.Sprintf(unclearedSQL, "$2::uuid")+`
				FROM ledger_entries WHERE mitra_id = $1`, d.mitraID, d.sessionID).
				Scan(&pending, &receivable, &left); err != nil {
				return err
			}
			if t, ok := clearance(d.sessionID, d.mitraID, left, pending, receivable, d.currency, at); ok {
				var err error
				if posted, err = PostTx(ctx, tx, t); err != nil {
					return err
				}
			}
			_, err := tx.Exec(ctx, `DELETE FROM ledger_clearance_due WHERE chat_session_id = $1`, d.sessionID)
			return err
		})
		if err != nil {
			return n, fmt.Errorf("clear the earning of chat session %s: %w", d.sessionID, err)
		}
		if posted {
			n++
		}
	}
	return n, nil
}

func (s *PostgresStore) CarryOver(ctx context.Context, pairingID uuid.UUID) ([]Part, error) {
	rows, err := s.db.Query(ctx, `SELECT co.payment_id, co.amount FROM ledger_carry_overs co
		JOIN payment_sessions p ON p.id = co.payment_id
		WHERE co.pairing_id = $1 ORDER BY p.created_at DESC, p.id DESC`, pairingID)
	if err != nil {
		return nil, fmt.Errorf("carry-over of pairing %s: %w", pairingID, pgutil.Translate(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Part, error) {
		var p Part
		err := row.Scan(&p.PaymentID, &p.Amount)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("carry-over of pairing %s: %w", pairingID, pgutil.Translate(err))
	}
	return out, nil
}

func (s *PostgresStore) Revenue(ctx context.Context, from, to time.Time) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `SELECT COALESCE(-sum(amount), 0) FROM ledger_entries
		WHERE account = 'platform_revenue' AND created_at >= $1 AND created_at < $2`, from, to).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("platform revenue: %w", pgutil.Translate(err))
	}
	return n, nil
}

// checkSQL finds what breaks the invariants, one row per finding: reason, txn, payment,
// mitra, account, amount.
const checkSQL = `
WITH unbalanced AS (
    SELECT txn_id, sum(amount) AS s FROM ledger_entries GROUP BY txn_id HAVING sum(amount) <> 0
), negative AS (
    SELECT mitra_id, account, -sum(amount) AS held FROM ledger_entries
    WHERE account IN ('mitra_pending', 'mitra_available', 'payouts_in_flight')
    GROUP BY mitra_id, account HAVING -sum(amount) < 0
), gw AS (
    SELECT (SELECT COALESCE(sum(amount), 0) FROM ledger_entries WHERE account = 'gateway')
         - ((SELECT COALESCE(sum(amount), 0) FROM payment_sessions WHERE paid_at IS NOT NULL)
          - (SELECT COALESCE(sum(amount), 0) FROM payment_refunds WHERE status = 'succeeded')
          - (SELECT COALESCE(sum(amount), 0) FROM payouts WHERE status = 'succeeded')) AS off
), held AS (
    SELECT payment_id, -sum(amount) AS held FROM ledger_entries WHERE account = 'client_funds'
    GROUP BY payment_id HAVING sum(amount) <> 0
), session_open AS (
    SELECT id FROM chat_sessions WHERE status NOT IN ('ended', 'cancelled')
), pairing_open AS (
    SELECT pr.id FROM pairings pr
    WHERE pr.status NOT IN ('failed', 'cancelled', 'matched')
       OR (pr.status = 'matched' AND pr.chat_session_id IN (SELECT id FROM session_open))
), holding AS (
    SELECT h.payment_id, h.held,
           CASE WHEN h.held < 0 THEN 'payment_overdrawn'
                WHEN EXISTS (SELECT 1 FROM payment_refunds r WHERE r.payment_id = h.payment_id AND r.status <> 'succeeded')
                THEN 'refund_not_succeeded'
                ELSE 'payment_holds_funds' END AS reason
    FROM held h JOIN payment_sessions p ON p.id = h.payment_id
    WHERE h.held < 0 OR (
        p.paid_at <= $1
        AND NOT EXISTS (SELECT 1 FROM payment_refunds r WHERE r.payment_id = h.payment_id AND r.status <> 'succeeded'
                          AND r.created_at > $1)
        AND (EXISTS (SELECT 1 FROM payment_refunds r WHERE r.payment_id = h.payment_id AND r.status <> 'succeeded')
             OR NOT (p.pairing_id IN (SELECT id FROM pairing_open)
                  OR p.chat_session_id IN (SELECT id FROM session_open)
                  OR EXISTS (SELECT 1 FROM ledger_carry_overs co WHERE co.payment_id = h.payment_id
                             AND co.pairing_id IN (SELECT id FROM pairing_open)))))
)
SELECT 'unbalanced_txn', txn_id, NULL::uuid, NULL::uuid, NULL::text, s FROM unbalanced
UNION ALL SELECT 'negative_balance', NULL, NULL, mitra_id, account, held FROM negative
UNION ALL SELECT 'gateway_mismatch', NULL, NULL, NULL, 'gateway', off FROM gw WHERE off <> 0
UNION ALL SELECT reason, NULL, payment_id, NULL, 'client_funds', held FROM holding`

func (s *PostgresStore) Check(ctx context.Context, cutoff time.Time) ([]Finding, error) {
	rows, err := s.db.Query(ctx, checkSQL, cutoff)
	if err != nil {
		return nil, fmt.Errorf("check the ledger: %w", pgutil.Translate(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Finding, error) {
		var f Finding
		var account *string
		err := row.Scan(&f.Reason, &f.TxnID, &f.PaymentID, &f.MitraID, &account, &f.Amount)
		if account != nil {
			f.Account = Account(*account)
		}
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("check the ledger: %w", pgutil.Translate(err))
	}
	sortFindings(out)
	return out, nil
}

package payment

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/payment/ledger"
)

// The SQL of payment_refunds, shared by the PostgresStore and RecordRefundTx (the caller's
// transaction): the one place that knows how a refund row is recorded and read.

// refundColumns reads a refund with its payment's currency and charge reference: the
// refunds table is r, the payment p.
const refundColumns = `r.id, r.payment_id, r.amount, p.currency, r.cause, r.reason, r.status, r.provider_ref, r.attempts,
r.next_attempt_at, r.last_error, r.created_at, r.updated_at, p.provider_ref, r.key_attempt, r.note`

// selectRefunds reads refunds (add a WHERE on r or p).
const selectRefunds = `SELECT ` + refundColumns + ` FROM payment_refunds r JOIN payment_sessions p ON p.id = r.payment_id`

// scanRefund reads one row of refundColumns.
func scanRefund(row pgx.Row) (Refund, error) {
	var (
		r                                     Refund
		providerRef, lastErr, chargeRef, note *string
	)
	err := row.Scan(&r.ID, &r.PaymentID, &r.Amount, &r.Currency, &r.Cause, &r.Reason, &r.Status, &providerRef, &r.Attempts,
		&r.NextAttemptAt, &lastErr, &r.CreatedAt, &r.UpdatedAt, &chargeRef, &r.KeyAttempt, &note)
	if err != nil {
		return Refund{}, err
	}
	r.ProviderRef, r.LastError, r.ChargeRef = pgutil.Deref(providerRef), pgutil.Deref(lastErr), pgutil.Deref(chargeRef)
	r.Note = pgutil.Deref(note)
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	r.NextAttemptAt = pgutil.UTCPtr(r.NextAttemptAt)
	return r, nil
}

// collectRefunds reads every row of a query of refundColumns.
func collectRefunds(rows pgx.Rows, err error) ([]Refund, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Refund, error) { return scanRefund(r) })
}

// refundable is a payment row as recordRefunds sees it, locked.
type refundable struct {
	status   Status
	amount   int64
	reserved int64 // the sum of all its refunds
}

// recordRefunds records the refunds of r in db (a transaction), r already validated. It
// locks the payments of r.From (in id order, so concurrent recorders cannot deadlock),
// and for each, in r.From's order: returns the refund of r.Cause recorded earlier if
// there is one; skips a payment never charged (or, for a late payment, refuses one that
// is not closed: ErrInvalidState); otherwise inserts a pending refund of what remains of
// the payment (its amount less all its refunds, whatever their status) up to what
// r.Amount still asks for — an exact one all of r.Amount or nothing (RefundOrder.Exact).
// An unknown payment is ErrNotFound. Driver errors are returned as they are.
func recordRefunds(ctx context.Context, db pgutil.DB, r RefundRecord) ([]Refund, error) {
	from := dedupeIDs(r.From)
	at := r.At.UTC().Truncate(time.Microsecond)
	// Lock first, then read the refunds in a statement of their own: under READ COMMITTED
	// a statement that waited for a lock still reads with the snapshot it started with, so
	// sums read by the locking statement could miss a refund committed meanwhile.
	if _, err := db.Exec(ctx, `SELECT 1 FROM payment_sessions WHERE id = ANY($1) ORDER BY id FOR UPDATE`, from); err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT p.id, p.status, p.amount,
		(SELECT COALESCE(sum(x.amount), 0) FROM payment_refunds x WHERE x.payment_id = p.id)
		FROM payment_sessions p WHERE p.id = ANY($1)`, from)
	if err != nil {
		return nil, err
	}
	payments := map[uuid.UUID]*refundable{}
	for rows.Next() {
		var id uuid.UUID
		var p refundable
		if err := rows.Scan(&id, &p.status, &p.amount, &p.reserved); err != nil {
			rows.Close()
			return nil, err
		}
		payments[id] = &p
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(from))
	for i, id := range from {
		if payments[id] == nil {
			return nil, fmt.Errorf("payment %s: %w", id, ErrNotFound)
		}
		ids[i] = RefundID(id, r.Cause)
	}
	existing, err := collectRefunds(db.Query(ctx, selectRefunds+` WHERE r.id = ANY($1)`, ids))
	if err != nil {
		return nil, err
	}
	byID := map[uuid.UUID]Refund{}
	for _, x := range existing {
		byID[x.ID] = x
	}

	wanted := r.Amount // 0: all that remains of each
	var recorded []uuid.UUID
	for i, id := range from {
		if x, ok := byID[ids[i]]; ok {
			recorded = append(recorded, x.ID)
			wanted -= x.Amount
			continue
		}
		if r.Amount > 0 && wanted <= 0 {
			break
		}
		p := payments[id]
		if r.Exact {
			consumed, err := ledger.ConsumedTx(ctx, db, id)
			if err != nil {
				return nil, err
			}
			if err := r.checkExact(id, p.status, p.amount, p.reserved, consumed); err != nil {
				return nil, err
			}
		}
		switch {
		case r.Late && !p.status.Closed():
			return nil, fmt.Errorf("late payment %s is %s, not closed: %w", id, p.status, ErrInvalidState)
		case r.Late:
			var currency string
			if err := db.QueryRow(ctx, `UPDATE payment_sessions SET status = 'paid', paid_at = $2, handled_at = $2, updated_at = $2,
				provider_ref = COALESCE(provider_ref, $3) WHERE id = $1 RETURNING currency`, id, at,
				pgutil.Nullable(r.ProviderRef)).Scan(&currency); err != nil {
				return nil, err
			}
			if txn, ok := ledger.PaymentPaid(id, p.amount, currency, at); ok {
				if _, err := ledger.PostTx(ctx, db, txn); err != nil {
					return nil, err
				}
			}
		case !p.status.Charged():
			continue // never charged: nothing to give back
		}
		take := p.amount - p.reserved
		if r.Amount > 0 {
			take = min(take, wanted)
		}
		if r.Caps != nil {
			take = min(take, r.Caps[id])
		}
		if take <= 0 {
			continue
		}
		if _, err := db.Exec(ctx, `INSERT INTO payment_refunds (id, payment_id, amount, cause, reason, status, attempts,
			created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6) ON CONFLICT (id) DO NOTHING`,
			ids[i], id, take, r.Cause, r.Reason, at); err != nil {
			return nil, err
		}
		p.reserved += take
		wanted -= take
		recorded = append(recorded, ids[i])
	}
	if len(recorded) == 0 {
		return nil, nil
	}
	out, err := collectRefunds(db.Query(ctx, selectRefunds+` WHERE r.id = ANY($1)`, recorded))
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Refund) int {
		return slices.Index(recorded, a.ID) - slices.Index(recorded, b.ID)
	})
	return out, nil
}

func dedupeIDs(ids []uuid.UUID) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(ids))
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

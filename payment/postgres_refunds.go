package payment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	sq "github.com/Masterminds/squirrel"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/payment/ledger"
)

// RecordRefundTx records the refunds of r inside tx, the caller's transaction — for a
// domain whose own transaction decides the refund (a pairing failing while it searched),
// so that the decision and the refund commit together or not at all. It locks the
// payments of r.From (in id order, so concurrent recorders cannot deadlock), and for each,
// in r.From's order: returns the refund of r.Cause recorded earlier if there is one;
// skips a payment never charged (or, for a late payment, refuses one that is not closed:
// ErrInvalidState); otherwise inserts a pending refund of what remains of the payment (its
// amount less all its refunds, whatever their status) up to what r.Amount still asks for.
// An unknown payment is ErrNotFound. The caller sends the returned refunds after its
// commit (Service.SettleRefunds); RetryRefunds sends them if it does not.
func RecordRefundTx(ctx context.Context, tx pgx.Tx, r RefundRecord) ([]Refund, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	out, err := recordRefunds(ctx, tx, r)
	return out, translate(err)
}

func (p *PostgresStore) RecordRefund(ctx context.Context, r RefundRecord) ([]Refund, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	var out []Refund
	err := pgutil.InTx(ctx, p.db, func(tx pgx.Tx) error {
		var err error
		out, err = recordRefunds(ctx, tx, r)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("record refund (%s): %w", r.Cause, translate(err))
	}
	return out, nil
}

// ClaimRefund is one guarded UPDATE (a compare-and-set): of concurrent claims, on any
// instance, the first to lock the row takes it, and the others re-check the guard against
// the row it wrote — pending, its lease in the future — and take nothing.
func (p *PostgresStore) ClaimRefund(ctx context.Context, c RefundClaim) (Refund, bool, error) {
	c.At = c.At.UTC().Truncate(time.Microsecond)
	at := c.At
	var guard string
	switch c.Mode {
	case ClaimFirst:
		guard = `r.status = 'pending' AND r.attempts = 0`
	case ClaimNow:
		// Failed (an attempt that ended refused: whatever its backoff), or pending and not
		// in flight (never attempted, or the lease of its last attempt is over).
		guard = `(r.status = 'failed' OR (r.status = 'pending' AND (r.attempts = 0 OR r.next_attempt_at IS NULL OR r.next_attempt_at <= $2)))`
	default:
		return Refund{}, false, fmt.Errorf("claim refund %s: unknown claim mode %d", c.ID, c.Mode)
	}
	r, err := scanRefund(p.db.QueryRow(ctx, `UPDATE payment_refunds r SET status = 'pending', attempts = r.attempts + 1,
		next_attempt_at = $3, updated_at = $2 FROM payment_sessions p WHERE p.id = r.payment_id AND r.id = $1 AND `+guard+`
		RETURNING `+refundColumns, c.ID, at, at.Add(c.Lease)))
	if errors.Is(err, pgx.ErrNoRows) {
		cur, err := p.GetRefund(ctx, c.ID)
		if err != nil {
			return Refund{}, false, err
		}
		return cur, false, claimRefused(c, cur)
	}
	if err != nil {
		return Refund{}, false, fmt.Errorf("claim refund %s: %w", c.ID, translate(err))
	}
	return r, true, nil
}

// claimRefused is the error of claim c that did not take the refund, cur as read after
// the guarded UPDATE missed. The guard of ClaimNow refuses a succeeded refund and a
// refund in flight only, so any other cur was in flight when the UPDATE ran (the attempt
// may have ended since); ClaimFirst refuses every attempted refund, in flight or not.
func claimRefused(c RefundClaim, cur Refund) error {
	if cur.Status == RefundManual {
		return fmt.Errorf("claim refund %s: the provider cannot make it; settle it by hand: %w", c.ID, ErrInvalidState)
	}
	inFlight := cur.Status == RefundPending && cur.Attempts > 0 && cur.NextAttemptAt != nil && cur.NextAttemptAt.After(c.At)
	if inFlight || (c.Mode == ClaimNow && cur.Status != RefundSucceeded) {
		return fmt.Errorf("claim refund %s: %w", c.ID, ErrRefundInFlight)
	}
	return nil
}

// claimDueRefundsSQL claims with SKIP LOCKED so that concurrent sweeps split the work
// instead of queueing behind each other; a claimed row's lease (next_attempt_at in the
// future, the row pending) keeps the next pass, the other instances and ClaimRefund off it
// while the attempt runs.
const claimDueRefundsSQL = `WITH due AS MATERIALIZED (
    SELECT id FROM payment_refunds
    WHERE status IN ('pending', 'failed')
      AND ((next_attempt_at IS NOT NULL AND next_attempt_at <= $1)
           OR (status = 'pending' AND next_attempt_at IS NULL AND created_at <= $2))
    ORDER BY created_at
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
UPDATE payment_refunds r SET status = 'pending', attempts = r.attempts + 1, next_attempt_at = $4, updated_at = $1
FROM due, payment_sessions p
WHERE r.id = due.id AND p.id = r.payment_id
RETURNING ` + refundColumns

func (p *PostgresStore) ClaimDueRefunds(ctx context.Context, at time.Time, lease time.Duration, limit int) ([]Refund, error) {
	at = at.UTC().Truncate(time.Microsecond)
	out, err := collectRefunds(p.db.Query(ctx, claimDueRefundsSQL, at, at.Add(-lease), limit, at.Add(lease)))
	if err != nil {
		return nil, fmt.Errorf("claim due refunds: %w", translate(err))
	}
	slices.SortFunc(out, func(a, b Refund) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// settlePaymentSQL derives a charged payment's refunded_amount and status from its refunds.
const settlePaymentSQL = `UPDATE payment_sessions p SET
    refunded_amount = s.succeeded,
    status = CASE WHEN s.failed > 0 THEN 'refund_failed'
                  WHEN s.succeeded >= p.amount THEN 'refunded'
                  WHEN s.succeeded > 0 THEN 'partially_refunded'
                  ELSE 'paid' END,
    updated_at = $2
FROM (SELECT COALESCE(sum(amount) FILTER (WHERE status = 'succeeded'), 0) AS succeeded,
             count(*) FILTER (WHERE status IN ('failed', 'manual')) AS failed
      FROM payment_refunds WHERE payment_id = $1) s
WHERE p.id = $1 AND p.status IN ('paid', 'partially_refunded', 'refunded', 'refund_failed')`

func (p *PostgresStore) FinishRefund(ctx context.Context, o RefundAttempt) (Refund, bool, error) {
	at := o.At.UTC().Truncate(time.Microsecond)
	var changed bool
	err := pgutil.InTx(ctx, p.db, func(tx pgx.Tx) error {
		var paymentID uuid.UUID
		if err := tx.QueryRow(ctx, `SELECT payment_id FROM payment_refunds WHERE id = $1`, o.ID).Scan(&paymentID); err != nil {
			return err
		}
		// The payment row first: its refunded_amount and status are derived below from
		// every refund of it, which must not change under us.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM payment_sessions WHERE id = $1 FOR UPDATE`, paymentID); err != nil {
			return err
		}
		var tag pgconn.CommandTag
		var err error
		switch {
		case o.Succeeded && o.Manual:
			tag, err = tx.Exec(ctx, `UPDATE payment_refunds SET status = 'succeeded', provider_ref = $2, next_attempt_at = NULL,
				note = $4, updated_at = $3 WHERE id = $1 AND status = 'manual'`,
				o.ID, pgutil.Nullable(o.ProviderRef), at, pgutil.Nullable(o.Note))
		case o.Succeeded:
			tag, err = tx.Exec(ctx, `UPDATE payment_refunds SET status = 'succeeded', provider_ref = $2, next_attempt_at = NULL,
				last_error = NULL, updated_at = $3 WHERE id = $1 AND status IN ('pending', 'failed', 'processing')`,
				o.ID, pgutil.Nullable(o.ProviderRef), at)
		case o.Processing:
			tag, err = tx.Exec(ctx, `UPDATE payment_refunds SET status = 'processing', provider_ref = $2, next_attempt_at = NULL,
				updated_at = $3 WHERE id = $1 AND status = 'pending' AND attempts = $4`,
				o.ID, pgutil.Nullable(o.ProviderRef), at, o.Attempt)
		case o.NotPossible:
			tag, err = tx.Exec(ctx, `UPDATE payment_refunds SET status = 'manual', last_error = $2, next_attempt_at = NULL,
				updated_at = $3 WHERE id = $1 AND status IN ('pending', 'processing') AND attempts = $4`,
				o.ID, pgutil.Nullable(o.Error), at, o.Attempt)
		default:
			tag, err = tx.Exec(ctx, `UPDATE payment_refunds SET status = 'failed', last_error = $2, next_attempt_at = $3,
				updated_at = $4, key_attempt = CASE WHEN $6 THEN attempts + 1 ELSE key_attempt END
				WHERE id = $1 AND status IN ('pending', 'failed', 'processing') AND attempts = $5`,
				o.ID, pgutil.Nullable(o.Error), o.NextAttemptAt, at, o.Attempt, o.NewKey)
		}
		if err != nil {
			return err
		}
		if changed = tag.RowsAffected() == 1; !changed {
			return nil
		}
		if o.Succeeded {
			var r ledger.RefundPosting
			var pct *int
			if err := tx.QueryRow(ctx, `SELECT r.amount, p.currency, p.platform_fee_percent FROM payment_refunds r
				JOIN payment_sessions p ON p.id = r.payment_id WHERE r.id = $1`, o.ID).Scan(&r.Amount, &r.Currency, &pct); err != nil {
				return err
			}
			r.RefundID, r.PaymentID, r.FeePercent, r.At = o.ID, paymentID, core.Deref(pct), at
			if err := ledger.PostRefundTx(ctx, tx, r); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, settlePaymentSQL, paymentID, at)
		return err
	})
	if err != nil {
		return Refund{}, false, fmt.Errorf("record outcome of refund %s: %w", o.ID, translate(err))
	}
	r, err := p.GetRefund(ctx, o.ID)
	return r, changed, err
}

func (p *PostgresStore) GetRefund(ctx context.Context, id uuid.UUID) (Refund, error) {
	r, err := scanRefund(p.db.QueryRow(ctx, selectRefunds+` WHERE r.id = $1`, id))
	if err != nil {
		return Refund{}, fmt.Errorf("get refund %s: %w", id, translate(err))
	}
	return r, nil
}

func (p *PostgresStore) ListRefunds(ctx context.Context, f RefundFilter) ([]Refund, int, error) {
	where := sq.And{}
	if f.Status != "" {
		where = append(where, sq.Eq{"r.status": string(f.Status)})
	}
	if f.PaymentID != nil {
		where = append(where, sq.Eq{"r.payment_id": *f.PaymentID})
	}
	if f.Cause != "" {
		where = append(where, sq.Eq{"r.cause": f.Cause})
	}
	page, size := max(f.Page, 1), f.PageSize
	if size <= 0 {
		size = DefaultRefundPageSize
	}
	query, args, err := pgutil.SQL.Select("count(*)").From("payment_refunds r").Where(where).ToSql()
	if err != nil {
		return nil, 0, err
	}
	var total int
	if err := p.db.QueryRow(ctx, query, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count refunds: %w", translate(err))
	}
	query, args, err = pgutil.SQL.Select(refundColumns).From("payment_refunds r").
		Join("payment_sessions p ON p.id = r.payment_id").Where(where).
		OrderBy("r.created_at DESC", "r.id DESC").Limit(uint64(size)).Offset(uint64((page - 1) * size)).ToSql()
	if err != nil {
		return nil, 0, err
	}
	items, err := collectRefunds(p.db.Query(ctx, query, args...))
	if err != nil {
		return nil, 0, fmt.Errorf("list refunds: %w", translate(err))
	}
	return items, total, nil
}

// reconcileSQL finds charged money without an outcome as of $1. It reads pairings and
// chat_sessions (a chat_start is delivered once a chat session of its pairing started,
// the pairing still naming it as its payment) and extensions (an extension payment is
// delivered once its extension is paid). Fully refunded payments are settled by
// definition and are not read.
var reconcileSQL = `SELECT ` + pgutil.Qualified("p", sessionColumns) + `, d.delivered, f.failed, f.stuck
FROM payment_sessions p
CROSS JOIN LATERAL (SELECT CASE WHEN p.purpose = 'chat_start' THEN EXISTS (
        SELECT 1 FROM pairings pr JOIN chat_sessions cs ON cs.pairing_id = pr.id
        WHERE pr.id = p.pairing_id AND pr.payment_session_id = p.id AND cs.started_at IS NOT NULL)
    ELSE EXISTS (
        SELECT 1 FROM extensions e WHERE e.id = p.extension_id AND e.payment_session_id = p.id AND e.status = 'paid')
    END AS delivered) d
CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE r.status IN ('failed', 'manual')) AS failed,
        count(*) FILTER (WHERE r.status IN ('pending', 'processing')) AS stuck
    FROM payment_refunds r WHERE r.payment_id = p.id AND r.status <> 'succeeded' AND r.created_at <= $1) f
WHERE p.amount > 0 AND p.paid_at IS NOT NULL AND p.status IN ('paid', 'partially_refunded', 'refund_failed')
  AND ((p.paid_at <= $1 AND NOT d.delivered AND p.refunded_amount < p.amount) OR f.failed > 0 OR f.stuck > 0)
ORDER BY p.paid_at, p.id`

func (p *PostgresStore) Reconcile(ctx context.Context, cutoff time.Time) ([]Unsettled, error) {
	rows, err := p.db.Query(ctx, reconcileSQL, cutoff.UTC())
	if err != nil {
		return nil, fmt.Errorf("reconcile payments: %w", translate(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Unsettled, error) {
		var (
			u                           Unsettled
			s                           Session
			providerRef, checkout, idem *string
		)
		err := r.Scan(&s.ID, &s.ClientID, &s.Purpose, &s.PairingID, &s.ChatSessionID, &s.ExtensionID, &s.TierID,
			&s.Minutes, &s.BaseAmount, &s.DiscountAmount, &s.Amount, &s.Currency, &s.Status, &providerRef,
			&checkout, &idem, &s.ExpiresAt, &s.PaidAt, &s.CreatedAt, &s.UpdatedAt, &s.HandledAt, &s.RefundedAmount, &s.PlatformFeePercent,
			&u.Delivered, &u.FailedRefunds, &u.StuckRefunds)
		if err != nil {
			return Unsettled{}, err
		}
		s.ProviderRef, s.CheckoutURL, s.IdempotencyKey = pgutil.Deref(providerRef), pgutil.Deref(checkout), pgutil.Deref(idem)
		u.Payment = normalizeScanned(s)
		return u, nil
	})
	if err != nil {
		return nil, fmt.Errorf("reconcile payments: %w", translate(err))
	}
	return out, nil
}

// Package benchdata writes a marketplace's synthetic history into Postgres, for the
// benchmarks and the load tool that measure what reads it (the operators' statistics).
package benchdata

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// historySQL writes n pairings created over the span seconds before $1 (one every
// span/n s), 10,000 clients and 500 mitras (offline: the history is the past, they take no offers). By the pairing's number g: the last 50 are
// still searching; of the others, by g mod 20, 14 matched after 1..120 s, each with a
// 30-minute chat session (ended expired, or client_ended one in seven, unless still
// running at $1) and three offers (accepted, declined, dismissed); 2 failed after 60 s
// (three lapsed offers, refunded); 1 cancelled by the client after paying (three
// dismissed offers, refunded); 1 whose payment expired; 2 cancelled before paying. Every
// pairing has its chat_start payment of 50,000.
var historySQL = []string{
	`INSERT INTO pricing_tiers (id, mode, minutes, price) VALUES (md5('bench tier')::uuid, 'session', 30, 50000)
		ON CONFLICT DO NOTHING`,
	`INSERT INTO mitras (id, display_name, is_online) SELECT md5('m'||i)::uuid, 'mitra '||i, false FROM generate_series(0, 499) i`,
	`INSERT INTO clients (id, display_name) SELECT md5('c'||i)::uuid, 'client '||i FROM generate_series(0, 9999) i`,
	`CREATE TEMP TABLE bench_g ON COMMIT DROP AS
	SELECT g, md5('p'||g)::uuid AS pid, md5('s'||g)::uuid AS sid, md5('pay'||g)::uuid AS payid,
		md5('c'||(g % 10000))::uuid AS cid, md5('m'||(g % 500))::uuid AS m0, md5('m'||((g+1) % 500))::uuid AS m1,
		md5('m'||((g+2) % 500))::uuid AS m2,
		CASE WHEN g > $2 - 50 THEN 'waiting' WHEN g % 20 < 14 THEN 'matched' WHEN g % 20 < 16 THEN 'failed'
			WHEN g % 20 = 16 THEN 'abandoned' WHEN g % 20 = 17 THEN 'expired' ELSE 'unpaid_cancel' END AS outcome,
		$1::timestamptz - make_interval(secs => $3) + make_interval(secs => g::double precision * $3 / $2) AS created,
		NULL::timestamptz AS paid, NULL::timestamptz AS closed
	FROM generate_series(1, $2::int) g`,
	`UPDATE bench_g SET paid = CASE WHEN outcome IN ('expired', 'unpaid_cancel') THEN NULL ELSE created + interval '20 seconds' END`,
	`UPDATE bench_g SET closed = CASE outcome WHEN 'matched' THEN paid + make_interval(secs => (g % 120) + 1)
		WHEN 'failed' THEN paid + interval '60 seconds' WHEN 'abandoned' THEN paid + interval '30 seconds'
		WHEN 'expired' THEN created + interval '15 minutes' WHEN 'unpaid_cancel' THEN created + interval '10 seconds' END`,
	`INSERT INTO payment_sessions (id, client_id, purpose, pairing_id, tier_id, minutes, base_amount, amount, currency,
		status, expires_at, paid_at, created_at, updated_at, handled_at, refunded_amount, provider_ref)
	SELECT payid, cid, 'chat_start', pid, md5('bench tier')::uuid, 30, 50000, 50000, 'IDR',
		CASE WHEN outcome IN ('failed', 'abandoned') THEN 'refunded' WHEN outcome IN ('expired', 'unpaid_cancel') THEN 'expired'
			ELSE 'paid' END,
		created + interval '15 minutes', paid, created, coalesce(closed, created), coalesce(closed, created),
		CASE WHEN outcome IN ('failed', 'abandoned') THEN 50000 ELSE 0 END, 'ch_'||g
	FROM bench_g`,
	`INSERT INTO pairings (id, client_id, type, status, minutes, payment_session_id, expires_at, matched_mitra_id,
		chat_session_id, failure_reason, paid_at, closed_at, created_at, updated_at)
	SELECT pid, cid, 'blast',
		CASE outcome WHEN 'matched' THEN 'matched' WHEN 'failed' THEN 'failed' WHEN 'waiting' THEN 'searching' ELSE 'cancelled' END,
		30, payid, CASE WHEN outcome = 'waiting' THEN paid + interval '60 seconds' END,
		CASE WHEN outcome = 'matched' THEN m0 END, CASE WHEN outcome = 'matched' THEN sid END,
		CASE outcome WHEN 'failed' THEN 'timeout' WHEN 'abandoned' THEN 'client_cancelled' WHEN 'expired' THEN 'payment_expired'
			WHEN 'unpaid_cancel' THEN 'client_cancelled' END,
		paid, closed, created, coalesce(closed, created)
	FROM bench_g`,
	`INSERT INTO chat_sessions (id, client_id, mitra_id, status, minutes, started_at, ends_at, ended_at, end_reason,
		pairing_id, created_at, updated_at)
	SELECT sid, cid, m0, CASE WHEN closed + interval '30 minutes' > $1 THEN 'active' ELSE 'ended' END, 30,
		closed, closed + interval '30 minutes',
		CASE WHEN closed + interval '30 minutes' > $1 THEN NULL ELSE closed + interval '30 minutes' END,
		CASE WHEN closed + interval '30 minutes' > $1 THEN NULL WHEN g % 7 = 0 THEN 'client_ended' ELSE 'expired' END,
		pid, closed, closed
	FROM bench_g WHERE outcome = 'matched'`,
	`INSERT INTO pairing_offers (pairing_id, mitra_id, status, created_at, updated_at)
	SELECT pid, m, CASE WHEN outcome = 'waiting' THEN 'offered'
			WHEN outcome = 'matched' THEN (CASE k WHEN 0 THEN 'accepted' WHEN 1 THEN 'declined' ELSE 'dismissed' END)
			WHEN outcome = 'failed' THEN 'expired' ELSE 'dismissed' END,
		paid, CASE WHEN outcome = 'waiting' THEN paid WHEN outcome = 'matched' AND k = 1 THEN paid + interval '1 second'
			ELSE closed END
	FROM bench_g CROSS JOIN LATERAL (VALUES (0, m0), (1, m1), (2, m2)) AS o(k, m)
	WHERE outcome IN ('matched', 'failed', 'abandoned', 'waiting')`,
	`INSERT INTO payment_refunds (id, payment_id, amount, cause, status, attempts, created_at, updated_at)
	SELECT md5('r'||g)::uuid, payid, 50000, 'pairing:'||pid, 'succeeded', 1, closed, closed + interval '5 seconds'
	FROM bench_g WHERE outcome IN ('failed', 'abandoned')`,
}

// History writes n pairings created over the span before end (historySQL) in one
// transaction, then analyzes the tables it wrote.
func History(ctx context.Context, pool *pgxpool.Pool, end time.Time, n int, span time.Duration) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	for _, stmt := range historySQL {
		var args []any
		switch {
		case strings.Contains(stmt, "$3"):
			args = []any{end, n, span.Seconds()}
		case strings.Contains(stmt, "$1"):
			args = []any{end}
		}
		if _, err := tx.Exec(ctx, stmt, args...); err != nil {
			return fmt.Errorf("%.60s: %w", strings.Join(strings.Fields(stmt), " "), err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	_, err = pool.Exec(ctx, "VACUUM ANALYZE pairings, pairing_offers, chat_sessions, payment_sessions, payment_refunds")
	return err
}

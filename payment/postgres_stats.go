package payment

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
)

// pgMoneyStatsSQL sums the payments paid and the refunds succeeded in a window, through
// payment_sessions_paid_idx and payment_refunds_succeeded_idx (migration 0011). It runs
// as an unnamed statement: planned for the window it is given.
const pgMoneyStatsSQL = `SELECT
	COALESCE((SELECT sum(amount) FROM payment_sessions WHERE paid_at > $1 AND paid_at <= $2), 0)::bigint,
	COALESCE((SELECT sum(amount) FROM payment_refunds WHERE status = 'succeeded' AND updated_at > $1 AND updated_at <= $2), 0)::bigint`

var _ StatsStore = (*PostgresStore)(nil)

func (p *PostgresStore) MoneyStats(ctx context.Context, from, to time.Time) (Stats, error) {
	var st Stats
	err := p.db.QueryRow(ctx, pgMoneyStatsSQL, pgx.QueryExecModeExec, from, to).Scan(&st.GrossPaid, &st.Refunded)
	return st, pgutil.Translate(err)
}

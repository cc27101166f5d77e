package pairing

import (
	"context"
	"time"

	sq "github.com/Masterminds/squirrel"

	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/payment"
)

// mitraSilent is the no-show's guard on chat_sessions: no activity of its mitra recorded
// in the session's chat thread.
const mitraSilent = `NOT EXISTS (SELECT FROM chat_threads t WHERE t.chat_session_id = chat_sessions.id AND t.mitra_active_at IS NOT NULL)`

// SilentSessions reads chat_sessions_active_started_idx (the active sessions by start) and
// probes chat_threads by its primary key: one statement.
func (s *PostgresStore) SilentSessions(ctx context.Context, startedBy time.Time, limit int) ([]ChatSession, error) {
	b := pgutil.SQL.Select(sessionColumns).From("chat_sessions").
		Where(sq.Eq{"status": string(SessionActive)}).Where(sq.LtOrEq{"started_at": startedBy}).Where(mitraSilent).
		OrderBy("started_at", "id")
	if limit > 0 {
		b = b.Limit(uint64(limit))
	}
	ss, err := queryAll(ctx, s.db, b, scanSession)
	return ss, pgutil.Translate(err)
}

func (s *PostgresStore) EndSilentSession(ctx context.Context, t SessionTransition, refund *payment.RefundOrder) (ChatSession, []payment.Refund, error) {
	return s.endRefunding(ctx, t, refund, sq.Expr(mitraSilent))
}

package pairing

import (
	"context"

	sq "github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/ledger"
)

func (s *PostgresStore) EndChatSessionRefunding(ctx context.Context, t SessionTransition, refund *payment.RefundOrder) (ChatSession, []payment.Refund, error) {
	return s.endRefunding(ctx, t, refund, nil)
}

// endRefunding is EndChatSessionRefunding with guard (when not nil) added to the session
// update's guard.
func (s *PostgresStore) endRefunding(ctx context.Context, t SessionTransition, refund *payment.RefundOrder, guard sq.Sqlizer) (ChatSession, []payment.Refund, error) {
	var sess ChatSession
	var refunds []payment.Refund
	err := pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
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
		if guard != nil {
			b = b.Where(guard)
		}
		var err error
		if sess, err = guardedSessionUpdate(ctx, tx, t.ID, b); err != nil {
			return err
		}
		if refund != nil {
			if refunds, err = payment.RecordRefundTx(ctx, tx, payment.RefundRecord{RefundOrder: *refund, At: t.Now}); err != nil {
				return err
			}
		}
		if t.To != SessionEnded {
			return nil
		}
		return ledger.PostSessionValueTx(ctx, tx, ledger.SessionEnd{
			SessionID: sess.ID, MitraID: sess.MitraID, PairingID: sess.PairingID, Minutes: sess.Minutes, At: t.Now,
			ClearsAt: clearsAt(t.ClearsAt, t.Now),
		})
	})
	if err != nil {
		return ChatSession{}, nil, pgutil.Translate(err)
	}
	return sess, refunds, nil
}

package pairing

import (
	"context"
	"errors"

	"github.com/curhat/curhat/internal/memdb"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/ledger"
)

func (s *MemoryStore) EndChatSessionRefunding(ctx context.Context, t SessionTransition, refund *payment.RefundOrder) (ChatSession, []payment.Refund, error) {
	return s.endRefunding(ctx, t, refund, nil)
}

// endRefunding is EndChatSessionRefunding with guard (when not nil) checked, in the same
// transaction, after the session's own guard.
func (s *MemoryStore) endRefunding(ctx context.Context, t SessionTransition, refund *payment.RefundOrder, guard func(tx *memdb.Tx, c ChatSession) error) (ChatSession, []payment.Refund, error) {
	tx := s.db.Begin()
	defer tx.End()
	// As the Postgres store: the guard first; then the refund, which may fail before
	// anything is written; then the end and its value.
	c, err := s.guardSession(t.ID, t.From, t.DueBy, t.EndsAt)
	if err != nil {
		return ChatSession{}, nil, err
	}
	if guard != nil {
		if err := guard(tx, c); err != nil {
			return ChatSession{}, nil, err
		}
	}
	var refunds []payment.Refund
	if refund != nil {
		var err error
		switch {
		case tx.Has("payment_sessions"):
			refunds, err = payment.RecordRefundIn(tx, payment.RefundRecord{RefundOrder: *refund, At: t.Now})
		case s.RecordRefunds != nil:
			refunds, err = s.RecordRefunds(ctx, *refund, t.Now)
		default:
			err = errors.New("the store has no payment tables and MemoryStore.RecordRefunds is not set")
		}
		if err != nil {
			return ChatSession{}, nil, err
		}
	}
	c, err = s.endSession(t)
	if err != nil || t.To != SessionEnded {
		return c, refunds, err
	}
	err = ledger.PostSessionValueIn(tx, ledger.SessionEnd{
		SessionID: c.ID, MitraID: c.MitraID, PairingID: c.PairingID, Minutes: c.Minutes, At: t.Now,
		ClearsAt: clearsAt(t.ClearsAt, t.Now),
	})
	return c, refunds, err
}

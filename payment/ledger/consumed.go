package ledger

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/memdb"
	"github.com/curhat/curhat/internal/pgutil"
)

// What chat sessions took of a payment: the money of it that became earnings and fees,
// which a refund may only take back by reversing them (earning_reversed). It is the sum of
// the payment's client_funds lines that name a chat session — the session values (and
// their backfill), less the reversals — so a carry-over handed to a continuation, still
// held for it, is not counted until the continuation ends.

// ConsumedTx returns what chat sessions took of a payment, read in tx under the payment's
// ledger lock (held until tx ends): a session value posted at the same time waits for tx,
// and then sees the refunds tx recorded (ConsumedIn is the in-memory twin).
func ConsumedTx(ctx context.Context, tx DB, paymentID uuid.UUID) (int64, error) {
	if err := lockPayment(ctx, tx, paymentID); err != nil {
		return 0, fmt.Errorf("lock the ledger of payment %s: %w", paymentID, pgutil.Translate(err))
	}
	var n int64
	if err := tx.QueryRow(ctx, `SELECT COALESCE(sum(amount), 0) FROM ledger_entries
		WHERE account = 'client_funds' AND payment_id = $1 AND chat_session_id IS NOT NULL`, paymentID).Scan(&n); err != nil {
		return 0, fmt.Errorf("what sessions took of payment %s: %w", paymentID, pgutil.Translate(err))
	}
	return n, nil
}

// ConsumedIn returns what chat sessions took of a payment inside tx, a transaction of the
// in-memory database (0 when no ledger store is over it).
func ConsumedIn(tx *memdb.Tx, paymentID uuid.UUID) int64 {
	l, ok := open(tx)
	if !ok {
		return 0
	}
	var n int64
	for _, e := range l.entries {
		if e.Account == AccountClientFunds && *e.PaymentID == paymentID && e.ChatSessionID != nil {
			n += e.Amount
		}
	}
	return n
}

package ledger

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
)

// LookupStore finds the transactions behind one payment's story, for operators (a
// payment's or a client's timeline). It is part of Store.
type LookupStore interface {
	// TxnsOf returns the transactions with a line naming one of q's payments (its
	// client_funds lines) or chat sessions, oldest first (created_at, then the order they
	// were posted in).
	TxnsOf(ctx context.Context, q TxnQuery) ([]TxnSummary, error)
}

// TxnQuery names the payments and chat sessions whose transactions TxnsOf returns.
type TxnQuery struct {
	PaymentIDs, ChatSessionIDs []uuid.UUID
}

// TxnSummary is one posted transaction, as a timeline shows it.
type TxnSummary struct {
	ID   uuid.UUID
	Kind Kind
	At   time.Time
	// Amount is what it moved: the sum of its debit lines.
	Amount   int64
	Currency string
}

// txnsOfSQL finds the transactions of $1 (payments) and $2 (chat sessions), each through
// its partial index, then sums every line of each.
const txnsOfSQL = `
WITH hit AS (
    SELECT txn_id FROM ledger_entries WHERE account = 'client_funds' AND payment_id = ANY($1)
    UNION
    SELECT txn_id FROM ledger_entries WHERE chat_session_id = ANY($2)
)
SELECT t.id, t.kind, t.created_at, COALESCE(sum(e.amount) FILTER (WHERE e.amount > 0), 0), min(e.currency)
FROM hit JOIN ledger_txns t ON t.id = hit.txn_id JOIN ledger_entries e ON e.txn_id = t.id
GROUP BY t.id, t.kind, t.created_at
ORDER BY t.created_at, min(e.seq)`

func (s *PostgresStore) TxnsOf(ctx context.Context, q TxnQuery) ([]TxnSummary, error) {
	if len(q.PaymentIDs) == 0 && len(q.ChatSessionIDs) == 0 {
		return nil, nil
	}
	rows, err := s.db.Query(ctx, txnsOfSQL, nonNil(q.PaymentIDs), nonNil(q.ChatSessionIDs))
	if err != nil {
		return nil, fmt.Errorf("ledger transactions of a story: %w", pgutil.Translate(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (TxnSummary, error) {
		var t TxnSummary
		var kind string
		err := row.Scan(&t.ID, &kind, &t.At, &t.Amount, &t.Currency)
		t.Kind, t.At = Kind(kind), t.At.UTC()
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("ledger transactions of a story: %w", pgutil.Translate(err))
	}
	return out, nil
}

// nonNil keeps ANY($n) over an empty list an empty array, not NULL.
func nonNil(ids []uuid.UUID) []uuid.UUID {
	if ids == nil {
		return []uuid.UUID{}
	}
	return ids
}

func (s *MemoryStore) TxnsOf(_ context.Context, q TxnQuery) ([]TxnSummary, error) {
	l, end := s.begin()
	defer end()
	type item struct {
		t        TxnSummary
		firstSeq int64
		hit      bool
	}
	byTxn := map[uuid.UUID]*item{}
	for seq, e := range l.entries {
		it, ok := byTxn[e.TxnID]
		if !ok {
			it = &item{t: TxnSummary{ID: e.TxnID, Kind: e.Kind, At: e.CreatedAt, Currency: e.Currency}, firstSeq: seq}
			byTxn[e.TxnID] = it
		}
		it.firstSeq = min(it.firstSeq, seq)
		if e.Amount > 0 {
			it.t.Amount += e.Amount
		}
		if (e.Account == AccountClientFunds && slices.Contains(q.PaymentIDs, *e.PaymentID)) ||
			(e.ChatSessionID != nil && slices.Contains(q.ChatSessionIDs, *e.ChatSessionID)) {
			it.hit = true
		}
	}
	var items []*item
	for _, it := range byTxn {
		if it.hit {
			items = append(items, it)
		}
	}
	slices.SortFunc(items, func(a, b *item) int {
		return cmp.Or(a.t.At.Compare(b.t.At), cmp.Compare(a.firstSeq, b.firstSeq))
	})
	out := make([]TxnSummary, len(items))
	for i, it := range items {
		out[i] = it.t
	}
	return out, nil
}

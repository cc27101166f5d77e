package ledgertest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/payment/ledger"
)

// runLookupContract is the part of RunContract that pins ledger.LookupStore.
func runLookupContract(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Run("TxnsOfFindsAPaymentsAndItsSessionsTransactionsOldestFirst", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		m := h.Mitra(t)
		s := h.Session(t, m)
		p, other := h.Payment(t), h.Payment(t)
		post := func(txn ledger.Txn) ledger.Txn {
			t.Helper()
			posted, err := h.Store.Post(ctx, txn)
			check.NoError(t, err)
			check.True(t, posted)
			return txn
		}
		paid, _ := ledger.PaymentPaid(p, 1000, "IDR", t0)
		paid = post(paid)
		otherPaid, _ := ledger.PaymentPaid(other, 500, "IDR", t0)
		post(otherPaid)
		clears := t0.Add(time.Hour)
		value := post(ledger.Txn{ID: ledger.TxnID(ledger.KindSessionValue, s), Kind: ledger.KindSessionValue, At: t0.Add(time.Minute),
			Lines: []ledger.Line{
				{Account: ledger.AccountClientFunds, PaymentID: &p, ChatSessionID: &s, Amount: 1000, Currency: "IDR"},
				{Account: ledger.AccountMitraPending, MitraID: &m, ChatSessionID: &s, Amount: -700, Currency: "IDR", ClearsAt: &clears},
				{Account: ledger.AccountPlatformRevenue, ChatSessionID: &s, Amount: -300, Currency: "IDR"},
			}})
		cleared := post(ledger.Txn{ID: ledger.TxnID(ledger.KindEarningCleared, s), Kind: ledger.KindEarningCleared, At: clears,
			Lines: []ledger.Line{
				{Account: ledger.AccountMitraPending, MitraID: &m, ChatSessionID: &s, Amount: 700, Currency: "IDR"},
				{Account: ledger.AccountMitraAvailable, MitraID: &m, ChatSessionID: &s, Amount: -700, Currency: "IDR"},
			}})

		summary := func(txn ledger.Txn, amount int64) ledger.TxnSummary {
			return ledger.TxnSummary{ID: txn.ID, Kind: txn.Kind, At: txn.At, Amount: amount, Currency: "IDR"}
		}
		got, err := h.Store.TxnsOf(ctx, ledger.TxnQuery{PaymentIDs: []uuid.UUID{p}})
		check.NoError(t, err)
		check.Equal(t, []ledger.TxnSummary{summary(paid, 1000), summary(value, 1000)}, got,
			"a payment's transactions: those with a client_funds line of it")
		got, err = h.Store.TxnsOf(ctx, ledger.TxnQuery{PaymentIDs: []uuid.UUID{p}, ChatSessionIDs: []uuid.UUID{s}})
		check.NoError(t, err)
		check.Equal(t, []ledger.TxnSummary{summary(paid, 1000), summary(value, 1000), summary(cleared, 700)}, got,
			"with its session: the earning's clearance too, each transaction once")
		got, err = h.Store.TxnsOf(ctx, ledger.TxnQuery{})
		check.NoError(t, err)
		check.Len(t, got, 0)
	})

	t.Run("TxnsOfOrdersTransactionsOfOneInstantAsTheyWerePosted", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		p := h.Payment(t)
		var want []uuid.UUID
		for range 5 {
			id := uuid.New()
			_, err := h.Store.Post(ctx, ledger.Txn{ID: id, Kind: ledger.KindBackfill, At: t0, Lines: []ledger.Line{
				{Account: ledger.AccountGateway, PaymentID: &p, Amount: 10, Currency: "IDR"},
				{Account: ledger.AccountClientFunds, PaymentID: &p, Amount: -10, Currency: "IDR"},
			}})
			check.NoError(t, err)
			want = append(want, id)
		}
		got, err := h.Store.TxnsOf(ctx, ledger.TxnQuery{PaymentIDs: []uuid.UUID{p}})
		check.NoError(t, err)
		var ids []uuid.UUID
		for _, s := range got {
			ids = append(ids, s.ID)
		}
		check.Equal(t, want, ids)
	})
}

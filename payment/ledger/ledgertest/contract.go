// Package ledgertest holds the contract suite every ledger.Store must pass: the SDK's
// Postgres and in-memory stores run it, and so can a host's own implementation.
package ledgertest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/payment/ledger"
)

// Harness is one ledger.Store under test. RunContract calls the constructor once per
// subtest, from parallel subtests.
type Harness struct {
	// Store is the store under test, empty.
	Store ledger.Store
	// SameData returns another Store over the same data, as a second instance holds (nil:
	// Store itself).
	SameData func() ledger.Store
	// Mitra creates a mitra, as the availability domain does, and returns its id.
	Mitra func(t *testing.T) uuid.UUID
	// Session creates a chat session of the mitra, as the pairing domain does, and returns
	// its id.
	Session func(t *testing.T, mitraID uuid.UUID) uuid.UUID
	// Payment creates a payment session, as the payment domain does, and returns its id.
	Payment func(t *testing.T) uuid.UUID
}

func (h Harness) same() ledger.Store {
	if h.SameData == nil {
		return h.Store
	}
	return h.SameData()
}

// t0 is the base time of the suite.
var t0 = time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC)

// earning posts a session's value of e to the mitra (the platform's fee f), clearing at
// clears, and returns the session.
func earning(t *testing.T, h Harness, mitra uuid.UUID, e, f int64, clears time.Time) uuid.UUID {
	t.Helper()
	s := h.Session(t, mitra)
	m, sid := mitra, s
	lines := []ledger.Line{
		{Account: ledger.AccountGateway, Amount: e + f, Currency: "IDR"},
		{Account: ledger.AccountMitraPending, MitraID: &m, ChatSessionID: &sid, Amount: -e, Currency: "IDR", ClearsAt: &clears},
	}
	if f > 0 {
		lines = append(lines, ledger.Line{Account: ledger.AccountPlatformRevenue, ChatSessionID: &sid, Amount: -f, Currency: "IDR"})
	}
	posted, err := h.Store.Post(check.Context(t), ledger.Txn{ID: ledger.TxnID(ledger.KindSessionValue, s),
		Kind: ledger.KindSessionValue, At: t0, Lines: lines})
	check.NoError(t, err)
	check.True(t, posted)
	return s
}

// move posts one transaction moving amount from the mitra's account from to to (a
// debit of from, a credit of to).
func move(t *testing.T, h Harness, kind ledger.Kind, mitra uuid.UUID, from, to ledger.Account, amount int64, at time.Time) {
	t.Helper()
	of := func(a ledger.Account) *uuid.UUID {
		if !a.PerMitra() {
			return nil
		}
		m := mitra
		return &m
	}
	_, err := h.Store.Post(check.Context(t), ledger.Txn{ID: uuid.New(), Kind: kind, At: at, Lines: []ledger.Line{
		{Account: from, MitraID: of(from), Amount: amount, Currency: "IDR"},
		{Account: to, MitraID: of(to), Amount: -amount, Currency: "IDR"},
	}})
	check.NoError(t, err)
}

// RunContract runs the suite.
func RunContract(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Run("PostRefusesWhatDoesNotBalanceAndPostsAnIDOnce", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		m := h.Mitra(t)
		bad := []ledger.Txn{
			{ID: uuid.New(), Kind: ledger.KindEarningCleared, At: t0},
			{ID: uuid.New(), Kind: "nope", At: t0, Lines: []ledger.Line{{Account: ledger.AccountGateway, Amount: 1, Currency: "IDR"}}},
			{ID: uuid.New(), Kind: ledger.KindEarningCleared, At: t0, Lines: []ledger.Line{
				{Account: ledger.AccountMitraPending, MitraID: &m, Amount: 5, Currency: "IDR"},
				{Account: ledger.AccountMitraAvailable, MitraID: &m, Amount: -4, Currency: "IDR"}}},
			{ID: uuid.New(), Kind: ledger.KindEarningCleared, At: t0, Lines: []ledger.Line{
				{Account: ledger.AccountMitraPending, Amount: 5, Currency: "IDR"},
				{Account: ledger.AccountMitraAvailable, MitraID: &m, Amount: -5, Currency: "IDR"}}},
			{ID: uuid.New(), Kind: ledger.KindPaymentPaid, At: t0, Lines: []ledger.Line{
				{Account: ledger.AccountGateway, Amount: 5, Currency: "IDR"},
				{Account: ledger.AccountClientFunds, Amount: -5, Currency: "IDR"}}},
		}
		fields := []string{"lines", "kind", "lines", "lines", "lines"}
		for i, txn := range bad {
			posted, err := h.Store.Post(ctx, txn)
			check.Invalid(t, err, fields[i], "bad transaction %d", i)
			check.False(t, posted)
		}
		b, err := h.Store.Balance(ctx)
		check.NoError(t, err)
		check.Zero(t, b.Imbalance)
		check.Zero(t, b.Accounts[ledger.AccountMitraPending], "nothing of a refused transaction is kept")

		txn := ledger.Txn{ID: uuid.New(), Kind: ledger.KindEarningCleared, At: t0, Lines: []ledger.Line{
			{Account: ledger.AccountMitraPending, MitraID: &m, Amount: 5, Currency: "IDR"},
			{Account: ledger.AccountMitraAvailable, MitraID: &m, Amount: -5, Currency: "IDR"}}}
		errs := check.Concurrently(4, func(i int) error {
			_, err := h.same().Post(ctx, txn)
			return err
		})
		for _, err := range errs {
			check.NoError(t, err)
		}
		posted, err := h.Store.Post(ctx, txn)
		check.NoError(t, err)
		check.False(t, posted, "an id is posted once")
		e, err := h.Store.Earnings(ctx, m)
		check.NoError(t, err)
		check.Equal(t, int64(5), e.Available, "posted once by concurrent callers")
		check.Equal(t, int64(-5), e.Pending)
	})

	t.Run("APostingToAMitraThatDoesNotExistIsNotFound", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ghost, m := uuid.New(), h.Mitra(t)
		_, err := h.Store.Post(check.Context(t), ledger.Txn{ID: uuid.New(), Kind: ledger.KindEarningCleared, At: t0, Lines: []ledger.Line{
			{Account: ledger.AccountMitraPending, MitraID: &ghost, Amount: 5, Currency: "IDR"},
			{Account: ledger.AccountMitraAvailable, MitraID: &m, Amount: -5, Currency: "IDR"}}})
		check.ErrorIs(t, err, ledger.ErrNotFound)
	})

	t.Run("BalanceShowsEveryAccountAsHeldOrOwed", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		m := h.Mitra(t)
		earning(t, h, m, 21000, 9000, t0.Add(time.Hour))
		move(t, h, ledger.KindEarningReversed, m, ledger.AccountMitraReceivable, ledger.AccountGateway, 500, t0)
		b, err := h.Store.Balance(ctx)
		check.NoError(t, err)
		check.Equal(t, "IDR", b.Currency)
		check.Zero(t, b.Imbalance)
		check.Equal(t, map[ledger.Account]int64{
			ledger.AccountGateway: 29500, ledger.AccountClientFunds: 0, ledger.AccountPlatformRevenue: 9000,
			ledger.AccountMitraPending: 21000, ledger.AccountMitraAvailable: 0, ledger.AccountPayoutsInFlight: 0,
			ledger.AccountMitraReceivable: 500,
		}, b.Accounts)
		rev, err := h.Store.Revenue(ctx, t0, t0.Add(time.Second))
		check.NoError(t, err)
		check.Equal(t, int64(9000), rev)
		rev, err = h.Store.Revenue(ctx, t0.Add(time.Second), t0.Add(time.Hour))
		check.NoError(t, err)
		check.Zero(t, rev, "a window after the posting")
	})

	t.Run("EarningsAndEntriesOfAMitra", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		m, other := h.Mitra(t), h.Mitra(t)
		e, err := h.Store.Earnings(ctx, m)
		check.NoError(t, err)
		check.Equal(t, ledger.Earnings{}, e, "a mitra with no entries")
		first := earning(t, h, m, 7000, 3000, t0.Add(2*time.Hour))
		earning(t, h, m, 14000, 6000, t0.Add(time.Hour))
		earning(t, h, other, 100, 0, t0)
		move(t, h, ledger.KindPayoutSucceeded, m, ledger.AccountPayoutsInFlight, ledger.AccountGateway, 1000, t0)
		e, err = h.Store.Earnings(ctx, m)
		check.NoError(t, err)
		check.Equal(t, int64(21000), e.Pending)
		check.Equal(t, int64(-1000), e.InFlight)
		check.Equal(t, int64(1000), e.PaidOut)
		check.Equal(t, "IDR", e.Currency)
		check.NotNil(t, e.NextClearanceAt)
		check.True(t, e.NextClearanceAt.Equal(t0.Add(time.Hour)), "the earliest clearance: %v", e.NextClearanceAt)

		items, total, err := h.Store.Entries(ctx, ledger.EntryFilter{MitraID: m, PageSize: 2})
		check.NoError(t, err)
		check.Equal(t, 3, total)
		check.Len(t, items, 2)
		check.Equal(t, ledger.KindPayoutSucceeded, items[0].Kind, "newest first")
		items, _, err = h.Store.Entries(ctx, ledger.EntryFilter{MitraID: m, Page: 2, PageSize: 2})
		check.NoError(t, err)
		check.Len(t, items, 1)
		check.Equal(t, first, *items[0].ChatSessionID, "the oldest last")
		check.Equal(t, int64(-7000), items[0].Amount)
		_, _, err = h.Store.Entries(ctx, ledger.EntryFilter{MitraID: m, PageSize: 101})
		check.Invalid(t, err, "page_size")
		_, _, err = h.Store.Entries(ctx, ledger.EntryFilter{})
		check.Invalid(t, err, "mitra_id")
	})

	t.Run("ClearMakesDueEarningsAvailableOnceSettlingTheReceivableFirst", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		m := h.Mitra(t)
		earning(t, h, m, 7000, 3000, t0.Add(time.Hour))
		earning(t, h, m, 14000, 6000, t0.Add(3*time.Hour))
		move(t, h, ledger.KindEarningReversed, m, ledger.AccountMitraReceivable, ledger.AccountGateway, 2000, t0)

		n, err := h.Store.Clear(ctx, t0.Add(59*time.Minute), 0)
		check.NoError(t, err)
		check.Zero(t, n, "nothing due")
		errs := check.Concurrently(3, func(int) error {
			_, err := h.same().Clear(ctx, t0.Add(time.Hour), 0)
			return err
		})
		for _, err := range errs {
			check.NoError(t, err)
		}
		e, err := h.Store.Earnings(ctx, m)
		check.NoError(t, err)
		check.Equal(t, int64(14000), e.Pending, "one earning cleared, once")
		check.Zero(t, e.Receivable, "what the mitra owed is settled first")
		check.Equal(t, int64(5000), e.Available)
		check.True(t, e.NextClearanceAt.Equal(t0.Add(3*time.Hour)))

		n, err = h.Store.Clear(ctx, t0.Add(4*time.Hour), 0)
		check.NoError(t, err)
		check.Equal(t, 1, n)
		e, err = h.Store.Earnings(ctx, m)
		check.NoError(t, err)
		check.Zero(t, e.Pending)
		check.Equal(t, int64(19000), e.Available)
		check.Nil(t, e.NextClearanceAt)
		findings, err := h.Store.Check(ctx, t0)
		check.NoError(t, err)
		check.Equal(t, []ledger.Finding{{Reason: ledger.ReasonGatewayMismatch, Account: ledger.AccountGateway, Amount: 28000}},
			findings, "no balance is negative; the suite's gateway lines stand for no payment")
	})

	t.Run("CheckNamesANegativeBalance", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		m := h.Mitra(t)
		move(t, h, ledger.KindPayoutCreated, m, ledger.AccountMitraAvailable, ledger.AccountPayoutsInFlight, 300, t0)
		findings, err := h.Store.Check(ctx, t0)
		check.NoError(t, err)
		check.Equal(t, []ledger.Finding{
			{Reason: ledger.ReasonNegativeBalance, MitraID: &m, Account: ledger.AccountMitraAvailable, Amount: -300},
		}, findings)
	})

	t.Run("CarryOverOfAPairingWithNoneIsEmpty", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		parts, err := h.Store.CarryOver(check.Context(t), uuid.New())
		check.NoError(t, err)
		check.Len(t, parts, 0)
	})

	runLookupContract(t, newHarness)
}

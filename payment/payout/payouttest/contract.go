// Package payouttest holds the contract suite every payout.Store must pass: the SDK's
// Postgres and in-memory stores run it, and so can a host's own implementation.
package payouttest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/payment/ledger"
	"github.com/curhat/curhat/payment/payout"
)

// Harness is one payout.Store under test, with the ledger it posts to. RunContract calls
// the constructor once per subtest, from parallel subtests.
type Harness struct {
	// Store is the store under test, empty.
	Store payout.Store
	// SameData returns another Store over the same data, as a second instance holds (nil:
	// Store itself).
	SameData func() payout.Store
	// Ledger is the ledger the store posts to.
	Ledger ledger.Store
	// Mitra creates a mitra, as the availability domain does, and returns its id.
	Mitra func(t *testing.T) uuid.UUID
}

func (h Harness) same() payout.Store {
	if h.SameData == nil {
		return h.Store
	}
	return h.SameData()
}

var t0 = time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC)

// fund makes amount of the mitra's earnings available (posted as a clearance from the
// gateway: the suite needs a balance, not a history).
func (h Harness) fund(t *testing.T, mitra uuid.UUID, amount int64) {
	t.Helper()
	m := mitra
	_, err := h.Ledger.Post(check.Context(t), ledger.Txn{ID: uuid.New(), Kind: ledger.KindEarningCleared, At: t0, Lines: []ledger.Line{
		{Account: ledger.AccountGateway, Amount: amount, Currency: "IDR"},
		{Account: ledger.AccountMitraAvailable, MitraID: &m, Amount: -amount, Currency: "IDR"},
	}})
	check.NoError(t, err)
}

func (h Harness) earnings(t *testing.T, mitra uuid.UUID) ledger.Earnings {
	t.Helper()
	e, err := h.Ledger.Earnings(check.Context(t), mitra)
	check.NoError(t, err)
	return e
}

// payable is a mitra with a destination and amount available.
func (h Harness) payable(t *testing.T, amount int64) uuid.UUID {
	t.Helper()
	m := h.Mitra(t)
	_, err := h.Store.PutDestination(check.Context(t), payout.Destination{MitraID: m, ChannelCode: "ID_BCA",
		AccountNumber: "1234567890", AccountHolderName: "Ayu Lestari", UpdatedAt: t0})
	check.NoError(t, err)
	h.fund(t, m, amount)
	return m
}

func (h Harness) create(t *testing.T, m uuid.UUID) payout.Payout {
	t.Helper()
	p, err := h.Store.Create(check.Context(t), payout.CreateParams{ID: uuid.New(), MitraID: m, Minimum: 50000, Currency: "IDR", At: t0})
	check.NoError(t, err)
	return p
}

// RunContract runs the suite.
func RunContract(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Run("DestinationsAreValidatedStoredAndReplaced", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		m := h.Mitra(t)
		_, err := h.Store.GetDestination(ctx, m)
		check.ErrorIs(t, err, payout.ErrNotFound)
		good := payout.Destination{MitraID: m, ChannelCode: "ID_BCA", AccountNumber: "1234567890", AccountHolderName: "Ayu", UpdatedAt: t0}
		for field, bad := range map[string]payout.Destination{
			"channel_code":        {MitraID: m, ChannelCode: "bca", AccountNumber: "1234567890", AccountHolderName: "Ayu"},
			"account_number":      {MitraID: m, ChannelCode: "ID_BCA", AccountNumber: "12-34", AccountHolderName: "Ayu"},
			"account_holder_name": {MitraID: m, ChannelCode: "ID_BCA", AccountNumber: "1234567890", AccountHolderName: " "},
		} {
			_, err := h.Store.PutDestination(ctx, bad)
			check.Invalid(t, err, field)
		}
		_, err = h.Store.PutDestination(ctx, payout.Destination{MitraID: uuid.New(), ChannelCode: "ID_BCA",
			AccountNumber: "1234567890", AccountHolderName: "Ayu", UpdatedAt: t0})
		check.ErrorIs(t, err, payout.ErrNotFound, "an unknown mitra")
		stored, err := h.Store.PutDestination(ctx, good)
		check.NoError(t, err)
		check.Equal(t, good, stored)
		good.AccountNumber, good.UpdatedAt = "9876543210", t0.Add(time.Hour)
		_, err = h.Store.PutDestination(ctx, good)
		check.NoError(t, err)
		got, err := h.Store.GetDestination(ctx, m)
		check.NoError(t, err)
		check.Equal(t, good, got)
	})

	t.Run("CreatePaysAllThatIsAvailableOnceAndPostsIt", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		m := h.payable(t, 70000)
		ids, err := h.Store.Eligible(ctx, 50000, 10)
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{m}, ids)

		created := make([]payout.Payout, 4)
		errs := check.Concurrently(4, func(i int) error {
			var err error
			created[i], err = h.same().Create(ctx, payout.CreateParams{ID: uuid.New(), MitraID: m, Minimum: 50000, Currency: "IDR", At: t0})
			return err
		})
		p := created[check.OneSucceeds(t, errs, payout.ErrInvalidState, "concurrent creates make one payout")]
		check.Equal(t, payout.StatusPending, p.Status)
		check.Equal(t, int64(70000), p.Amount)
		check.Equal(t, "ID_BCA", p.ChannelCode)
		e := h.earnings(t, m)
		check.Zero(t, e.Available)
		check.Equal(t, int64(70000), e.InFlight)
		ids, err = h.Store.Eligible(ctx, 50000, 10)
		check.NoError(t, err)
		check.Len(t, ids, 0, "an open payout")
		got, err := h.Store.Get(ctx, p.ID)
		check.NoError(t, err)
		check.Equal(t, p, got)
	})

	t.Run("CreateRefusesBelowTheMinimumOrWithoutADestination", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		low := h.payable(t, 49999)
		_, err := h.Store.Create(ctx, payout.CreateParams{ID: uuid.New(), MitraID: low, Minimum: 50000, Currency: "IDR", At: t0})
		check.ErrorIs(t, err, payout.ErrInvalidState)
		nowhere := h.Mitra(t)
		h.fund(t, nowhere, 90000)
		_, err = h.Store.Create(ctx, payout.CreateParams{ID: uuid.New(), MitraID: nowhere, Minimum: 50000, Currency: "IDR", At: t0})
		check.ErrorIs(t, err, payout.ErrInvalidState)
		empty := h.payable(t, 1)
		_, err = h.Store.Create(ctx, payout.CreateParams{ID: uuid.New(), MitraID: empty, Minimum: 0, Currency: "IDR", At: t0})
		check.NoError(t, err, "a minimum of 0 pays any balance above 0")
		ids, err := h.Store.Eligible(ctx, 50000, 10)
		check.NoError(t, err)
		check.Len(t, ids, 0)
	})

	t.Run("TransitionsPostWhatTheyRecordAndAreGuarded", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		m := h.payable(t, 60000)
		p := h.create(t, m)
		claimed, ok, err := h.Store.Claim(ctx, p.ID, 0, t0.Add(time.Second))
		check.NoError(t, err)
		check.True(t, ok)
		check.Equal(t, 1, claimed.Attempts)
		_, ok, err = h.same().Claim(ctx, p.ID, 0, t0.Add(time.Second))
		check.NoError(t, err)
		check.False(t, ok, "claimed once for one read of attempts")

		got, changed, err := h.Store.Transition(ctx, payout.Transition{ID: p.ID, From: []payout.Status{payout.StatusPending},
			To: payout.StatusProcessing, ProviderRef: "po-1", At: t0.Add(2 * time.Second)})
		check.NoError(t, err)
		check.True(t, changed)
		check.Equal(t, "po-1", got.ProviderRef)
		_, changed, err = h.Store.Transition(ctx, payout.Transition{ID: p.ID, From: []payout.Status{payout.StatusPending},
			To: payout.StatusFailed, At: t0.Add(3 * time.Second)})
		check.NoError(t, err)
		check.False(t, changed, "not pending any more")
		got, changed, err = h.Store.Transition(ctx, payout.Transition{ID: p.ID,
			From: []payout.Status{payout.StatusPending, payout.StatusProcessing}, To: payout.StatusSucceeded, At: t0.Add(4 * time.Second)})
		check.NoError(t, err)
		check.True(t, changed)
		check.Equal(t, payout.StatusSucceeded, got.Status)
		e := h.earnings(t, m)
		check.Zero(t, e.InFlight)
		check.Equal(t, int64(60000), e.PaidOut)
		b, err := h.Ledger.Balance(ctx)
		check.NoError(t, err)
		check.Zero(t, b.Accounts[ledger.AccountGateway], "paid out from the provider's balance")

		_, changed, err = h.Store.Transition(ctx, payout.Transition{ID: p.ID, From: []payout.Status{payout.StatusSucceeded},
			To: payout.StatusReversed, FailureReason: "account closed", At: t0.Add(5 * time.Second)})
		check.NoError(t, err)
		check.True(t, changed)
		e = h.earnings(t, m)
		check.Equal(t, int64(60000), e.Available, "a reversed payout is available again")
		check.Zero(t, e.PaidOut)

		q := h.create(t, m)
		_, changed, err = h.Store.Transition(ctx, payout.Transition{ID: q.ID, From: []payout.Status{payout.StatusPending},
			To: payout.StatusFailed, FailureReason: "refused", At: t0.Add(6 * time.Second)})
		check.NoError(t, err)
		check.True(t, changed)
		e = h.earnings(t, m)
		check.Equal(t, int64(60000), e.Available, "a failed payout returns its amount")
		check.Zero(t, e.InFlight)

		_, _, err = h.Store.Transition(ctx, payout.Transition{ID: uuid.New(), From: []payout.Status{payout.StatusPending},
			To: payout.StatusFailed, At: t0})
		check.ErrorIs(t, err, payout.ErrNotFound)
		st, err := h.Store.Stats(ctx)
		check.NoError(t, err)
		check.Equal(t, map[payout.Status]int{payout.StatusReversed: 1, payout.StatusFailed: 1}, st.ByStatus)
		check.Zero(t, st.PaidOut)
		findings, err := h.Ledger.Check(ctx, t0)
		check.NoError(t, err)
		for _, f := range findings {
			if f.Reason != ledger.ReasonGatewayMismatch { // the suite's funding stands for no payment
				t.Errorf("finding: %+v", f)
			}
		}
	})

	t.Run("ListFiltersAndPagesAndDuePendingFindsCutShortSends", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		a, b := h.payable(t, 50000), h.payable(t, 80000)
		pa, pb := h.create(t, a), h.create(t, b)
		_, _, err := h.Store.Transition(ctx, payout.Transition{ID: pb.ID, From: []payout.Status{payout.StatusPending},
			To: payout.StatusSucceeded, At: t0.Add(time.Minute)})
		check.NoError(t, err)
		items, total, err := h.Store.List(ctx, payout.Filter{})
		check.NoError(t, err)
		check.Equal(t, 2, total)
		check.Len(t, items, 2)
		items, total, err = h.Store.List(ctx, payout.Filter{Status: payout.StatusPending})
		check.NoError(t, err)
		check.Equal(t, 1, total)
		check.Equal(t, pa.ID, items[0].ID)
		items, _, err = h.Store.List(ctx, payout.Filter{MitraID: &b})
		check.NoError(t, err)
		check.Equal(t, pb.ID, items[0].ID)
		items, total, err = h.Store.List(ctx, payout.Filter{PageSize: 1, Page: 2})
		check.NoError(t, err)
		check.Equal(t, 2, total)
		check.Len(t, items, 1)
		_, _, err = h.Store.List(ctx, payout.Filter{Status: "lost"})
		check.Invalid(t, err, "status")
		_, _, err = h.Store.List(ctx, payout.Filter{PageSize: 101})
		check.Invalid(t, err, "page_size")

		due, err := h.Store.DuePending(ctx, t0.Add(-time.Second), 10)
		check.NoError(t, err)
		check.Len(t, due, 0, "not yet due")
		due, err = h.Store.DuePending(ctx, t0, 10)
		check.NoError(t, err)
		check.Len(t, due, 1)
		check.Equal(t, pa.ID, due[0].ID)
	})
}

package payout_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/payment/ledger"
	"github.com/curhat/curhat/payment/payout"
	"github.com/curhat/curhat/payment/payout/payouttest"
)

// world is a Service over one backend with a fake provider and a fake clock.
type world struct {
	payouttest.Harness
	svc      *payout.Service
	provider *payout.FakeProvider
	clock    *clock.Fake
	ctx      context.Context
}

func newWorld(t *testing.T, b backend) world {
	h, _ := b.open(t)
	w := world{Harness: h, provider: payout.NewFakeProvider(), clock: clock.NewFake(time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC)),
		ctx: context.Background()}
	svc, err := payout.NewService(h.Store, w.provider, &payout.Config{Clock: w.clock, SendLease: time.Minute})
	require.NoError(t, err)
	w.svc = svc
	return w
}

// payable is a mitra with a destination and amount available.
func (w world) payable(t *testing.T, amount int64) uuid.UUID {
	t.Helper()
	m := w.Mitra(t)
	_, err := w.svc.SetDestination(w.ctx, payout.Destination{MitraID: m, ChannelCode: "ID_BCA", AccountNumber: "1234567890", AccountHolderName: "Ayu"})
	require.NoError(t, err)
	mid := m
	_, err = w.Ledger.Post(w.ctx, ledger.Txn{ID: uuid.New(), Kind: ledger.KindEarningCleared, At: w.clock.Now(), Lines: []ledger.Line{
		{Account: ledger.AccountGateway, Amount: amount, Currency: "IDR"},
		{Account: ledger.AccountMitraAvailable, MitraID: &mid, Amount: -amount, Currency: "IDR"},
	}})
	require.NoError(t, err)
	return m
}

func (w world) earnings(t *testing.T, m uuid.UUID) ledger.Earnings {
	t.Helper()
	e, err := w.Ledger.Earnings(w.ctx, m)
	require.NoError(t, err)
	return e
}

func eachBackend(t *testing.T, f func(t *testing.T, w world)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f(t, newWorld(t, b))
		})
	}
}

func TestRun_ProcessingThenSucceededMovesAvailableToPaidOut(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w world) {
		m := w.payable(t, 70000)
		w.provider.SetAsync(true)
		rep, err := w.svc.Run(w.ctx, payout.RunParams{})
		require.NoError(t, err)
		require.Len(t, rep.Created, 1)
		p := rep.Created[0]
		require.Equal(t, payout.StatusProcessing, p.Status)
		require.Equal(t, int64(70000), p.Amount)
		require.Equal(t, "fake_po_"+p.ID.String(), p.ProviderRef)
		require.Equal(t, int64(70000), w.earnings(t, m).InFlight)

		p, err = w.svc.Succeeded(w.ctx, p.ID, p.ProviderRef)
		require.NoError(t, err)
		require.Equal(t, payout.StatusSucceeded, p.Status)
		_, err = w.svc.Succeeded(w.ctx, p.ID, p.ProviderRef)
		require.NoError(t, err, "a repeated confirmation")
		e := w.earnings(t, m)
		require.Zero(t, e.Available)
		require.Zero(t, e.InFlight)
		require.Equal(t, int64(70000), e.PaidOut)
		_, err = w.svc.Failed(w.ctx, p.ID, "late refusal")
		require.ErrorIs(t, err, payout.ErrInvalidState, "a succeeded payout does not fail")
	})
}

func TestRun_ARefusedPayoutReturnsToAvailableAndTheNextRunPaysItOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w world) {
		m := w.payable(t, 60000)
		w.provider.FailNext(1)
		rep, err := w.svc.Run(w.ctx, payout.RunParams{})
		require.NoError(t, err)
		require.Len(t, rep.Created, 1)
		failed := rep.Created[0]
		require.Equal(t, payout.StatusFailed, failed.Status)
		require.Equal(t, payout.FakeReason, failed.FailureReason)
		require.Equal(t, int64(60000), w.earnings(t, m).Available)

		rep, err = w.svc.Run(w.ctx, payout.RunParams{})
		require.NoError(t, err)
		require.Len(t, rep.Created, 1)
		require.Equal(t, payout.StatusSucceeded, rep.Created[0].Status)
		require.NotEqual(t, failed.ID, rep.Created[0].ID, "a failed payout is final: a new one pays")
		rep, err = w.svc.Run(w.ctx, payout.RunParams{})
		require.NoError(t, err)
		require.Empty(t, rep.Created, "paid once")
		e := w.earnings(t, m)
		require.Equal(t, int64(60000), e.PaidOut)
		require.Zero(t, e.Available)
		require.Equal(t, map[uuid.UUID]int64{succeededPayout(t, w, m): 60000}, w.provider.Paid())
	})
}

// succeededPayout is the mitra's succeeded payout.
func succeededPayout(t *testing.T, w world, m uuid.UUID) uuid.UUID {
	t.Helper()
	items, _, err := w.svc.List(w.ctx, payout.Filter{MitraID: &m, Status: payout.StatusSucceeded})
	require.NoError(t, err)
	require.Len(t, items, 1)
	return items[0].ID
}

func TestRun_ConcurrentRunsCreateOnePayoutPerMitra(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w world) {
		a, b := w.payable(t, 50000), w.payable(t, 90000)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = w.svc.Run(w.ctx, payout.RunParams{})
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		for _, m := range []uuid.UUID{a, b} {
			items, total, err := w.svc.List(w.ctx, payout.Filter{MitraID: &m})
			require.NoError(t, err)
			require.Equal(t, 1, total, "one payout for mitra %s", m)
			require.Equal(t, payout.StatusSucceeded, items[0].Status)
		}
		require.Len(t, w.provider.Paid(), 2)
	})
}

func TestRun_AMitraBelowTheMinimumOrWithoutADestinationGetsNone(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w world) {
		low := w.payable(t, 49999)
		nowhere := w.Mitra(t)
		rep, err := w.svc.Run(w.ctx, payout.RunParams{})
		require.NoError(t, err)
		require.Empty(t, rep.Created)
		_, err = w.svc.Run(w.ctx, payout.RunParams{MitraID: &low})
		require.ErrorIs(t, err, payout.ErrInvalidState)
		var ne *payout.NotEligibleError
		require.ErrorAs(t, err, &ne)
		require.Equal(t, payout.NotEligibleError{MitraID: low, Reason: payout.ReasonBelowMinimum, Available: 49999,
			Minimum: payout.DefaultMinimum}, *ne)
		_, err = w.svc.Run(w.ctx, payout.RunParams{MitraID: &nowhere})
		require.ErrorAs(t, err, &ne)
		require.Equal(t, payout.ReasonNoDestination, ne.Reason)
	})
}

func TestRun_AReversedPayoutReturnsTheMoneyToAvailable(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w world) {
		m := w.payable(t, 55000)
		rep, err := w.svc.Run(w.ctx, payout.RunParams{MitraID: &m})
		require.NoError(t, err)
		p := rep.Created[0]
		require.Equal(t, payout.StatusSucceeded, p.Status)
		p, err = w.svc.Reversed(w.ctx, p.ID, "account closed")
		require.NoError(t, err)
		require.Equal(t, payout.StatusReversed, p.Status)
		require.Equal(t, "account closed", p.FailureReason)
		e := w.earnings(t, m)
		require.Equal(t, int64(55000), e.Available)
		require.Zero(t, e.PaidOut)
		again, err := w.svc.Reversed(w.ctx, p.ID, "again")
		require.NoError(t, err, "a repeated notice")
		require.Equal(t, "account closed", again.FailureReason)
		require.Equal(t, int64(55000), w.earnings(t, m).Available, "reversed once")

		w.provider.FailNext(1)
		rep, err = w.svc.Run(w.ctx, payout.RunParams{MitraID: &m})
		require.NoError(t, err)
		_, err = w.svc.Reversed(w.ctx, rep.Created[0].ID, "never paid")
		require.ErrorIs(t, err, payout.ErrInvalidState, "a failed payout was never paid")
	})
}

func TestRun_APayoutTheProviderCouldNotTakeIsSentAgainAndPaidOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w world) {
		m := w.payable(t, 80000)
		w.provider.SetDown(true)
		rep, err := w.svc.Run(w.ctx, payout.RunParams{})
		require.NoError(t, err)
		p := rep.Created[0]
		require.Equal(t, payout.StatusPending, p.Status, "waits for the provider")
		require.Equal(t, int64(80000), w.earnings(t, m).InFlight)

		w.provider.SetDown(false)
		n, err := w.svc.RetryPending(w.ctx, 0)
		require.NoError(t, err)
		require.Zero(t, n, "its send's lease is not over")
		w.clock.Advance(time.Minute)
		n, err = w.svc.RetryPending(w.ctx, 0)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		got, err := w.svc.Get(w.ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, payout.StatusSucceeded, got.Status)
		require.Equal(t, 2, got.Attempts)
		require.Equal(t, 2, w.provider.Sends(p.ID))
		require.Equal(t, int64(80000), w.earnings(t, m).PaidOut)
	})
}

func TestRun_WithoutAProviderNothingIsPaid(t *testing.T) {
	t.Parallel()
	h, _ := backends[0].open(t)
	svc, err := payout.NewService(h.Store, nil, nil)
	require.NoError(t, err)
	_, err = svc.Run(context.Background(), payout.RunParams{})
	require.ErrorIs(t, err, payout.ErrNoProvider)
	_, err = payout.NewService(nil, nil, nil)
	require.Error(t, err)
}

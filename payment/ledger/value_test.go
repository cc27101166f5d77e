package ledger

import (
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestCarryAmountAndFeeAreFloorsWithoutOverflow(t *testing.T) {
	t.Parallel()
	require.Equal(t, int64(20000), CarryAmount(30000, 20, 30))
	require.Equal(t, int64(6666), CarryAmount(10000, 20, 30), "floor")
	require.Equal(t, int64(30000), CarryAmount(30000, 45, 30), "at most all of it")
	require.Zero(t, CarryAmount(30000, 0, 30))
	require.Zero(t, CarryAmount(30000, 5, 0))
	require.Equal(t, int64(9000), Fee(30000, 30))
	require.Equal(t, int64(2), Fee(9, 30), "floor(2.7)")
	require.Zero(t, Fee(30000, 0))
	require.Equal(t, int64(30000), Fee(30000, 100))
	for _, c := range []struct {
		v     int64
		l, of int
	}{{math.MaxInt64, 1439, 1440}, {math.MaxInt64 - 7, 1, 3}, {1<<62 + 12345, 719, 720}} {
		want := new(big.Int).Div(new(big.Int).Mul(big.NewInt(c.v), big.NewInt(int64(c.l))), big.NewInt(int64(c.of))).Int64()
		require.Equal(t, want, CarryAmount(c.v, c.l, c.of))
	}
	want := new(big.Int).Div(new(big.Int).Mul(big.NewInt(math.MaxInt64), big.NewInt(99)), big.NewInt(100)).Int64()
	require.Equal(t, want, Fee(math.MaxInt64, 99))
}

func TestSessionValueCarriesFromTheNewestPaymentAndChargesEachItsOwnFee(t *testing.T) {
	t.Parallel()
	ext, start := uuid.New(), uuid.New()
	to := uuid.New()
	e := SessionEnd{SessionID: uuid.New(), MitraID: uuid.New(), PairingID: uuid.New(), CarryTo: &to, CarryMinutes: 20,
		Minutes: 45, At: time.Unix(0, 0), ClearsAt: time.Unix(3600, 0)}
	txn, ok, carry := sessionValue(e, KindSessionValue, []Contribution{
		{PaymentID: ext, Attributed: 15000, Gives: 15000, FeePercent: 50, Currency: "IDR"},
		{PaymentID: start, Attributed: 30000, Gives: 30000, FeePercent: 30, Currency: "IDR"},
	})
	require.True(t, ok)
	require.Equal(t, []Part{{PaymentID: ext, Amount: 15000}, {PaymentID: start, Amount: 5000}}, carry,
		"20 of 45 minutes: 20,000, the extension's first")
	require.NoError(t, txn.Validate())
	require.Len(t, txn.Lines, 3)
	require.Equal(t, int64(25000), txn.Lines[0].Amount, "the start payment's value")
	require.Equal(t, int64(-17500), txn.Lines[1].Amount, "25,000 less its 30% fee")
	require.Equal(t, AccountMitraPending, txn.Lines[1].Account)
	require.Equal(t, int64(-7500), txn.Lines[2].Amount)

	// A payment already refunded gives nothing; what it could not give is not carried.
	_, ok, carry = sessionValue(e, KindSessionValue, []Contribution{
		{PaymentID: start, Attributed: 30000, Gives: 0, FeePercent: 30, Currency: "IDR"},
	})
	require.False(t, ok)
	require.Empty(t, carry)
}

func TestReversalTakesFromPendingThenAvailableThenReceivable(t *testing.T) {
	t.Parallel()
	m, s, p, r := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	txn, ok := reversal(r, p, 30000, 30, "IDR", time.Unix(0, 0), []Consumed{{ChatSessionID: s, MitraID: m, Value: 30000, Pending: 1000}},
		map[uuid.UUID]int64{m: 5000})
	require.True(t, ok)
	require.NoError(t, txn.Validate())
	got := map[Account]int64{}
	for _, l := range txn.Lines {
		got[l.Account] += l.Amount
	}
	require.Equal(t, map[Account]int64{AccountClientFunds: -30000, AccountPlatformRevenue: 9000,
		AccountMitraPending: 1000, AccountMitraAvailable: 5000, AccountMitraReceivable: 15000}, got)
}

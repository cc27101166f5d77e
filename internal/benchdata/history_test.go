package benchdata

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/testenv"
)

// The history holds what its doc says: n pairings over the span, their outcomes by
// number, three offers for each pairing that reached the mitras, and offline mitras.
func TestHistory_WritesThePairingsItsDocDescribes(t *testing.T) {
	t.Parallel()
	db := testenv.Postgres(t)
	ctx := context.Background()
	end := time.Now().UTC().Truncate(time.Second)
	const n = 1000
	// The outcomes by the pairing's number g: the last 50 waiting; the others by g mod 20.
	want := map[string]int{}
	for g := 1; g <= n-50; g++ {
		switch r := g % 20; {
		case r < 14:
			want["matched"]++
		case r < 16:
			want["failed"]++
		case r == 16:
			want["abandoned"]++
		}
	}
	require.NoError(t, History(ctx, db.Pool, end, n, time.Hour))

	count := func(q string, args ...any) int {
		var c int
		require.NoError(t, db.Pool.QueryRow(ctx, q, args...).Scan(&c), q)
		return c
	}
	require.Equal(t, n, count(`SELECT count(*) FROM pairings WHERE created_at > $1::timestamptz - interval '1 hour' AND created_at <= $1`, end))
	require.Equal(t, 50, count(`SELECT count(*) FROM pairings WHERE status = 'searching'`))
	matched := count(`SELECT count(*) FROM pairings WHERE status = 'matched'`)
	require.Equal(t, want["matched"], matched)
	require.Equal(t, matched, count(`SELECT count(*) FROM chat_sessions`))
	failed := count(`SELECT count(*) FROM pairings WHERE status = 'failed'`)
	require.Equal(t, want["failed"], failed)
	abandoned := count(`SELECT count(*) FROM pairings WHERE failure_reason = 'client_cancelled' AND paid_at IS NOT NULL`)
	require.Equal(t, want["abandoned"], abandoned)
	require.Equal(t, 3*(matched+failed+abandoned+50), count(`SELECT count(*) FROM pairing_offers`))
	require.Equal(t, failed+abandoned, count(`SELECT count(*) FROM payment_refunds WHERE status = 'succeeded'`))
	require.Equal(t, n, count(`SELECT count(*) FROM payment_sessions WHERE purpose = 'chat_start'`))
	require.Zero(t, count(`SELECT count(*) FROM mitras WHERE is_online`), "the history's mitras take no offers")
}

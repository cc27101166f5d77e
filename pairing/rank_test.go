package pairing_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pairing/pairingtest"
)

// ratedStore serves fixed rating summaries in place of the store's.
type ratedStore struct {
	pairing.Store
	ratings map[uuid.UUID]pairing.RatingSummary
}

func (s ratedStore) RatingSummaries(_ context.Context, ids []uuid.UUID) (map[uuid.UUID]pairing.RatingSummary, error) {
	out := map[uuid.UUID]pairing.RatingSummary{}
	for _, id := range ids {
		if r, ok := s.ratings[id]; ok {
			out[id] = r
		}
	}
	return out, nil
}

// declinedOnce gives the first of mitras a decided offer it declined (acceptance rate 0)
// and leaves the others with none: a blast to all of them that the first declines and
// the client then cancels (dismissed offers are nobody's decision).
func (e *env) declinedOnce(t *testing.T, mitras []uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	pr, _ := e.paidBlast(t, 10)
	require.Len(t, e.offeredTo(t, pr.ID, mitras), len(mitras))
	require.NoError(t, e.p.Decline(ctx, mitras[0], pr.ID))
	_, err := e.p.Cancel(ctx, pr.ClientID, pr.ID)
	require.NoError(t, err)
}

func TestRank_OfferAnswersCountAcceptsDeclinesAndLapsesButNotDismissals(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e := newEnv(t, b)
		a, d, l := e.onlineMitra(t), e.onlineMitra(t), e.onlineMitra(t)

		e.declinedOnce(t, []uuid.UUID{d, a, l}) // d declines; a and l dismissed
		pr, _ := e.paidBlast(t, 10)
		require.NoError(t, e.p.Decline(ctx, d, pr.ID))
		_, err := e.p.Accept(ctx, a, pr.ID) // a accepts; l is dismissed
		require.NoError(t, err)
		pr, _ = e.paidBlast(t, 10) // a holds a session now: offered to d and l
		require.NoError(t, e.p.Decline(ctx, d, pr.ID))
		e.clock.Advance(time.Minute) // l lets it lapse

		got, err := e.store.OfferAnswers(ctx, []uuid.UUID{a, d, l, uuid.New()})
		require.NoError(t, err)
		require.Equal(t, map[uuid.UUID]pairing.OfferAnswers{
			a: {Accepted: 1},
			d: {Declined: 3},
			l: {Lapsed: 1},
		}, got)
		require.InDelta(t, 0.0, got[d].AcceptanceRate(), 1e-9)
		require.InDelta(t, 1.0, pairing.OfferAnswers{}.AcceptanceRate(), 1e-9, "no decided offer: not ranked down")
	})
}

func TestRank_WeightsChangeTheRingOrderAsTheFormulaSays(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		firstRing := func(t *testing.T, w *pairing.RankWeights, ratings map[int]float64) (int, []uuid.UUID) {
			rated := map[uuid.UUID]pairing.RatingSummary{}
			e := newEnv(t, b, policies(pairingtest.Settings{Ring: true, Size: 1, Interval: 10 * time.Second, Weights: w}),
				withStore(func(s pairing.Store) pairing.Store { return ratedStore{s, rated} }))
			mitras := e.onlineOneSecondApart(t, 3) // idle longest first: 0, 1, 2
			for i, avg := range ratings {
				rated[mitras[i]] = pairing.RatingSummary{Count: 10, Average: avg}
			}
			e.policiesRingAll(t, mitras)
			pr, _ := e.paidBlast(t, 10)
			got := e.offeredTo(t, pr.ID, mitras)
			require.Len(t, got, 1)
			for i, m := range mitras {
				if m == got[0] {
					return i, mitras
				}
			}
			return -1, mitras
		}
		t.Run("default: longest idle", func(t *testing.T) {
			i, _ := firstRing(t, nil, map[int]float64{2: 5})
			require.Equal(t, 0, i)
		})
		t.Run("rating only: the best rated", func(t *testing.T) {
			i, _ := firstRing(t, &pairing.RankWeights{Rating: 1}, map[int]float64{0: 3.5, 1: 4.9, 2: 4.2})
			require.Equal(t, 1, i)
		})
		t.Run("acceptance only: the longest idle of those that never declined", func(t *testing.T) {
			i, _ := firstRing(t, &pairing.RankWeights{Accept: 1}, nil)
			require.Equal(t, 1, i, "mitra 0 declined its one decided offer")
		})
		t.Run("idle outweighs a small rating gap", func(t *testing.T) {
			// 0: 0.5×4.0/5 + 0.5×1 = 0.9; 2: 0.5×4.5/5 + 0.5×0 = 0.45.
			i, _ := firstRing(t, &pairing.RankWeights{Rating: 0.5, Idle: 0.5}, map[int]float64{0: 4.0, 1: 4.0, 2: 4.5})
			require.Equal(t, 0, i)
		})
	})
}

// policiesRingAll gives the first of mitras one declined offer and the rest none,
// through a ring that reaches them all at once.
func (e *env) policiesRingAll(t *testing.T, mitras []uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	for _, m := range mitras[1:] {
		e.avail.SetOnline(m, false)
	}
	pr, _ := e.paidBlast(t, 10)
	require.Equal(t, mitras[:1], e.offeredTo(t, pr.ID, mitras))
	require.NoError(t, e.p.Decline(ctx, mitras[0], pr.ID))
	_, err := e.p.Cancel(ctx, pr.ClientID, pr.ID)
	require.NoError(t, err)
	for _, m := range mitras[1:] {
		e.avail.SetOnline(m, true)
	}
}

func TestRank_RankMitrasScoresByTheFormula(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		rated := map[uuid.UUID]pairing.RatingSummary{}
		w := pairing.RankWeights{Rating: 0.5, Accept: 0.3, Idle: 0.2}
		e := newEnv(t, b, policies(pairingtest.Settings{Ring: true, Size: 3, Weights: &w}),
			withStore(func(s pairing.Store) pairing.Store { return ratedStore{s, rated} }))
		mitras := e.onlineOneSecondApart(t, 3)
		rated[mitras[2]] = pairing.SummaryOf(3, 15) // (40 + 15) / 13
		e.declinedOnce(t, mitras)                   // mitra 0: acceptance 0

		got, err := e.p.RankMitras(context.Background(), mitras)
		require.NoError(t, err)
		score := func(rating, accept, idle float64) float64 { return 0.5*rating/5 + 0.3*accept + 0.2*idle }
		want := map[uuid.UUID]float64{
			mitras[0]: score(4.0, 0, 1),
			mitras[1]: score(4.0, 1, 0.5),
			mitras[2]: score(55.0/13, 1, 0),
		}
		require.Len(t, got, 3)
		for _, r := range got {
			require.InDelta(t, want[r.MitraID], r.Score, 1e-9, "mitra %s", r.MitraID)
		}
		require.Equal(t, []uuid.UUID{mitras[1], mitras[2], mitras[0]}, []uuid.UUID{got[0].MitraID, got[1].MitraID, got[2].MitraID})
	})
}

func TestRank_TheBestRankedFreeMitraGetsTheHeadOfTheQueue(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		w := pairing.RankWeights{Accept: 1}
		e := newEnv(t, b, policies(pairingtest.Settings{Queue: true, Weights: &w}))
		mitras := []uuid.UUID{e.onlineMitra(t), e.onlineMitra(t)}
		e.declinedOnce(t, mitras) // mitra 0 declined: ranked below mitra 1 although marked idle first
		for _, m := range mitras {
			e.avail.SetOnline(m, false)
		}
		pr, _ := e.paidBlast(t, 10)
		require.Equal(t, pairing.StatusQueued, e.pairing(t, pr.ID).Status)

		for _, m := range mitras { // both free at once: the sweep's dispatch chooses
			e.avail.SetOnline(m, true)
		}
		_, err := e.p.SweepTimeouts(ctx)
		require.NoError(t, err)
		require.Equal(t, mitras[1:], e.offeredTo(t, pr.ID, mitras), "the queue stays FIFO; the best ranked mitra gets its head")
	})
}

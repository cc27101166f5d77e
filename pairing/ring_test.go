package pairing_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pairing/pairingtest"
)

// offeredTo returns, of mitras, those holding a live offer of the pairing.
func (e *env) offeredTo(t *testing.T, pairingID uuid.UUID, mitras []uuid.UUID) []uuid.UUID {
	t.Helper()
	var out []uuid.UUID
	for _, m := range mitras {
		if slices.Contains(offerIDs(e.offers(t, m)), pairingID) {
			out = append(out, m)
		}
	}
	return out
}

// onlineOneSecondApart puts n new mitras online, one second after another.
func (e *env) onlineOneSecondApart(t *testing.T, n int) []uuid.UUID {
	t.Helper()
	mitras := make([]uuid.UUID, n)
	for i := range mitras {
		if i > 0 {
			e.clock.Advance(time.Second)
		}
		mitras[i] = e.newMitra(t)
		e.comeOnline(t, mitras[i])
	}
	return mitras
}

func TestRing_TheTwoIdleLongestAreOfferedFirstAndTheOthersJoinAtTheInterval(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		var rings []int
		var mu sync.Mutex
		e := newEnv(t, b, policies(pairingtest.Settings{Ring: true, Size: 2, Interval: 10 * time.Second}), func(e *env) {
			e.cfg.Hooks.MatchedAtRing = func(ring int) {
				mu.Lock()
				defer mu.Unlock()
				rings = append(rings, ring)
			}
		})
		mitras := e.onlineOneSecondApart(t, 4)
		pr, _ := e.paidBlast(t, 10)

		require.Equal(t, mitras[:2], e.offeredTo(t, pr.ID, mitras), "the two online longest")
		require.Equal(t, 1, e.pairing(t, pr.ID).Rings)
		e.clock.Advance(9 * time.Second)
		require.Equal(t, mitras[:2], e.offeredTo(t, pr.ID, mitras))
		e.clock.Advance(time.Second)
		require.Equal(t, mitras, e.offeredTo(t, pr.ID, mitras), "the next ring joined; the first's offers stay live")
		require.Len(t, e.notifier.Find(pairing.EventPairingOffer, mitras[3]), 1)

		_, err := e.p.Accept(context.Background(), mitras[3], pr.ID)
		require.NoError(t, err)
		_, err = e.p.Accept(context.Background(), mitras[0], pr.ID)
		require.ErrorIs(t, err, pairing.ErrAlreadyMatched, "a first-ring accept after a later ring won")
		for _, m := range mitras[:3] {
			d := e.notifier.Find(pairing.EventOfferDismissed, m)
			require.Len(t, d, 1)
			require.Equal(t, pairing.DismissMatched, d[0].Payload.(pairing.OfferDismissedEvent).Reason)
		}
		mu.Lock()
		require.Equal(t, []int{1}, rings, "matched at the second ring")
		mu.Unlock()

		e.clock.Advance(time.Minute)
		require.Empty(t, e.offeredTo(t, pr.ID, mitras))
		require.Zero(t, e.clock.Pending()-countSessionTimers(e), "no ring timer left behind")
	})
}

// countSessionTimers is the number of timers the env's chat sessions hold (their expiry).
func countSessionTimers(e *env) int {
	all, err := e.store.ListChatSessions(context.Background(), pairing.ListSessionsParams{Status: pairing.SessionActive})
	if err != nil {
		return 0
	}
	return len(all)
}

func TestRing_ALateJoinerWaitsForTheNextRing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{Ring: true, Size: 1, Interval: 10 * time.Second}))
		first := e.onlineOneSecondApart(t, 1)[0]
		pr, _ := e.paidBlast(t, 10)
		require.Equal(t, []uuid.UUID{first}, e.offeredTo(t, pr.ID, []uuid.UUID{first}))

		e.clock.Advance(time.Second)
		late := e.newMitra(t)
		e.comeOnline(t, late)
		require.Empty(t, e.offers(t, late), "a mitra that just came online is not flooded")
		e.clock.Advance(9 * time.Second)
		require.Len(t, e.offers(t, late), 1, "it is in the next ring")
	})
}

func TestRing_SweepAddsADueRingOnceWithoutTimers(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{Ring: true, Size: 1, Interval: 10 * time.Second}))
		mitras := e.onlineOneSecondApart(t, 3)
		pr, _ := e.paidBlast(t, 10)
		require.NoError(t, e.p.Stop(context.Background()))
		e.clock.Advance(10 * time.Second)

		others := []*pairing.Pairer{e.newPairer(t), e.newPairer(t), e.newPairer(t)}
		var wg sync.WaitGroup
		reports := make([]pairing.TimeoutReport, len(others))
		for i, p := range others {
			wg.Go(func() {
				var err error
				reports[i], err = p.SweepTimeouts(context.Background())
				require.NoError(t, err)
			})
		}
		wg.Wait()
		added := 0
		for _, r := range reports {
			added += r.RingsAdded
		}
		require.Equal(t, 1, added, "one instance adds the ring")
		require.Equal(t, mitras[:2], e.offeredTo(t, pr.ID, mitras), "one ring of one mitra more")
		require.Equal(t, 2, e.pairing(t, pr.ID).Rings)
	})
}

func TestRing_CurhatLagiFallbackPutsTheRequestedMitraInTheFirstRing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, policies(pairingtest.Settings{Ring: true, Size: 2, Interval: 10 * time.Second}))
		mitras := e.onlineOneSecondApart(t, 3)
		requested := mitras[2] // idle the shortest
		client := e.fx.client(t)
		e.fx.endedSession(t, client, requested)
		e.avail.SetOnline(requested, false)
		ctx := context.Background()
		pr, err := e.p.StartTargeted(ctx, client, requested, 10)
		require.NoError(t, err)
		require.Equal(t, pairing.StatusTargetedUnavailable, pr.Status, "offline when asked")
		e.comeOnline(t, requested)

		pr, pay, err := e.p.FallbackToBlast(ctx, client, pr.ID)
		require.NoError(t, err)
		require.NoError(t, e.payments.Pay(ctx, pay.ID))
		require.ElementsMatch(t, []uuid.UUID{requested, mitras[0]}, e.offeredTo(t, pr.ID, mitras),
			"the requested mitra, then the idle longest")
	})
}

// Fairness: with 10 equally available mitras that always accept, 200
// sequential blasts match each of them between 10 and 30 times.
func TestRing_FairnessTenMitrasTwoHundredBlastsEachMatchedTenToThirtyTimes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends[0], policies(pairingtest.Settings{Ring: true, Size: 3, Interval: 10 * time.Second}))
	ctx := context.Background()
	mitras := e.onlineOneSecondApart(t, 10)
	rng := rand.New(rand.NewPCG(16, 19))
	matched := map[uuid.UUID]int{}
	for range 200 {
		e.clock.Advance(time.Second)
		pr, _ := e.paidBlast(t, 10)
		offered := e.offeredTo(t, pr.ID, mitras)
		require.Len(t, offered, 3, "one ring")
		winner := offered[rng.IntN(len(offered))] // whoever answers first
		s, err := e.p.Accept(ctx, winner, pr.ID)
		require.NoError(t, err)
		matched[winner]++
		e.clock.Advance(time.Second)
		_, err = e.p.EndSession(ctx, pairing.EndParams{SessionID: s.ID, By: pairing.PartyMitra, CallerID: winner})
		require.NoError(t, err)
	}
	for i, m := range mitras {
		require.GreaterOrEqual(t, matched[m], 10, "mitra %d: %v", i, matched)
		require.LessOrEqual(t, matched[m], 30, "mitra %d: %v", i, matched)
	}
}

func TestRing_StaysOffByDefault(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		mitras := e.onlineOneSecondApart(t, 4)
		pr, _ := e.paidBlast(t, 10)
		require.Equal(t, mitras, e.offeredTo(t, pr.ID, mitras), "the blast policy: everybody at once")
		require.Zero(t, e.pairing(t, pr.ID).Rings)
	})
}

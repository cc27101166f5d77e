package pairing_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pairing/pairingtest"
)

// labelled puts online a new mitra with the given labels.
func (e *env) labelled(t *testing.T, l pairingtest.MitraLabels) uuid.UUID {
	t.Helper()
	id := e.onlineMitra(t)
	e.labels.Set(id, l)
	return id
}

// preferredBlast starts a blast with preferences for a new client and pays it.
func (e *env) preferredBlast(t *testing.T, prefs pairing.Preferences) pairing.Pairing {
	t.Helper()
	ctx := context.Background()
	pr, pay, err := e.p.StartBlast(ctx, pairing.StartParams{ClientID: e.fx.client(t), Minutes: 10, Preferences: &prefs})
	require.NoError(t, err)
	require.NoError(t, e.payments.Pay(ctx, pay.ID))
	return e.pairing(t, pr.ID)
}

var (
	// ayu fits every preference of wantAyu; budi speaks its language only; citra nothing.
	ayuLabels  = pairingtest.MitraLabels{Languages: []string{"id", "en"}, Topics: []string{"Work", "family"}, Gender: "female"}
	budiLabels = pairingtest.MitraLabels{Languages: []string{"id"}, Topics: []string{"grief"}, Gender: "male"}
	wantAyu    = pairing.Preferences{Language: "id", Topics: []string{"work"}, Gender: "female"}
)

func TestRouting_APreferenceMatchIsOfferedFirstAndTheBlastWidensAtEachStepsTime(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b) // default steps: all 20 s, language 20 s, any
		ayu, budi := e.labelled(t, ayuLabels), e.labelled(t, budiLabels)
		citra := e.onlineMitra(t)
		all := []uuid.UUID{ayu, budi, citra}

		pr := e.preferredBlast(t, wantAyu)
		require.Equal(t, 0, pr.RoutingStep)
		require.Equal(t, &wantAyu, pr.Preferences)
		require.Equal(t, []uuid.UUID{ayu}, e.offeredTo(t, pr.ID, all), "step 0 (all): only the mitra fitting every preference")

		e.clock.Advance(19 * time.Second)
		require.Equal(t, []uuid.UUID{ayu}, e.offeredTo(t, pr.ID, all), "not before the step's seconds")
		e.clock.Advance(time.Second)
		require.Equal(t, 1, e.pairing(t, pr.ID).RoutingStep)
		require.Equal(t, []uuid.UUID{ayu, budi}, e.offeredTo(t, pr.ID, all), "step 1 (language) adds the Indonesian speaker; earlier offers stay")

		e.clock.Advance(20 * time.Second)
		cur := e.pairing(t, pr.ID)
		require.Equal(t, 2, cur.RoutingStep)
		require.Nil(t, cur.NextStepAt, "any is the last step")
		require.Equal(t, all, e.offeredTo(t, pr.ID, all), "step 2 (any) reaches everyone")

		_, err := e.p.Accept(context.Background(), citra, pr.ID)
		require.NoError(t, err, "any mitra offered may accept")
	})
}

func TestRouting_AStepWithNobodyIsPassedAtOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		budi := e.labelled(t, budiLabels)
		citra := e.onlineMitra(t)

		pr := e.preferredBlast(t, wantAyu) // nobody fits every preference
		require.Equal(t, 1, pr.RoutingStep, "step 0 had no candidate: the blast starts at language")
		require.Equal(t, t0.Add(20*time.Second), *pr.NextStepAt, "the language step has its whole time")
		require.Equal(t, []uuid.UUID{budi}, e.offeredTo(t, pr.ID, []uuid.UUID{budi, citra}))
	})
}

func TestRouting_ABlastNoStepMatchesStillReachesEveryoneAtAny(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		mitras := []uuid.UUID{e.labelled(t, ayuLabels), e.labelled(t, budiLabels), e.onlineMitra(t)}

		pr := e.preferredBlast(t, pairing.Preferences{Language: "fr"})
		require.Equal(t, pairing.StatusSearching, pr.Status)
		require.Equal(t, 2, pr.RoutingStep)
		require.Equal(t, mitras, e.offeredTo(t, pr.ID, mitras), "no French speaker: everyone at once")
	})
}

func TestRouting_NoMitraAvailableOnlyWhenTheAnyStepHasNone(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		pr := e.preferredBlast(t, wantAyu)
		require.Equal(t, pairing.StatusFailed, pr.Status)
		require.Equal(t, pairing.ReasonNoMitraAvailable, pr.FailureReason)
		require.Equal(t, 2, pr.RoutingStep, "it got to any before failing")
	})
}

func TestRouting_WithoutPreferencesTheBlastStartsAtAny(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		mitras := []uuid.UUID{e.labelled(t, ayuLabels), e.onlineMitra(t)}
		pr, _ := e.paidBlast(t, 10)
		require.Equal(t, 2, pr.RoutingStep)
		require.Nil(t, pr.Preferences)
		require.Nil(t, pr.NextStepAt)
		require.Equal(t, mitras, e.offeredTo(t, pr.ID, mitras))
		require.Zero(t, e.labels.Reads(), "a blast without preferences reads no labels")
	})
}

func TestRouting_ALateJoinerIsOfferedOnlyABlastWhoseStepItFits(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ayu := e.labelled(t, ayuLabels)
		pr := e.preferredBlast(t, wantAyu)
		require.Equal(t, 0, pr.RoutingStep)

		budi := e.newMitra(t)
		e.labels.Set(budi, budiLabels)
		e.comeOnline(t, budi)
		require.Empty(t, e.offers(t, budi), "step 0 asks every preference; the late joiner speaks the language only")

		other := e.newMitra(t)
		e.labels.Set(other, ayuLabels)
		e.comeOnline(t, other)
		require.Equal(t, []uuid.UUID{ayu, other}, e.offeredTo(t, pr.ID, []uuid.UUID{ayu, other, budi}), "a fitting late joiner joins at once")

		e.clock.Advance(20 * time.Second)
		require.Len(t, e.offers(t, budi), 1, "the widening reaches it")
	})
}

func TestRouting_TheSweepWidensOnceAcrossInstancesAfterARestart(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ayu, budi := e.labelled(t, ayuLabels), e.labelled(t, budiLabels)
		pr := e.preferredBlast(t, wantAyu)
		require.NoError(t, e.p.Stop(context.Background())) // its timers die with it
		e.clock.Advance(20 * time.Second)
		require.Equal(t, []uuid.UUID{ayu}, e.offeredTo(t, pr.ID, []uuid.UUID{ayu, budi}))

		others := []*pairing.Pairer{e.newPairer(t), e.newPairer(t), e.newPairer(t)}
		var wg sync.WaitGroup
		for _, p := range others {
			wg.Go(func() {
				_, err := p.SweepTimeouts(context.Background())
				require.NoError(t, err)
			})
		}
		wg.Wait()
		cur := e.pairing(t, pr.ID)
		require.Equal(t, 1, cur.RoutingStep, "widened once, not once per instance")
		require.Equal(t, t0.Add(40*time.Second), *cur.NextStepAt)
		require.Equal(t, []uuid.UUID{ayu, budi}, e.offeredTo(t, pr.ID, []uuid.UUID{ayu, budi}))
		require.Len(t, e.notifier.Find(pairing.EventPairingOffer, budi), 1, "one offer event")
	})
}

func TestRouting_StartRestoresTheWideningTimer(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		e.labelled(t, ayuLabels)
		budi := e.labelled(t, budiLabels)
		pr := e.preferredBlast(t, wantAyu)
		require.NoError(t, e.p.Stop(context.Background()))

		restarted := e.newPairer(t)
		require.NoError(t, restarted.Start(context.Background()))
		e.clock.Advance(20 * time.Second)
		require.Equal(t, 1, e.pairing(t, pr.ID).RoutingStep)
		require.Len(t, e.offers(t, budi), 1)
	})
}

func TestRouting_StepsAreCopiedWhenTheSearchStarts(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		steps := []pairing.RoutingStep{{Match: pairing.MatchLanguage, Seconds: 5}, {Match: pairing.MatchAny}}
		e := newEnv(t, b, withSettings(pairingtest.Settings{Blast: time.Minute, Targeted: 20 * time.Second, MaxSessions: 1, Steps: steps}))
		budi := e.labelled(t, budiLabels)
		citra := e.onlineMitra(t)
		pr := e.preferredBlast(t, pairing.Preferences{Language: "id"})
		require.Equal(t, steps, pr.RoutingSteps)
		require.Equal(t, []uuid.UUID{budi}, e.offeredTo(t, pr.ID, []uuid.UUID{budi, citra}))
		e.clock.Advance(5 * time.Second)
		require.Equal(t, []uuid.UUID{budi, citra}, e.offeredTo(t, pr.ID, []uuid.UUID{budi, citra}))
	})
}

func TestRouting_PreferencesAreValidated(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends[0])
	client := e.fx.client(t)
	for name, prefs := range map[string]pairing.Preferences{
		"language":   {Language: "xx"},
		"gender":     {Gender: "robot"},
		"topics":     {Topics: strings.Split("a b c d e f g h i j k", " ")},
		"long topic": {Topics: []string{strings.Repeat("é", 51)}},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := e.p.StartBlast(context.Background(), pairing.StartParams{ClientID: client, Minutes: 10, Preferences: &prefs})
			var ve *core.ValidationError
			require.ErrorAs(t, err, &ve)
		})
	}
}

func TestRouting_TheFanOutCapCountsOnlyTheMitrasThatFit(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withFanoutCap(2))
		var all []uuid.UUID
		for range 2 {
			all = append(all, e.labelled(t, budiLabels))
		}
		var fit []uuid.UUID
		for range 3 {
			id := e.labelled(t, ayuLabels)
			all, fit = append(all, id), append(fit, id)
		}
		pr := e.preferredBlast(t, wantAyu)
		got := e.offeredTo(t, pr.ID, all)
		require.Len(t, got, 2, "the cap")
		require.Subset(t, fit, got, "only mitras fitting step 0")
	})
}

func TestRouting_AMatchOrACancelLeavesNoWideningTimer(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ayu := e.labelled(t, ayuLabels)
		pr := e.preferredBlast(t, wantAyu)
		require.NotNil(t, pr.NextStepAt)
		_, err := e.p.Cancel(context.Background(), pr.ClientID, pr.ID)
		require.NoError(t, err)
		require.Zero(t, e.clock.Pending(), "no deadline or widening timer left behind")

		pr = e.preferredBlast(t, wantAyu)
		_, err = e.p.Accept(context.Background(), ayu, pr.ID)
		require.NoError(t, err)
		require.Equal(t, countSessionTimers(e), e.clock.Pending(), "only the session's expiry")
	})
}

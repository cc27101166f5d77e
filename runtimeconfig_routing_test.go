package curhat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/pairing"
)

// The settings of routing quality: the object and list-of-objects kinds, the check across
// pairing_routing_steps and pairing_blast_timeout_seconds, and the getters the Pairer reads.

// The Pairer finds its routing and wrap-up settings on the runtime config.
var (
	_ pairing.RoutingSettings = (*curhat.RuntimeConfig)(nil)
	_ pairing.WrapupSettings  = (*curhat.RuntimeConfig)(nil)
)

func TestRuntimeConfig_ValidatesRoutingAndWrapupValues(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, key, value string
		stored           string // "" = refused on "value"
		reason           string // a part of the refusal's message
	}{
		{"steps", "pairing_routing_steps", `[{"match":"all","seconds":15},{"match":"language","seconds":10},{"match":"any"}]`,
			`[{"match":"all","seconds":15},{"match":"language","seconds":10},{"match":"any"}]`, ""},
		{"steps any alone", "pairing_routing_steps", ` [ {"match": "any"} ] `, `[{"match":"any"}]`, ""},
		{"steps any with seconds 0", "pairing_routing_steps", `[{"match":"any","seconds":0}]`, `[{"match":"any"}]`, ""},
		{"steps field order", "pairing_routing_steps", `[{"seconds":5,"match":"language"},{"match":"any"}]`,
			`[{"match":"language","seconds":5},{"match":"any"}]`, ""},
		{"steps ten", "pairing_routing_steps", stepsOf(9, 5), stepsOf(9, 5), ""},
		{"steps eleven", "pairing_routing_steps", stepsOf(10, 5), "", "must hold 1 to 10 steps, not 11"},
		{"steps empty", "pairing_routing_steps", `[]`, "", "must hold 1 to 10 steps, not 0"},
		{"last step not any", "pairing_routing_steps", `[{"match":"all","seconds":20},{"match":"language","seconds":20}]`, "",
			"step 2: the last step must be any"},
		{"any in the middle", "pairing_routing_steps", `[{"match":"any","seconds":20},{"match":"any"}]`, "",
			"step 1: only the last step may be any"},
		{"last step timed", "pairing_routing_steps", `[{"match":"any","seconds":20}]`, "", "step 1: the last step (any) has no seconds"},
		{"untimed step", "pairing_routing_steps", `[{"match":"all"},{"match":"any"}]`, "", "step 1: seconds must be 1..3600, not 0"},
		{"step seconds above range", "pairing_routing_steps", `[{"match":"all","seconds":3601},{"match":"any"}]`, "",
			"step 1: seconds must be 1..3600, not 3601"},
		{"steps as long as the blast timeout", "pairing_routing_steps",
			`[{"match":"all","seconds":30},{"match":"language","seconds":30},{"match":"any"}]`, "",
			"the timed steps last 60 s together; they must be shorter than pairing_blast_timeout_seconds (60 s)"},
		{"unknown match", "pairing_routing_steps", `[{"match":"gender","seconds":5},{"match":"any"}]`, "",
			`step 1: match must be all, language or any, not "gender"`},
		{"match case", "pairing_routing_steps", `[{"match":"ANY"}]`, "", `not "ANY"`},
		{"match not a string", "pairing_routing_steps", `[{"match":1}]`, "", "step 1: match must be a string"},
		{"match missing", "pairing_routing_steps", `[{"seconds":5},{"match":"any"}]`, "", `step 1 needs the field "match"`},
		{"unknown step field", "pairing_routing_steps", `[{"match":"any","weight":1}]`, "", `step 1 has no field "weight"`},
		{"seconds as string", "pairing_routing_steps", `[{"match":"all","seconds":"5"},{"match":"any"}]`, "",
			"step 1: seconds must be an integer"},
		{"seconds fraction", "pairing_routing_steps", `[{"match":"all","seconds":5.5},{"match":"any"}]`, "", "seconds must be an integer"},
		{"seconds null", "pairing_routing_steps", `[{"match":"all","seconds":null},{"match":"any"}]`, "", "seconds must be an integer"},
		{"step null", "pairing_routing_steps", `[null]`, "", "step 1 must be an object"},
		{"step a string", "pairing_routing_steps", `["any"]`, "", "step 1 must be an object"},
		{"steps an object", "pairing_routing_steps", `{"match":"any"}`, "", "must be a list of 1 to 10 steps"},
		{"steps null", "pairing_routing_steps", `null`, "", "must be a list"},
		{"weights", "pairing_rank_weights", `{"rating":0.5,"accept":0.25,"idle":1}`, `{"rating":0.5,"accept":0.25,"idle":1}`, ""},
		{"weights reordered", "pairing_rank_weights", ` {"idle":0, "accept":1, "rating":0} `, `{"rating":0,"accept":1,"idle":0}`, ""},
		{"weights exponent", "pairing_rank_weights", `{"rating":1e-1,"accept":0,"idle":1}`, `{"rating":0.1,"accept":0,"idle":1}`, ""},
		{"weight 1.5", "pairing_rank_weights", `{"rating":1.5,"accept":0,"idle":1}`, "", "rating must be 0..1, not 1.5"},
		{"weight -0.1", "pairing_rank_weights", `{"rating":0,"accept":-0.1,"idle":1}`, "", "accept must be 0..1, not -0.1"},
		{"weight NaN string", "pairing_rank_weights", `{"rating":"NaN","accept":0,"idle":1}`, "", "rating must be a number from 0 to 1"},
		{"weight Infinity string", "pairing_rank_weights", `{"rating":0,"accept":0,"idle":"Infinity"}`, "", "idle must be a number"},
		{"weight bare NaN", "pairing_rank_weights", `{"rating":NaN,"accept":0,"idle":1}`, "", "must be an object"},
		{"weight huge", "pairing_rank_weights", `{"rating":1e400,"accept":0,"idle":1}`, "", "rating must be a number"},
		{"weight null", "pairing_rank_weights", `{"rating":null,"accept":0,"idle":1}`, "", "rating must be a number"},
		{"weight bool", "pairing_rank_weights", `{"rating":true,"accept":0,"idle":1}`, "", "rating must be a number"},
		{"weight missing", "pairing_rank_weights", `{"rating":0,"accept":0}`, "", `needs the field "idle"`},
		{"weight unknown field", "pairing_rank_weights", `{"rating":0,"accept":0,"idle":1,"price":1}`, "",
			`has no field "price" (its fields: rating, accept, idle)`},
		{"weights a list", "pairing_rank_weights", `[0,0,1]`, "", `must be an object with the fields "rating", "accept", "idle"`},
		{"weights null", "pairing_rank_weights", `null`, "", "must be an object"},
		{"wrapup off", "mitra_wrapup_seconds", `0`, `0`, ""},
		{"wrapup upper bound", "mitra_wrapup_seconds", `600`, `600`, ""},
		{"wrapup 601", "mitra_wrapup_seconds", `601`, "", "must be between 0 and 600, got 601"},
		{"wrapup negative", "mitra_wrapup_seconds", `-1`, "", "must be between 0 and 600"},
		{"wrapup fraction", "mitra_wrapup_seconds", `1.5`, "", "must be an integer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			requireConfigWrite(t, tc.key, tc.value, tc.stored, tc.reason)
		})
	}
}

// stepsOf is n timed steps of seconds each, then any.
func stepsOf(n, seconds int) string {
	steps := make([]string, 0, n+1)
	for range n {
		steps = append(steps, fmt.Sprintf(`{"match":"all","seconds":%d}`, seconds))
	}
	return "[" + strings.Join(append(steps, `{"match":"any"}`), ",") + "]"
}

// The routing steps and the blast timeout are checked against each other, on either write:
// the stored value of the other key decides.
func TestRuntimeConfig_RoutingStepsAndBlastTimeoutAreCheckedTogether(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := curhat.NewMemoryConfigStore()
	rc, err := curhat.NewRuntimeConfig(store, nil, nil)
	require.NoError(t, err)

	// Unset steps: the blast timeout is free (the default steps are cut to it).
	_, err = rc.Set(ctx, "pairing_blast_timeout_seconds", json.RawMessage(`30`), "op")
	require.NoError(t, err)
	require.Equal(t, []pairing.RoutingStep{{Match: pairing.MatchAll, Seconds: 20}, {Match: pairing.MatchAny}}, rc.RoutingSteps(ctx))
	_, err = rc.Set(ctx, "pairing_routing_steps", json.RawMessage(`[{"match":"all","seconds":20},{"match":"language","seconds":10},{"match":"any"}]`), "op")
	require.EqualError(t, err, "invalid value: pairing_routing_steps: the timed steps last 30 s together; "+
		"they must be shorter than pairing_blast_timeout_seconds (30 s)")
	_, err = rc.Set(ctx, "pairing_routing_steps", json.RawMessage(`[{"match":"all","seconds":20},{"match":"language","seconds":9},{"match":"any"}]`), "op")
	require.NoError(t, err)
	require.Equal(t, []pairing.RoutingStep{{Match: pairing.MatchAll, Seconds: 20}, {Match: pairing.MatchLanguage, Seconds: 9}, {Match: pairing.MatchAny}},
		rc.RoutingSteps(ctx))

	// Stored steps last 29 s: a blast timeout of 29 would leave no time for "any".
	_, err = rc.Set(ctx, "pairing_blast_timeout_seconds", json.RawMessage(`29`), "op")
	var ve *curhat.ValidationError
	require.True(t, errors.As(err, &ve), "want a ValidationError, got %v", err)
	require.Equal(t, "value", ve.Field)
	require.Equal(t, "pairing_blast_timeout_seconds must be longer than the timed steps of pairing_routing_steps (29 s together), not 29", ve.Reason)
	require.Equal(t, 30*time.Second, rc.BlastTimeout(ctx), "the refused timeout is not written")
	_, err = rc.Set(ctx, "pairing_blast_timeout_seconds", json.RawMessage(`30`), "op")
	require.NoError(t, err)
	_, err = rc.Set(ctx, "pairing_blast_timeout_seconds", json.RawMessage(`3600`), "op")
	require.NoError(t, err)

	// A failing store refuses rather than guessing.
	failing := &countingStore{ConfigStore: curhat.NewMemoryConfigStore()}
	failing.setFail(errors.New("store down"))
	rcf, err := curhat.NewRuntimeConfig(failing, nil, nil)
	require.NoError(t, err)
	_, err = rcf.Set(ctx, "pairing_routing_steps", json.RawMessage(`[{"match":"any"}]`), "op")
	require.ErrorContains(t, err, "store down")
}

// warnings records the warnings of a logger.
type warnings struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *warnings) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *warnings) count(msg string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Count(w.buf.String(), msg)
}

// Steps that no longer fit the blast timeout (written around Set, or two writes that
// raced on two instances) are not served: the default is, and the fault logged once.
func TestRuntimeConfig_RoutingStepsThatNoLongerFitServeTheDefault(t *testing.T) {
	t.Parallel()
	b := setupRC(t)
	log := &warnings{}
	rc, err := curhat.NewRuntimeConfig(b.store, b.bus, &curhat.RuntimeConfigOptions{
		Clock: b.clock, Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	require.NoError(t, err)
	startRC(t, rc)
	ctx := context.Background()
	_, err = rc.Set(ctx, "pairing_routing_steps", json.RawMessage(`[{"match":"language","seconds":45},{"match":"any"}]`), "op")
	require.NoError(t, err)
	require.Equal(t, []pairing.RoutingStep{{Match: pairing.MatchLanguage, Seconds: 45}, {Match: pairing.MatchAny}}, rc.RoutingSteps(ctx))

	// Another instance's write of the timeout raced this one's check.
	_, err = b.store.Put(ctx, curhat.ConfigEntry{Key: curhat.KeyPairingBlastTimeout, Value: json.RawMessage(`41`)})
	require.NoError(t, err)
	require.NoError(t, b.bus.Publish(ctx, "config:invalidate", []byte(curhat.KeyPairingBlastTimeout)))
	waitFor(t, 5*time.Second, "the new timeout", func() bool { return rc.BlastTimeout(ctx) == 41*time.Second })
	const warning = "pairing_routing_steps does not fit pairing_blast_timeout_seconds"
	for range 50 {
		require.Equal(t, pairing.DefaultRoutingSteps(), rc.RoutingSteps(ctx), "the default fits 41 s")
	}
	// Re-read from the store after MaxAge: still one warning for the one fault.
	b.clock.Advance(curhat.DefaultConfigMaxAge)
	require.Equal(t, pairing.DefaultRoutingSteps(), rc.RoutingSteps(ctx))
	require.Equal(t, 1, log.count(warning))

	_, err = rc.Set(ctx, "pairing_blast_timeout_seconds", json.RawMessage(`50`), "op")
	require.NoError(t, err)
	require.Equal(t, []pairing.RoutingStep{{Match: pairing.MatchLanguage, Seconds: 45}, {Match: pairing.MatchAny}}, rc.RoutingSteps(ctx))
	require.Equal(t, 1, log.count(warning))
}

// The default routing steps keep the steps that end before a shorter blast timeout.
func TestRuntimeConfig_DefaultRoutingStepsAreCutToTheBlastTimeout(t *testing.T) {
	t.Parallel()
	for timeout, want := range map[string][]pairing.RoutingStep{
		`60`: pairing.DefaultRoutingSteps(),
		`41`: pairing.DefaultRoutingSteps(),
		`40`: {{Match: pairing.MatchAll, Seconds: 20}, {Match: pairing.MatchAny}},
		`21`: {{Match: pairing.MatchAll, Seconds: 20}, {Match: pairing.MatchAny}},
		`20`: {{Match: pairing.MatchAny}},
		`1`:  {{Match: pairing.MatchAny}},
	} {
		rc, err := curhat.NewRuntimeConfig(curhat.NewMemoryConfigStore(), nil, nil)
		require.NoError(t, err)
		_, err = rc.Set(context.Background(), "pairing_blast_timeout_seconds", json.RawMessage(timeout), "op")
		require.NoError(t, err)
		got := rc.RoutingSteps(context.Background())
		require.Equal(t, want, got, "blast timeout %s", timeout)
		require.NoError(t, pairing.ValidateRoutingSteps(got, rc.BlastTimeout(context.Background())))
	}
}

// The offer path reads these settings: from the cache, checked once per change.
func TestRuntimeConfig_RoutingReadsAreServedFromTheCache(t *testing.T) {
	t.Parallel()
	b := setupRC(t)
	ctx := context.Background()
	require.Equal(t, pairing.DefaultRoutingSteps(), b.rc.RoutingSteps(ctx))
	require.Equal(t, pairing.DefaultRankWeights, b.rc.RankWeights(ctx))
	require.Zero(t, b.rc.MitraWrapup(ctx))
	gets := b.store.gets.Load()
	first := b.rc.RoutingSteps(ctx)
	for range 100 {
		steps := b.rc.RoutingSteps(ctx)
		require.Same(t, &first[0], &steps[0], "one slice until the setting changes")
		b.rc.RankWeights(ctx)
		b.rc.MitraWrapup(ctx)
	}
	require.Equal(t, gets, b.store.gets.Load())

	_, err := b.rc.Set(ctx, "pairing_rank_weights", json.RawMessage(`{"rating":0.6,"accept":0.3,"idle":0.1}`), "op")
	require.NoError(t, err)
	_, err = b.rc.Set(ctx, "mitra_wrapup_seconds", json.RawMessage(`45`), "op")
	require.NoError(t, err)
	require.Equal(t, pairing.RankWeights{Rating: 0.6, Accept: 0.3, Idle: 0.1}, b.rc.RankWeights(ctx))
	require.Equal(t, 45*time.Second, b.rc.MitraWrapup(ctx))
}

// A read of the routing settings allocates nothing (not parallel: AllocsPerRun).
func TestRuntimeConfig_RoutingReadsAllocateNothing(t *testing.T) {
	b := setupRC(t)
	ctx := context.Background()
	_, err := b.rc.Set(ctx, "pairing_routing_steps", json.RawMessage(`[{"match":"all","seconds":5},{"match":"any"}]`), "op")
	require.NoError(t, err)
	require.Zero(t, testing.AllocsPerRun(100, func() {
		b.rc.RoutingSteps(ctx)
		b.rc.RankWeights(ctx)
		b.rc.MitraWrapup(ctx)
	}))
}

// Postgres keeps objects as jsonb (its own key order and spacing): they read back the same.
func TestRuntimeConfig_ObjectsRoundTripThroughPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := curhat.NewPostgresConfigStore(testenv.Postgres(t).Pool)
	rc, err := curhat.NewRuntimeConfig(store, nil, nil)
	require.NoError(t, err)
	_, err = rc.Set(ctx, "pairing_routing_steps", json.RawMessage(`[{"match":"all","seconds":10},{"match":"any"}]`), "op")
	require.NoError(t, err)
	_, err = rc.Set(ctx, "pairing_rank_weights", json.RawMessage(`{"rating":0.5,"accept":0.5,"idle":0}`), "op")
	require.NoError(t, err)
	_, err = rc.Set(ctx, "mitra_wrapup_seconds", json.RawMessage(`90`), "op")
	require.NoError(t, err)

	fresh, err := curhat.NewRuntimeConfig(store, nil, nil)
	require.NoError(t, err)
	require.Equal(t, []pairing.RoutingStep{{Match: pairing.MatchAll, Seconds: 10}, {Match: pairing.MatchAny}}, fresh.RoutingSteps(ctx))
	require.Equal(t, pairing.RankWeights{Rating: 0.5, Accept: 0.5}, fresh.RankWeights(ctx))
	require.Equal(t, 90*time.Second, fresh.MitraWrapup(ctx))
	items, err := fresh.List(ctx)
	require.NoError(t, err)
	values := map[curhat.ConfigKey]string{}
	for _, it := range items {
		values[it.Key] = string(it.Value)
	}
	require.Equal(t, `[{"match":"all","seconds":10},{"match":"any"}]`, values[curhat.KeyPairingRoutingSteps])
	require.Equal(t, `{"rating":0.5,"accept":0.5,"idle":0}`, values[curhat.KeyPairingRankWeights])
	// The check across keys reads Postgres too.
	_, err = fresh.Set(ctx, "pairing_blast_timeout_seconds", json.RawMessage(`10`), "op")
	require.ErrorContains(t, err, "pairing_routing_steps (10 s together)")
}

// requireConfigWrite sets key to value on a fresh RuntimeConfig. With stored given, the
// write is accepted, answered and stored as stored; else it is refused with a
// ValidationError on "value" — whose reason names the key and holds reason, when given —
// and nothing is written.
func requireConfigWrite(t *testing.T, key, value, stored, reason string) {
	t.Helper()
	store := curhat.NewMemoryConfigStore()
	rc, err := curhat.NewRuntimeConfig(store, nil, nil)
	require.NoError(t, err)
	it, err := rc.Set(context.Background(), key, json.RawMessage(value), "op")
	if stored != "" {
		require.NoError(t, err)
		require.Equal(t, stored, string(it.Value), "answered canonically")
		e, err := store.Get(context.Background(), curhat.ConfigKey(key))
		require.NoError(t, err)
		require.Equal(t, stored, string(e.Value), "stored canonically")
		return
	}
	var ve *curhat.ValidationError
	require.True(t, errors.As(err, &ve), "want a ValidationError, got %v", err)
	require.Equal(t, "value", ve.Field)
	if reason != "" {
		require.True(t, strings.HasPrefix(ve.Reason, key), "the message names the key: %q", ve.Reason)
		require.Contains(t, ve.Reason, reason)
	}
	list, err := store.List(context.Background())
	require.NoError(t, err)
	require.Empty(t, list, "nothing written")
}

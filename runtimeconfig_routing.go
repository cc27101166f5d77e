package curhat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/curhat/curhat/pairing"
)

// The settings of routing quality (SPEC §26) and the value kinds they need: an object of
// known fields (pairing_rank_weights) and a list of such objects (pairing_routing_steps).

// RoutingSteps is pairing_routing_steps as it applies now: valid, and its timed steps
// together shorter than the blast timeout. A stored value that no longer fits the blast
// timeout (the two were changed at once, on two instances) is logged once and the
// default served instead; the default, when the blast timeout is shorter than its timed
// steps, keeps those of its steps that fit (pairing_blast_timeout_seconds 30:
// [{"match":"all","seconds":20},{"match":"any"}]). The check runs once per change of
// either setting, not per read. The slice is shared by every caller until the setting
// changes: read it, never modify it.
func (c *RuntimeConfig) RoutingSteps(ctx context.Context) []pairing.RoutingStep {
	steps := c.value(ctx, KeyPairingRoutingSteps).([]pairing.RoutingStep)
	return c.routes.fit(steps, c.BlastTimeout(ctx), c.opts.Logger)
}

// RankWeights is pairing_rank_weights: the weights of the ring order and of the choice of
// the mitra the head of the queue goes to.
func (c *RuntimeConfig) RankWeights(ctx context.Context) pairing.RankWeights {
	return c.value(ctx, KeyPairingRankWeights).(pairing.RankWeights)
}

// MitraWrapup is mitra_wrapup_seconds: after a chat session of a mitra ends, how long it is
// offered nothing and not counted available (0: no pause).
func (c *RuntimeConfig) MitraWrapup(ctx context.Context) time.Duration {
	return time.Duration(c.value(ctx, KeyMitraWrapupSeconds).(int64)) * time.Second
}

// routeFit remembers what RoutingSteps served for one value read from the cache (the
// cache hands out the same slice until the setting is read again) and one blast timeout.
type routeFit struct {
	mu      sync.Mutex
	in      []pairing.RoutingStep
	timeout time.Duration
	out     []pairing.RoutingStep
	warned  string // the value and timeout last warned about: one warning per change
}

func (f *routeFit) fit(steps []pairing.RoutingStep, timeout time.Duration, log *slog.Logger) []pairing.RoutingStep {
	f.mu.Lock()
	defer f.mu.Unlock()
	if sameSlice(f.in, steps) && f.timeout == timeout && f.out != nil {
		return f.out
	}
	f.in, f.timeout = steps, timeout
	err := pairing.ValidateRoutingSteps(steps, timeout)
	switch {
	case err == nil:
		f.out = steps
	case sameSlice(steps, defaultRoutingSteps):
		// The blast timeout is shorter than the default's timed steps: an operator's
		// choice, not a fault.
		f.out = fitDefaultSteps(timeout)
	default:
		f.out = fitDefaultSteps(timeout)
		if seen := fmt.Sprintf("%v/%v", steps, timeout); seen != f.warned {
			f.warned = seen
			log.Warn("runtime config: pairing_routing_steps does not fit pairing_blast_timeout_seconds; serving the default routing steps",
				"err", err, "steps", string(encodeJSON(routingStepsJSON(steps))), "blast_timeout", timeout.String())
		}
	}
	return f.out
}

// defaultRoutingSteps is the default of pairing_routing_steps as the cache serves it (the
// spec's own slice, so that RoutingSteps can tell it from a stored value).
var defaultRoutingSteps = func() []pairing.RoutingStep {
	spec, _ := lookupSpec(KeyPairingRoutingSteps)
	return spec.def.([]pairing.RoutingStep)
}()

// fitDefaultSteps is pairing.DefaultRoutingSteps keeping the timed steps that end before
// timeout, then any.
func fitDefaultSteps(timeout time.Duration) []pairing.RoutingStep {
	def := pairing.DefaultRoutingSteps()
	out := make([]pairing.RoutingStep, 0, len(def))
	total := 0
	for _, s := range def[:len(def)-1] {
		if time.Duration(total+s.Seconds)*time.Second >= timeout {
			break
		}
		total += s.Seconds
		out = append(out, s)
	}
	return append(out, def[len(def)-1])
}

func sameSlice[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// timedSeconds is how long the timed steps last together.
func timedSeconds(steps []pairing.RoutingStep) int64 {
	var n int64
	for _, s := range steps {
		n += int64(s.Seconds)
	}
	return n
}

// checkAcross refuses a value of key that does not fit the stored value of another key:
// routing steps whose timed steps last as long as the blast timeout or longer, or a blast
// timeout no longer than the stored routing steps' timed steps. Both are read from the
// store, not the cache. Two such writes at once on two instances may still both pass;
// RoutingSteps then serves the default until one is corrected.
func (c *RuntimeConfig) checkAcross(ctx context.Context, key ConfigKey, v any) error {
	switch key {
	case KeyPairingRoutingSteps:
		timeout, _, err := c.stored(ctx, KeyPairingBlastTimeout)
		if err != nil {
			return err
		}
		if total, limit := timedSeconds(v.([]pairing.RoutingStep)), timeout.(int64); total >= limit {
			return Invalid("value", "%s: the timed steps last %d s together; they must be shorter than %s (%d s)",
				key, total, KeyPairingBlastTimeout, limit)
		}
	case KeyPairingBlastTimeout:
		steps, set, err := c.stored(ctx, KeyPairingRoutingSteps)
		if err != nil || !set {
			return err // unset: the default routing steps are cut to the timeout
		}
		if total, timeout := timedSeconds(steps.([]pairing.RoutingStep)), v.(int64); total >= timeout {
			return Invalid("value", "%s must be longer than the timed steps of %s (%d s together), not %d",
				key, KeyPairingRoutingSteps, total, timeout)
		}
	}
	return nil
}

// stored reads key from the store: its value, or the default (set false) when it is unset
// or does not validate.
func (c *RuntimeConfig) stored(ctx context.Context, key ConfigKey) (v any, set bool, err error) {
	spec, _ := lookupSpec(key)
	e, err := c.store.Get(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		return spec.def, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("read runtime config %s: %w", key, err)
	}
	if v, err = spec.parse(e.Value); err != nil {
		return spec.def, false, nil
	}
	return v, true, nil
}

// decodeRoutingSteps decodes a value of pairing_routing_steps: a list of objects
// {"match", "seconds"?}, checked by pairing.ValidateRoutingSteps (the blast timeout is
// checked by Set, against the stored one).
func decodeRoutingSteps(raw json.RawMessage) (any, error) {
	var items []json.RawMessage
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &items) != nil {
		return nil, fmt.Errorf(`must be a list of 1 to %d steps, each an object {"match": "all", "language" or "any", "seconds": 1..3600}`,
			pairing.MaxRoutingSteps)
	}
	if len(items) == 0 || len(items) > pairing.MaxRoutingSteps {
		return nil, pairing.ValidateRoutingSteps(make([]pairing.RoutingStep, len(items)), 0) // says how many
	}
	steps := make([]pairing.RoutingStep, len(items))
	for i, item := range items {
		what := fmt.Sprintf("step %d", i+1)
		fields, err := objectFields(item, what, "match", "seconds")
		if err != nil {
			return nil, err
		}
		match, ok := fields["match"]
		if !ok {
			return nil, fmt.Errorf(`%s needs the field "match"`, what)
		}
		m, ok := jsonString(match)
		if !ok {
			return nil, fmt.Errorf("%s: match must be a string: all, language or any", what)
		}
		steps[i].Match = pairing.RouteMatch(m)
		if sec, ok := fields["seconds"]; ok {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(sec)), 10, 32)
			if err != nil {
				return nil, fmt.Errorf("%s: seconds must be an integer (1..3600)", what)
			}
			steps[i].Seconds = int(n)
		}
	}
	if err := pairing.ValidateRoutingSteps(steps, 0); err != nil {
		return nil, err
	}
	return steps, nil
}

// decodeRankWeights decodes a value of pairing_rank_weights: an object of the three
// weights, each a number from 0 to 1.
func decodeRankWeights(raw json.RawMessage) (any, error) {
	fields, err := objectFields(raw, "", "rating", "accept", "idle")
	if err != nil {
		return nil, err
	}
	var w pairing.RankWeights
	for _, f := range []struct {
		name string
		to   *float64
	}{{"rating", &w.Rating}, {"accept", &w.Accept}, {"idle", &w.Idle}} {
		v, ok := fields[f.name]
		if !ok {
			return nil, fmt.Errorf("needs the field %q", f.name)
		}
		if len(v) == 0 || !(v[0] == '-' || v[0] >= '0' && v[0] <= '9') || json.Unmarshal(v, f.to) != nil {
			return nil, fmt.Errorf("%s must be a number from 0 to 1", f.name)
		}
	}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	return w, nil
}

// objectFields decodes raw as a JSON object whose fields are among known; what names it
// in the faults ("step 2"; "" for the value itself).
func objectFields(raw json.RawMessage, what string, known ...string) (map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	var fields map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &fields) != nil {
		return nil, errors.New(strings.TrimSpace(fmt.Sprintf("%s must be an object with the fields %s", what, strings.Join(quoted(known), ", "))))
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(known, name) {
			return nil, errors.New(strings.TrimSpace(fmt.Sprintf("%s has no field %q (its fields: %s)", what, name, strings.Join(known, ", "))))
		}
		fields[name] = bytes.TrimSpace(fields[name])
	}
	return fields, nil
}

// routingStepJSON and rankWeightsJSON are the stored (and served) JSON of the routing
// settings; the SDK's types carry no JSON tags.
type routingStepJSON struct {
	Match   string `json:"match"`
	Seconds int    `json:"seconds,omitempty"`
}

type rankWeightsJSON struct {
	Rating float64 `json:"rating"`
	Accept float64 `json:"accept"`
	Idle   float64 `json:"idle"`
}

func routingStepsJSON(steps []pairing.RoutingStep) []routingStepJSON {
	out := make([]routingStepJSON, len(steps))
	for i, s := range steps {
		out[i] = routingStepJSON{Match: string(s.Match), Seconds: s.Seconds}
	}
	return out
}
